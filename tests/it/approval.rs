//! Scope violations decided before and after the proof, and verify's policy flags.

use serde_json::Value;

use crate::common::{TestRepo, split_records, ssh_keygen_sign, ssh_keygen_verify};

fn violation<'a>(bundle: &'a Value, path: &str) -> &'a Value {
    bundle["scope_violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["path"] == path)
        .unwrap_or_else(|| panic!("no violation {path}: {bundle:#}"))
}

/// A run whose commit touches README.md and notes.txt outside `src/**`.
fn run_with_violations(repo: &TestRepo, dod: &str) -> (String, String) {
    repo.trust_our_key();
    repo.git(&["config", "user.name", "Rita Reviewer"]);
    repo.git(&["config", "user.email", "rita@example.com"]);
    let run_id = repo.start(&["--scope", "src/**", "--dod", dod]);
    repo.write("src/lib.rs", "pub fn f() {}\n");
    repo.write("README.md", "# changed\n");
    repo.write("notes.txt", "notes\n");
    let head = repo.commit_all("agent work");
    (run_id, head)
}

#[test]
fn a_decision_before_finish_goes_into_the_bundle() {
    let repo = TestRepo::new();
    let (run_id, _) = run_with_violations(&repo, "ok=true");
    let out = repo
        .proof(&["approve", &run_id, "README.md", "--reason", "docs are fine"])
        .ok();
    assert!(
        out.stdout.contains("approved README.md (goes into the proof"),
        "{}",
        out.stdout
    );
    repo.proof(&["finish"]).ok();
    let b = repo.bundle(&run_id);
    let readme = violation(&b, "README.md");
    assert_eq!(readme["approval"]["state"], "approved");
    assert_eq!(readme["approval"]["decided_by"], "Rita Reviewer <rita@example.com>");
    assert_eq!(readme["approval"]["reason"], "docs are fine");
    assert_eq!(violation(&b, "notes.txt")["approval"]["state"], "pending");
    // One record only: the decision is part of the bundle, not a record of its own.
    assert_eq!(split_records(&repo.note("HEAD")).len(), 1);
}

#[test]
fn a_decision_after_finish_is_a_new_signed_record_and_show_folds_it() {
    let repo = TestRepo::new();
    let (run_id, head) = run_with_violations(&repo, "ok=true");
    repo.proof(&["finish"]).ok();
    let bundle_note = repo.note(&head);
    repo.verify(&["HEAD", "--deny-pending"]).expect_code(1);

    let out = repo.proof(&["approve", &run_id, "README.md", "--reason", "ok"]).ok();
    assert!(out.stdout.contains("signed record appended"), "{}", out.stdout);
    let out = repo.proof(&["reject", &run_id, "notes.txt"]).ok();
    assert!(out.stdout.contains("rejected notes.txt"), "{}", out.stdout);

    // The original record is untouched; two records follow it; each verifies with ssh-keygen.
    let note = repo.note(&head);
    assert!(note.starts_with(&bundle_note), "the bundle record is never rewritten");
    let records = split_records(&note);
    assert_eq!(records.len(), 3);
    for (payload, signature) in &records {
        let (code, output) = ssh_keygen_verify(&repo, "agent@example.com", payload, signature);
        assert_eq!(code, 0, "{output}");
    }
    let approval: Value = serde_json::from_str(&records[1].0).unwrap();
    assert_eq!(approval["predicateType"], "https://git-proof.dev/approval/v1");
    assert_eq!(approval["predicate"]["path"], "README.md");
    assert_eq!(
        approval["predicate"]["bundle_digest"],
        crate::common::sha256_prefixed(records[0].0.as_bytes()).as_str()
    );

    let b = repo.bundle(&run_id);
    assert_eq!(violation(&b, "README.md")["approval"]["state"], "approved");
    assert_eq!(violation(&b, "notes.txt")["approval"]["state"], "rejected");
    let text = repo.proof(&["show", &run_id]).ok().stdout;
    assert!(
        text.contains("[approved] README.md") && text.contains("[rejected] notes.txt"),
        "{text}"
    );

    repo.verify(&["HEAD"]).ok();
    let out = repo.verify(&["HEAD", "--deny-pending"]).expect_code(1);
    assert!(
        out.stdout.contains("notes.txt") && out.stdout.contains("rejected"),
        "{}",
        out.stdout
    );
    repo.proof(&["approve", &run_id, "notes.txt"]).ok();
    repo.verify(&["HEAD", "--deny-pending"]).ok();
}

#[test]
fn an_unknown_path_is_refused_and_nothing_is_written() {
    let repo = TestRepo::new();
    let (run_id, head) = run_with_violations(&repo, "ok=true");
    let out = repo.proof(&["approve", &run_id, "src/lib.rs"]).expect_code(2);
    assert!(
        out.one_error_line().contains("is not a scope violation"),
        "{}",
        out.stderr
    );
    repo.proof(&["finish"]).ok();
    let note = repo.note(&head);
    let out = repo.proof(&["reject", &run_id, "nope.txt"]).expect_code(2);
    assert!(out.one_error_line().contains("README.md, notes.txt"), "{}", out.stderr);
    assert_eq!(repo.note(&head), note);
    let out = repo.proof(&["approve", "no-such-run", "--all"]).expect_code(3);
    out.one_error_line();
    repo.proof(&["approve", &run_id, "--all"]).ok();
    assert_eq!(split_records(&repo.note(&head)).len(), 3);
}

/// A decision record nobody can tie to a bundle of the note does not count, however it is
/// signed: the proof stands, the record is reported, and the violation stays pending.
#[test]
fn an_approval_that_names_no_bundle_does_not_count() {
    let repo = TestRepo::new();
    let (run_id, head) = run_with_violations(&repo, "ok=true");
    repo.proof(&["finish"]).ok();
    repo.proof(&["approve", &run_id, "README.md"]).ok();
    let records = split_records(&repo.note(&head));
    // Re-sign the approval, properly, after pointing it at a bundle that is not there.
    let forged = records[1].0.replace(
        &crate::common::sha256_prefixed(records[0].0.as_bytes()),
        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
    );
    let signature = ssh_keygen_sign(&repo, &repo.key, "git-proof", &forged);
    repo.replace_note(&head, &format!("{}{}{forged}{signature}", records[0].0, records[0].1));
    let out = repo.verify(&[&head]).ok();
    assert!(
        out.stdout.contains("not counted") && out.stdout.contains("which is not in this note"),
        "{}",
        out.stdout
    );
    let out = repo.verify(&[&head, "--deny-pending"]).expect_code(1);
    assert!(
        out.stdout.contains("README.md (outside allow: src/**) is pending"),
        "{}",
        out.stdout
    );
}

#[test]
fn require_dod_fails_unless_every_check_passed() {
    let repo = TestRepo::new();
    let (_, _) = run_with_violations(&repo, "unit=exit 1");
    repo.proof(&["finish"]).ok();
    let out = repo.verify(&["HEAD", "--require-dod"]).expect_code(1);
    assert!(out.stdout.contains("DoD check unit failed"), "{}", out.stdout);
    repo.verify(&["HEAD"]).ok();

    let repo = TestRepo::new();
    repo.start(&["--dod", "unit=true"]);
    repo.proof(&["finish"]).ok();
    repo.verify(&["HEAD", "--require-dod", "--deny-pending"]).ok();
    // Checks recorded as pending (finish --no-dod) are not passes.
    repo.write("x.txt", "x\n");
    repo.commit_all("more");
    repo.start(&["--dod", "unit=true"]);
    repo.proof(&["finish", "--no-dod"]).ok();
    let out = repo.verify(&["HEAD", "--require-dod"]).expect_code(1);
    assert!(out.stdout.contains("pending"), "{}", out.stdout);
}

#[test]
fn verify_policy_applies_the_teams_rules_from_the_trusted_ref() {
    let repo = TestRepo::new();
    repo.write(
        ".proof/policy.toml",
        "[verify]\ndeny_pending = true\nrequire_dod = true\n",
    );
    repo.commit_all("team policy");
    repo.git(&["branch", "trusted"]);
    // The change relaxes the policy in its own tree.
    repo.write(".proof/policy.toml", "[verify]\ndeny_pending = false\n");
    let (_, head) = run_with_violations(&repo, "ok=true");
    repo.proof(&["finish"]).ok();
    repo.verify(&[&head]).ok();
    repo.verify(&[&head, "--policy"]).ok();
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    // With trust and policy from the trusted branch, the pending violations fail the commit.
    repo.git(&["checkout", "-q", "trusted"]);
    std::fs::copy(&signers, repo.path(".proof/allowed_signers")).unwrap();
    repo.commit_all("trust the team key");
    repo.git(&["checkout", "-q", "-"]);
    let out = repo
        .proof(&["verify", &head, "--policy", "--trust-ref", "trusted"])
        .expect_code(1);
    assert!(out.stdout.contains("--deny-pending"), "{}", out.stdout);
}

#[test]
fn approving_3000_violations_writes_one_notes_commit() {
    let repo = TestRepo::new();
    let run_id = repo.start(&["--scope", "src/**"]);
    for i in 0..3000 {
        repo.write(&format!("out/f{i}.txt"), "x\n");
    }
    let head = repo.commit_all("many");
    repo.proof(&["finish", "--no-dod"]).ok();
    let commits = || repo.git(&["rev-list", "--count", "refs/notes/proof"]);
    let before = commits();
    repo.proof(&["approve", &run_id, "--all", "--reason", "generated"]).ok();
    assert_eq!(
        commits().parse::<u32>().unwrap(),
        before.parse::<u32>().unwrap() + 1,
        "one notes commit for every decision"
    );
    assert_eq!(split_records(&repo.note(&head)).len(), 3001);
    repo.verify(&["HEAD", "--deny-pending"]).ok();
}
