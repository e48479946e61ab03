//! Deciding scope violations (`git proof approve|reject`).
//!
//! Before a run's proof is written, a decision is kept in the index and lands in the bundle's
//! `scope_violations`. After, the bundle is never rewritten: the decision is a new signed record
//! (an in-toto statement of kind `approval`) appended to the same note, naming the bundle by the
//! digest of its record's payload and every earlier decision on the path it supersedes, so the
//! decision in force never depends on the order of records ([`crate::view`]).

use gix::ObjectId;

use crate::error::{Classify, ErrorKind};
use crate::evidence::EventType;
use crate::model::{APPROVAL_VERSION, Approval, ApprovalRecord, Bundle, Decision, Generator, Statement};
use crate::notes::{self, NotesReader};
use crate::policy::{self, ScopeMatcher, TeamPolicy};
use crate::record::{self, Record};
use crate::run::{self, Workspace};
use crate::signing::SigningKey;
use crate::store::{Index, NewEvent};
use crate::trust::Trust;
use crate::view::NoteView;
use crate::{canon, diffstat, git};

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

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UnknownPath { .. } | Self::NothingToDecide(_) | Self::NoPaths => ErrorKind::BadInput,
            Self::Run(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Run(e) => e.code(),
            other => other.kind().code(),
        }
    }
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

/// The proof a decision is about: the commit whose note holds it, its record and bundle.
struct Proven {
    commit: ObjectId,
    record: Record,
    bundle: Bundle,
    view: NoteView,
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
    let proof = proven(ws, index, run_id)?;
    let violations = match &proof {
        Some(proven) => decidable(
            &proven.bundle,
            &TeamPolicy::of_worktree(&ws.workdir).map_err(run::Error::from)?,
        ),
        None => {
            // The proof is not written yet: the violations as they stand now.
            let base = git::resolve_commit(&ws.repo, &run.base_sha)?;
            let head = match run.ended() {
                Some(end) => git::resolve_commit(&ws.repo, &end.head_sha)?,
                None => git::head_commit(&ws.repo)?,
            };
            let diff = diffstat::diff_stat(&ws.repo, base, head)?;
            let dirty = if run.is_active() {
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
    let paths = chosen_paths(&request, run_id, violations)?;
    let approval = Approval {
        state: request.decision.state(),
        decided_at: Some(run::format_time(now)),
        decided_by: Some(request.decided_by.clone()),
        reason: request.reason.clone(),
    };
    let mut signed_on = None;
    if let Some(proven) = &proof {
        let key = request.key.ok_or(run::Error::Signing(crate::signing::Error::NoKey))?;
        // Every record is signed first, so a bad key writes nothing; then one notes commit
        // holds them all, however many paths are decided.
        let bundle_digest = proven.record.digest();
        let earlier = proven.view.decisions_by_path(&bundle_digest);
        let mut text = Vec::new();
        for path in &paths {
            let supersedes = match earlier.get(path.as_str()) {
                Some(digests) => digests.iter().map(|d| d.to_string()).collect(),
                None => vec![bundle_digest.clone()],
            };
            let decision = ToSign {
                bundle_digest: &bundle_digest,
                path,
                decision: request.decision,
                supersedes,
            };
            let record = sign_approval(proven, run_id, decision, &approval, key)?;
            notes::append_text(&mut text, record.to_text().as_bytes());
        }
        let message = format!("Notes added by 'git proof' for {}\n", proven.commit);
        notes::add_to_notes(&ws.repo, &[(proven.commit, text)], &message)?;
        signed_on = Some(proven.commit.to_string());
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

/// The run's written proof, if it has one: the record the index names by digest.
fn proven(ws: &Workspace, index: &Index, run_id: &str) -> Result<Option<Proven>, Error> {
    let Some(reference) = index.bundle_ref(run_id)? else {
        return Ok(None);
    };
    let missing = || run::Error::ProofMissing {
        run_id: run_id.to_owned(),
        commit: reference.commit_sha.clone(),
    };
    let commit = ObjectId::from_hex(reference.commit_sha.as_bytes()).map_err(|_| missing())?;
    let note = NotesReader::new(&ws.repo)?.note(commit)?.ok_or_else(missing)?;
    // Which records count is not this writer's to judge: it names every earlier decision.
    let view = NoteView::build(commit, &note, &Trust::none(0));
    let record = view
        .records
        .iter()
        .find(|r| r.digest() == reference.bundle_digest)
        .map(|r| r.record.clone())
        .ok_or_else(missing)?;
    let bundle = view
        .bundles
        .iter()
        .find(|b| view.records[b.record].digest() == reference.bundle_digest)
        .map(|b| b.bundle().clone())
        .ok_or_else(missing)?;
    Ok(Some(Proven {
        commit,
        record,
        bundle,
        view,
    }))
}

/// The paths of a proven run that can be decided: its own violations, and the paths the
/// worktree's policy says break the team's scope (which `verify --policy` will judge).
fn decidable(bundle: &Bundle, team: &TeamPolicy) -> Vec<String> {
    let mut paths: Vec<String> = bundle.scope_violations.iter().map(|v| v.path.clone()).collect();
    if team.scope.source.is_some()
        && let Ok(matcher) = ScopeMatcher::new(&team.scope)
    {
        for v in policy::violations(&matcher, &bundle.diff_stat, &bundle.dirty_files) {
            if !paths.contains(&v.path) {
                paths.push(v.path);
            }
        }
    }
    paths.sort();
    paths
}

/// The paths the request names, each checked to be a violation; every one with `--all`.
fn chosen_paths(request: &DecisionRequest<'_>, run_id: &str, violations: Vec<String>) -> Result<Vec<String>, Error> {
    if request.all {
        if violations.is_empty() {
            return Err(Error::NothingToDecide(run_id.to_owned()));
        }
        return Ok(violations);
    }
    if request.paths.is_empty() {
        return Err(Error::NoPaths);
    }
    for path in request.paths {
        if !violations.contains(path) {
            return Err(Error::UnknownPath {
                run_id: run_id.to_owned(),
                path: path.clone(),
                known: violations,
            });
        }
    }
    Ok(request.paths.to_vec())
}

/// One decision to sign.
struct ToSign<'a> {
    bundle_digest: &'a str,
    path: &'a str,
    decision: Decision,
    /// Every earlier decision on the path or, the first time, the bundle: under any trust that
    /// counts the new record, it is then the decision in force.
    supersedes: Vec<String>,
}

/// A decision record.
fn sign_approval(
    proven: &Proven,
    run_id: &str,
    decided: ToSign<'_>,
    approval: &Approval,
    key: &SigningKey,
) -> Result<Record, run::Error> {
    let ToSign {
        bundle_digest,
        path,
        decision,
        supersedes,
    } = decided;
    let statement = Statement::for_approval(
        &proven.commit.to_string(),
        ApprovalRecord {
            version: APPROVAL_VERSION.into(),
            kind: "approval".into(),
            run_id: run_id.to_owned(),
            bundle_digest: bundle_digest.to_owned(),
            path: path.to_owned(),
            decision,
            decided_at: approval.decided_at.clone().unwrap_or_default(),
            decided_by: approval.decided_by.clone().unwrap_or_default(),
            reason: approval.reason.clone(),
            supersedes,
            generator: Generator::current(),
        },
    );
    Ok(record::sign(&statement, key)?)
}
