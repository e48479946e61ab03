//! The index rebuilt from the notes: a fresh clone, a deleted index, a corrupt one.

use serde_json::Value;

use crate::common::TestRepo;

fn proven_runs(repo: &TestRepo) -> Vec<String> {
    let mut runs = Vec::new();
    for i in 0..3 {
        let run_id = repo.start(&["--scope", "src/**", "--dod", "ok=true"]);
        repo.write(&format!("f{i}.txt"), "x\n");
        repo.commit_all(&format!("work {i}"));
        repo.proof(&["finish"]).ok();
        runs.push(run_id);
    }
    repo.proof(&["approve", &runs[1], "f1.txt", "--reason", "fine"]).ok();
    runs
}

#[test]
fn a_fresh_clone_answers_show_and_log_after_fetching_notes_and_reindex() {
    let origin = TestRepo::new();
    let runs = proven_runs(&origin);
    let clone = origin.tmp.path().join("clone");
    origin.git_in(
        origin.tmp.path(),
        &["clone", "-q", origin.root.to_str().unwrap(), clone.to_str().unwrap()],
    );
    origin.git_in(&clone, &["fetch", "-q", "origin", "refs/notes/proof:refs/notes/proof"]);
    // Both trust the team key, as a committed .proof/allowed_signers would make them.
    origin.trust_our_key();
    let signers = origin.allowed_signers.to_str().unwrap();
    origin.git_in(&clone, &["config", "proof.allowedSignersFile", signers]);
    let out = origin.proof_in(&clone, &["reindex"]).ok();
    assert!(out.stderr.contains("3 runs added"), "{}", out.stderr);
    let log = origin.proof_in(&clone, &["log", "--json"]).ok().json();
    let mut ids: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected: Vec<&str> = runs.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "ended" && r["proof"].is_object())
    );
    // show by run id, and the decision made after the proof is folded in.
    let b: Value = origin.proof_in(&clone, &["show", &runs[1], "--json"]).ok().json();
    let v = b["scope_violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["path"] == "f1.txt")
        .unwrap()
        .clone();
    assert_eq!(v["approval"]["state"], "approved");
    assert_eq!(b, origin.bundle(&runs[1]), "the clone shows what the origin shows");
    // A second reindex adds nothing.
    let out = origin.proof_in(&clone, &["reindex"]).ok();
    assert!(
        out.stderr.contains("0 runs added") && out.stderr.contains("3 already"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_deleted_or_corrupt_index_is_rebuilt_from_the_notes() {
    let repo = TestRepo::new();
    let runs = proven_runs(&repo);
    let index = repo.path(".git/proof/index.sqlite");

    std::fs::remove_file(&index).unwrap();
    let _ = std::fs::remove_file(repo.path(".git/proof/index.sqlite-wal"));
    let _ = std::fs::remove_file(repo.path(".git/proof/index.sqlite-shm"));
    repo.proof(&["reindex"]).ok();
    assert_eq!(repo.proof(&["log", "--json"]).ok().json().as_array().unwrap().len(), 3);

    // Overwritten with garbage: detected, moved aside, rebuilt, said in one line.
    std::fs::write(&index, vec![0x42u8; 8192]).unwrap();
    let _ = std::fs::remove_file(repo.path(".git/proof/index.sqlite-wal"));
    let _ = std::fs::remove_file(repo.path(".git/proof/index.sqlite-shm"));
    let out = repo.proof(&["log", "--json"]).ok();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("index was corrupt") && lines[0].contains("3 runs"),
        "{}",
        lines[0]
    );
    assert_eq!(out.json().as_array().unwrap().len(), 3);
    let aside: Vec<_> = std::fs::read_dir(repo.path(".git/proof"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert_eq!(aside.len(), 1, "the corrupt file is kept, moved aside");
    repo.proof(&["show", &runs[0]]).ok();
}

/// Damage past the first pages shows only when a query reaches it; an empty file looks like a
/// new index. Both are repaired as a garbled header is, for every command, in one line.
#[test]
fn an_index_damaged_deep_inside_or_emptied_is_rebuilt() {
    let repo = TestRepo::new();
    let runs = proven_runs(&repo);
    let index = repo.path(".git/proof/index.sqlite");
    // Fold the WAL into the file, so that the damage is in the pages SQLite reads.
    repo.proof(&["log"]).ok();
    rusqlite::Connection::open(&index)
        .and_then(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
        .unwrap();
    let mut bytes = std::fs::read(&index).unwrap();
    assert!(bytes.len() > 3 * 4096, "{}", bytes.len());
    for b in &mut bytes[2 * 4096..] {
        *b = 0x5a;
    }
    std::fs::write(&index, &bytes).unwrap();
    for args in [&["log", "--json"][..], &["reindex"][..]] {
        let out = repo.proof(args).ok();
        assert!(out.stderr.contains("index was corrupt"), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("malformed"), "{args:?}: {}", out.stderr);
        if args[0] == "log" {
            assert_eq!(out.json().as_array().unwrap().len(), 3);
        }
        std::fs::write(&index, &bytes).unwrap();
        let _ = std::fs::remove_file(repo.path(".git/proof/index.sqlite-wal"));
        let _ = std::fs::remove_file(repo.path(".git/proof/index.sqlite-shm"));
    }
    std::fs::write(&index, b"").unwrap();
    let out = repo.proof(&["log", "--json"]).ok();
    assert!(out.stderr.contains("index was corrupt"), "{}", out.stderr);
    assert_eq!(out.json().as_array().unwrap().len(), 3, "not 'no runs yet'");
    let aside = std::fs::read_dir(repo.path(".git/proof"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(aside, 3, "each damaged copy is kept");
    repo.proof(&["show", &runs[0]]).ok();
}
