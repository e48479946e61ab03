//! Deciding scope violations (`git proof approve|reject`).
//!
//! Before a run's proof is written, a decision is kept in the index and lands in the bundle's
//! `scope_violations`. After, the bundle is never rewritten: the decision is a new signed record
//! (an in-toto statement of kind `approval`) appended to the same note, naming the bundle by the
//! digest of its record's payload. Readers fold the records together.

use gix::ObjectId;

use crate::evidence::EventType;
use crate::git;
use crate::model::{APPROVAL_PREDICATE_TYPE, Approval, ApprovalRecord, Bundle, Generator, Statement};
use crate::notes::{self, Record};
use crate::policy::{self, ScopeMatcher};
use crate::run::{self, Workspace};
use crate::signing::SigningKey;
use crate::store::{Index, NewEvent};
use crate::{canon, diffstat};

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    /// `approved` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

/// Why a decision was not recorded (nothing is written in every case).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{path}' is not a scope violation of run '{run_id}' (violations: {})", if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownPath {
        run_id: String,
        path: String,
        known: Vec<String>,
    },
    #[error("run '{0}' has no scope violations to decide")]
    NothingToDecide(String),
    #[error("name the paths to decide, or pass --all")]
    NoPaths,
    #[error(transparent)]
    Run(#[from] run::Error),
}

impl From<git::Error> for Error {
    fn from(e: git::Error) -> Self {
        Error::Run(run::Error::Git(e))
    }
}

impl From<crate::store::Error> for Error {
    fn from(e: crate::store::Error) -> Self {
        Error::Run(run::Error::Store(e))
    }
}

/// What a decision request needs.
pub struct DecisionRequest<'a> {
    pub run_id: &'a str,
    /// The paths to decide; empty with `all` for every violation.
    pub paths: &'a [String],
    pub all: bool,
    pub decision: Decision,
    pub reason: Option<String>,
    /// Who decides (git config user identity, typically).
    pub decided_by: String,
    /// Needed once the proof is written: the decision is then a signed record.
    pub key: Option<&'a SigningKey>,
}

/// What was recorded.
#[derive(Debug, Clone)]
pub struct Decided {
    pub paths: Vec<String>,
    /// `Some(commit)`: appended as signed records to that commit's note.
    pub signed_on: Option<String>,
}

/// Records a decision on one or more violations of a run.
pub fn decide(
    ws: &Workspace,
    index: &mut Index,
    request: DecisionRequest<'_>,
    now: jiff::Timestamp,
) -> Result<Decided, Error> {
    let run_id = request.run_id;
    run::check_run_id(run_id)?;
    let run = index.run(run_id)?;
    let proof = match index.bundle_ref(run_id)? {
        Some(reference) => {
            let commit = ObjectId::from_hex(reference.commit_sha.as_bytes()).map_err(|_| run::Error::ProofMissing {
                run_id: run_id.to_owned(),
                commit: reference.commit_sha.clone(),
            })?;
            let found = run::record_of_run(&ws.repo, commit, run_id)?.ok_or_else(|| run::Error::ProofMissing {
                run_id: run_id.to_owned(),
                commit: reference.commit_sha.clone(),
            })?;
            Some((commit, found))
        }
        None => None,
    };
    let violations: Vec<String> = match &proof {
        Some((_, (_, bundle))) => bundle.scope_violations.iter().map(|v| v.path.clone()).collect(),
        None => {
            // The proof is not written yet: the violations as they stand now.
            let base = git::resolve_commit(&ws.repo, &run.base_sha)?;
            let head = match (&run.head_sha, run.active) {
                (Some(head), false) => git::resolve_commit(&ws.repo, head)?,
                _ => git::head_commit(&ws.repo)?,
            };
            let diff = diffstat::diff_stat(&ws.repo, base, head)?;
            let dirty = if run.active {
                git::dirty_files(&ws.repo)?
            } else {
                Vec::new()
            };
            let matcher = ScopeMatcher::new(&run.scope).map_err(run::Error::Policy)?;
            policy::violations(&matcher, &diff, &dirty)
                .into_iter()
                .map(|v| v.path)
                .collect()
        }
    };
    let paths: Vec<String> = if request.all {
        if violations.is_empty() {
            return Err(Error::NothingToDecide(run_id.to_owned()));
        }
        violations.clone()
    } else if request.paths.is_empty() {
        return Err(Error::NoPaths);
    } else {
        for path in request.paths {
            if !violations.contains(path) {
                return Err(Error::UnknownPath {
                    run_id: run_id.to_owned(),
                    path: path.clone(),
                    known: violations,
                });
            }
        }
        request.paths.to_vec()
    };
    let approval = Approval {
        state: request.decision.as_str().into(),
        decided_at: Some(run::format_time(now)),
        decided_by: Some(request.decided_by.clone()),
        reason: request.reason.clone(),
    };
    let mut signed_on = None;
    if let Some((commit, (bundle_record, _))) = &proof {
        let key = request.key.ok_or(run::Error::Signing(crate::signing::Error::NoKey))?;
        // Sign every record first, so a bad key writes nothing.
        let records = paths
            .iter()
            .map(|path| sign_approval(*commit, run_id, bundle_record, path, &approval, key))
            .collect::<Result<Vec<_>, _>>()?;
        for record in &records {
            notes::append_record(&ws.repo, *commit, record, |_| false)?;
        }
        signed_on = Some(commit.to_string());
    }
    for path in &paths {
        index.save_decision(run_id, path, &approval)?;
        let reason = approval.reason.as_deref().map(|r| canon::prefixed_sha256(r.as_bytes()));
        index.append_event(
            run_id,
            NewEvent {
                event_type: EventType::ScopeViolationDecided,
                event_id: None,
                occurred_at: run::format_time(now),
                data: serde_json::json!({
                    "path": path,
                    "decision": request.decision.as_str(),
                    "decided_by": request.decided_by,
                    "reason_digest": reason,
                    "signed_on": signed_on,
                }),
                idempotency_key: None,
            },
        )?;
    }
    Ok(Decided { paths, signed_on })
}

fn sign_approval(
    commit: ObjectId,
    run_id: &str,
    bundle_record: &Record,
    path: &str,
    approval: &Approval,
    key: &SigningKey,
) -> Result<Record, run::Error> {
    let statement = Statement::for_approval(
        &commit.to_string(),
        ApprovalRecord {
            version: crate::model::BUNDLE_VERSION.into(),
            kind: "approval".into(),
            run_id: run_id.to_owned(),
            bundle_digest: run::record_digest(bundle_record),
            path: path.to_owned(),
            decision: approval.state.clone(),
            decided_at: approval.decided_at.clone().unwrap_or_default(),
            decided_by: approval.decided_by.clone().unwrap_or_default(),
            reason: approval.reason.clone(),
            generator: Generator::current(),
        },
    );
    run::sign_statement(&statement, key)
}

/// The approval of a record, if its payload is an approval statement.
pub fn approval_of(record: &Record) -> Option<ApprovalRecord> {
    let statement: Statement<ApprovalRecord> = serde_json::from_str(&record.payload).ok()?;
    (statement.predicate_type == APPROVAL_PREDICATE_TYPE).then_some(statement.predicate)
}

/// Applies the approval records of a note to the bundle of `bundle_record`, in note order (the
/// latest decision on a path wins).
pub fn fold(bundle: &mut Bundle, bundle_record: &Record, records: &[Record]) {
    let digest = run::record_digest(bundle_record);
    for approval in records.iter().filter_map(approval_of) {
        if approval.bundle_digest != digest || approval.run_id != bundle.run_id {
            continue;
        }
        if let Some(v) = bundle.scope_violations.iter_mut().find(|v| v.path == approval.path) {
            v.approval = Approval {
                state: approval.decision,
                decided_at: Some(approval.decided_at),
                decided_by: Some(approval.decided_by),
                reason: approval.reason,
            };
        }
    }
}
