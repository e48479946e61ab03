//! A proof covers every commit of its run, and survives the way code lands: GitHub's and
//! GitLab's "Squash and merge" and "Rebase and merge" simulated on a real bare remote, the
//! run's branch deleted, and the landed commits verified in a fresh clone that never had them.

use std::path::{Path, PathBuf};

use crate::common::{Run, TestRepo, new_key, split_records, ssh_keygen_sign, trust_line};

const TRAILER: &str = "\n\nCo-Authored-By: Claude <noreply@anthropic.com>";

/// A repository whose main trusts the agent's key (committed `.proof/allowed_signers`), pushed
/// to a bare remote, and a run of three commits on branch `feature`, proven and pushed with the
/// notes. Returns (run id, the run's commits oldest first).
fn proven_feature(repo: &TestRepo) -> (PathBuf, String, Vec<String>) {
    proven_feature_with(repo, |_| {})
}

/// [`proven_feature`], with `more` written into the run's last commit.
fn proven_feature_with(repo: &TestRepo, more: impl FnOnce(&TestRepo)) -> (PathBuf, String, Vec<String>) {
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    // The team trusts the agent's key and the CI key that runs `git proof land`.
    let ci = ci_key(repo);
    let mut trust = std::fs::read_to_string(&repo.allowed_signers).unwrap();
    trust.push_str(&trust_line(&ci, "ci@example.com"));
    std::fs::write(repo.path(".proof/allowed_signers"), trust).unwrap();
    repo.write("src/lib.rs", "pub fn one() {}\n");
    repo.write("docs/guide.md", "# Guide\n");
    repo.commit_all("trust the team key");
    let remote = repo.bare_clone();
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    repo.git(&["fetch", "-q", "origin"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let run_id = repo.start(&[]);
    let mut commits = Vec::new();
    for (i, content) in [
        "pub fn one() {}\npub fn two() {}\n",
        "pub fn one() {}\npub fn two() {}\npub fn three() {}\n",
    ]
    .iter()
    .enumerate()
    {
        repo.write("src/lib.rs", content);
        commits.push(repo.commit_all(&format!("agent step {i}{TRAILER}")));
    }
    repo.write("src/new.rs", "pub fn fresh() {}\n");
    more(repo);
    commits.push(repo.commit_all(&format!("agent step 2{TRAILER}")));
    repo.proof(&["finish"]).ok();
    repo.git(&["push", "-q", "origin", "feature", "refs/notes/proof"]);
    (remote, run_id, commits)
}

/// The key a CI job lands with (made once per repository).
fn ci_key(repo: &TestRepo) -> PathBuf {
    let key = repo.tmp.path().join("ci");
    if key.exists() { key } else { new_key(repo, "ci") }
}

/// `git proof ARGS` in `dir` signing with the CI key.
fn as_ci(repo: &TestRepo, dir: &Path, args: &[&str]) -> Run {
    repo.proof_cmd_in(dir, args)
        .env("GIT_PROOF_KEY", ci_key(repo))
        .output()
        .unwrap()
        .into()
}

/// A clone of the remote as the server's merge button sees it, with another identity.
fn server(repo: &TestRepo, remote: &Path) -> PathBuf {
    let dir = repo.tmp.path().join("server");
    repo.git_in(
        repo.tmp.path(),
        &["clone", "-q", remote.to_str().unwrap(), dir.to_str().unwrap()],
    );
    repo.git_in(&dir, &["config", "user.name", "GitHub"]);
    repo.git_in(&dir, &["config", "user.email", "noreply@github.com"]);
    dir
}

/// The base branch moves on in a file the run never touched, as other work does meanwhile.
fn main_moves_on(repo: &TestRepo, dir: &Path) {
    std::fs::write(dir.join("docs/guide.md"), "# Guide\n\nSomeone else's work.\n").unwrap();
    repo.git_in(dir, &["commit", "-qam", "unrelated work on main"]);
}

/// `git` in `dir` as the server: committer and author GitHub's.
fn as_server(repo: &TestRepo, dir: &Path, args: &[&str]) -> String {
    let run: Run = repo
        .git_command(dir)
        .env("GIT_COMMITTER_NAME", "GitHub")
        .env("GIT_COMMITTER_EMAIL", "noreply@github.com")
        .args(args)
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "git {args:?}: {}", run.stderr);
    run.stdout.trim().to_owned()
}

/// A fresh clone with only main and the notes: the run's own commits are not in it (the remote
/// pruned them after its branch was deleted, as a server does).
fn fresh_clone(repo: &TestRepo, remote: &Path, name: &str) -> PathBuf {
    repo.git_in(remote, &["reflog", "expire", "--expire=now", "--all"]);
    repo.git_in(remote, &["gc", "-q", "--prune=now"]);
    let dir = repo.tmp.path().join(name);
    repo.git_in(
        repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--single-branch",
            "-b",
            "main",
            remote.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    repo.git_in(&dir, &["fetch", "-q", "origin", "refs/notes/proof:refs/notes/proof"]);
    dir
}

/// Squash-merges `feature` into main on the server (after main moved on), pushes, deletes the
/// branch; returns the landed commit.
fn squash_merge(repo: &TestRepo, remote: &Path, edit: impl FnOnce(&Path)) -> String {
    let dir = server(repo, remote);
    main_moves_on(repo, &dir);
    as_server(repo, &dir, &["merge", "-q", "--squash", "origin/feature"]);
    edit(&dir);
    as_server(repo, &dir, &["add", "-A"]);
    as_server(repo, &dir, &["commit", "-q", "-m", &format!("Feature (#1){TRAILER}")]);
    as_server(repo, &dir, &["push", "-q", "origin", "main"]);
    as_server(repo, &dir, &["push", "-q", "origin", "--delete", "feature"]);
    as_server(repo, &dir, &["rev-parse", "HEAD"])
}

#[test]
fn every_commit_of_a_run_is_covered_by_its_proof() {
    let repo = TestRepo::new();
    let (_, run_id, commits) = proven_feature(&repo);
    let range = format!("main..{}", commits[2]);
    // In a range that holds the run's head, its proof covers the others without a search.
    let out = repo.verify(&[&range]).ok();
    assert_eq!(
        out.stdout.matches(&format!("covered by run {run_id}")).count(),
        2,
        "{}",
        out.stdout
    );
    let out = repo.verify(&[&range, "--require"]).ok();
    assert_eq!(crate::common::verify_entries(&out.stdout).len(), 3, "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("covered by run {run_id}")),
        "{}",
        out.stdout
    );
    repo.verify(&[&range, "--require-for", "agents"]).ok();
    // The middle commit alone finds the bundle that covers it.
    let out = repo.verify(&[&commits[1], "--require"]).ok();
    assert!(
        out.stdout.contains("valid") && out.stdout.contains("one of its commits"),
        "{}",
        out.stdout
    );
    let json = repo.verify(&[&commits[0], "--require", "--json"]).ok().json();
    assert_eq!(json[0]["covered"]["run_id"], run_id.as_str());
    assert_eq!(json[0]["covered"]["by"], commits[2].as_str());
    let shown = repo.proof(&["show", &commits[1]]).ok().stdout;
    assert!(
        shown.contains(&format!("run {run_id}")) && shown.contains("covers"),
        "{shown}"
    );
    // A commit outside the run is not covered by it.
    let out = repo.verify(&["main", "--require"]).expect_code(1);
    assert!(out.stdout.contains("missing"), "{}", out.stdout);
}

#[test]
fn a_squash_merge_is_carried_by_content_in_a_fresh_clone() {
    let repo = TestRepo::new();
    let (remote, run_id, commits) = proven_feature(&repo);
    let landed = squash_merge(&repo, &remote, |_| {});
    let clone = fresh_clone(&repo, &remote, "fresh");
    let head = repo.git_in(&clone, &["rev-parse", "HEAD"]);
    assert_eq!(head, landed);
    for commit in &commits {
        assert_ne!(
            repo.git_run_in(&clone, &["cat-file", "-e", commit]).code,
            0,
            "run commit {commit} is gone"
        );
    }
    let out = repo.proof_in(&clone, &["verify", &landed, "--require"]).ok();
    assert!(out.stdout.contains("landed: the change from"), "{}", out.stdout);
    assert!(out.stdout.contains(&run_id), "{}", out.stdout);
    repo.proof_in(
        &clone,
        &[
            "verify",
            "HEAD~2..HEAD",
            "--require-for",
            "agents",
            "--trust-ref",
            "HEAD",
        ],
    )
    .ok();
    let shown = repo.proof_in(&clone, &["show", &landed]).ok().stdout;
    assert!(shown.contains("covers") && shown.contains("signature valid"), "{shown}");
    // The clone's index is rebuilt from the notes alone, the run's head gone or not.
    let out = repo.proof_in(&clone, &["reindex"]).ok();
    assert!(out.stderr.contains("1 runs added"), "{}", out.stderr);
    repo.proof_in(&clone, &["show", &run_id]).ok();
}

#[test]
fn a_squash_with_a_name_that_is_not_utf8_is_carried_by_content() {
    // The bundle records such a name quoted; the landed tree names it by its bytes.
    let repo = TestRepo::new();
    let (remote, run_id, _) = proven_feature_with(&repo, |repo| {
        use std::os::unix::ffi::OsStrExt;
        std::fs::write(repo.root.join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt")), "x\n").unwrap();
    });
    let landed = squash_merge(&repo, &remote, |_| {});
    let clone = fresh_clone(&repo, &remote, "fresh");
    let out = repo.proof_in(&clone, &["verify", &landed, "--require"]).ok();
    assert!(out.stdout.contains("landed: the change from"), "{}", out.stdout);
    assert!(out.stdout.contains(&run_id), "{}", out.stdout);
}

#[test]
fn a_squash_that_adds_anything_is_not_carried() {
    let extra_line = |dir: &Path| {
        let lib = dir.join("src/lib.rs");
        let mut text = std::fs::read_to_string(&lib).unwrap();
        text.push_str("pub fn smuggled() {}\n");
        std::fs::write(lib, text).unwrap();
    };
    let extra_file = |dir: &Path| std::fs::write(dir.join("src/smuggled.rs"), "pub fn s() {}\n").unwrap();
    for edit in [&extra_line as &dyn Fn(&Path), &extra_file] {
        let repo = TestRepo::new();
        let (remote, _, _) = proven_feature(&repo);
        let landed = squash_merge(&repo, &remote, edit);
        let clone = fresh_clone(&repo, &remote, "fresh");
        let out = repo.proof_in(&clone, &["verify", &landed, "--require"]).expect_code(1);
        assert!(out.stdout.contains("missing"), "{}", out.stdout);
    }
}

/// main changes the run's own file, in lines the run did not touch, before the squash: the
/// merge is clean, but the landed file is no longer the run's.
fn squash_after_main_changed_the_run_s_file(repo: &TestRepo, remote: &Path) -> (PathBuf, String) {
    let dir = server(repo, remote);
    std::fs::write(dir.join("src/lib.rs"), "// maintained upstream\npub fn one() {}\n").unwrap();
    repo.git_in(&dir, &["commit", "-qam", "upstream edit of lib.rs"]);
    as_server(repo, &dir, &["merge", "-q", "--squash", "origin/feature"]);
    as_server(repo, &dir, &["commit", "-q", "-m", &format!("Feature (#1){TRAILER}")]);
    as_server(repo, &dir, &["push", "-q", "origin", "main"]);
    let landed = as_server(repo, &dir, &["rev-parse", "HEAD"]);
    (dir, landed)
}

#[test]
fn a_squash_where_main_changed_the_run_s_file_needs_land() {
    let repo = TestRepo::new();
    let (remote, run_id, commits) = proven_feature(&repo);
    let (dir, landed) = squash_after_main_changed_the_run_s_file(&repo, &remote);
    let clone = fresh_clone(&repo, &remote, "fresh");
    let out = repo.proof_in(&clone, &["verify", &landed, "--require"]).expect_code(1);
    assert!(out.stdout.contains("missing"), "{}", out.stdout);

    // CI, where the pull request's head is fetched: land, then push the notes.
    repo.git_in(&dir, &["fetch", "-q", "origin", "refs/notes/proof:refs/notes/proof"]);
    let out = as_ci(&repo, &dir, &["land", &landed, "--from", "origin/feature"]).ok();
    assert!(out.stdout.contains(&format!("landed: run {run_id}")), "{}", out.stdout);
    as_server(&repo, &dir, &["push", "-q", "origin", "refs/notes/proof"]);
    as_server(&repo, &dir, &["push", "-q", "origin", "--delete", "feature"]);

    let clone = fresh_clone(&repo, &remote, "after-land");
    assert_ne!(
        repo.git_run_in(&clone, &["cat-file", "-e", &commits[2]]).code,
        0,
        "the run's head is gone"
    );
    let out = repo
        .proof_in(&clone, &["verify", &landed, "--require", "--trust-ref", "HEAD"])
        .ok();
    assert!(
        out.stdout.contains("carried from") && out.stdout.contains("by land"),
        "{}",
        out.stdout
    );
    // A landing signed by a key nobody trusts carries nothing.
    let untrusted = repo.tmp.path().join("untrusted_signers");
    std::fs::write(&untrusted, std::fs::read_to_string(&repo.allowed_signers).unwrap()).unwrap();
    let out = repo
        .proof_in(
            &clone,
            &[
                "verify",
                &landed,
                "--require",
                "--allowed-signers",
                untrusted.to_str().unwrap(),
            ],
        )
        .expect_code(1);
    assert!(out.stdout.contains("landing record ignored"), "{}", out.stdout);
}

#[test]
fn land_refuses_a_commit_that_is_not_the_merge() {
    let repo = TestRepo::new();
    let (remote, _, _) = proven_feature(&repo);
    let dir = server(&repo, &remote);
    as_server(&repo, &dir, &["merge", "-q", "--squash", "origin/feature"]);
    std::fs::write(dir.join("src/smuggled.rs"), "pub fn s() {}\n").unwrap();
    as_server(&repo, &dir, &["add", "-A"]);
    as_server(&repo, &dir, &["commit", "-q", "-m", "Feature (#1), and something else"]);
    let landed = as_server(&repo, &dir, &["rev-parse", "HEAD"]);
    repo.git_in(&dir, &["fetch", "-q", "origin", "refs/notes/proof:refs/notes/proof"]);
    let before = repo.git_in(&dir, &["rev-parse", "refs/notes/proof"]);
    let out = as_ci(&repo, &dir, &["land", &landed, "--from", "origin/feature"]).expect_code(1);
    assert!(out.one_error_line().contains("is not the merge of"), "{}", out.stderr);
    assert_eq!(
        repo.git_in(&dir, &["rev-parse", "refs/notes/proof"]),
        before,
        "nothing written"
    );
    // A proven head with nothing that counts: exit 3.
    let out = as_ci(&repo, &dir, &["land", "HEAD", "--from", "HEAD~1", "--onto", "HEAD~1"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_rebase_merge_is_carried_commit_by_commit() {
    let repo = TestRepo::new();
    let (remote, run_id, commits) = proven_feature(&repo);
    let dir = server(&repo, &remote);
    main_moves_on(&repo, &dir);
    // "Rebase and merge": the run's commits replayed onto main with a new committer.
    as_server(&repo, &dir, &["checkout", "-q", "-b", "replay", "origin/feature"]);
    as_server(&repo, &dir, &["rebase", "-q", "main"]);
    as_server(&repo, &dir, &["checkout", "-q", "main"]);
    as_server(&repo, &dir, &["merge", "-q", "--ff-only", "replay"]);
    as_server(&repo, &dir, &["push", "-q", "origin", "main"]);
    as_server(&repo, &dir, &["push", "-q", "origin", "--delete", "feature"]);
    let clone = fresh_clone(&repo, &remote, "fresh");
    let replayed = repo.git_in(&clone, &["rev-list", "--reverse", "HEAD~3..HEAD"]);
    let replayed: Vec<&str> = replayed.lines().collect();
    assert_eq!(replayed.len(), 3);
    assert!(replayed.iter().all(|c| !commits.iter().any(|o| o == c)), "new shas");
    let out = repo.proof_in(&clone, &["verify", "HEAD~3..HEAD", "--require"]).ok();
    assert_eq!(out.stdout.matches(&run_id).count(), 3, "{}", out.stdout);
    assert!(out.stdout.contains("landed: the change from"), "{}", out.stdout);
    assert_eq!(out.stdout.matches("landed with").count(), 2, "{}", out.stdout);
}

/// Bundles of version 1.0 (no blobs in their entries) still verify.
#[test]
fn a_bundle_of_version_1_0_still_verifies() {
    let repo = TestRepo::new();
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let (payload, _) = split_records(&repo.note(&head)).remove(0);
    let mut statement: serde_json::Value = serde_json::from_str(&payload).unwrap();
    statement["predicate"]["version"] = "1.0".into();
    for entry in statement["predicate"]["diff_stat"]["entries"].as_array_mut().unwrap() {
        let entry = entry.as_object_mut().unwrap();
        for key in ["old_mode", "old_blob", "mode", "blob"] {
            entry.remove(key);
        }
    }
    let old = serde_json::to_string_pretty(&statement).unwrap() + "\n";
    assert!(!old.contains("\"blob\""));
    let signature = ssh_keygen_sign(&repo, &repo.key, "git-proof", &old);
    repo.replace_note(&head, &format!("{old}{signature}"));
    repo.verify(&[&head, "--require"]).ok();
}

/// examples/ci/land-merged, as the workflows run it: the pull request's head fetched under
/// refs/pull/*, the push's before and after, a CI key; then the notes synced, and a fresh
/// clone verifies the landed commit.
#[test]
fn the_ci_landing_script_lands_a_squash_the_content_cannot_settle() {
    let repo = TestRepo::new();
    let (remote, run_id, _) = proven_feature(&repo);
    let before = repo.git_in(&remote, &["rev-parse", "main"]);
    repo.git_in(&remote, &["update-ref", "refs/pull/1/head", "refs/heads/feature"]);
    let (_, landed) = squash_after_main_changed_the_run_s_file(&repo, &remote);
    // squash_after_main_changed_the_run_s_file commits upstream work first: the push moved
    // main from `before` through it to `landed`; the landing is onto its parent.
    let onto = repo.git_in(&remote, &["rev-parse", &format!("{landed}~1")]);
    assert_ne!(onto, before);
    as_server(
        &repo,
        &repo.tmp.path().join("server"),
        &["push", "-q", "origin", "--delete", "feature"],
    );

    let ci = repo.tmp.path().join("ci-checkout");
    repo.git_in(
        repo.tmp.path(),
        &["clone", "-q", remote.to_str().unwrap(), ci.to_str().unwrap()],
    );
    repo.git_in(
        &ci,
        &[
            "fetch",
            "-q",
            "origin",
            "refs/notes/proof:refs/notes/proof",
            "+refs/pull/*/head:refs/remotes/pull/*",
        ],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/land-merged");
    // The job as CI runs it: the script, git-proof on PATH, the CI key, no user config.
    let job = || {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg(&script)
            .args([onto.as_str(), landed.as_str(), "refs/remotes/pull/1"])
            .current_dir(&ci)
            .env("PATH", crate::common::path_with_bin())
            .env("GIT_PROOF_KEY", ci_key(&repo))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        cmd
    };
    let out: Run = job()
        .env("GIT_PROOF_DATE", crate::common::DATE)
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("landed: run {run_id}")), "{}", out.stdout);
    repo.proof_in(&ci, &["sync", "origin"]).ok();
    let clone = fresh_clone(&repo, &remote, "after-ci");
    let out = repo
        .proof_in(&clone, &["verify", &landed, "--require", "--trust-ref", "HEAD"])
        .ok();
    assert!(out.stdout.contains("by land"), "{}", out.stdout);
    // A second run of the job finds it proven and lands nothing again.
    let again: Run = job().output().unwrap().into();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("proven already"), "{}", again.stdout);
}
