//! A proof covers every commit of its run, and survives the way code lands: GitHub's and
//! GitLab's "Squash and merge" and "Rebase and merge" simulated on a real bare remote, the
//! run's branch deleted, and the landed commits verified in a fresh clone that never had them.

use std::path::{Path, PathBuf};

use crate::common::{Run, TestRepo, split_records, ssh_keygen_sign};

const TRAILER: &str = "\n\nCo-Authored-By: Claude <noreply@anthropic.com>";

/// A repository whose main trusts the agent's key (committed `.proof/allowed_signers`), pushed
/// to a bare remote, and a run of three commits on branch `feature`, proven and pushed with the
/// notes. Returns (run id, the run's commits oldest first).
fn proven_feature(repo: &TestRepo) -> (PathBuf, String, Vec<String>) {
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    std::fs::copy(&repo.allowed_signers, repo.path(".proof/allowed_signers")).unwrap();
    repo.write("src/lib.rs", "pub fn one() {}\n");
    repo.write("docs/guide.md", "# Guide\n");
    repo.commit_all("trust the team key");
    let remote = repo.tmp.path().join("remote.git");
    repo.git_in(
        repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            repo.root.to_str().unwrap(),
            remote.to_str().unwrap(),
        ],
    );
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
    commits.push(repo.commit_all(&format!("agent step 2{TRAILER}")));
    repo.proof(&["finish"]).ok();
    repo.git(&["push", "-q", "origin", "feature", "refs/notes/proof"]);
    (remote, run_id, commits)
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

/// A fresh clone with only main and the notes: the run's own commits are not in it.
fn fresh_clone(repo: &TestRepo, remote: &Path, name: &str) -> PathBuf {
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
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
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
    let (remote, run_id, _) = proven_feature(&repo);
    let landed = squash_merge(&repo, &remote, |_| {});
    let clone = fresh_clone(&repo, &remote, "fresh");
    let head = repo.git_in(&clone, &["rev-parse", "HEAD"]);
    assert_eq!(head, landed);
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

#[test]
fn a_squash_where_main_changed_the_run_s_file_is_not_carried_by_content() {
    let repo = TestRepo::new();
    let (remote, _, _) = proven_feature(&repo);
    let dir = server(&repo, &remote);
    // main changes the run's own file, in lines the run did not touch: the merge is clean, but
    // the landed file is no longer the run's.
    std::fs::write(dir.join("src/lib.rs"), "// maintained upstream\npub fn one() {}\n").unwrap();
    repo.git_in(&dir, &["commit", "-qam", "upstream edit of lib.rs"]);
    as_server(&repo, &dir, &["merge", "-q", "--squash", "origin/feature"]);
    as_server(&repo, &dir, &["commit", "-q", "-m", "Feature (#1)"]);
    as_server(&repo, &dir, &["push", "-q", "origin", "main"]);
    let landed = as_server(&repo, &dir, &["rev-parse", "HEAD"]);
    let clone = fresh_clone(&repo, &remote, "fresh");
    let out = repo.proof_in(&clone, &["verify", &landed, "--require"]).expect_code(1);
    assert!(out.stdout.contains("missing"), "{}", out.stdout);
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
