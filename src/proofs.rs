//! Reading proofs back, for `git proof show`, `git proof log` and `git proof serve` alike: the
//! bundles a run id or a commit names, as the read model ([`crate::view`]) judges them under the
//! trust in force. Nothing here is shown as approved or valid that the trust in force does not
//! vouch for: without a trust source, signatures and decisions are "unverified".

use gix::ObjectId;
use serde::{Deserialize, Serialize};

use crate::error::{Classify, ErrorKind};
use crate::model::{ApprovalState, Bundle, DodStatus, RunStatus};
use crate::notes::{self, NotesReader};
use crate::store::{self, Index, RunRecord, RunState};
use crate::trust::Trust;
use crate::view::{BundleView, NoteView, Parsed, Placement, RecordView, SignatureCheck};
use crate::{git, run, verify};

/// Why no proof could be shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{0}' is neither a run nor a commit with a proof")]
    Unknown(String),
    #[error("commit {0} has no proof (no note under {ref_name})", ref_name = notes::NOTES_REF)]
    NoNote(ObjectId),
    #[error("the note on {commit} holds no proof bundle{}{}", run_id.as_ref().map(|r| format!(" for run {r}")).unwrap_or_default(), junk.as_ref().map(|j| format!(", only {j}; run `git proof verify {commit}` for details")).unwrap_or_default())]
    NoBundle {
        commit: ObjectId,
        run_id: Option<String>,
        /// What the note holds instead, when it holds no record at all.
        junk: Option<String>,
    },
    #[error("run '{0}' has no proof yet (finish it with `git proof finish --run {0}`)")]
    NoProof(String),
    #[error("run '{0}' was abandoned: it has no proof (`git proof log` shows why)")]
    Abandoned(String),
    #[error("the proof of run {run_id} on {commit} does not count: {why} (`git proof show` prints it, marked)")]
    DoesNotCount {
        run_id: String,
        commit: ObjectId,
        why: String,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unknown(_) | Self::NoNote(_) | Self::NoBundle { .. } | Self::NoProof(_) | Self::Abandoned(_) => {
                ErrorKind::NotFound
            }
            Self::DoesNotCount { .. } => ErrorKind::Invalid,
            Self::Store(e) => e.kind(),
            Self::Git(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unknown(_) => "unknown_run",
            Self::NoNote(_) | Self::NoBundle { .. } | Self::NoProof(_) | Self::Abandoned(_) => "no_proof",
            Self::DoesNotCount { .. } => "proof_invalid",
            Self::Store(e) => e.code(),
            Self::Git(e) => e.code(),
        }
    }
}

/// What a bundle's signature check says, for a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signature {
    /// No trust source is configured, so nothing could be verified.
    Unverified,
    Valid {
        principals: String,
        fingerprint: String,
    },
    Invalid(String),
}

impl Signature {
    fn of(check: &SignatureCheck) -> Self {
        match check {
            SignatureCheck::Trusted(signer) => Self::Valid {
                principals: signer.principals.clone(),
                fingerprint: signer.fingerprint.clone(),
            },
            SignatureCheck::Untrusted(why) => Self::Invalid(why.to_string()),
            SignatureCheck::Unverified | SignatureCheck::Skipped => Self::Unverified,
        }
    }

    /// One word: `valid`, `invalid` or `unverified`.
    pub fn state(&self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Valid { .. } => "valid",
            Self::Invalid(_) => "invalid",
        }
    }

    /// The verdict as a sentence, as `git proof show` prints it.
    pub fn describe(&self) -> String {
        match self {
            Self::Unverified => "unverified (no allowed signers are configured; see `git proof verify --help`)".into(),
            Self::Valid {
                principals,
                fingerprint,
            } => format!("valid, signed by {principals} ({fingerprint})"),
            Self::Invalid(why) => format!("INVALID: {why}"),
        }
    }
}

/// Where a scope violation stands, as a reader may be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// A state the trust in force vouches for.
    Decided(ApprovalState),
    /// Decisions that disagree: undecided.
    Conflicting,
    /// A decision nobody trusted can vouch for (no trust source, or the bundle does not count).
    Unverified(ApprovalState),
}

impl Standing {
    /// One word: `pending`, `approved`, `rejected`, `conflicting` or `unverified`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Decided(state) => state.as_str(),
            Self::Conflicting => "conflicting",
            Self::Unverified(_) => "unverified",
        }
    }
}

/// One bundle as a reader sees it.
#[derive(Debug, Clone)]
pub struct ShownProof {
    /// The bundle, with the decisions in force folded into its violations.
    pub bundle: Bundle,
    /// The standing of each of `bundle.scope_violations`, in the same order.
    pub standings: Vec<Standing>,
    /// The commit whose note holds it.
    pub commit: ObjectId,
    pub signature: Signature,
    /// Why it does not count on this commit although its signature may be fine (it is another
    /// commit's proof), if so.
    pub elsewhere: Option<String>,
    /// "carried from <sha> by amend" for a proof rewrites brought here.
    pub carried: Option<String>,
    /// For a proof shown for a commit it covers (one of the run's commits, or where the run
    /// landed): that commit and how.
    pub covers: Option<String>,
    /// Whether the bundle counts on this commit under the trust in force. When it does not,
    /// `bundle` holds no decision (every violation pending): nobody vouches for one.
    pub counts: bool,
    /// Why it does not count, when it does not.
    pub why_not: Option<String>,
    /// What does not hold of a counting bundle's facts (as `verify` finds); empty when they
    /// hold or were not checked (lists of runs skip the check).
    pub problems: Vec<String>,
    /// What of its facts could not be recomputed here (a shallow or partial clone without
    /// the objects).
    pub unchecked: Vec<String>,
    /// Its place in the note's records.
    record: usize,
    /// Records about this run that do not count, with why.
    pub ignored: Vec<String>,
}

impl ShownProof {
    /// Its place among the records of the note on [`ShownProof::commit`].
    pub fn record_index(&self) -> usize {
        self.record
    }

    fn of(view: &NoteView, shown: &BundleView) -> Self {
        let record = view.record_of(shown);
        let counts = view.counts(shown.record);
        let bundle = shown.folded();
        let original = shown.bundle();
        let digest = record.digest();
        // A decision only a trust source could vouch for, on a path that stands pending.
        let unverified_decision = |path: &str| {
            view.records.iter().find_map(|r| match &r.parsed {
                Parsed::Approval(s)
                    if r.signature == SignatureCheck::Unverified
                        && s.predicate.bundle_digest == digest
                        && s.predicate.path == path =>
                {
                    Some(s.predicate.decision.state())
                }
                _ => None,
            })
        };
        let standings = bundle
            .scope_violations
            .iter()
            .zip(&original.scope_violations)
            .map(|(v, own)| {
                let standing = if counts {
                    match shown.decisions.get(&v.path) {
                        Some(e) if e.state() == ApprovalState::Pending => Standing::Conflicting,
                        _ => Standing::Decided(shown.state_of(&v.path)),
                    }
                } else if own.approval.state == ApprovalState::Pending {
                    Standing::Decided(ApprovalState::Pending)
                } else {
                    Standing::Unverified(own.approval.state)
                };
                match (standing, unverified_decision(&v.path)) {
                    (Standing::Decided(ApprovalState::Pending), Some(state)) => Standing::Unverified(state),
                    (standing, _) => standing,
                }
            })
            .collect();
        let run_id = &original.run_id;
        let ignored = view
            .records
            .iter()
            .enumerate()
            .filter(|(i, r)| r.run_id.as_deref() == Some(run_id) && *i != shown.record)
            .filter_map(|(_, r): (usize, &RecordView)| {
                Some(format!("{} record: {}", r.kind.as_str(), r.ignored.as_ref()?))
            })
            .collect();
        let carried = match &shown.placement {
            Placement::Carried(links) => Some(format!(
                "carried from {} by {}",
                crate::model::short_sha(&original.head_sha),
                links.iter().map(|l| l.step.operation()).collect::<Vec<_>>().join(", ")
            )),
            _ => None,
        };
        let elsewhere = match (&shown.placement, &record.signature) {
            (Placement::Elsewhere(why), SignatureCheck::Trusted(_)) => Some(why.clone()),
            _ => None,
        };
        let signature = Signature::of(&record.signature);
        Self {
            standings,
            bundle: if counts { bundle } else { shown.undecided() },
            counts,
            covers: None,
            why_not: record.ignored.clone(),
            problems: Vec::new(),
            unchecked: Vec::new(),
            record: shown.record,
            commit: view.commit,
            signature,
            elsewhere,
            carried,
            ignored,
        }
    }

    /// How many violations are not (verifiably) approved.
    pub fn not_approved(&self) -> usize {
        self.standings
            .iter()
            .filter(|s| **s != Standing::Decided(ApprovalState::Approved))
            .count()
    }

    /// What the team database keeps of it besides the bundle.
    pub fn published(&self) -> PublishedView {
        PublishedView {
            commit: self.commit.to_string(),
            signature: self.signature.clone(),
            standings: self.standings.clone(),
            carried: self.carried.clone(),
            problems: self.problems.clone(),
            unchecked: self.unchecked.clone(),
            ignored: self.ignored.clone(),
        }
    }

    /// A proof as the team database holds it: only counting proofs are published.
    pub fn from_published(bundle: Bundle, view: PublishedView) -> Option<Self> {
        Some(Self {
            bundle,
            commit: ObjectId::from_hex(view.commit.as_bytes()).ok()?,
            standings: view.standings,
            signature: view.signature,
            elsewhere: None,
            carried: view.carried,
            covers: None,
            counts: true,
            why_not: None,
            problems: view.problems,
            unchecked: view.unchecked,
            record: 0,
            ignored: view.ignored,
        })
    }

    /// Takes what `verify` found of its record's facts.
    fn take_facts(&mut self, records: &[verify::RecordReport]) {
        if let Some(r) = records.get(self.record) {
            self.problems.clone_from(&r.problems);
            self.unchecked.clone_from(&r.unchecked);
        }
    }
}

/// What the team database keeps of a published proof besides its bundle: what a reader of it
/// is shown, as [`ShownProof`] holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedView {
    pub commit: String,
    pub signature: Signature,
    pub standings: Vec<Standing>,
    pub carried: Option<String>,
    pub problems: Vec<String>,
    pub unchecked: Vec<String>,
    pub ignored: Vec<String>,
}

/// Every bundle that counts on the note `view` reads, as a reader is shown it, with what
/// `report` (the note's facts checked against the repository) found of each.
pub fn counting<'v>(view: &'v NoteView, report: Option<&verify::CommitReport>) -> Vec<(ShownProof, &'v BundleView)> {
    let records = report.and_then(|r| r.records.as_deref()).unwrap_or_default();
    view.counting_bundles()
        .map(|b| {
            let mut shown = ShownProof::of(view, b);
            shown.take_facts(records);
            (shown, b)
        })
        .collect()
}

/// The bundles `target` names: a run's own (a run id in the index wins over a revision of the
/// same spelling), or every bundle on a commit.
pub fn find(repo: &gix::Repository, index: &Index, target: &str, trust: &Trust) -> Result<Vec<ShownProof>, Error> {
    let is_run = run::check_run_id(target).is_ok() && index.run(target).is_ok();
    let (commit, run_id) = match git::resolve_commit(repo, target) {
        Ok(commit) if !is_run => (commit, None),
        _ => match locate_run(repo, index, target, trust) {
            Ok(commit) => (commit, Some((target, recorded_digest(index, target)?))),
            Err(Error::Store(store::Error::UnknownRun(_))) => return Err(Error::Unknown(target.to_owned())),
            Err(e) => return Err(e),
        },
    };
    let mut reader = NotesReader::new(repo)?;
    if run_id.is_none() && reader.note(commit)?.is_none() {
        // One of a run's commits, or a run landed here: the run's proof, saying how it covers.
        if let Some(covered) = crate::coverage::covering(repo, commit, trust)? {
            let run = Some((covered.run_id.as_str(), None));
            let mut shown = on_commit(&mut reader, covered.by, run, trust, Facts::Check)?;
            for s in &mut shown {
                s.covers = Some(format!(
                    "{} {}",
                    crate::model::short_sha(&commit.to_string()),
                    covered.describe()
                ));
                if !covered.valid {
                    s.problems.extend(covered.reasons.iter().cloned());
                }
                s.unchecked.extend(covered.unchecked.iter().cloned());
            }
            return Ok(shown);
        }
    }
    on_commit(&mut reader, commit, run_id, trust, Facts::Check)
}

/// The proof of one run, by run id only.
pub fn of_run(repo: &gix::Repository, index: &Index, run_id: &str, trust: &Trust) -> Result<ShownProof, Error> {
    of_run_in(&mut NotesReader::new(repo)?, index, run_id, trust, Facts::Check)
}

/// Whether the facts git can recompute are checked for the proofs read (one proof shown to a
/// person: yes; a page of fifty summarized: no, `verify` is for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Facts {
    Check,
    Skip,
}

/// [`of_run`] through a reader the caller keeps for several runs.
fn of_run_in(
    reader: &mut NotesReader<'_>,
    index: &Index,
    run_id: &str,
    trust: &Trust,
    facts: Facts,
) -> Result<ShownProof, Error> {
    let commit = locate_run(reader.repo(), index, run_id, trust)?;
    let run = Some((run_id, recorded_digest(index, run_id)?));
    let mut shown = on_commit(reader, commit, run, trust, facts)?;
    Ok(shown.swap_remove(0))
}

/// The digest of the bundle this clone's index recorded for the run, if any.
fn recorded_digest(index: &Index, run_id: &str) -> Result<Option<String>, Error> {
    Ok(index.bundle_ref(run_id)?.map(|r| r.bundle_digest))
}

/// The view of `commit`'s note under `trust`, if it has one.
pub fn view_of(reader: &mut NotesReader<'_>, commit: ObjectId, trust: &Trust) -> Result<Option<NoteView>, Error> {
    Ok(reader.note(commit)?.map(|note| NoteView::build(commit, &note, trust)))
}

/// The bundles on `commit`'s note; with a run, only its bundle (preferring the recorded digest).
fn on_commit(
    reader: &mut NotesReader<'_>,
    commit: ObjectId,
    run: Option<(&str, Option<String>)>,
    trust: &Trust,
    facts: Facts,
) -> Result<Vec<ShownProof>, Error> {
    let view = view_of(reader, commit, trust)?.ok_or(Error::NoNote(commit))?;
    let run_id = run.as_ref().map(|(id, _)| *id);
    // A note on a commit this clone lacks (a run whose branch left after it landed) is read,
    // but its facts cannot be recomputed here.
    let report = match facts {
        Facts::Check if git::is_commit(reader.repo(), commit) => {
            Some(verify::check_view(reader.repo(), &view, &verify::Policy::default())?)
        }
        _ => None,
    };
    let mut shown: Vec<ShownProof> = match &run {
        Some((run_id, digest)) => view
            .bundle_of_run(run_id, digest.as_deref())
            .map(|b| ShownProof::of(&view, b))
            .into_iter()
            .collect(),
        None => view.bundles.iter().map(|b| ShownProof::of(&view, b)).collect(),
    };
    if let Some(records) = report.and_then(|r| r.records) {
        for s in &mut shown {
            s.take_facts(&records);
        }
    }
    if shown.is_empty() {
        return Err(Error::NoBundle {
            commit,
            run_id: run_id.map(str::to_owned),
            junk: view
                .records
                .is_empty()
                .then(|| view.junk.first().map(|j| j.why.to_string()))
                .flatten(),
        });
    }
    Ok(shown)
}

/// The commit whose note proves `run_id`: from the index, else by reading every note (a clone
/// whose index has not been rebuilt).
pub fn locate_run(repo: &gix::Repository, index: &Index, run_id: &str, trust: &Trust) -> Result<ObjectId, Error> {
    if let Some(reference) = index.bundle_ref(run_id)? {
        return ObjectId::from_hex(reference.commit_sha.as_bytes()).map_err(|_| {
            Error::Store(store::Error::Malformed {
                what: "commit id",
                run_id: run_id.to_owned(),
            })
        });
    }
    if let Ok(run) = index.run(run_id) {
        let abandoned = run
            .ended()
            .is_some_and(|e| matches!(e.how, store::Ending::Abandoned { .. }));
        return Err(if abandoned {
            Error::Abandoned(run_id.to_owned())
        } else {
            Error::NoProof(run_id.to_owned())
        });
    }
    find_run_in_notes(repo, run_id, trust)?.ok_or_else(|| Error::Store(store::Error::UnknownRun(run_id.to_owned())))
}

/// Looks for a run's bundle in every note, preferring a note where it counts: the path for a
/// clone whose index is not built yet.
pub fn find_run_in_notes(repo: &gix::Repository, run_id: &str, trust: &Trust) -> Result<Option<ObjectId>, Error> {
    if run::check_run_id(run_id).is_err() {
        return Ok(None);
    }
    let mut reader = NotesReader::new(repo)?;
    let needle = format!("\"run_id\": \"{run_id}\"");
    let mut fallback = None;
    for (commit, _) in notes::list_notes(repo)? {
        let Some(note) = reader.note(commit)? else { continue };
        if !note.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            continue;
        }
        let view = NoteView::build(commit, &note, trust);
        match view.bundle_of_run(run_id, None) {
            Some(b) if view.counts(b.record) => return Ok(Some(commit)),
            Some(_) => {
                fallback.get_or_insert(commit);
            }
            None => {}
        }
    }
    Ok(fallback)
}

/// What machine-readable output may carry: with a trust source, only the proofs that count
/// (an error when none does); without one, every proof, holding no decision (they are all
/// unverified, and nothing may read as approved).
pub fn vouched(shown: Vec<ShownProof>, trust: &Trust) -> Result<Vec<ShownProof>, Error> {
    if trust.signers.is_none() {
        return Ok(shown);
    }
    let Some(first) = shown.first() else {
        return Ok(shown);
    };
    let (run_id, commit, why) = (
        first.bundle.run_id.clone(),
        first.commit,
        first.why_not.clone().unwrap_or_default(),
    );
    let why = match first.problems.first() {
        Some(problem) if first.counts => problem.clone(),
        _ => why,
    };
    let counting: Vec<ShownProof> = shown
        .into_iter()
        .filter(|s| s.counts && s.problems.is_empty())
        .collect();
    if counting.is_empty() {
        return Err(Error::DoesNotCount { run_id, commit, why });
    }
    Ok(counting)
}

/// The bundle as `git proof show --json` prints it and the HTTP API serves it: pretty JSON and
/// a final newline, the same bytes in both.
pub fn bundle_json(bundle: &Bundle) -> Result<String, crate::canon::Error> {
    let mut text = serde_json::to_string_pretty(bundle).map_err(crate::canon::Error)?;
    text.push('\n');
    Ok(text)
}

/// Whether a listed run is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Active,
    Ended,
}

/// A run as a list shows it: what the index knows, and a summary of its proof.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub state: Phase,
    pub run_status: Option<RunStatus>,
    pub exit_code: Option<i32>,
    /// How it ended: `exited`, `sealed` (its end never reported) or `abandoned`.
    pub ending: Option<&'static str>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub base_sha: String,
    pub head_sha: Option<String>,
    /// The head commit's subject line, when the commit is in this clone.
    pub head_subject: Option<String>,
    /// `None` while the run has no proof.
    pub proof: Option<ProofSummary>,
    /// Over the team database: the repository's name and id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
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
    /// Violations not approved by a decision the trust in force vouches for.
    pub violations_pending: u64,
    /// `valid`, `invalid`, `unverified`, or `unreadable` (then `problem` says why).
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
/// notes tree is read once for a whole page), judged under `trust`.
pub fn summarize(
    repo: &gix::Repository,
    index: &Index,
    runs: Vec<RunRecord>,
    trust: &Trust,
) -> Result<Vec<RunSummary>, Error> {
    let mut reader = NotesReader::new(repo)?;
    runs.into_iter()
        .map(|run| summarize_one(&mut reader, index, run, trust))
        .collect()
}

fn summarize_one(
    reader: &mut NotesReader<'_>,
    index: &Index,
    run: RunRecord,
    trust: &Trust,
) -> Result<RunSummary, Error> {
    let proof = match index.bundle_ref(&run.run_id)? {
        None => None,
        Some(reference) => Some(match of_run_in(reader, index, &run.run_id, trust, Facts::Skip) {
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
                    violations_pending: shown.not_approved() as u64,
                    signature: if shown.elsewhere.is_some() {
                        "invalid"
                    } else {
                        shown.signature.state()
                    },
                    signed_by,
                    problem: match shown.signature {
                        Signature::Invalid(why) => Some(why),
                        _ => shown.elsewhere,
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
    let (state, run_status, exit_code, ended_at, head_sha) = match &run.state {
        RunState::Active => (Phase::Active, None, None, None, None),
        RunState::Ended(end) => (
            Phase::Ended,
            Some(RunStatus::from_exit_code(end.exit_code)),
            Some(end.exit_code),
            Some(end.ended_at.clone()),
            Some(end.head_sha.clone()),
        ),
    };
    let ending = run.ended().map(|e| e.how.as_str());
    let head = head_sha.as_deref().unwrap_or(&run.base_sha);
    Ok(RunSummary {
        head_subject: git::subject(reader.repo(), head),
        state,
        run_status,
        exit_code,
        ending,
        run_id: run.run_id,
        started_at: run.started_at,
        ended_at,
        base_sha: run.base_sha,
        head_sha,
        proof,
        repository: None,
        workspace_id: None,
    })
}
