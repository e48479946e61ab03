//! The read model in-process: notes built from records signed here, read by `NoteView` under
//! chosen trust, without a repository (the commit ids are only names). Each test is one rule of
//! docs/format.md section 5.

use git_proof::evidence::{self, ManifestIdentity};
use git_proof::model::{
    APPROVAL_VERSION, Approval, ApprovalRecord, ApprovalState, Bundle, Decision, DiffEntry, DiffStat, Generator,
    REWRITE_VERSION, RewriteRecord, RunStatus, ScopeSnapshot, ScopeViolation, Statement,
};
use git_proof::policy::TeamPolicy;
use git_proof::record::{self, Record, RecordKind};
use git_proof::signing::{self, AllowedSigners, KeySource, SigningKey};
use git_proof::trust::Trust;
use git_proof::view::{Effective, NoteView, Placement};

const C1: &str = "1111111111111111111111111111111111111111";
const C2: &str = "2222222222222222222222222222222222222222";
const C3: &str = "3333333333333333333333333333333333333333";
const BASE: &str = "0000000000000000000000000000000000000001";
const NEW_BASE: &str = "0000000000000000000000000000000000000002";

struct Keys {
    _dir: tempfile::TempDir,
    agent: SigningKey,
    lead: SigningKey,
    stranger: SigningKey,
}

fn key(dir: &std::path::Path, name: &str) -> SigningKey {
    let path = dir.join(name);
    signing::generate_key(&path, name).unwrap();
    SigningKey::load(&KeySource::Path(path)).unwrap()
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    Keys {
        agent: key(dir.path(), "agent"),
        lead: key(dir.path(), "lead"),
        stranger: key(dir.path(), "stranger"),
        _dir: dir,
    }
}

/// Trust in the agent and the lead (not the stranger), with `approvers` in the policy.
fn trust(keys: &Keys, approvers: &[&str]) -> Trust {
    let signers = AllowedSigners::of_key("agent@example.com", keys.agent.public_key())
        .and(AllowedSigners::of_key("lead@example.com", keys.lead.public_key()));
    let mut policy = TeamPolicy::default();
    policy.verify.approvers = approvers.iter().map(|s| s.to_string()).collect();
    Trust {
        signers: Some(signers),
        policy,
        now: 0,
    }
}

fn bundle(run_id: &str, head: &str) -> Bundle {
    let manifest = evidence::build_manifest(
        ManifestIdentity {
            run_id: run_id.into(),
            run_status: RunStatus::Succeeded,
            correlation_id: None,
            workspace_id: None,
            thread_id: None,
        },
        Vec::new(),
    )
    .unwrap();
    Bundle {
        version: "1.0".into(),
        run_id: run_id.into(),
        generated_at: "2026-11-23T10:00:00Z".into(),
        prompt_hash: None,
        scope_snapshot: ScopeSnapshot {
            allow: vec!["src/**".into()],
            deny: vec![],
            source: Some("cli".into()),
        },
        dod_snapshot: vec![],
        base_sha: BASE.into(),
        head_sha: head.into(),
        head_tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
        changed_files: vec!["README.md".into()],
        diff_stat: DiffStat {
            files: 1,
            insertions: 1,
            deletions: 0,
            entries: vec![DiffEntry {
                path: "README.md".into(),
                old_path: None,
                status: "M".into(),
                insertions: 1,
                deletions: 0,
                binary: false,
                old_mode: Some("100644".into()),
                old_blob: Some("0".repeat(40)),
                mode: Some("100644".into()),
                blob: Some("1".repeat(40)),
            }],
        },
        dirty_files: vec![],
        dirty_at_start: vec![],
        exit_code: 0,
        run_status: RunStatus::Succeeded,
        dod_results: vec![],
        scope_violations: vec![ScopeViolation {
            path: "README.md".into(),
            rule: "outside allow: src/**".into(),
            approval: Approval::pending(),
        }],
        evidence: manifest,
        generator: Generator::current(),
    }
}

fn sign_bundle(b: &Bundle, key: &SigningKey) -> Record {
    record::sign(&Statement::for_bundle(b.clone()), key).unwrap()
}

fn decision(
    bundle: &Record,
    on: &str,
    decision: Decision,
    at: &str,
    supersedes: &[&Record],
    key: &SigningKey,
) -> Record {
    decision_on(bundle, on, "README.md", decision, at, supersedes, key)
}

fn decision_on(
    bundle: &Record,
    on: &str,
    path: &str,
    decision: Decision,
    at: &str,
    supersedes: &[&Record],
    key: &SigningKey,
) -> Record {
    let supersedes = if supersedes.is_empty() {
        vec![bundle.digest()]
    } else {
        supersedes.iter().map(|r| r.digest()).collect()
    };
    let statement = Statement::for_approval(
        on,
        ApprovalRecord {
            version: APPROVAL_VERSION.into(),
            kind: "approval".into(),
            run_id: "run".into(),
            bundle_digest: bundle.digest(),
            path: path.into(),
            decision,
            decided_at: at.into(),
            decided_by: "Rita <rita@example.com>".into(),
            reason: None,
            supersedes,
            generator: Generator::current(),
        },
    );
    record::sign(&statement, key).unwrap()
}

fn rewrite(bundle: &Record, old: &str, new: &str, patch: (&str, &str), key: &SigningKey) -> Record {
    let statement = Statement::for_rewrite(RewriteRecord {
        version: REWRITE_VERSION.into(),
        kind: "rewrite".into(),
        run_id: "run".into(),
        bundle_digest: bundle.digest(),
        operation: "amend".into(),
        old_sha: old.into(),
        new_sha: new.into(),
        old_base_sha: if old == C1 { BASE.into() } else { NEW_BASE.into() },
        new_base_sha: NEW_BASE.into(),
        old_patch_id: Some(patch.0.into()),
        new_patch_id: Some(patch.1.into()),
        rewritten_at: "2026-11-23T10:00:00Z".into(),
        generator: Generator::current(),
    });
    record::sign(&statement, key).unwrap()
}

fn note(records: &[&Record]) -> Vec<u8> {
    records.iter().map(|r| r.to_text()).collect::<String>().into_bytes()
}

fn view(on: &str, records: &[&Record], trust: &Trust) -> NoteView {
    NoteView::build(gix::ObjectId::from_hex(on.as_bytes()).unwrap(), &note(records), trust)
}

/// Every order of `records`, for rules that must not depend on it.
fn orders<'a>(records: &[&'a Record]) -> Vec<Vec<&'a Record>> {
    let mut out = vec![records.to_vec()];
    let n = records.len();
    for i in 0..n {
        for j in 0..n {
            let mut order = records.to_vec();
            order.swap(i, j);
            out.push(order);
        }
    }
    out.push(records.iter().rev().copied().collect());
    out
}

#[test]
fn the_decision_in_force_never_depends_on_record_order() {
    let k = keys();
    let trust = trust(&k, &[]);
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let approve = decision(&b, C1, Decision::Approved, "2026-11-23T10:01:00Z", &[], &k.lead);
    let reject = decision(&b, C1, Decision::Rejected, "2026-11-23T10:02:00Z", &[&approve], &k.lead);
    // Re-approved with an earlier clock: supersession, not time, decides.
    let again = decision(&b, C1, Decision::Approved, "2026-11-23T09:00:00Z", &[&reject], &k.lead);
    for order in orders(&[&b, &approve, &reject]) {
        let v = view(C1, &order, &trust);
        assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Rejected);
    }
    for order in orders(&[&b, &approve, &reject, &again]) {
        let v = view(C1, &order, &trust);
        assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Approved);
    }
}

#[test]
fn disagreeing_heads_are_undecided_and_agreeing_ones_decide() {
    let k = keys();
    let trust = trust(&k, &[]);
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let approve = decision(&b, C1, Decision::Approved, "2026-11-23T10:01:00Z", &[], &k.lead);
    let reject = decision(&b, C1, Decision::Rejected, "2026-11-23T10:02:00Z", &[], &k.agent);
    for order in orders(&[&b, &approve, &reject]) {
        let v = view(C1, &order, &trust);
        assert!(matches!(
            v.bundles[0].decisions["README.md"],
            Effective::Conflict { .. }
        ));
        assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Pending);
        assert_eq!(
            v.bundles[0].folded().scope_violations[0].approval.state,
            ApprovalState::Pending
        );
    }
    let also = decision(&b, C1, Decision::Approved, "2026-11-23T10:03:00Z", &[], &k.agent);
    let v = view(C1, &[&b, &approve, &also], &trust);
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Approved);
    // Version 1.0 decisions name nothing they supersede: the same rule holds.
    let settle = decision(
        &b,
        C1,
        Decision::Approved,
        "2026-11-23T10:04:00Z",
        &[&approve, &reject],
        &k.lead,
    );
    let v = view(C1, &[&reject, &settle, &b, &approve], &trust);
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Approved);
}

#[test]
fn a_decision_nobody_trusts_supersedes_nothing() {
    let k = keys();
    let trust = trust(&k, &[]);
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let approve = decision(&b, C1, Decision::Approved, "2026-11-23T10:01:00Z", &[], &k.lead);
    let forged = decision(
        &b,
        C1,
        Decision::Rejected,
        "2026-11-23T10:02:00Z",
        &[&approve],
        &k.stranger,
    );
    let v = view(C1, &[&b, &approve, &forged], &trust);
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Approved);
    let ignored = v.records[2].ignored.as_deref().unwrap();
    assert!(ignored.contains("is not in the allowed signers"), "{ignored}");
}

#[test]
fn approvers_decide_and_the_run_s_own_key_does_not() {
    let k = keys();
    let trust = trust(&k, &["lead@*"]);
    let mut own = bundle("run", C1);
    // A decision inside the bundle is signed with the run's key too: it does not count either.
    own.scope_violations[0].approval.state = ApprovalState::Approved;
    let b = sign_bundle(&own, &k.agent);
    let by_agent = decision(&b, C1, Decision::Approved, "2026-11-23T10:01:00Z", &[], &k.agent);
    let v = view(C1, &[&b, &by_agent], &trust);
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Pending);
    assert!(
        v.records[1]
            .ignored
            .as_deref()
            .unwrap()
            .contains("not among the policy's approvers")
    );
    let by_lead = decision(
        &b,
        C1,
        Decision::Approved,
        "2026-11-23T10:02:00Z",
        &[&by_agent],
        &k.lead,
    );
    let v = view(C1, &[&by_lead, &b, &by_agent], &trust);
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Approved);
    // Without approvers, the bundle's own decision stands.
    let v = view(C1, &[&b], &self::trust(&k, &[]));
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Approved);
}

#[test]
fn a_bundle_counts_where_trusted_rewrites_carry_it_with_the_same_patch() {
    let k = keys();
    let trust = trust(&k, &[]);
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let link1 = rewrite(&b, C1, C2, ("p", "p"), &k.agent);
    let link2 = rewrite(&b, C2, C3, ("p", "p"), &k.agent);
    for order in orders(&[&link2, &b, &link1]) {
        let v = view(C3, &order, &trust);
        let Placement::Carried(links) = &v.bundles[0].placement else {
            panic!("{:?}", v.bundles[0].placement)
        };
        let hops: Vec<&str> = links.iter().map(|l| l.step.to().0).collect();
        assert_eq!(hops, [C2, C3]);
        assert!(v.counts(v.bundles[0].record));
    }
    // A decision made on the first commit follows the bundle.
    let approve = decision(&b, C1, Decision::Approved, "2026-11-23T10:01:00Z", &[], &k.lead);
    let v = view(C3, &[&b, &link1, &link2, &approve], &trust);
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Approved);
    // An untrusted link breaks the chain; a link that changed the patch says so.
    let forged = rewrite(&b, C2, C3, ("p", "p"), &k.stranger);
    let v = view(C3, &[&b, &link1, &forged], &trust);
    assert!(matches!(&v.bundles[0].placement, Placement::Elsewhere(why) if why.contains("no trusted rewrite record")));
    let changed = rewrite(&b, C2, C3, ("p", "q"), &k.agent);
    let v = view(C3, &[&b, &link1, &changed], &trust);
    assert!(matches!(&v.bundles[0].placement, Placement::Elsewhere(why) if why.contains("changed the run's patch")));
    assert!(!v.counts(v.bundles[0].record));
}

#[test]
fn without_trust_nothing_counts_and_the_own_bundle_is_still_found() {
    let k = keys();
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let approve = decision(&b, C1, Decision::Approved, "2026-11-23T10:01:00Z", &[], &k.lead);
    let v = view(C1, &[&b, &approve], &Trust::none(0));
    assert!(v.counting_bundles().next().is_none());
    assert!(
        v.records
            .iter()
            .all(|r| r.ignored.as_deref() == Some(git_proof::view::UNVERIFIED))
    );
    let shown = v.bundle_of_run("run", None).unwrap();
    assert_eq!(shown.placement, Placement::Own);
    assert_eq!(shown.state_of("README.md"), ApprovalState::Pending);
}

#[test]
fn a_repeated_record_counts_once_and_junk_never_hides_a_record() {
    let k = keys();
    let trust = trust(&k, &[]);
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let mut text = b"a comment someone added\n".to_vec();
    text.extend(note(&[&b, &b]));
    text.extend(b"-----BEGIN SSH SIGNATURE-----\ntruncated\n");
    let v = NoteView::build(gix::ObjectId::from_hex(C1.as_bytes()).unwrap(), &text, &trust);
    assert_eq!(v.records.len(), 2);
    assert!(v.counts(0));
    assert_eq!(v.records[1].ignored.as_deref(), Some("repeats record 1"));
    assert_eq!(v.junk.len(), 2, "{:?}", v.junk);
    assert_eq!(v.counting_bundles().count(), 1);
}

#[test]
fn a_record_of_an_unknown_kind_or_with_a_repeated_key_is_invalid() {
    let k = keys();
    let trust = trust(&k, &[]);
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let doubled = b.payload.replacen(
        "\"run_id\": \"run\",",
        "\"run_id\": \"run\",\n    \"run_id\": \"other\",",
        1,
    );
    assert_ne!(doubled, b.payload);
    let resigned = Record {
        signature: k.agent.sign(doubled.as_bytes()).unwrap(),
        payload: doubled,
    };
    let unknown_payload = b
        .payload
        .replace("https://git-proof.dev/bundle/v1", "https://git-proof.dev/bundle/v9");
    let unknown = Record {
        signature: k.agent.sign(unknown_payload.as_bytes()).unwrap(),
        payload: unknown_payload,
    };
    let v = view(C1, &[&resigned, &unknown], &trust);
    assert_eq!(v.records[0].kind, RecordKind::Unknown);
    assert!(
        v.records[0]
            .ignored
            .as_deref()
            .unwrap()
            .contains("duplicate field `run_id`")
    );
    assert!(v.records[1].ignored.as_deref().unwrap().contains("unknown record kind"));
    assert!(v.bundles.is_empty());
}

#[test]
fn a_decision_on_a_path_the_run_did_not_touch_does_not_count() {
    // Signed by the lead, naming the right bundle: still nothing the run did, so nothing to
    // decide; the real violation stays pending, however many such records a note holds.
    let k = keys();
    let trust = trust(&k, &["lead@*"]);
    let b = sign_bundle(&bundle("run", C1), &k.agent);
    let forged: Vec<Record> = (0..3)
        .map(|i| {
            decision_on(
                &b,
                C1,
                &format!("elsewhere/{i}.txt"),
                Decision::Approved,
                "2026-11-23T10:01:00Z",
                &[],
                &k.lead,
            )
        })
        .collect();
    let mut records: Vec<&Record> = vec![&b];
    records.extend(forged.iter());
    let v = view(C1, &records, &trust);
    assert_eq!(v.bundles[0].state_of("README.md"), ApprovalState::Pending);
    for i in 1..=3 {
        let ignored = v.records[i].ignored.as_deref().unwrap();
        assert!(ignored.contains("a path the run did not touch"), "{ignored}");
    }
    // The same lead deciding the real violation counts.
    let real = decision(&b, C1, Decision::Approved, "2026-11-23T10:02:00Z", &[], &k.lead);
    records.push(&real);
    assert_eq!(
        view(C1, &records, &trust).bundles[0].state_of("README.md"),
        ApprovalState::Approved
    );
}
