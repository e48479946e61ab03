//! Evidence: one event proven part of a run on its own, and manifests that must recompute.

use std::path::Path;

use serde_json::Value;

use crate::common::{TestRepo, split_records, ssh_keygen_sign};

fn run_with_events(repo: &TestRepo) -> (String, Value) {
    let run_id = repo.start(&[]);
    for i in 0..5 {
        let data = format!(r#"{{"toolcall_id":"t{i}","input_digest":"sha256:00","input_size":{i}}}"#);
        repo.proof(&[
            "event",
            "toolcall.requested",
            "--id",
            &format!("call-{i}"),
            "--data",
            &data,
        ])
        .ok();
        let data = format!(r#"{{"toolcall_id":"t{i}","exit_code":0}}"#);
        repo.proof(&["event", "toolcall.completed", "--data", &data]).ok();
    }
    repo.proof(&["finish"]).ok();
    let bundle = repo.bundle(&run_id);
    (run_id, bundle)
}

fn write_proof(repo: &TestRepo, name: &str, proof: &Value) -> String {
    let path = repo.tmp.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(proof).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn verify_event(repo: &TestRepo, file: &str) -> crate::common::Run {
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    repo.proof(&["verify-event", file, "--allowed-signers", &signers])
}

#[test]
fn one_event_is_proven_without_the_rest_of_the_log() {
    let repo = TestRepo::new();
    let (run_id, bundle) = run_with_events(&repo);
    assert_eq!(bundle["evidence"]["event_count"], 12);
    let proof = repo.proof(&["prove-event", &run_id, "call-3"]).ok().json();
    assert_eq!(proof["leaf_index"], 7);
    assert_eq!(proof["tree_size"], 12);
    assert_eq!(proof["event_hash_root"], bundle["evidence"]["event_hash_root"]);
    assert_eq!(proof["event"]["data"]["toolcall_id"], "t3");
    assert_eq!(proof["audit_path"].as_array().unwrap().len(), 4);
    let file = write_proof(&repo, "proof.json", &proof);
    let out = verify_event(&repo, &file).ok();
    assert!(out.stdout.starts_with("valid: event call-3"), "{}", out.stdout);

    // Every event of the run proves, including the first and the last.
    for pointer in bundle["evidence"]["events"].as_array().unwrap() {
        let id = pointer["event_id"].as_str().unwrap();
        let proof = repo.proof(&["prove-event", &run_id, id]).ok().json();
        verify_event(&repo, &write_proof(&repo, "each.json", &proof)).ok();
    }

    // Tampering with the disclosed event, the path, or the position is caught.
    let mut altered = proof.clone();
    altered["event"]["data"]["input_size"] = 99.into();
    let out = verify_event(&repo, &write_proof(&repo, "altered.json", &altered)).expect_code(1);
    assert!(out.stdout.contains("altered"), "{}", out.stdout);
    let mut bad_path = proof.clone();
    bad_path["audit_path"][1] = bad_path["audit_path"][0].clone();
    let out = verify_event(&repo, &write_proof(&repo, "path.json", &bad_path)).expect_code(1);
    assert!(out.stdout.contains("audit path"), "{}", out.stdout);
    let mut moved = proof.clone();
    moved["leaf_index"] = 6.into();
    verify_event(&repo, &write_proof(&repo, "moved.json", &moved)).expect_code(1);

    let out = repo.proof(&["prove-event", &run_id, "no-such-event"]).expect_code(3);
    out.one_error_line();
    let out = verify_event(&repo, &write_proof(&repo, "junk.json", &serde_json::json!({"x": 1}))).expect_code(2);
    assert!(out.one_error_line().contains("not an event proof"), "{}", out.stderr);
}

#[test]
fn verify_rejects_an_edited_pointer_list_even_when_re_signed() {
    let repo = TestRepo::new();
    let (_, _) = run_with_events(&repo);
    let head = repo.git(&["rev-parse", "HEAD"]);
    let (payload, _) = split_records(&repo.note(&head)).remove(0);
    let mut statement: Value = serde_json::from_str(&payload).unwrap();
    // Drop one event pointer: the manifest no longer adds up.
    statement["predicate"]["evidence"]["events"]
        .as_array_mut()
        .unwrap()
        .remove(3);
    let edited = serde_json::to_string_pretty(&statement).unwrap() + "\n";
    // Signed properly by the trusted key, so only the manifest check can catch it.
    let signature = ssh_keygen_sign(&repo, &repo.key, "git-proof", &edited);
    repo.replace_note(&head, &format!("{edited}{signature}"));
    let out = repo.verify(&[&head]).expect_code(1);
    assert!(
        out.stdout.contains("signed by agent@example.com"),
        "the signature itself is good: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("event_count 12 does not match the 11 listed events"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("event_hash_root does not recompute"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("manifest_hash does not recompute"),
        "{}",
        out.stdout
    );
}

/// Each hook is a process that appends one event and exits, and closing does not checkpoint
/// the WAL every time (that was most of an event's cost). The WAL must still stay bounded, and
/// every event must be there for the next process.
#[test]
fn many_event_processes_keep_the_wal_bounded_and_lose_nothing() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    let wal = repo.path(".git/proof/index.sqlite-wal");
    let mut largest = 0;
    for i in 0..400 {
        let data = format!("{{\"toolcall_id\":\"t{i}\"}}");
        repo.proof(&["event", "toolcall.requested", "--data", &data]).ok();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // Checkpointed from 256 KiB on: never more than that and one more event's pages.
    assert!(largest > 0, "the WAL is kept between processes");
    assert!(largest < 512 * 1024, "the WAL grew to {largest} bytes");
    repo.write("a.txt", "a\n");
    repo.commit_all("work");
    repo.proof(&["finish"]).ok();
    let bundle = repo.bundle(&run_id);
    // run.started, 400 tool calls, commit.recorded, run.completed.
    assert_eq!(bundle["evidence"]["event_count"], 403, "{}", bundle["evidence"]);
}

/// An event proof carries the signed record, so an auditor checks it anywhere: outside any
/// repository, with only an allowed_signers file; a forged record or a stranger's key fails.
#[test]
fn an_event_proof_is_checked_outside_any_repository() {
    let repo = TestRepo::new();
    let (run_id, _) = run_with_events(&repo);
    let proof = repo.proof(&["prove-event", "--run", &run_id, "call-2"]).ok().json();
    assert!(proof["signed_record"].as_str().unwrap().contains("BEGIN SSH SIGNATURE"));
    let elsewhere = tempfile::tempdir().unwrap();
    let check = |file: &str, signers: Option<&Path>, json: bool| {
        let mut cmd = std::process::Command::new(crate::common::bin());
        crate::common::pin_env(&mut cmd, elsewhere.path());
        cmd.current_dir(elsewhere.path()).args(["verify-event", file]);
        if let Some(signers) = signers {
            cmd.arg("--allowed-signers").arg(signers);
        }
        if json {
            cmd.arg("--json");
        }
        crate::common::Run::from(cmd.output().unwrap())
    };
    let file = write_proof(&repo, "anywhere.json", &proof);
    let out = check(&file, Some(&repo.allowed_signers), false).ok();
    assert!(out.stdout.starts_with("valid: event call-2"), "{}", out.stdout);
    assert!(out.stdout.contains("signed by agent@example.com"), "{}", out.stdout);
    assert!(
        out.stdout.contains("the signed record the proof carries"),
        "{}",
        out.stdout
    );
    let verdict = check(&file, Some(&repo.allowed_signers), true).ok().json();
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["checked_against"], "signed_record");
    // In the repository, the note itself is what is checked.
    let verdict = repo
        .proof(&[
            "verify-event",
            &file,
            "--json",
            "--allowed-signers",
            repo.allowed_signers.to_str().unwrap(),
        ])
        .ok()
        .json();
    assert_eq!(verdict["checked_against"], "note");

    // No trust source outside a repository: say what to give.
    let out = check(&file, None, false).expect_code(2);
    assert!(out.one_error_line().contains("--allowed-signers"), "{}", out.stderr);
    // A stranger's allowed signers: the record does not count.
    let stranger = crate::common::new_key(&repo, "stranger");
    let stranger_signers = repo.tmp.path().join("stranger_signers");
    std::fs::write(
        &stranger_signers,
        crate::common::trust_line(&stranger, "eve@example.com"),
    )
    .unwrap();
    let out = check(&file, Some(&stranger_signers), false).expect_code(1);
    assert!(out.stdout.starts_with("invalid: "), "{}", out.stdout);
    // A record whose manifest was edited to match a forged event no longer verifies.
    let mut forged = proof.clone();
    let record = proof["signed_record"].as_str().unwrap();
    let root = proof["event_hash_root"].as_str().unwrap();
    let fake_root = format!("sha256:{}", "ab".repeat(32));
    forged["signed_record"] = record.replace(root, &fake_root).into();
    forged["event_hash_root"] = fake_root.clone().into();
    let out = check(
        &write_proof(&repo, "forged.json", &forged),
        Some(&repo.allowed_signers),
        false,
    )
    .expect_code(1);
    assert!(out.stdout.starts_with("invalid: "), "{}", out.stdout);
    // A proof made for another commit's note does not count for this one.
    let mut moved = proof.clone();
    moved["commit"] = "0".repeat(40).into();
    let out = check(
        &write_proof(&repo, "other.json", &moved),
        Some(&repo.allowed_signers),
        false,
    )
    .expect_code(1);
    assert!(out.stdout.starts_with("invalid: "), "{}", out.stdout);
}
