//! Partial clones (`git clone --filter=...`) lack the blobs (or trees) a proof's facts are
//! recomputed from, and the note blobs themselves. verify fetches what it needs from the
//! promisor remote, as git's own lazy fetch does; when it cannot, a required proof fails with
//! one line saying how to get the objects, unless `--allow-unchecked` accepts it.

use std::path::{Path, PathBuf};

use crate::common::TestRepo;

const TRAILER: &str = "\n\nCo-Authored-By: Claude <noreply@anthropic.com>";

/// A run of two agent commits on main, trusted by the committed `.proof/allowed_signers`,
/// pushed with its notes to a bare remote that serves partial clones. Returns the remote.
fn proven_remote(repo: &TestRepo) -> PathBuf {
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    std::fs::copy(&repo.allowed_signers, repo.path(".proof/allowed_signers")).unwrap();
    for i in 0..3 {
        repo.write(&format!("src/f{i}.txt"), format!("{i}\n").repeat(50));
    }
    repo.commit_all("trust the team key");
    repo.start(&[]);
    repo.write("src/f0.txt", "changed\n");
    repo.write("src/new.txt", "new\n");
    repo.commit_all(&format!("agent one{TRAILER}"));
    repo.write("src/f1.txt", "1\n".repeat(20));
    repo.commit_all(&format!("agent two{TRAILER}"));
    repo.proof(&["finish"]).ok();
    let remote = repo.tmp.path().join("remote.git");
    repo.git_in(repo.tmp.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    repo.git_in(&remote, &["config", "uploadpack.allowFilter", "true"]);
    repo.git_in(&remote, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    repo.git(&["push", "-q", remote.to_str().unwrap(), "main", "refs/notes/proof"]);
    remote
}

/// `git clone --filter=FILTER` of the remote, with the proof notes fetched (as CI does).
fn partial_clone(repo: &TestRepo, remote: &Path, filter: &str) -> PathBuf {
    let dir = repo.tmp.path().join(format!("partial-{}", filter.replace(':', "-")));
    let url = format!("file://{}", remote.display());
    repo.git_in(
        repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--no-checkout",
            &format!("--filter={filter}"),
            &url,
            dir.to_str().unwrap(),
        ],
    );
    repo.git_in(&dir, &["fetch", "-q", "origin", "refs/notes/proof:refs/notes/proof"]);
    dir
}

/// The objects reachable from every ref that this clone lacks.
fn missing_objects(repo: &TestRepo, dir: &Path) -> usize {
    repo.git_in(dir, &["rev-list", "--objects", "--missing=print", "--all"])
        .lines()
        .filter(|l| l.starts_with('?'))
        .count()
}

/// `verify --require` of the two proven commits on origin/main, trusting origin/main.
fn verify_last_two(repo: &TestRepo, clone: &Path) -> crate::common::Run {
    repo.proof_in(
        clone,
        &[
            "verify",
            "--require",
            "origin/main~2..origin/main",
            "--trust-ref",
            "origin/main",
        ],
    )
}

#[test]
fn verify_in_a_blobless_clone_fetches_what_it_needs() {
    let repo = TestRepo::new();
    let remote = proven_remote(&repo);
    let clone = partial_clone(&repo, &remote, "blob:none");
    let before = missing_objects(&repo, &clone);
    assert!(before > 0, "the clone must lack blobs for this test to mean anything");

    let out = verify_last_two(&repo, &clone).ok();
    let lines = crate::common::verify_entries(&out.stdout);
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines.iter().all(|l| l.contains("  valid  ")), "{}", out.stdout);
    assert!(!out.stdout.contains("not checked"), "{}", out.stdout);
    assert!(missing_objects(&repo, &clone) < before, "verify fetched nothing");
    // The proof reads back in full too.
    let shown = repo.proof_in(&clone, &["show", "origin/main"]).ok();
    assert!(!shown.stdout.contains("NOT CHECKED"), "{}", shown.stdout);
    assert!(shown.stdout.contains("src/new.txt"), "{}", shown.stdout);
}

#[test]
fn verify_in_a_treeless_clone_fetches_what_it_needs() {
    let repo = TestRepo::new();
    let remote = proven_remote(&repo);
    let clone = partial_clone(&repo, &remote, "tree:0");
    let out = verify_last_two(&repo, &clone).ok();
    assert_eq!(out.stdout.matches("  valid  ").count(), 2, "{}", out.stdout);
    assert!(!out.stdout.contains("not checked"), "{}", out.stdout);
}

#[test]
fn a_partial_clone_that_cannot_fetch_says_so_and_fails_required_proofs() {
    let repo = TestRepo::new();
    let remote = proven_remote(&repo);
    let clone = partial_clone(&repo, &remote, "blob:none");
    let notes_before = repo.git_in(&clone, &["rev-parse", "refs/notes/proof"]);
    let away = repo.tmp.path().join("remote.away");
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "origin/main~2..origin/main", "--allowed-signers", &signers];
        args.extend_from_slice(extra);
        repo.proof_in(&clone, &args)
    };

    // The note blobs are not here and the remote is gone: one line, how to get them.
    std::fs::rename(&remote, &away).unwrap();
    let out = verify(&["--require"]).expect_code(2);
    let line = out.one_error_line();
    assert!(line.contains("not in this partial clone"), "{line}");
    assert!(line.contains("promisor remote 'origin'"), "{line}");
    assert!(line.contains("run this where 'origin' can be reached"), "{line}");

    // With the notes here but not the files' content, the facts cannot be recomputed.
    std::fs::rename(&away, &remote).unwrap();
    let note_blob = repo.git_in(&clone, &["notes", "--ref=proof", "list", "origin/main"]);
    repo.git_in(&clone, &["cat-file", "-e", note_blob.trim()]);
    std::fs::rename(&remote, &away).unwrap();
    let out = verify(&["--require"]).expect_code(1);
    let entries = crate::common::verify_entries(&out.stdout);
    let head = entries.last().unwrap();
    assert!(head.contains("  unchecked  "), "{}", out.stdout);
    assert!(
        head.contains("not checked: the diff base_sha..head_sha could not be read"),
        "{head}"
    );
    assert!(
        head.contains("could not be fetched from its promisor remote 'origin'"),
        "{head}"
    );
    assert!(head.contains("--allow-unchecked"), "{head}");
    // The run's other commit is covered by that proof, so it is no more checked than it.
    assert!(entries[0].contains("  unchecked  "), "{}", out.stdout);
    let json = verify(&["--require", "--json"]).expect_code(1).json();
    assert_eq!(json[1]["verdict"], "unchecked");
    assert_eq!(json[1]["unchecked"].as_array().map(Vec::len), Some(1), "{json}");

    // Accepted only when asked, and without --require it is shown, not failed.
    verify(&["--require", "--allow-unchecked"]).ok();
    verify(&["--require-for", "agents", "--allow-unchecked"]).ok();
    verify(&["--require-for", "agents"]).expect_code(1);
    let out = verify(&[]).ok();
    assert!(out.stdout.contains("  unchecked  "), "{}", out.stdout);

    // Nothing was lost on the way.
    assert_eq!(repo.git_in(&clone, &["rev-parse", "refs/notes/proof"]), notes_before);
    // And once the remote is back, the same clone checks everything.
    std::fs::rename(&away, &remote).unwrap();
    let out = verify(&["--require"]).ok();
    assert_eq!(out.stdout.matches("  valid  ").count(), 2, "{}", out.stdout);
}
