//! examples/ci/pre-receive run for real: a bare remote refuses agent commits without a proof.

use crate::common::{Run, TestRepo};

const TRAILER: &str = "\n\nCo-Authored-By: Claude <noreply@anthropic.com>";

fn push(repo: &TestRepo, path_env: &str, refs: &[&str]) -> Run {
    let mut cmd = repo.git_command(&repo.root);
    cmd.env("PATH", path_env).args(["push", "-q", "origin"]).args(refs);
    cmd.output().unwrap().into()
}

/// A bare remote `origin` of `repo` running examples/ci/pre-receive, and the `PATH` that finds
/// the binary under test for its pushes.
fn guarded_remote(repo: &TestRepo) -> (std::path::PathBuf, String) {
    let remote = repo.tmp.path().join("remote.git");
    repo.git_in(
        repo.tmp.path(),
        &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()],
    );
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/pre-receive"),
        remote.join("hooks/pre-receive"),
    )
    .unwrap();
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    (remote, crate::common::path_with_bin())
}

#[test]
fn the_pre_receive_example_refuses_unproven_agent_commits() {
    let repo = TestRepo::new();
    let (remote, path_env) = guarded_remote(&repo);

    // main trusts the team's key.
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    std::fs::copy(&repo.allowed_signers, repo.path(".proof/allowed_signers")).unwrap();
    repo.commit_all("trust the team key");
    push(&repo, &path_env, &["main"]).ok();

    // A proven agent commit goes in, with its notes.
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    repo.commit_all(&format!("agent work{TRAILER}"));
    repo.proof(&["finish"]).ok();
    push(&repo, &path_env, &["main", "refs/notes/proof"]).ok();

    // A human commit needs no proof.
    repo.write("b.txt", "b\n");
    repo.commit_all("human work");
    push(&repo, &path_env, &["main"]).ok();

    // An agent commit without a proof is refused, and the remote keeps its old main.
    repo.write("c.txt", "c\n");
    repo.commit_all(&format!("unproven agent work{TRAILER}"));
    let before = repo.git_in(&remote, &["rev-parse", "main"]);
    let out = push(&repo, &path_env, &["main"]);
    assert_ne!(out.code, 0, "the push must be refused");
    assert!(out.stderr.contains("push to refs/heads/main refused"), "{}", out.stderr);
    assert!(
        out.stderr.contains("looks agent-made"),
        "refused for the missing proof: {}",
        out.stderr
    );
    assert_eq!(repo.git_in(&remote, &["rev-parse", "main"]), before);
}

/// Deleting a protected branch and pushing it again must not skip the checks: with no earlier
/// state to take trust from, the server's own allowed_signers judges every new commit, and
/// without one the push is refused.
#[test]
fn the_pre_receive_example_checks_a_recreated_protected_branch() {
    let repo = TestRepo::new();
    let (remote, path_env) = guarded_remote(&repo);
    repo.git_in(&remote, &["config", "receive.denyDeleteCurrent", "false"]);
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    std::fs::copy(&repo.allowed_signers, repo.path(".proof/allowed_signers")).unwrap();
    repo.commit_all("trust the team key");
    push(&repo, &path_env, &["main"]).ok();

    // The branch deleted, then pushed again with an unproven agent commit on it.
    push(&repo, &path_env, &[":main"]).ok();
    repo.write("c.txt", "c\n");
    repo.commit_all(&format!("unproven agent work{TRAILER}"));
    let out = push(&repo, &path_env, &["main"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("no proof.allowedSignersFile"), "{}", out.stderr);

    // With the server's own trust configured, the commits are checked...
    repo.git_in(
        &remote,
        &[
            "config",
            "proof.allowedSignersFile",
            repo.allowed_signers.to_str().unwrap(),
        ],
    );
    let out = push(&repo, &path_env, &["main"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("looks agent-made"), "{}", out.stderr);
    assert_ne!(repo.git_run_in(&remote, &["rev-parse", "--verify", "main"]).code, 0);
    // ...and a proven one goes in.
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    repo.start(&[]);
    repo.write("d.txt", "d\n");
    repo.commit_all(&format!("proven agent work{TRAILER}"));
    repo.proof(&["finish"]).ok();
    push(&repo, &path_env, &["main", "refs/notes/proof"]).ok();
}
