//! Reading proofs back, for `git proof show` and `git proof serve` alike: the bundles a run id or
//! a commit names, with decisions made after the proof folded in, and each signature checked
//! against the trust sources.

use gix::ObjectId;
use serde::Serialize;

use crate::model::{Bundle, DodStatus, RunStatus};
use crate::signing::{self, AllowedSigners};
use crate::store::{self, Index, RunRecord};
use crate::{approval, git, notes, run, verify};

/// Why no proof could be shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{0}' is neither a run nor a commit with a proof")]
    Unknown(String),
    #[error("commit {0} has no proof (no note under {ref_name})", ref_name = notes::NOTES_REF)]
    NoNote(ObjectId),
    #[error("the note on {commit} holds no proof bundle{}", run_id.as_ref().map(|r| format!(" for run {r}")).unwrap_or_default())]
    NoBundle { commit: ObjectId, run_id: Option<String> },
    #[error("the proof note on {commit} is corrupt: {why}; run `git proof verify {commit}` for details")]
    Corrupt { commit: ObjectId, why: String },
    #[error(transparent)]
    Run(#[from] run::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
}

impl Error {
    /// Whether the thing asked for does not exist (as opposed to being unreadable).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Unknown(_)
                | Self::NoNote(_)
                | Self::NoBundle { .. }
                | Self::Run(run::Error::NoProof(_) | run::Error::Store(store::Error::UnknownRun(_)))
        )
    }
}

/// What a signature check said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No trust source is configured, so nothing was checked.
    NotChecked,
    Valid {
        principals: String,
        fingerprint: String,
    },
    Invalid(String),
}

impl Signature {
    /// Checks one record's signature; `None` for signers means no trust source.
    pub fn check(record: &notes::Record, signers: Option<&AllowedSigners>, now: i64) -> Self {
        match signers {
            None => Self::NotChecked,
            Some(signers) => match signing::verify(record.payload.as_bytes(), &record.signature, signers, now) {
                Ok(signer) => Self::Valid {
                    principals: signer.principals,
                    fingerprint: signer.fingerprint,
                },
                Err(why) => Self::Invalid(why.to_string()),
            },
        }
    }

    /// One word: `valid`, `invalid` or `unchecked`.
    pub fn state(&self) -> &'static str {
        match self {
            Self::NotChecked => "unchecked",
            Self::Valid { .. } => "valid",
            Self::Invalid(_) => "invalid",
        }
    }

    /// The verdict as a sentence, as `git proof show` prints it.
    pub fn describe(&self) -> String {
        match self {
            Self::NotChecked => "not checked (no allowed signers configured; see `git proof verify --help`)".into(),
            Self::Valid {
                principals,
                fingerprint,
            } => format!("valid, signed by {principals} ({fingerprint})"),
            Self::Invalid(why) => format!("INVALID: {why}"),
        }
    }
}

/// One bundle as a reader sees it.
#[derive(Debug, Clone)]
pub struct ShownProof {
    /// The bundle, with approvals recorded after it folded into its violations.
    pub bundle: Bundle,
    /// The commit whose note holds it.
    pub commit: ObjectId,
    pub signature: Signature,
}

/// The bundles `target` names: a run's own (a run id in the index wins over a revision of the
/// same spelling), or every bundle on a commit.
pub fn find(
    repo: &gix::Repository,
    index: &Index,
    target: &str,
    signers: Option<&AllowedSigners>,
    now: i64,
) -> Result<Vec<ShownProof>, Error> {
    let is_run = run::check_run_id(target).is_ok() && index.run(target).is_ok();
    let (commit, run_id) = match git::resolve_commit(repo, target) {
        Ok(commit) if !is_run => (commit, None),
        _ => match run::locate_run(repo, index, target) {
            Ok(commit) => (commit, Some(target)),
            Err(run::Error::Store(store::Error::UnknownRun(_)) | run::Error::BadRunId(_)) => {
                return Err(Error::Unknown(target.to_owned()));
            }
            Err(e) => return Err(e.into()),
        },
    };
    on_commit(&mut notes::NotesReader::new(repo)?, commit, run_id, signers, now)
}

/// The proof of one run, by run id only.
pub fn of_run(
    repo: &gix::Repository,
    index: &Index,
    run_id: &str,
    signers: Option<&AllowedSigners>,
    now: i64,
) -> Result<ShownProof, Error> {
    of_run_in(&mut notes::NotesReader::new(repo)?, index, run_id, signers, now)
}

/// [`of_run`] through a reader the caller keeps for several runs.
fn of_run_in(
    reader: &mut notes::NotesReader<'_>,
    index: &Index,
    run_id: &str,
    signers: Option<&AllowedSigners>,
    now: i64,
) -> Result<ShownProof, Error> {
    let commit = run::locate_run(reader.repo(), index, run_id)?;
    let mut shown = on_commit(reader, commit, Some(run_id), signers, now)?;
    // A note holds at most one bundle per run (appending checks for it).
    Ok(shown.swap_remove(0))
}

/// The bundles on `commit`'s note, only `run_id`'s when given.
fn on_commit(
    reader: &mut notes::NotesReader<'_>,
    commit: ObjectId,
    run_id: Option<&str>,
    signers: Option<&AllowedSigners>,
    now: i64,
) -> Result<Vec<ShownProof>, Error> {
    let note = reader.note(commit)?.ok_or(Error::NoNote(commit))?;
    let records = notes::parse_records(&note).map_err(|e| Error::Corrupt {
        commit,
        why: e.to_string(),
    })?;
    // With a trust source, only the approvals whose signature checks out count.
    let approvals: Vec<notes::Record> = records
        .iter()
        .filter(|r| approval::approval_of(r).is_some())
        .filter(|r| signers.is_none_or(|s| signing::verify(r.payload.as_bytes(), &r.signature, s, now).is_ok()))
        .cloned()
        .collect();
    let shown: Vec<ShownProof> = records
        .iter()
        .filter_map(|r| Some((r, verify::bundle_of(r)?)))
        .filter(|(_, b)| run_id.is_none_or(|id| b.run_id == id))
        .map(|(record, mut bundle)| {
            approval::fold(&mut bundle, record, &approvals);
            ShownProof {
                signature: Signature::check(record, signers, now),
                bundle,
                commit,
            }
        })
        .collect();
    if shown.is_empty() {
        return Err(Error::NoBundle {
            commit,
            run_id: run_id.map(str::to_owned),
        });
    }
    Ok(shown)
}

/// The bundle as `git proof show --json` prints it and the HTTP API serves it: pretty JSON and
/// a final newline, the same bytes in both.
pub fn bundle_json(bundle: &Bundle) -> Result<String, crate::canon::Error> {
    let mut text = serde_json::to_string_pretty(bundle).map_err(crate::canon::Error)?;
    text.push('\n');
    Ok(text)
}

/// A run as a list shows it: what the index knows, and a summary of its proof.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    /// `active` or `ended`.
    pub state: &'static str,
    pub run_status: Option<&'static str>,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub base_sha: String,
    pub head_sha: Option<String>,
    /// The head commit's subject line, when the commit is in this clone.
    pub head_subject: Option<String>,
    /// `None` while the run has no proof.
    pub proof: Option<ProofSummary>,
}

/// The numbers of one proof, or why it could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct ProofSummary {
    pub commit: String,
    pub files_changed: u64,
    pub insertions: u64,
    pub deletions: u64,
    /// Checks by status: `passed`, `failed`, `error`, `timeout`, `pending`.
    pub dod: DodCounts,
    pub violations_pending: u64,
    /// `valid`, `invalid`, `unchecked`, or `unreadable` (then `problem` says why).
    pub signature: &'static str,
    pub signed_by: Option<String>,
    pub problem: Option<String>,
}

/// How many checks ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DodCounts {
    pub passed: u64,
    pub failed: u64,
    pub error: u64,
    pub timeout: u64,
    pub pending: u64,
}

impl DodCounts {
    /// Counts the checks of a bundle.
    pub fn of(bundle: &Bundle) -> Self {
        let mut counts = Self::default();
        for result in &bundle.dod_results {
            *match result.status {
                DodStatus::Passed => &mut counts.passed,
                DodStatus::Failed => &mut counts.failed,
                DodStatus::Error => &mut counts.error,
                DodStatus::Timeout => &mut counts.timeout,
                DodStatus::Pending => &mut counts.pending,
            } += 1;
        }
        counts
    }

    /// The number of checks.
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.error + self.timeout + self.pending
    }
}

/// Summarizes runs of the index: each proof read from the notes (through one reader, so the
/// notes tree is read once for a whole page), its signature checked.
pub fn summarize(
    repo: &gix::Repository,
    index: &Index,
    runs: Vec<RunRecord>,
    signers: Option<&AllowedSigners>,
    now: i64,
) -> Result<Vec<RunSummary>, Error> {
    let mut reader = notes::NotesReader::new(repo)?;
    runs.into_iter()
        .map(|run| summarize_one(&mut reader, index, run, signers, now))
        .collect()
}

fn summarize_one(
    reader: &mut notes::NotesReader<'_>,
    index: &Index,
    run: RunRecord,
    signers: Option<&AllowedSigners>,
    now: i64,
) -> Result<RunSummary, Error> {
    let proof = match index.bundle_ref(&run.run_id).map_err(run::Error::Store)? {
        None => None,
        Some(reference) => Some(match of_run_in(reader, index, &run.run_id, signers, now) {
            Ok(shown) => {
                let stat = &shown.bundle.diff_stat;
                let signed_by = match &shown.signature {
                    Signature::Valid { principals, .. } => Some(principals.clone()),
                    _ => None,
                };
                ProofSummary {
                    commit: shown.commit.to_string(),
                    files_changed: stat.files,
                    insertions: stat.insertions,
                    deletions: stat.deletions,
                    dod: DodCounts::of(&shown.bundle),
                    violations_pending: shown
                        .bundle
                        .scope_violations
                        .iter()
                        .filter(|v| v.approval.state == "pending")
                        .count() as u64,
                    signature: shown.signature.state(),
                    signed_by,
                    problem: match shown.signature {
                        Signature::Invalid(why) => Some(why),
                        _ => None,
                    },
                }
            }
            // One unreadable proof must not hide the others in a list.
            Err(e) => ProofSummary {
                commit: reference.commit_sha,
                files_changed: 0,
                insertions: 0,
                deletions: 0,
                dod: DodCounts::default(),
                violations_pending: 0,
                signature: "unreadable",
                signed_by: None,
                problem: Some(e.to_string()),
            },
        }),
    };
    let head = run.head_sha.as_deref().unwrap_or(&run.base_sha);
    Ok(RunSummary {
        head_subject: git::subject(reader.repo(), head),
        state: if run.active { "active" } else { "ended" },
        run_status: run.exit_code.map(|c| RunStatus::from_exit_code(c).as_str()),
        exit_code: run.exit_code,
        run_id: run.run_id,
        started_at: run.started_at,
        ended_at: run.ended_at,
        base_sha: run.base_sha,
        head_sha: run.head_sha,
        proof,
    })
}
