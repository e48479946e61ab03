//! Idempotence and races: repeated and parallel finishes never lose or double a proof.

use std::process::Child;

use crate::common::{TestRepo, split_records};

#[test]
fn finishing_twice_gives_one_record() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    repo.write("x.txt", "x\n");
    let head = repo.commit_all("work");
    let first = repo.proof(&["finish", "--json"]).ok().json();
    assert_eq!(first["created"], true);
    let note_before = repo.note(&head);
    let second = repo.proof(&["finish", "--run", &run_id, "--json"]).ok().json();
    assert_eq!(second["created"], false);
    assert_eq!(second["bundle_digest"], first["bundle_digest"]);
    assert_eq!(repo.note(&head), note_before);
    assert_eq!(split_records(&note_before).len(), 1);
    let events = repo.bundle(&run_id)["evidence"]["event_count"].clone();
    assert_eq!(events, 3);

    // In the index: exactly one evidence.manifest.created, and a second manifest row for the
    // run is refused by the schema itself.
    let db = rusqlite::Connection::open(repo.path(".git/proof/index.sqlite")).unwrap();
    let created: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM events WHERE run_id = ?1 AND event_type = 'evidence.manifest.created'",
            [&run_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(created, 1);
    let second = db.execute(
        "INSERT INTO evidence_manifests (run_id, manifest_json, manifest_hash) VALUES (?1, '{}', 'x')",
        [&run_id],
    );
    assert!(second.is_err(), "one manifest per run is a constraint");
}

#[test]
fn eight_worktrees_finishing_at_once_lose_no_note() {
    let repo = TestRepo::new();
    let mut dirs = Vec::new();
    for i in 0..8 {
        let dir = repo.tmp.path().join(format!("wt{i}"));
        repo.git(&[
            "worktree",
            "add",
            "-q",
            "-b",
            &format!("agent{i}"),
            dir.to_str().unwrap(),
        ]);
        repo.proof_in(&dir, &["start", "--run-id", &format!("run-{i}")]).ok();
        std::fs::write(dir.join(format!("file{i}.txt")), format!("{i}\n")).unwrap();
        repo.git_in(&dir, &["add", "-A"]);
        repo.git_in(&dir, &["commit", "-qm", &format!("agent {i}")]);
        dirs.push(dir);
    }
    let children: Vec<Child> = dirs
        .iter()
        .map(|dir| repo.proof_cmd_in(dir, &["finish", "-q"]).spawn().unwrap())
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let listed = repo.git(&["notes", "--ref=proof", "list"]);
    assert_eq!(listed.lines().count(), 8, "{listed}");
    for (i, dir) in dirs.iter().enumerate() {
        let head = repo.git_in(dir, &["rev-parse", "HEAD"]);
        let note = repo.note(&head);
        assert_eq!(split_records(&note).len(), 1);
        assert!(note.contains(&format!("\"run_id\": \"run-{i}\"")));
        repo.verify(&[&head]).ok();
    }
    // One index for all worktrees.
    let log = repo.proof(&["log", "--json"]).ok().json();
    assert_eq!(log.as_array().unwrap().len(), 8);
    repo.git(&["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn eight_finishes_of_the_same_run_leave_one_record() {
    let repo = TestRepo::new();
    let run_id = repo.start(&["--dod", "slow=sleep 0.2"]);
    repo.write("y.txt", "y\n");
    let head = repo.commit_all("work");
    let children: Vec<Child> = (0..8)
        .map(|_| {
            repo.proof_cmd(&["finish", "--run", &run_id, "--json"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = 0;
    let mut digests = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        created += usize::from(v["created"] == true);
        digests.push(v["bundle_digest"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1, "exactly one finish wrote the proof");
    digests.dedup();
    assert_eq!(digests.len(), 1, "all eight report the same proof");
    assert_eq!(split_records(&repo.note(&head)).len(), 1);
    let bundle = repo.bundle(&run_id);
    let types = crate::common::event_types(&bundle);
    assert_eq!(types, ["run.started", "commit.recorded", "run.completed"]);
    assert_eq!(bundle["dod_results"].as_array().unwrap().len(), 1);
}

#[test]
fn a_run_is_finished_in_its_own_worktree() {
    let repo = TestRepo::new();
    let other = repo.tmp.path().join("other");
    repo.git(&["worktree", "add", "-q", "-b", "other", other.to_str().unwrap()]);
    let run_id = repo.start(&[]);
    let out = repo.proof_in(&other, &["finish", "--run", &run_id]).expect_code(2);
    assert!(
        out.one_error_line().contains("belongs to the worktree"),
        "{}",
        out.stderr
    );
    repo.proof(&["finish", "--run", &run_id]).ok();
}
