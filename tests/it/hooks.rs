//! Living in git: `install`/`uninstall` of the git hooks next to the user's own, the commit,
//! rewrite and push hooks driven by real `git commit`, `git rebase -i` and `git push`, and
//! `sync` between clones through a bare remote.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::common::{Run, TestRepo};

/// git with git-proof on PATH (so the hooks find it) and the test key in GIT_PROOF_KEY.
pub(crate) fn hooked_git(repo: &TestRepo, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = hooked_git_command(repo, dir);
    cmd.args(args);
    cmd.output().expect("git runs").into()
}

pub(crate) fn hooked_git_command(repo: &TestRepo, dir: &Path) -> std::process::Command {
    let path = crate::common::path_with_bin();
    let mut cmd = repo.git_command(dir);
    cmd.env("PATH", path).env("GIT_PROOF_KEY", &repo.key);
    cmd
}

#[track_caller]
pub(crate) fn hooked_git_ok(repo: &TestRepo, dir: &Path, args: &[&str]) -> Run {
    let run = hooked_git(repo, dir, args);
    assert_eq!(run.code, 0, "git {args:?}: {}{}", run.stdout, run.stderr);
    run
}

/// Every file of a directory: the digest of its content, and its mode.
fn snapshot(dir: &Path) -> BTreeMap<String, (String, u32)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_file() {
            out.insert(
                entry.file_name().to_string_lossy().into_owned(),
                (
                    crate::common::sha256_prefixed(&std::fs::read(entry.path()).unwrap()),
                    meta.permissions().mode(),
                ),
            );
        }
    }
    out
}

fn write_hook(path: &Path, script: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o750)).unwrap();
}

#[test]
fn install_chains_an_existing_hook_and_uninstall_restores_it_byte_for_byte() {
    let repo = TestRepo::new();
    let hooks = repo.path(".git/hooks");
    let log = repo.tmp.path().join("user-hook.log");
    write_hook(
        &hooks.join("post-commit"),
        &format!(
            "#!/bin/sh\n# the user's own hook\necho \"user hook $*\" >> {}\n",
            log.display()
        ),
    );
    let files_before = snapshot(&hooks);
    let config_before = std::fs::read(repo.path(".git/config")).unwrap();

    let dry = repo.proof(&["install", "--dry-run"]).ok();
    assert!(dry.stdout.contains("would install"), "{}", dry.stdout);
    assert_eq!(snapshot(&hooks), files_before, "--dry-run writes nothing");
    assert_eq!(std::fs::read(repo.path(".git/config")).unwrap(), config_before);

    repo.proof(&["install"]).ok();
    let installed = snapshot(&hooks);
    assert_eq!(
        installed["post-commit.pre-git-proof"], files_before["post-commit"],
        "the user's hook is kept, same bytes and mode"
    );
    assert!(
        std::fs::read_to_string(hooks.join("post-commit"))
            .unwrap()
            .starts_with("#!/bin/sh\n# git-proof post-commit hook")
    );
    for hook in ["post-commit", "post-rewrite", "pre-push"] {
        assert_eq!(installed[hook].1 & 0o111, 0o111, "{hook} is executable");
    }
    assert_eq!(
        repo.git(&["config", "--get-all", "notes.rewriteRef"]),
        "refs/notes/proof"
    );

    // Idempotent: a second install changes nothing.
    let again = repo.proof(&["install"]).ok();
    assert!(
        again.stdout.lines().all(|l| l.starts_with("already installed")),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot(&hooks), installed);

    // The chained hook still runs, with its arguments, on every commit.
    repo.write("a.txt", "a\n");
    hooked_git_ok(&repo, &repo.root, &["add", "a.txt"]);
    hooked_git_ok(&repo, &repo.root, &["commit", "-qm", "a"]);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "user hook \n");

    repo.proof(&["uninstall"]).ok();
    assert_eq!(snapshot(&hooks), files_before, "hooks byte-identical after uninstall");
    assert_eq!(
        std::fs::read(repo.path(".git/config")).unwrap(),
        config_before,
        "config byte-identical after uninstall"
    );
}

#[test]
fn install_honours_core_hooks_path_and_a_user_config_it_did_not_set() {
    let repo = TestRepo::new();
    repo.git(&["config", "core.hooksPath", ".githooks"]);
    repo.git(&["config", "notes.rewriteRef", "refs/notes/commits"]);
    write_hook(&repo.path(".githooks/pre-push"), "#!/bin/sh\nexit 0\n");
    let before = snapshot(&repo.path(".githooks"));
    let config_before = std::fs::read(repo.path(".git/config")).unwrap();
    repo.proof(&["install"]).ok();
    let after = snapshot(&repo.path(".githooks"));
    assert!(after.contains_key("post-commit") && after.contains_key("pre-push.pre-git-proof"));
    assert!(
        !repo.path(".git/hooks/post-commit").exists(),
        "nothing goes to .git/hooks when core.hooksPath is set"
    );
    assert_eq!(
        repo.git(&["config", "--get-all", "notes.rewriteRef"]),
        "refs/notes/commits\nrefs/notes/proof"
    );
    repo.proof(&["uninstall"]).ok();
    assert_eq!(snapshot(&repo.path(".githooks")), before);
    assert_eq!(std::fs::read(repo.path(".git/config")).unwrap(), config_before);
}

#[test]
fn a_commit_hook_without_git_proof_on_path_never_blocks_the_commit() {
    let repo = TestRepo::new();
    repo.proof(&["install"]).ok();
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    repo.git(&["add", "a.txt"]);
    let mut cmd = repo.git_command(&repo.root);
    cmd.env("PATH", "/usr/bin:/bin").args(["commit", "-qm", "a"]);
    let run: Run = cmd.output().unwrap().into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("git-proof: not on PATH"), "{}", run.stderr);
}

#[test]
fn aider_style_the_proof_appears_when_the_agent_commits() {
    let repo = TestRepo::new();
    repo.proof(&["install"]).ok();
    repo.git(&["config", "proof.finishOnCommit", "true"]);
    let run_id = repo.start(&["--dod", "ok=true"]);
    repo.write("src/lib.rs", "pub fn f() {}\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    let commit_run = hooked_git_ok(&repo, &repo.root, &["commit", "-qm", "aider: add f"]);
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert!(commit_run.stderr.contains("proof of run"), "{}", commit_run.stderr);
    let bundle = repo.bundle(&run_id);
    assert_eq!(bundle["head_sha"], head.as_str());
    assert_eq!(bundle["changed_files"], serde_json::json!(["src/lib.rs"]));
    let events = crate::common::event_types(&bundle);
    assert_eq!(events, ["run.started", "commit.recorded", "run.completed"]);
    repo.verify(&["HEAD"]).ok();
    // The run is over: the next commit records nothing and costs nothing.
    repo.write("b.txt", "b\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    let next = hooked_git_ok(&repo, &repo.root, &["commit", "-qm", "human"]);
    assert_eq!(next.stderr, "");
}

#[test]
fn the_commit_hook_records_each_commit_of_an_active_run_in_order() {
    let repo = TestRepo::new();
    repo.proof(&["install"]).ok();
    let run_id = repo.start(&[]);
    let mut commits = Vec::new();
    for i in 0..2 {
        repo.write(&format!("f{i}.txt"), "x\n");
        hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
        hooked_git_ok(&repo, &repo.root, &["commit", "-qm", &format!("c{i}")]);
        commits.push(repo.git(&["rev-parse", "HEAD"]));
        repo.proof(&["event", "step.completed", "--data", &format!("{{\"step\": {i}}}")])
            .ok();
    }
    repo.proof(&["finish"]).ok();
    let bundle = repo.bundle(&run_id);
    let events: Vec<(String, Option<String>)> = bundle["evidence"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event_type"].as_str().unwrap().to_owned(), None))
        .collect();
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "run.started",
            "commit.recorded",
            "step.completed",
            "commit.recorded",
            "step.completed",
            "run.completed"
        ],
        "each commit is recorded when it is made, and once"
    );
}

/// A run of two commits on a feature branch, proven on its head; `main` then moves on.
fn proven_feature_branch(repo: &TestRepo) -> (String, String) {
    repo.proof(&["install"]).ok();
    repo.git(&["checkout", "-qb", "feature"]);
    let run_id = repo.start(&[]);
    repo.write("src/a.rs", "fn a() {}\n");
    hooked_git_ok(repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(repo, &repo.root, &["commit", "-qm", "first"]);
    repo.write("src/b.rs", "fn b() {}\n");
    hooked_git_ok(repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(repo, &repo.root, &["commit", "-qm", "second"]);
    repo.proof(&["finish"]).ok();
    let head = repo.git(&["rev-parse", "HEAD"]);
    repo.verify(&["HEAD"]).ok();
    repo.git(&["checkout", "-q", "main"]);
    repo.write("upstream.txt", "moved on\n");
    hooked_git_ok(repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(repo, &repo.root, &["commit", "-qm", "upstream"]);
    repo.git(&["checkout", "-q", "feature"]);
    (run_id, head)
}

#[test]
fn amend_keeps_a_verifiable_proof_and_an_amend_that_changes_the_patch_does_not() {
    let repo = TestRepo::new();
    repo.proof(&["install"]).ok();
    let run_id = repo.start(&[]);
    repo.write("src/a.rs", "fn a() {}\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(&repo, &repo.root, &["commit", "-qm", "a"]);
    repo.proof(&["finish"]).ok();
    let original = repo.git(&["rev-parse", "HEAD"]);

    let amend = hooked_git_ok(&repo, &repo.root, &["commit", "-q", "--amend", "-m", "a, reworded"]);
    assert!(amend.stderr.contains("same patch-id"), "{}", amend.stderr);
    let reworded = repo.git(&["rev-parse", "HEAD"]);
    assert_ne!(reworded, original);
    let out = repo.verify(&["HEAD"]).ok();
    assert!(
        out.stdout.contains(&format!("carried from {}", &original[..10])),
        "{}",
        out.stdout
    );
    // The index follows the proof, and `show RUN_ID` reads it from the new commit.
    let bundle = repo.bundle(&run_id);
    assert_eq!(
        bundle["head_sha"],
        original.as_str(),
        "the bundle itself is never rewritten"
    );
    assert!(
        repo.proof(&["log", "--json"]).ok().stdout.contains(&reworded),
        "the index points at the rewritten commit"
    );
    // The records on the new commit verify with stock ssh-keygen too.
    let note = repo.note("HEAD");
    for (payload, signature) in crate::common::split_records(&note) {
        let (code, out) = crate::common::ssh_keygen_verify(&repo, "agent@example.com", &payload, &signature);
        assert_eq!(code, 0, "{out}");
    }

    repo.write("src/a.rs", "fn a() { changed() }\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(&repo, &repo.root, &["commit", "-q", "--amend", "-m", "a, changed"]);
    let out = repo.verify(&["HEAD"]).expect_code(1);
    assert!(out.stdout.contains("changed the run's patch"), "{}", out.stdout);
}

/// `git rebase -i main` with the hooks, its todo list edited by `sed -e TODO_SCRIPT` and any
/// commit message by `editor`.
#[track_caller]
fn scripted_rebase(repo: &TestRepo, todo_script: &str, editor: &str) {
    let mut cmd = hooked_git_command(repo, &repo.root);
    cmd.env("GIT_SEQUENCE_EDITOR", format!("sed -i -e '{todo_script}'"))
        .env("GIT_EDITOR", editor)
        .args(["rebase", "-q", "-i", "main"]);
    let run: Run = cmd.output().unwrap().into();
    assert_eq!(run.code, 0, "{todo_script}: {}{}", run.stdout, run.stderr);
}

#[test]
fn interactive_rebase_onto_a_new_base_keeps_a_verifiable_proof() {
    let repo = TestRepo::new();
    let (run_id, old_head) = proven_feature_branch(&repo);
    // Reword the first commit on the way: a real interactive rebase, scripted.
    scripted_rebase(&repo, "1s/^pick/reword/", "sed -i -e '1s/.*/first, reworded/'");
    let new_head = repo.git(&["rev-parse", "HEAD"]);
    assert_ne!(new_head, old_head);
    assert_eq!(repo.git(&["log", "-1", "--format=%s", "HEAD~1"]), "first, reworded");
    let out = repo.verify(&["HEAD", "--require"]).ok();
    assert!(out.stdout.contains("rebase"), "{}", out.stdout);
    // The numbers still equal git's, for the new base.
    let bundle = repo.bundle(&run_id);
    assert_eq!(
        bundle["changed_files"],
        serde_json::json!(["src/a.rs", "src/b.rs"]),
        "{bundle}"
    );
    let json = repo.verify(&["HEAD", "--format", "json"]).ok().json();
    // A rebuilt index points at the rebased commit too, where a trusted rewrite carried it.
    std::fs::remove_file(repo.path(".git/proof/index.sqlite")).unwrap();
    repo.trust_our_key();
    repo.proof(&["reindex"]).ok();
    let log = repo.proof(&["log", "--json"]).ok().json();
    assert_eq!(log[0]["proof"]["commit"], new_head.as_str(), "{log}");
    let carried = json[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "bundle")
        .unwrap()["carried"]
        .clone();
    assert!(
        carried
            .as_str()
            .unwrap()
            .starts_with(&format!("carried from {}", &old_head[..10]))
    );
}

#[test]
fn a_forged_rewrite_chain_is_refused() {
    // A note copied to another commit without a rewrite record (as notes.rewriteRef alone does)
    // is not a proof of that commit.
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let proven = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    repo.write("b.txt", "b\n");
    repo.commit_all("b");
    let _ = run_id;
    let note = repo.note(&proven);
    repo.replace_note("HEAD", &note);
    let out = repo.verify(&["HEAD"]).expect_code(1);
    assert!(out.stdout.contains("no trusted rewrite record"), "{}", out.stdout);
}

/// A bare remote and two clones of it, each with hooks installed.
struct Remote {
    repo: TestRepo,
    bare: PathBuf,
}

impl Remote {
    fn new() -> Self {
        let repo = TestRepo::new();
        let bare = repo.bare_clone();
        Self { repo, bare }
    }

    fn clone(&self, name: &str) -> PathBuf {
        let dir = self.repo.tmp.path().join(name);
        self.repo.git_in(
            self.repo.tmp.path(),
            &["clone", "-q", self.bare.to_str().unwrap(), dir.to_str().unwrap()],
        );
        dir
    }

    /// A proven run in `dir`: a commit on its own branch, pushed.
    fn proven_run(&self, dir: &Path, name: &str) -> (String, String) {
        let repo = &self.repo;
        repo.git_in(dir, &["checkout", "-qb", name]);
        let run_id = repo.proof_in(dir, &["start"]).ok().stdout.trim().to_owned();
        std::fs::write(dir.join(format!("{name}.txt")), name).unwrap();
        repo.git_in(dir, &["add", "-A"]);
        repo.git_in(dir, &["commit", "-qm", name]);
        repo.proof_in(dir, &["finish"]).ok();
        repo.git_in(dir, &["push", "-q", "--no-verify", "origin", name]);
        (run_id, repo.git_in(dir, &["rev-parse", "HEAD"]))
    }

    /// In the clone at `dir`: install the hooks, prove a run on branch `work` (committed through
    /// the hooks), and push the branch with the hooks; what the push printed.
    fn push_proven_work_with_hooks(&self, dir: &Path) -> Run {
        let repo = &self.repo;
        repo.proof_in(dir, &["install"]).ok();
        repo.git_in(dir, &["checkout", "-qb", "work"]);
        repo.proof_in(dir, &["start"]).ok();
        std::fs::write(dir.join("w.txt"), "w").unwrap();
        hooked_git_ok(repo, dir, &["add", "-A"]);
        hooked_git_ok(repo, dir, &["commit", "-qm", "w"]);
        repo.proof_in(dir, &["finish"]).ok();
        hooked_git_ok(repo, dir, &["push", "-q", "origin", "work"])
    }

    fn remote_notes(&self) -> String {
        self.repo.git_in(&self.bare, &["rev-parse", "refs/notes/proof"])
    }
}

#[test]
fn two_clones_sync_through_a_bare_remote_and_a_third_verifies_everything() {
    let remote = Remote::new();
    let (a, b) = (remote.clone("a"), remote.clone("b"));
    let (run_a, commit_a) = remote.proven_run(&a, "from-a");
    let (run_b, commit_b) = remote.proven_run(&b, "from-b");
    let repo = &remote.repo;
    repo.proof_in(&a, &["sync"]).ok();
    let out = repo.proof_in(&b, &["sync", "origin"]).ok();
    assert!(out.stderr.contains("merged, pushed"), "{}", out.stderr);
    repo.proof_in(&a, &["sync"]).ok();
    for dir in [&a, &b] {
        assert_eq!(
            repo.git_in(dir, &["rev-parse", "refs/notes/proof"]),
            remote.remote_notes(),
            "both clones end with the remote's notes"
        );
        for commit in [&commit_a, &commit_b] {
            repo.git_in(dir, &["notes", "--ref=proof", "show", commit]);
        }
    }
    // A third, fresh clone: sync + reindex, then everything verifies and shows.
    let c = remote.clone("c");
    repo.git_in(&c, &["fetch", "-q", "origin", "from-a:from-a", "from-b:from-b"]);
    repo.proof_in(&c, &["sync"]).ok();
    repo.proof_in(&c, &["reindex"]).ok();
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    repo.proof_in(
        &c,
        &["verify", "--require", "from-a", "from-b", "--allowed-signers", &signers],
    )
    .ok();
    for run_id in [&run_a, &run_b] {
        repo.proof_in(&c, &["show", run_id, "--json"]).ok();
    }
    // Syncing again changes nothing.
    let again = repo.proof_in(&c, &["sync", "--json"]).ok().json();
    assert_eq!(again["pushed"], false);
}

#[test]
fn concurrent_syncs_from_two_clones_lose_no_record() {
    let remote = Remote::new();
    let (a, b) = (remote.clone("a"), remote.clone("b"));
    let mut commits = Vec::new();
    for i in 0..3 {
        commits.push(remote.proven_run(&a, &format!("a{i}")).1);
        commits.push(remote.proven_run(&b, &format!("b{i}")).1);
    }
    let repo = &remote.repo;
    std::thread::scope(|s| {
        let ta = s.spawn(|| repo.proof_in(&a, &["sync"]));
        let tb = s.spawn(|| repo.proof_in(&b, &["sync"]));
        ta.join().unwrap().ok();
        tb.join().unwrap().ok();
    });
    // Whoever pushed first, a second round brings both to the same, complete notes.
    repo.proof_in(&a, &["sync"]).ok();
    repo.proof_in(&b, &["sync"]).ok();
    let tip = remote.remote_notes();
    for dir in [&a, &b] {
        assert_eq!(repo.git_in(dir, &["rev-parse", "refs/notes/proof"]), tip);
    }
    for commit in &commits {
        let note = repo.git_in(&remote.bare, &["notes", "--ref=proof", "show", commit]);
        assert_eq!(
            note.matches("BEGIN SSH SIGNATURE").count(),
            1,
            "one record, not duplicated"
        );
    }
}

#[test]
fn a_push_carries_the_notes_along_through_the_pre_push_hook() {
    let remote = Remote::new();
    let a = remote.clone("a");
    let repo = &remote.repo;
    let push = remote.push_proven_work_with_hooks(&a);
    assert!(push.stderr.contains("refs/notes/proof pushed"), "{}", push.stderr);
    assert_eq!(
        remote.remote_notes(),
        repo.git_in(&a, &["rev-parse", "refs/notes/proof"])
    );
    // Pushing the notes ref alone does not recurse.
    let again = hooked_git_ok(repo, &a, &["push", "-q", "origin", "refs/notes/proof"]);
    assert!(!again.stderr.contains("git-proof"), "{}", again.stderr);
}

#[test]
fn a_finish_killed_between_any_two_steps_leaves_no_proof_or_a_whole_one() {
    for step in ["end the run", "manifest", "sign", "note", "proof reference"] {
        let repo = TestRepo::new();
        let run_id = repo.start(&["--dod", "ok=true"]);
        repo.write("a.txt", "a\n");
        let head = repo.commit_all("a");
        let killed: Run = repo
            .proof_cmd(&["finish"])
            .env("GIT_PROOF_TEST_KILL_AFTER", step)
            .output()
            .unwrap()
            .into();
        assert_ne!(killed.code, 0, "killed after {step}");
        // Either no note, or a note whose every record is whole and valid.
        let note = repo.git_run_in(&repo.root, &["notes", "--ref=proof", "show", &head]);
        if note.code == 0 {
            repo.verify(&[&head]).ok();
        }
        // A second finish completes it: one record, indexed, with its manifest event.
        repo.proof(&["finish", "--run", &run_id]).ok();
        let note = repo.note(&head);
        assert_eq!(note.matches("BEGIN SSH SIGNATURE").count(), 1, "after {step}");
        repo.verify(&[&head, "--require"]).ok();
        let log = repo.proof(&["log", "--json"]).ok().json();
        assert_eq!(log[0]["proof"]["commit"], head.as_str(), "after {step}: {log}");
        let events: Vec<String> = repo.proof(&["show", &run_id, "--json"]).ok().json()["evidence"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            events,
            ["run.started", "commit.recorded", "run.completed"],
            "after {step}"
        );
    }
}

#[test]
fn reindex_completes_a_finish_killed_after_the_note() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    let killed: Run = repo
        .proof_cmd(&["finish"])
        .env("GIT_PROOF_TEST_KILL_AFTER", "note")
        .output()
        .unwrap()
        .into();
    assert_ne!(killed.code, 0);
    repo.proof(&["reindex"]).ok();
    let log = repo.proof(&["log", "--json"]).ok().json();
    let entry = log
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == run_id.as_str())
        .unwrap();
    assert_eq!(entry["proof"]["commit"], head.as_str(), "{log}");
}

#[test]
fn linked_worktrees_share_the_hooks_and_each_records_only_its_own_run() {
    let repo = TestRepo::new();
    let linked = repo.tmp.path().join("linked");
    repo.git(&["worktree", "add", "-q", "-b", "side", linked.to_str().unwrap()]);
    // Installed from the linked worktree, the hooks land where git runs them for both.
    repo.proof_in(&linked, &["install"]).ok();
    assert!(repo.path(".git/hooks/post-commit").is_file());
    let side_run = repo.proof_in(&linked, &["start"]).ok().stdout.trim().to_owned();
    std::fs::write(linked.join("side.txt"), "side\n").unwrap();
    hooked_git_ok(&repo, &linked, &["add", "-A"]);
    hooked_git_ok(&repo, &linked, &["commit", "-qm", "side"]);
    let side_commit = repo.git_in(&linked, &["rev-parse", "HEAD"]);
    // A commit in the main worktree, which has no run, is nobody's.
    repo.write("main.txt", "main\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(&repo, &repo.root, &["commit", "-qm", "main"]);
    repo.proof_in(&linked, &["finish"]).ok();
    let bundle = repo.bundle(&side_run);
    let commits: Vec<&str> = bundle["evidence"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "commit.recorded")
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(commits.len(), 1, "{bundle}");
    assert_eq!(bundle["head_sha"], side_commit.as_str());
    assert_eq!(bundle["changed_files"], serde_json::json!(["side.txt"]));
}

#[test]
fn sha256_repositories_get_proofs_that_verify_and_survive_an_amend() {
    let repo = TestRepo::new();
    let dir = repo.sha256_repo("sha256");
    std::fs::write(dir.join("README.md"), "# sha256\n").unwrap();
    repo.git_in(&dir, &["add", "-A"]);
    repo.git_in(&dir, &["commit", "-qm", "root"]);
    repo.proof_in(&dir, &["install"]).ok();
    let run_id = repo.proof_in(&dir, &["start"]).ok().stdout.trim().to_owned();
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    hooked_git_ok(&repo, &dir, &["add", "-A"]);
    hooked_git_ok(&repo, &dir, &["commit", "-qm", "a"]);
    repo.proof_in(&dir, &["finish"]).ok();
    let head = repo.git_in(&dir, &["rev-parse", "HEAD"]);
    assert_eq!(head.len(), 64);
    let bundle = repo.proof_in(&dir, &["show", &run_id, "--json"]).ok().json();
    assert_eq!(bundle["head_sha"], head.as_str());
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    repo.proof_in(&dir, &["verify", "HEAD", "--allowed-signers", &signers])
        .ok();
    let note = repo.git_in(&dir, &["notes", "--ref=proof", "show", "HEAD"]);
    let (payload, signature) = crate::common::split_records(&format!("{note}\n")).remove(0);
    let (code, out) = crate::common::ssh_keygen_verify(&repo, "agent@example.com", &payload, &signature);
    assert_eq!(code, 0, "{out}");
    hooked_git_ok(&repo, &dir, &["commit", "-q", "--amend", "-m", "a, reworded"]);
    let out = repo
        .proof_in(&dir, &["verify", "HEAD", "--allowed-signers", &signers])
        .ok();
    assert!(out.stdout.contains("carried from"), "{}", out.stdout);
    // The rewrite record's patch-id is git's own, SHA-256 in this repository.
    let note = repo.git_in(&dir, &["notes", "--ref=proof", "show", "HEAD"]);
    let rewrite: serde_json::Value = crate::common::split_records(&format!("{note}\n"))
        .iter()
        .map(|(payload, _)| serde_json::from_str::<serde_json::Value>(payload).unwrap())
        .find(|v| v["predicateType"] == "https://git-proof.dev/rewrite/v1")
        .expect("a rewrite record")["predicate"]
        .clone();
    let diff = repo
        .git_command(&dir)
        .args([
            "diff",
            "--no-renames",
            "--full-index",
            rewrite["new_base_sha"].as_str().unwrap(),
            "HEAD",
        ])
        .output()
        .unwrap();
    let mut cmd = repo.git_command(&dir);
    cmd.args(["patch-id", "--verbatim"]);
    let git_id = crate::common::run_with_input(cmd, &diff.stdout).ok().stdout;
    assert_eq!(git_id.split_whitespace().next(), rewrite["new_patch_id"].as_str());
    assert_eq!(rewrite["new_patch_id"].as_str().unwrap().len(), 64);
}

#[test]
fn a_remote_that_refuses_the_notes_gets_the_branch_and_a_clear_warning() {
    let remote = Remote::new();
    write_hook(
        &remote.bare.join("hooks/pre-receive"),
        "#!/bin/sh\nwhile read old new ref; do case \"$ref\" in refs/notes/*) echo \"notes are not allowed here\" >&2; exit 1;; esac; done\n",
    );
    let a = remote.clone("a");
    let repo = &remote.repo;
    let push = remote.push_proven_work_with_hooks(&a);
    assert!(
        push.stderr
            .contains("warning: refs/notes/proof was not pushed to origin")
            && push.stderr.contains("git proof sync origin"),
        "{}",
        push.stderr
    );
    assert_eq!(
        repo.git_in(&remote.bare, &["rev-parse", "work"]),
        repo.git_in(&a, &["rev-parse", "HEAD"]),
        "the branch push went through"
    );
}

#[test]
fn install_adds_a_fetch_refspec_so_a_plain_fetch_brings_the_remote_proofs() {
    let remote = Remote::new();
    let (a, b) = (remote.clone("a"), remote.clone("b"));
    let repo = &remote.repo;
    let (_, commit) = remote.proven_run(&a, "from-a");
    repo.proof_in(&a, &["sync"]).ok();
    repo.proof_in(&b, &["install"]).ok();
    repo.git_in(&b, &["fetch", "-q"]);
    let fetched = repo.git_in(&b, &["rev-parse", "refs/notes/remotes/origin/proof"]);
    assert_eq!(fetched, remote.remote_notes());
    repo.git_in(&b, &["notes", "--ref=remotes/origin/proof", "show", &commit]);
    // uninstall takes the refspec back out.
    repo.proof_in(&b, &["uninstall"]).ok();
    assert_eq!(
        repo.git_in(&b, &["config", "--get-all", "remote.origin.fetch"]),
        "+refs/heads/*:refs/remotes/origin/*"
    );
}

#[test]
fn bad_input_to_the_new_commands_gets_one_line_and_changes_nothing() {
    let repo = TestRepo::new();
    // No remote at all, and a remote that does not exist.
    let out = repo.proof(&["sync"]).expect_code(2);
    assert!(out.one_error_line().contains("no remote"), "{}", out.stderr);
    let out = repo.proof(&["sync", "upstream"]).expect_code(2);
    assert!(out.one_error_line().contains("'upstream'"), "{}", out.stderr);
    let out = repo.proof(&["sync", "/nonexistent/remote.git"]).expect_code(2);
    out.one_error_line();
    // A hook of ours would have to chain to a second user hook: refused, nothing touched.
    write_hook(&repo.path(".git/hooks/pre-push"), "#!/bin/sh\nexit 0\n");
    write_hook(&repo.path(".git/hooks/pre-push.pre-git-proof"), "#!/bin/sh\nexit 1\n");
    let before = snapshot(&repo.path(".git/hooks"));
    let config = std::fs::read(repo.path(".git/config")).unwrap();
    let out = repo.proof(&["install"]).expect_code(2);
    assert!(
        out.one_error_line().contains("pre-push.pre-git-proof"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(&repo.path(".git/hooks")), before);
    assert_eq!(std::fs::read(repo.path(".git/config")).unwrap(), config);
    // Nothing installed: uninstall says so and succeeds.
    let fresh = TestRepo::new();
    let out = fresh.proof(&["uninstall"]).ok();
    assert!(out.stdout.contains("nothing to uninstall"), "{}", out.stdout);
    // Garbage where git's rewrite list should be: one line, exit 0, the notes untouched.
    let run = repo.proof_with_input(&["hook", "post-rewrite", "amend"], "not a rewrite list\n");
    assert_eq!(run.code, 0);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("post-rewrite hook"), "{}", run.stderr);
}

#[test]
fn squashing_the_runs_commits_keeps_the_proof_and_dropping_one_does_not() {
    // The patch-id covers the run's whole change (base..head), so folding its commits into
    // one keeps it, and leaving one of them out does not.
    for (script, valid) in [("2s/^pick/squash/", true), ("1d", false)] {
        let repo = TestRepo::new();
        let (_, old_head) = proven_feature_branch(&repo);
        scripted_rebase(&repo, script, "true");
        assert_ne!(repo.git(&["rev-parse", "HEAD"]), old_head);
        let out = repo.verify(&["HEAD"]);
        if valid {
            assert_eq!(out.code, 0, "{script}: {}", out.stdout);
            assert_eq!(repo.git(&["rev-list", "--count", "main..HEAD"]), "1");
        } else {
            assert_eq!(out.code, 1, "{script}: {}", out.stdout);
            assert!(out.stdout.contains("changed the run's patch"), "{}", out.stdout);
        }
    }
}

/// A clone (or an attacker) that removes a record and pushes the notes ref makes a descendant
/// notes commit without it; syncing that must not remove the record anywhere: sync is a union.
#[test]
fn a_record_removed_elsewhere_survives_a_sync() {
    let remote = Remote::new();
    let (a, b) = (remote.clone("a"), remote.clone("b"));
    let repo = &remote.repo;
    let (_, commit) = remote.proven_run(&a, "work");
    repo.proof_in(&a, &["sync"]).ok();
    repo.proof_in(&b, &["sync"]).ok();
    let record = repo.git_in(&b, &["notes", "--ref=proof", "show", &commit]);
    // a removes the note and pushes: a fast-forward of the remote's notes.
    repo.git_in(&a, &["notes", "--ref=proof", "remove", &commit]);
    repo.git_in(&a, &["push", "-q", "--no-verify", "origin", "refs/notes/proof"]);
    assert_ne!(
        repo.git_run_in(&remote.bare, &["notes", "--ref=proof", "show", &commit])
            .code,
        0
    );
    // b syncs: it keeps the record, and puts it back on the remote.
    let out = repo.proof_in(&b, &["sync", "--json"]).ok().json();
    assert_eq!(out["merged"], "merged", "{out}");
    assert_eq!(repo.git_in(&b, &["notes", "--ref=proof", "show", &commit]), record);
    assert_eq!(
        repo.git_in(&remote.bare, &["notes", "--ref=proof", "show", &commit]),
        record
    );
    // and a, syncing again, gets it back.
    repo.proof_in(&a, &["sync"]).ok();
    assert_eq!(repo.git_in(&a, &["notes", "--ref=proof", "show", &commit]), record);
}

/// Sixteen clones, each with a proof of its own, sync one bare remote at the same moment, two
/// rounds: every sync succeeds (retrying with backoff while others push first) and the remote
/// ends with all thirty-two records, each once.
#[test]
fn sixteen_clones_syncing_at_once_lose_nothing() {
    let remote = Remote::new();
    let repo = &remote.repo;
    let clones: Vec<PathBuf> = (0..16).map(|i| remote.clone(&format!("c{i}"))).collect();
    let mut commits = Vec::new();
    for round in 0..2 {
        for (i, dir) in clones.iter().enumerate() {
            commits.push(remote.proven_run(dir, &format!("r{round}c{i}")).1);
        }
        let results: Vec<Run> = std::thread::scope(|s| {
            let syncs: Vec<_> = clones
                .iter()
                .map(|dir| s.spawn(move || repo.proof_in(dir, &["sync", "--json"])))
                .collect();
            syncs.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for run in results {
            run.ok();
        }
    }
    for commit in &commits {
        let note = repo.git_in(&remote.bare, &["notes", "--ref=proof", "show", commit]);
        assert_eq!(note.matches("BEGIN SSH SIGNATURE").count(), 1, "{commit}");
    }
    assert_eq!(commits.len(), 32);
}
