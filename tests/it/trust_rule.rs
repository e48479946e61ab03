//! One reader, one trust rule (docs/format.md section 5), tried as an attacker would: each test is a way
//! to make a record count, or block, that it must not, on the real binary and real repositories.

use serde_json::Value;

use crate::common::{Run, TestRepo, new_key, split_records, ssh_keygen_sign, trust_line};
use crate::hooks::hooked_git_ok;

/// A trusted run whose commit breaks `src/**` with README.md and notes.txt, finished.
fn proven_with_violations(repo: &TestRepo) -> (String, String) {
    repo.trust_our_key();
    let run_id = repo.start(&["--scope", "src/**"]);
    repo.write("src/lib.rs", "pub fn f() {}\n");
    repo.write("README.md", "# changed\n");
    repo.write("notes.txt", "notes\n");
    let head = repo.commit_all("agent work");
    repo.proof(&["finish"]).ok();
    (run_id, head)
}

/// [`proven_with_violations`], then README.md approved by our key after the proof was written.
fn proven_and_approved(repo: &TestRepo) -> (String, String) {
    let (run_id, head) = proven_with_violations(repo);
    repo.proof(&["approve", &run_id, "README.md"]).ok();
    (run_id, head)
}

/// A finished run of one commit adding a.txt: the commit and the payload of its bundle record.
fn one_commit_proof(repo: &TestRepo) -> (String, String) {
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let (payload, _) = split_records(&repo.note(&head)).remove(0);
    (head, payload)
}

/// `out` is a failure (exit 1) whose stdout says `reason`.
#[track_caller]
fn fails_saying(out: Run, reason: &str) -> Run {
    let out = out.expect_code(1);
    assert!(out.stdout.contains(reason), "expected {reason:?} in:\n{}", out.stdout);
    out
}

fn violation_state(bundle: &Value, path: &str) -> String {
    bundle["scope_violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["path"] == path)
        .unwrap_or_else(|| panic!("no violation {path}: {bundle:#}"))["approval"]["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An SSHSIG over `payload` by a key nobody trusts (made once per repository).
fn stranger_signature(repo: &TestRepo, payload: &str) -> String {
    let key = repo.tmp.path().join("stranger");
    let key = if key.exists() { key } else { new_key(repo, "stranger") };
    ssh_keygen_sign(repo, &key, "git-proof", payload)
}

fn note_of(records: &[(String, String)]) -> String {
    records.iter().map(|(p, s)| format!("{p}{s}")).collect()
}

/// Case 1: approve, then reject; with the two decision records swapped in the note text (no
/// key needed for that), the rejection is still in force. The order of records plays no part.
#[test]
fn swapping_decision_records_does_not_change_the_decision() {
    let repo = TestRepo::new();
    let (run_id, head) = proven_and_approved(&repo);
    repo.proof(&["reject", &run_id, "README.md", "--reason", "not in this change"])
        .ok();
    let records = split_records(&repo.note(&head));
    assert_eq!(records.len(), 3);
    let rejection: Value = serde_json::from_str(&records[2].0).unwrap();
    assert_eq!(
        rejection["predicate"]["supersedes"],
        serde_json::json!([crate::common::sha256_prefixed(records[1].0.as_bytes())]),
        "the rejection names the approval it replaces"
    );
    for order in [[0, 1, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0]] {
        let shuffled: Vec<(String, String)> = order.iter().map(|&i| records[i].clone()).collect();
        repo.replace_note(&head, &note_of(&shuffled));
        let out = repo.verify(&[&head, "--deny-pending"]).expect_code(1);
        assert!(
            out.stdout.contains("README.md (outside allow: src/**) is rejected"),
            "order {order:?}: {}",
            out.stdout
        );
        assert_eq!(
            violation_state(&repo.bundle(&run_id), "README.md"),
            "rejected",
            "{order:?}"
        );
    }
}

/// Case 1, second half: two decisions that supersede neither each other (made in two clones
/// that had not synced) disagree, so the violation is undecided.
#[test]
fn conflicting_decisions_count_as_undecided() {
    let repo = TestRepo::new();
    let (run_id, head) = proven_with_violations(&repo);
    let before = repo.note(&head);
    repo.proof(&["approve", &run_id, "README.md"]).ok();
    let approved = repo.note(&head);
    repo.replace_note(&head, &before);
    repo.proof(&["reject", &run_id, "README.md"]).ok();
    let rejected = repo.note(&head);
    // What `git notes merge -s union` of the two clones gives: both decisions, each
    // superseding only the bundle.
    let approval = approved.strip_prefix(&before).unwrap();
    repo.replace_note(&head, &format!("{rejected}{approval}"));
    let out = repo.verify(&[&head, "--deny-pending"]).expect_code(1);
    assert!(
        out.stdout.contains("README.md (outside allow: src/**) is pending"),
        "{}",
        out.stdout
    );
    let text = repo.proof(&["show", &head]).ok().stdout;
    assert!(text.contains("[conflicting] README.md"), "{text}");
    // A decision made now supersedes both, and settles it.
    repo.proof(&["approve", &run_id, "README.md", "notes.txt"]).ok();
    repo.verify(&[&head, "--deny-pending"]).ok();
}

/// Case 2: with `[verify] approvers` in the trusted policy, the run's own key cannot approve its
/// own violations, not even when its allowed_signers line claims an approver's principal; the
/// lead's key can, and a trusted key outside the approvers cannot.
#[test]
fn only_the_policy_s_approvers_decide_and_never_the_run_s_own_key() {
    let repo = TestRepo::new();
    let lead = new_key(&repo, "lead");
    let other = new_key(&repo, "other");
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    repo.write(
        ".proof/allowed_signers",
        format!(
            "{}{}{}",
            trust_line(&repo.key, "agent@example.com,lead@example.com"),
            trust_line(&lead, "lead@example.com"),
            trust_line(&other, "dev@example.com")
        ),
    );
    repo.write(".proof/policy.toml", "[verify]\napprovers = [\"lead@example.com\"]\n");
    repo.commit_all("team trust and policy");
    let run_id = repo.start(&["--scope", "src/**"]);
    repo.write("README.md", "# changed\n");
    let head = repo.commit_all("agent work");
    repo.proof(&["finish"]).ok();

    repo.proof(&["approve", &run_id, "README.md"]).ok();
    let out = repo.proof(&["verify", &head, "--deny-pending"]).expect_code(1);
    assert!(
        out.stdout.contains("README.md (outside allow: src/**) is pending"),
        "{}",
        out.stdout
    );
    let text = repo.proof(&["show", &run_id]).ok().stdout;
    assert!(text.contains("[pending] README.md"), "{text}");
    assert!(text.contains("signed with the run's own key"), "{text}");
    repo.proof(&["approve", &run_id, "README.md", "--key", other.to_str().unwrap()])
        .ok();
    let text = repo.proof(&["show", &run_id]).ok().stdout;
    assert!(text.contains("[pending] README.md"), "{text}");
    assert!(
        text.contains("signed by dev@example.com, who is not among the policy's approvers"),
        "{text}"
    );

    let lead_key = lead.to_str().unwrap();
    repo.proof(&["approve", &run_id, "README.md", "--key", lead_key]).ok();
    repo.proof(&["verify", &head, "--deny-pending"]).ok();
    assert_eq!(violation_state(&repo.bundle(&run_id), "README.md"), "approved");
}

/// Case 3: the trusted policy judges. main allows `src/**` and requires `test` = `false`; a run
/// started with `--dod 'test=true' --scope '**'` passes its own snapshot but not main's policy.
#[test]
fn the_trusted_policy_judges_whatever_the_run_was_started_with() {
    let repo = TestRepo::new();
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    repo.write(".proof/allowed_signers", trust_line(&repo.key, "agent@example.com"));
    repo.write(
        ".proof/policy.toml",
        "[scope]\nallow = [\"src/**\"]\n\n[[dod]]\nname = \"test\"\ncommand = \"false\"\n",
    );
    repo.commit_all("team policy");
    repo.git(&["checkout", "-qb", "agent"]);
    repo.start(&["--dod", "test=true", "--scope", "**"]);
    repo.write("README.md", "# changed\n");
    let head = repo.commit_all("agent work");
    repo.proof(&["finish"]).ok();
    // By its own snapshot the run is clean...
    repo.proof(&["verify", &head, "--require-dod", "--deny-pending"]).ok();
    // ...by main's policy it is not.
    let out = repo
        .proof(&["verify", &head, "--policy", "--trust-ref", "main", "--require-dod"])
        .expect_code(1);
    assert!(
        out.stdout
            .contains("DoD check test ran `true`, but the trusted policy requires `false`"),
        "{}",
        out.stdout
    );
    let out = repo
        .proof(&["verify", &head, "--policy", "--trust-ref", "main", "--deny-pending"])
        .expect_code(1);
    assert!(
        out.stdout
            .contains("README.md breaks the trusted policy's scope (outside allow: src/**) and is pending"),
        "{}",
        out.stdout
    );
}

/// Case 4: a payload with `_type` twice, re-signed with the trusted key by stock ssh-keygen,
/// is not a record git-proof reads.
#[test]
fn a_repeated_key_makes_a_properly_signed_record_invalid() {
    let repo = TestRepo::new();
    let (head, payload) = one_commit_proof(&repo);
    let doubled = payload.replacen(
        "\"_type\": \"https://in-toto.io/Statement/v1\",",
        "\"_type\": \"https://in-toto.io/Statement/v1\",\n  \"_type\": \"https://in-toto.io/Statement/v1\",",
        1,
    );
    assert_ne!(doubled, payload);
    let signature = ssh_keygen_sign(&repo, &repo.key, "git-proof", &doubled);
    let (code, out) = crate::common::ssh_keygen_verify(&repo, "agent@example.com", &doubled, &signature);
    assert_eq!(code, 0, "stock ssh-keygen accepts the signature: {out}");
    repo.replace_note(&head, &format!("{doubled}{signature}"));
    fails_saying(repo.verify(&[&head]), "duplicate field `_type`");
    // Repeated deeper down, the same.
    let nested = payload.replacen("\"exit_code\": 0,", "\"exit_code\": 0,\n    \"exit_code\": 0,", 1);
    assert_ne!(nested, payload);
    let signature = ssh_keygen_sign(&repo, &repo.key, "git-proof", &nested);
    repo.replace_note(&head, &format!("{nested}{signature}"));
    fails_saying(repo.verify(&[&head]), "duplicate field `exit_code`");
}

/// Case 5: an event proof pointed at a commit the note was copied to is invalid there.
#[test]
fn verify_event_checks_the_bundle_is_about_the_commit_it_names() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let a = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let proof = repo
        .proof(&["prove-event", &run_id, &format!("{run_id}.1")])
        .ok()
        .stdout;
    let file = repo.tmp.path().join("event.json");
    std::fs::write(&file, &proof).unwrap();
    repo.proof(&["verify-event", file.to_str().unwrap()]).ok();

    repo.write("b.txt", "b\n");
    let b = repo.commit_all("b");
    repo.git(&["notes", "--ref=proof", "copy", &a, &b]);
    let moved = proof.replace(&a, &b);
    assert_ne!(moved, proof);
    std::fs::write(&file, &moved).unwrap();
    let out = repo.proof(&["verify-event", file.to_str().unwrap()]).expect_code(1);
    assert!(
        out.stdout.contains("invalid") && out.stdout.contains("is not this commit"),
        "{}",
        out.stdout
    );
}

/// Case 6: decisions made after the proof follow it through `git commit --amend`.
#[test]
fn an_amend_keeps_the_approvals() {
    let repo = TestRepo::new();
    repo.proof(&["install"]).ok();
    let (run_id, _) = proven_with_violations(&repo);
    repo.proof(&["approve", &run_id, "--all"]).ok();
    repo.verify(&["HEAD", "--deny-pending"]).ok();
    hooked_git_ok(&repo, &repo.root, &["commit", "-q", "--amend", "-m", "reworded"]);
    let out = repo.verify(&["HEAD", "--deny-pending"]).ok();
    assert!(out.stdout.contains("carried from"), "{}", out.stdout);
    assert_eq!(violation_state(&repo.bundle(&run_id), "notes.txt"), "approved");
}

/// Case 7: an amend that only re-indents a Python line is not the same patch.
#[test]
fn a_dedent_is_a_different_patch() {
    let repo = TestRepo::new();
    repo.proof(&["install"]).ok();
    repo.start(&[]);
    repo.write("app.py", "def f(x):\n    if x:\n        return 1\n    return 0\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(&repo, &repo.root, &["commit", "-qm", "f"]);
    repo.proof(&["finish"]).ok();
    repo.verify(&["HEAD", "--require"]).ok();
    repo.write("app.py", "def f(x):\n    if x:\n    return 1\n    return 0\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    let amend = hooked_git_ok(&repo, &repo.root, &["commit", "-q", "--amend", "--no-edit"]);
    assert!(amend.stderr.contains("changed the run's patch"), "{}", amend.stderr);
    fails_saying(repo.verify(&["HEAD", "--require"]), "changed the run's patch");
}

/// Case 8: without a trust source nothing reads as approved or valid; a trust file that does
/// not parse is an error, not "no allowed signers".
#[test]
fn readers_never_show_what_nobody_can_vouch_for() {
    let repo = TestRepo::new();
    let (run_id, head) = proven_and_approved(&repo);
    assert_eq!(violation_state(&repo.bundle(&run_id), "README.md"), "approved");

    // A stranger's rejection neither counts nor hides the approval.
    let stranger = new_key(&repo, "stranger");
    let records = split_records(&repo.note(&head));
    let rejection = records[1]
        .0
        .replace("\"decision\": \"approved\"", "\"decision\": \"rejected\"");
    let signature = ssh_keygen_sign(&repo, &stranger, "git-proof", &rejection);
    repo.replace_note(&head, &format!("{}{rejection}{signature}", note_of(&records)));
    let text = repo.proof(&["show", &run_id]).ok().stdout;
    assert!(text.contains("[approved] README.md"), "{text}");
    assert!(
        text.contains("approval record: the key") && text.contains("is not in the allowed signers"),
        "{text}"
    );

    // No trust source: unverified, signature and decision alike.
    repo.git(&["config", "--unset", "proof.allowedSignersFile"]);
    let text = repo.proof(&["show", &run_id]).ok().stdout;
    assert!(text.contains("signature unverified"), "{text}");
    assert!(text.contains("[unverified] README.md"), "{text}");
    assert!(!text.contains("[approved]"), "{text}");

    // A trust file that does not parse.
    let broken = repo.tmp.path().join("broken_signers");
    std::fs::write(&broken, "agent@example.com ssh-ed25519 !!!\n").unwrap();
    repo.git(&["config", "proof.allowedSignersFile", broken.to_str().unwrap()]);
    let out = repo.proof(&["show", &run_id]).expect_code(2);
    assert!(out.one_error_line().contains("broken_signers:1"), "{}", out.stderr);
    let out = repo.proof(&["verify", &head]).expect_code(2);
    assert!(out.one_error_line().contains("broken_signers:1"), "{}", out.stderr);
}

/// Case 8, the Proof view: an approval shows as approved only when it counts.
#[test]
fn the_proof_view_never_shows_an_unverified_approval_as_approved() {
    let repo = TestRepo::new();
    let (run_id, _) = proven_and_approved(&repo);
    let server = crate::common::server::Served::start(&repo, &[]);
    let page = server.get(&format!("/runs/{run_id}")).text();
    assert!(
        page.contains("data-path=\"README.md\" data-state=\"approved\""),
        "{page}"
    );
    drop(server);
    repo.git(&["config", "--unset", "proof.allowedSignersFile"]);
    let server = crate::common::server::Served::start(&repo, &[]);
    let page = server.get(&format!("/runs/{run_id}")).text();
    assert!(
        page.contains("data-path=\"README.md\" data-state=\"unverified\""),
        "{page}"
    );
    assert!(!page.contains("data-state=\"approved\""), "{page}");
    drop(server);
    let broken = repo.tmp.path().join("broken_signers");
    std::fs::write(&broken, "nonsense\n").unwrap();
    repo.git(&["config", "proof.allowedSignersFile", broken.to_str().unwrap()]);
    let server = crate::common::server::Served::start(&repo, &[]);
    assert_eq!(
        server.get(&format!("/api/runs/{run_id}/proof")).expect_error(503),
        "trust_unreadable"
    );
}

/// Case 9: reindex never places a proof where a rewrite record nobody trusts carried it.
#[test]
fn reindex_ignores_rewrite_records_nobody_trusts() {
    let repo = TestRepo::new();
    repo.proof(&["install"]).ok();
    repo.trust_our_key();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    hooked_git_ok(&repo, &repo.root, &["add", "-A"]);
    hooked_git_ok(&repo, &repo.root, &["commit", "-qm", "a"]);
    repo.proof(&["finish"]).ok();
    let original = repo.git(&["rev-parse", "HEAD"]);
    // An amend that changes the patch, carried by a rewrite record that claims it did not,
    // signed by a key nobody trusts.
    repo.write("a.txt", "a, and more\n");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "--amend", "--no-verify", "-m", "a, changed"]);
    let amended = repo.git(&["rev-parse", "HEAD"]);
    let records = split_records(&repo.note(&original));
    let digest = crate::common::sha256_prefixed(records[0].0.as_bytes());
    let rewrite = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"gitCommit": amended}}],
        "predicateType": "https://git-proof.dev/rewrite/v1",
        "predicate": {
            "version": "1.1", "kind": "rewrite", "run_id": run_id, "bundle_digest": digest,
            "operation": "amend", "old_sha": original, "new_sha": amended,
            "old_base_sha": repo.git(&["rev-parse", "HEAD~1"]), "new_base_sha": repo.git(&["rev-parse", "HEAD~1"]),
            "old_patch_id": "same", "new_patch_id": "same", "rewritten_at": "2026-11-23T10:00:00Z",
            "generator": {"name": "git-proof", "version": "0.1.0"}
        }
    });
    let payload = serde_json::to_string_pretty(&rewrite).unwrap() + "\n";
    let signature = stranger_signature(&repo, &payload);
    repo.replace_note(&amended, &format!("{}{payload}{signature}", note_of(&records)));
    let out = repo.verify(&[&amended]).expect_code(1);
    assert!(
        out.stdout.contains("no trusted rewrite record carries it here"),
        "{}",
        out.stdout
    );

    std::fs::remove_file(repo.path(".git/proof/index.sqlite")).unwrap();
    let out = repo.proof(&["reindex"]).ok();
    assert!(out.stderr.contains("1 runs added"), "{}", out.stderr);
    let log = repo.proof(&["log", "--json"]).ok().json();
    assert_eq!(log[0]["proof"]["commit"], original.as_str(), "{log}");
}

/// Case 10: someone else's bundle with this run's id on the head does not stop finish from
/// writing the run's own proof.
#[test]
fn a_foreign_bundle_with_the_same_run_id_does_not_stop_finish() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    // A forged bundle for run "victim", made from a real one and signed by a stranger.
    repo.start(&["--run-id", "decoy"]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let (payload, _) = split_records(&repo.note(&head)).remove(0);
    let forged = payload.replace("\"decoy\"", "\"victim\"");
    let signature = stranger_signature(&repo, &forged);

    repo.start(&["--run-id", "victim"]);
    repo.write("b.txt", "b\n");
    let head = repo.commit_all("b");
    repo.replace_note(&head, &format!("{forged}{signature}"));
    let finished = repo.proof(&["finish", "--json"]).ok().json();
    assert_eq!(finished["created"], true, "{finished}");
    let records = split_records(&repo.note(&head));
    assert_eq!(records.len(), 2, "the forged record is kept, ours appended");
    assert_eq!(
        finished["bundle_digest"],
        crate::common::sha256_prefixed(records[1].0.as_bytes()).as_str()
    );
    let out = repo.verify(&[&head, "--json"]).ok().json();
    assert_eq!(out[0]["verdict"], "valid");
    assert_eq!(out[0]["records"][0]["counts"], false);
    // show reads the run's own bundle, not the forgery.
    let bundle = repo.bundle("victim");
    assert_eq!(bundle["head_sha"], head.as_str());
    assert!(repo.proof(&["show", "victim"]).ok().stdout.contains("signature valid"));
}

/// Case 11: a record nobody trusts can neither block nor count.
#[test]
fn an_untrusted_record_neither_blocks_nor_counts() {
    let repo = TestRepo::new();
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let records = split_records(&repo.note(&head));
    let stranger = new_key(&repo, "stranger");
    let (payload, _) = &records[0];
    let forged = payload.replacen("\"exit_code\": 0", "\"exit_code\": 7", 1);
    let signature = ssh_keygen_sign(&repo, &stranger, "git-proof", &forged);
    // A valid note plus a stranger's bundle: valid, and the stranger's record is reported.
    repo.replace_note(&head, &format!("{}{forged}{signature}", note_of(&records)));
    let out: Run = repo.verify(&[&head]).ok();
    assert!(
        out.stdout.contains("valid") && out.stdout.contains("not counted: bundle record: the key"),
        "{}",
        out.stdout
    );
    // The stranger's bundle first: the same.
    repo.replace_note(&head, &format!("{forged}{signature}{}", note_of(&records)));
    repo.verify(&[&head]).ok();
    // Only the stranger's: not a proof.
    repo.replace_note(&head, &format!("{forged}{signature}"));
    fails_saying(repo.verify(&[&head]), "no proof bundle that counts");
}

// Found by an adversarial pass over the redesign; each reproduced before its fix.

/// A lone armor BEGIN line (one line of text nobody signed) never swallows the record appended
/// after it: the decision that follows still counts.
#[test]
fn a_stray_armor_line_does_not_swallow_the_next_decision() {
    let repo = TestRepo::new();
    let (run_id, head) = proven_and_approved(&repo);
    let note = repo.note(&head);
    repo.replace_note(&head, &format!("{note}-----BEGIN SSH SIGNATURE-----\n"));
    repo.proof(&["reject", &run_id, "README.md"]).ok();
    let out = repo.verify(&[&head, "--deny-pending"]).expect_code(1);
    assert!(
        out.stdout.contains("README.md (outside allow: src/**) is rejected"),
        "{}",
        out.stdout
    );
    let report = repo.verify(&[&head, "--json"]).ok().json();
    assert!(
        report[0]["junk"][0]
            .as_str()
            .unwrap()
            .contains("a signature block with no"),
        "{report}"
    );
}

/// A rewrite record signed by a trusted key that names a base this repository does not have
/// (its history is whole) is a claim that does not hold, not a fact left unchecked.
#[test]
fn a_missing_base_in_a_whole_history_is_a_problem_not_unchecked() {
    let repo = TestRepo::new();
    let (head, payload) = one_commit_proof(&repo);
    let base = repo.git(&["rev-parse", "HEAD~1"]);
    let forged = payload.replace(&base, "0000000000000000000000000000000000000001");
    let signature = ssh_keygen_sign(&repo, &repo.key, "git-proof", &forged);
    repo.replace_note(&head, &format!("{forged}{signature}"));
    let out = repo.verify(&[&head]).expect_code(1);
    assert!(
        out.stdout
            .contains("base 0000000000 is not a commit of this repository"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("not checked"), "{}", out.stdout);
}

/// `show --json` and the API carry only what the trust in force vouches for: a stranger's
/// bundle is refused (exit 1, 422), and without a trust source no decision is in the JSON.
#[test]
fn machine_readable_proofs_carry_only_what_is_vouched_for() {
    let repo = TestRepo::new();
    let (run_id, head) = proven_with_violations(&repo);
    repo.proof(&["approve", &run_id, "--all"]).ok();
    assert_eq!(violation_state(&repo.bundle(&run_id), "README.md"), "approved");
    let records = split_records(&repo.note(&head));
    let forged = records[0]
        .0
        .replace("\"state\": \"pending\"", "\"state\": \"approved\"");
    let signature = stranger_signature(&repo, &forged);
    repo.replace_note(&head, &format!("{forged}{signature}"));
    let out = repo.proof(&["show", &head, "--json"]).expect_code(1);
    let (code, message) = out.json_error();
    assert_eq!(code, "proof_invalid");
    assert!(message.contains("does not count"), "{}", out.stderr);
    let server = crate::common::server::Served::start(&repo, &[]);
    assert_eq!(
        server.get(&format!("/api/runs/{run_id}/proof")).expect_error(422),
        "proof_invalid"
    );
    drop(server);
    repo.git(&["config", "--unset", "proof.allowedSignersFile"]);
    let out = repo.proof(&["show", &head, "--json"]).ok();
    assert!(out.stderr.contains("unverified"), "{}", out.stderr);
    assert_eq!(violation_state(&out.json(), "README.md"), "pending");
}

/// A rebuild without any trust source cannot tell two bundles of one run apart, so it places
/// neither; once trust is configured, a rebuild places the run on the bundle that counts, also
/// when an earlier rebuild had placed it elsewhere.
#[test]
fn reindex_never_settles_on_a_forged_bundle_of_the_run() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let real = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let (payload, _) = split_records(&repo.note(&real)).remove(0);
    repo.write("decoy.txt", "decoy\n");
    let decoy = repo.commit_all("decoy");
    let tree = repo.git(&["rev-parse", "HEAD^{tree}"]);
    let real_tree = repo.git(&["rev-parse", &format!("{real}^{{tree}}")]);
    let base = repo.git(&["rev-parse", &format!("{real}~1")]);
    // The same run id on the decoy commit, with facts that hold there.
    let forged = payload
        .replace(&real, &decoy)
        .replace(&real_tree, &tree)
        .replace(
            &format!("\"base_sha\": \"{base}\""),
            &format!("\"base_sha\": \"{real}\""),
        )
        .replace("\"a.txt\"", "\"decoy.txt\"")
        .replace(
            &repo.git(&["rev-parse", &format!("{real}:a.txt")]),
            &repo.git(&["rev-parse", &format!("{decoy}:decoy.txt")]),
        );
    let signature = stranger_signature(&repo, &forged);
    repo.replace_note(&decoy, &format!("{forged}{signature}"));

    std::fs::remove_file(repo.path(".git/proof/index.sqlite")).unwrap();
    let out = repo.proof(&["reindex"]).ok();
    assert!(
        out.stderr.contains("1 runs left out: several bundles claim each"),
        "{}",
        out.stderr
    );
    // Under a trust that counts the forgery (a wrong allowed_signers file), it is placed...
    let wrong = repo.tmp.path().join("wrong_signers");
    std::fs::write(
        &wrong,
        trust_line(&repo.tmp.path().join("stranger"), "stranger@example.com"),
    )
    .unwrap();
    repo.git(&["config", "proof.allowedSignersFile", wrong.to_str().unwrap()]);
    let out = repo.proof(&["reindex"]).ok();
    assert!(out.stderr.contains("1 runs added"), "{}", out.stderr);
    assert_eq!(
        repo.proof(&["log", "--json"]).ok().json()[0]["proof"]["commit"],
        decoy.as_str()
    );
    // ...and once the right trust is configured, the next rebuild puts it right.
    repo.trust_our_key();
    let out = repo.proof(&["reindex"]).ok();
    assert!(
        out.stderr.contains("1 runs placed anew on the proof that counts"),
        "{}",
        out.stderr
    );
    let log = repo.proof(&["log", "--json"]).ok().json();
    assert_eq!(log[0]["proof"]["commit"], real.as_str(), "{log}");
    assert!(repo.proof(&["show", &run_id]).ok().stdout.contains("signature valid"));
    let bundle = repo.bundle(&run_id);
    assert_eq!(bundle["head_sha"], real.as_str());
}

/// Crafted commit ids (not hex, not ASCII) in a record nobody trusts are shown, not a panic.
#[test]
fn crafted_commit_ids_never_panic_a_reader() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let (payload, _) = split_records(&repo.note(&head)).remove(0);
    let base = repo.git(&["rev-parse", "HEAD~1"]);
    let forged = payload.replace(&base, "a\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}");
    let signature = stranger_signature(&repo, &forged);
    repo.replace_note(&head, &format!("{forged}{signature}"));
    for args in [vec!["show", head.as_str()], vec!["show", run_id.as_str()]] {
        let out = repo.proof(&args);
        assert!(
            !out.stderr.contains("panicked") && out.code != 101,
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = repo.verify(&[&head]).expect_code(1);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// `verify` of a range checks the signatures of many notes in one batch and hands each record
/// its own result: a repeated record, a stranger's record before a trusted one, and another
/// commit's trusted record must each keep the verdict checking them alone gives. A result
/// handed to the wrong record would let the stranger's bundle count, or stop a trusted one.
#[test]
fn a_batch_of_notes_gives_each_record_its_own_signature_verdict() {
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    let mut heads = Vec::new();
    for i in 0..4 {
        repo.start(&[]);
        repo.write(&format!("f{i}.txt"), format!("{i}\n"));
        heads.push(repo.commit_all(&format!("change {i}")));
        repo.proof(&["finish", "-q"]).ok();
    }
    let own: Vec<Vec<(String, String)>> = heads.iter().map(|h| split_records(&repo.note(h))).collect();
    let (payload, _) = &own[2][0];
    let forged = payload.replacen("\"exit_code\": 0", "\"exit_code\": 7", 1);
    let stranger = stranger_signature(&repo, &forged);
    let (payload, _) = &own[0][0];
    let forged_0 = payload.replacen("\"exit_code\": 0", "\"exit_code\": 7", 1);
    let stranger_0 = stranger_signature(&repo, &forged_0);
    // 0: its record twice, then a stranger's bundle of its run; 2: a stranger's bundle of its
    // run first; 1: its record, then 3's.
    repo.replace_note(
        &heads[0],
        &format!(
            "{}{forged_0}{stranger_0}",
            note_of(&[own[0][0].clone(), own[0][0].clone()])
        ),
    );
    repo.replace_note(&heads[2], &format!("{forged}{stranger}{}", note_of(&own[2])));
    repo.replace_note(&heads[1], &note_of(&[own[1][0].clone(), own[3][0].clone()]));

    let alone: Vec<Value> = heads
        .iter()
        .map(|h| {
            let out = repo.verify(&[h, "--format", "json"]).ok();
            serde_json::from_str::<Vec<Value>>(&out.stdout).unwrap().remove(0)
        })
        .collect();
    let range = format!("{base}..HEAD");
    let together: Vec<Value> = serde_json::from_str(&repo.verify(&[&range, "--format", "json"]).ok().stdout).unwrap();
    assert_eq!(together.len(), 4);
    for (report, single) in together.iter().zip(&alone) {
        assert_eq!(report["verdict"], "valid", "{report:#}");
        assert_eq!(report["records"], single["records"], "checked in a batch and alone");
    }
    let records = |i: usize| together[i]["records"].as_array().unwrap().clone();
    // The stranger's record: seen, signed by no one trusted, never counting.
    let stranger_record = &records(2)[0];
    assert_eq!(stranger_record["counts"], false);
    assert!(stranger_record["signer"].is_null(), "{stranger_record:#}");
    assert!(
        stranger_record["ignored"].as_str().unwrap().contains("key"),
        "{stranger_record:#}"
    );
    assert_eq!(records(2)[1]["counts"], true);
    assert!(!records(2)[1]["signer"].is_null());
    // The repeat is named as one and does not count twice; the other commit's record is
    // signed by the trusted key.
    assert_eq!(records(0)[0]["counts"], true);
    assert_eq!(records(0)[1]["ignored"], "repeats record 1");
    assert_eq!(records(0)[2]["counts"], false, "{:#}", together[0]);
    assert!(records(0)[2]["signer"].is_null(), "{:#}", together[0]);
    assert!(records(1).iter().all(|r| !r["signer"].is_null()), "{:#}", together[1]);
}
