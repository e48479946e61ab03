//! The tamper matrix: each way a proof can be wrong, on its own. Every case exits 1 with a
//! reason a person understands, and never panics. (An approval that names no bundle is in
//! approval.rs.)

use crate::common::{Run, TestRepo, new_key, split_records, ssh_keygen_sign};

/// A proven commit: (head, the note's single record).
fn proven(repo: &TestRepo) -> (String, (String, String)) {
    repo.start(&[]);
    repo.write("work.txt", "one\ntwo\n");
    let head = repo.commit_all("agent work");
    repo.proof(&["finish"]).ok();
    let record = split_records(&repo.note(&head)).remove(0);
    (head, record)
}

#[track_caller]
fn invalid(out: Run, reason: &str) {
    let out = out.expect_code(1);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(out.stdout.contains("invalid"), "{}", out.stdout);
    assert!(out.stdout.contains(reason), "expected {reason:?} in:\n{}", out.stdout);
}

#[test]
fn a_forged_fact_signed_by_a_trusted_key() {
    let repo = TestRepo::new();
    let (head, (payload, _)) = proven(&repo);
    let forged = payload.replacen("\"insertions\": 2", "\"insertions\": 1", 2);
    assert_ne!(forged, payload);
    repo.replace_note(
        &head,
        &format!("{forged}{}", ssh_keygen_sign(&repo, &repo.key, "git-proof", &forged)),
    );
    invalid(
        repo.verify(&[&head]),
        "diff_stat is not what git diff --numstat -M says",
    );

    let forged = payload.replacen("\"work.txt\"", "\"other.txt\"", 1);
    repo.replace_note(
        &head,
        &format!("{forged}{}", ssh_keygen_sign(&repo, &repo.key, "git-proof", &forged)),
    );
    invalid(repo.verify(&[&head]), "changed_files is not what git diff says");
}

#[test]
fn a_valid_note_moved_to_another_commit() {
    let repo = TestRepo::new();
    let (head, _) = proven(&repo);
    repo.write("later.txt", "later\n");
    let later = repo.commit_all("a human commit");
    repo.git(&["notes", "--ref=proof", "copy", &head, &later]);
    invalid(repo.verify(&[&later]), "is not this commit");
    repo.verify(&[&head]).ok();
}

#[test]
fn a_key_nobody_trusts() {
    let repo = TestRepo::new();
    let (head, (payload, _)) = proven(&repo);
    let stranger = new_key(&repo, "stranger");
    repo.replace_note(
        &head,
        &format!("{payload}{}", ssh_keygen_sign(&repo, &stranger, "git-proof", &payload)),
    );
    invalid(repo.verify(&[&head]), "is not in the allowed signers");
}

#[test]
fn a_key_trusted_only_by_the_change_itself() {
    let repo = TestRepo::new();
    // main trusts the team key.
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    std::fs::copy(&repo.allowed_signers, repo.path(".proof/allowed_signers")).unwrap();
    repo.commit_all("trust the team key");
    repo.git(&["checkout", "-q", "-b", "agent"]);
    // The change adds its own key to the trust file and signs its proof with it.
    let intruder = new_key(&repo, "intruder");
    let public = std::fs::read_to_string(intruder.with_extension("pub")).unwrap();
    let mut trust = std::fs::read_to_string(repo.path(".proof/allowed_signers")).unwrap();
    trust.push_str(&format!("intruder@example.com namespaces=\"git-proof\" {public}"));
    repo.write(".proof/allowed_signers", trust);
    repo.start(&[]);
    let head = repo.commit_all("agent work that trusts itself");
    let out: Run = repo
        .proof_cmd(&["finish"])
        .env("GIT_PROOF_KEY", &intruder)
        .output()
        .unwrap()
        .into();
    out.ok();
    // Read from the worktree, the change vouches for itself...
    repo.proof(&["verify", &head]).ok();
    // ...read from the target branch, it does not.
    invalid(
        repo.proof(&["verify", &head, "--trust-ref", "main"]),
        "is not in the allowed signers",
    );
}

#[test]
fn an_expired_signer() {
    let repo = TestRepo::new();
    let (head, _) = proven(&repo);
    let public = std::fs::read_to_string(repo.key.with_extension("pub")).unwrap();
    std::fs::write(
        &repo.allowed_signers,
        format!("agent@example.com namespaces=\"git-proof\",valid-before=\"20200101Z\" {public}"),
    )
    .unwrap();
    invalid(repo.verify(&[&head]), "outside its validity period");
}

#[test]
fn the_wrong_namespace() {
    let repo = TestRepo::new();
    let (head, (payload, _)) = proven(&repo);
    repo.replace_note(
        &head,
        &format!("{payload}{}", ssh_keygen_sign(&repo, &repo.key, "git", &payload)),
    );
    invalid(repo.verify(&[&head]), "namespace 'git'");
}

#[test]
fn a_truncated_signature() {
    let repo = TestRepo::new();
    let (head, (payload, signature)) = proven(&repo);
    let lines: Vec<&str> = signature.lines().collect();
    let truncated = format!("{}\n{}\n{}\n", lines[0], &lines[1][..20], lines[lines.len() - 1]);
    repo.replace_note(&head, &format!("{payload}{truncated}"));
    invalid(repo.verify(&[&head]), "signature block is malformed");
}

#[test]
fn a_note_of_random_bytes() {
    let repo = TestRepo::new();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let file = repo.tmp.path().join("random");
    std::fs::write(&file, &bytes).unwrap();
    let blob = repo.git(&["hash-object", "-w", file.to_str().unwrap()]);
    repo.git(&["notes", "--ref=proof", "add", "-f", "-C", &blob, &head]);
    invalid(repo.verify(&[&head]), "the note cannot be read");
}

/// A record nobody trusts (here: a payload altered after signing) can neither block a proof nor
/// count for one: the good record keeps the commit valid, the bad one is reported as ignored.
#[test]
fn two_records_where_one_is_bad() {
    let repo = TestRepo::new();
    let (head, (payload, signature)) = proven(&repo);
    let altered = payload.replacen("\"exit_code\": 0", "\"exit_code\": 3", 1);
    repo.replace_note(&head, &format!("{payload}{signature}{altered}{signature}"));
    let out = repo.verify(&[&head, "--json"]).ok();
    let report = out.json();
    let records = report[0]["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["counts"], true, "the good record stays good");
    assert_eq!(records[0]["problems"], serde_json::json!([]));
    assert_eq!(records[1]["counts"], false);
    let ignored = records[1]["ignored"].to_string();
    assert!(ignored.contains("does not match the payload"), "{ignored}");
    assert_eq!(report[0]["verdict"], "valid");
    // Alone, the altered record proves nothing.
    repo.replace_note(&head, &format!("{altered}{signature}"));
    invalid(repo.verify(&[&head]), "does not match the payload");
}
