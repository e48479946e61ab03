//! `git proof publish`: the proofs this clone can check, into the team database.
//!
//! In two steps, so that nothing reaches the database before everything that can be checked
//! without it holds ([`prepare`]): the trust in force is there; the remote's notes are fetched
//! and merged into ours (as `sync` does, without pushing); every note is read under that trust,
//! on every core, checking the facts of each counting bundle as `verify` does; one proof per run
//! is kept (the one rewrites carried furthest), of this repository only, with its times parsed.
//! Then [`write`] writes them in batches of whole runs ([`TeamDb::write_runs`]). Records that do
//! not count are never published: the team database holds only what the trust in force vouches
//! for, and only for the repository it is trusted in.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use gix::ObjectId;
use jiff::Timestamp;

use crate::model::{ApprovalState, Decision, short_sha};
use crate::notes::{self, Merged, NotesReader};
use crate::proofs::{self, ShownProof, Signature, Standing};
use crate::teamdb::{self, DecisionRow, Repository, RunRow, TeamDb, Verdict, ViolationRow, Written};
use crate::trust::Trust;
use crate::view::{BundleView, Effective, NoteView, Placement};
use crate::{git, run, sync, verify};

/// Runs per transaction: large enough that round trips are no cost.
const BATCH: usize = 500;
/// Bytes of signed records per transaction, so that a few huge runs (a 20,000-file change's
/// note is megabytes) do not make one statement of gigabytes: a batch stops at either bound.
const BATCH_BYTES: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "publishing needs allowed signers, so that only proofs the team trusts reach its database: commit .proof/allowed_signers, set proof.allowedSignersFile, or pass --allowed-signers or --trust-ref"
    )]
    NoTrust,
    /// A batch's transaction failed: it wrote nothing, the batches before it stay written.
    #[error(
        "the team database {target} failed to {action}: {reason}; the transaction was rolled back, so none of its {} was written{}; fix what the database reports and publish again",
        runs_of(*.runs),
        earlier(*.published)
    )]
    Write {
        target: String,
        action: &'static str,
        reason: String,
        runs: u64,
        /// Runs of the batches before it, written.
        published: u64,
    },
    #[error(transparent)]
    Team(#[from] teamdb::Error),
    #[error(transparent)]
    Sync(#[from] sync::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Proofs(#[from] proofs::Error),
}

fn runs_of(n: u64) -> String {
    match n {
        1 => "1 run".to_owned(),
        n => format!("{n} runs"),
    }
}

fn earlier(published: u64) -> String {
    match published {
        0 => String::new(),
        n => format!(" (the {} before it stay published)", runs_of(n)),
    }
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::NoTrust => crate::error::ErrorKind::Unavailable,
            Self::Write { .. } => crate::error::ErrorKind::Internal,
            Self::Team(e) => e.kind(),
            Self::Sync(e) => e.kind(),
            Self::Git(e) => e.kind(),
            Self::Proofs(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NoTrust => "no_trust_source",
            Self::Write { .. } => "team_write_failed",
            Self::Team(e) => e.code(),
            Self::Sync(e) => e.code(),
            Self::Git(e) => e.code(),
            Self::Proofs(e) => e.code(),
        }
    }
}

/// What to publish from.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The remote whose notes are fetched and merged first; `None` publishes this clone's.
    pub remote: Option<String>,
    /// The repository's name in the team database; by default the last part of the remote's
    /// URL, else the worktree's directory.
    pub name: Option<String>,
}

/// Where a publish is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and checking notes: done of all.
    Reading,
    /// Writing runs: done of all.
    Writing,
}

/// A run whose proof counts but is not published, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPublished {
    pub run_id: String,
    /// The commit whose note holds the proof.
    pub commit: String,
    pub why: Unpublishable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpublishable {
    /// Its signed manifest names another repository. Trust is a repository's: a key trusted
    /// here vouches for nothing in that one, so only a clone of it may publish the run.
    OtherRepository { workspace_id: String },
    /// This clone cannot tell which repository it is (a shallow clone without the root).
    UnknownRepository,
    /// A time the database would store does not parse ([`teamdb::parse_time`]).
    BadTime { field: String, value: String },
}

impl Unpublishable {
    /// A stable name, for JSON.
    pub fn code(&self) -> &'static str {
        match self {
            Self::OtherRepository { .. } => "other_repository",
            Self::UnknownRepository => "unknown_repository",
            Self::BadTime { .. } => "bad_time",
        }
    }
}

impl std::fmt::Display for NotPublished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let run = crate::summary::quoted(&self.run_id);
        let commit = short_sha(&self.commit);
        match &self.why {
            Unpublishable::OtherRepository { workspace_id } => write!(
                f,
                "run {run} (commit {commit}): its proof names repository {}, not this one; publish it from a clone of that repository",
                crate::summary::quoted(workspace_id)
            ),
            Unpublishable::UnknownRepository => write!(
                f,
                "run {run} (commit {commit}): this shallow clone cannot tell which repository it is; publish from a full clone"
            ),
            Unpublishable::BadTime { field, value } => write!(
                f,
                "run {run} (commit {commit}): its {field} {:?} is not an RFC 3339 time (from year 1, with an offset)",
                value
            ),
        }
    }
}

/// Everything a publish writes, checked, before the database is reached.
#[derive(Debug)]
pub struct Prepared {
    /// This clone's repository (an empty workspace id when it cannot tell: then it has no run
    /// to publish).
    pub repository: Repository,
    /// How the remote's notes came in, when one was fetched.
    pub merged: Option<Merged>,
    pub notes: u64,
    rows: Vec<RunRow>,
    /// Records about a run that do not count under the trust in force, with why.
    pub not_counted: Vec<String>,
    /// Runs whose proofs count but are not published, by run id.
    pub not_published: Vec<NotPublished>,
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct Report {
    /// This clone's repository (an empty workspace id when it cannot tell).
    pub repository: Repository,
    /// How the remote's notes came in, when one was fetched.
    pub merged: Option<Merged>,
    pub notes: u64,
    /// Runs published (each once, however many commits its proof is on).
    pub runs: u64,
    pub written: Written,
    /// Records about a run that do not count under the trust in force, with why.
    pub not_counted: Vec<String>,
    /// Runs whose proofs count but are not published, by run id.
    pub not_published: Vec<NotPublished>,
}

/// Everything but the writing: checks the trust, fetches, reads and checks every note, and
/// keeps what this repository may publish. `progress` is called now and then with the stage,
/// what is done and the total.
pub fn prepare(
    repo: &gix::Repository,
    trust: &Trust,
    options: &Options,
    progress: &(dyn Fn(Stage, u64, u64) + Sync),
) -> Result<Prepared, Error> {
    if trust.signers.is_none() {
        return Err(Error::NoTrust);
    }
    let merged = match &options.remote {
        Some(remote) => sync::fetch_and_merge(repo, remote)?,
        None => None,
    };
    let head = repo.head_id().ok().map(|id| id.detach());
    let workspace = match head {
        Some(head) => git::workspace_id(repo, head)?,
        None => None,
    };
    let listed = notes::list_notes(repo)?;
    let found = read_all(repo, &listed, trust, progress)?;
    let mut not_counted = Vec::new();
    let mut refused: BTreeMap<String, NotPublished> = BTreeMap::new();
    let mut runs: HashMap<String, RunRow> = HashMap::new();
    for note in found {
        not_counted.extend(note.not_counted);
        for candidate in note.runs {
            let row = match candidate {
                Ok(row) => row,
                Err(why) => {
                    refused.entry(why.run_id.clone()).or_insert(why);
                    continue;
                }
            };
            // A bundle without a workspace id (made in a shallow clone) is this repository's:
            // its note is here, and its signer is trusted here.
            let why = match (&workspace, &row.bundle.evidence.workspace_id) {
                (None, _) => Some(Unpublishable::UnknownRepository),
                (Some(ours), Some(named)) if named != ours => Some(Unpublishable::OtherRepository {
                    workspace_id: named.clone(),
                }),
                _ => None,
            };
            if let Some(why) = why {
                refused
                    .entry(row.bundle.run_id.clone())
                    .or_insert_with(|| NotPublished {
                        run_id: row.bundle.run_id.clone(),
                        commit: row.commit_sha.clone(),
                        why,
                    });
                continue;
            }
            match runs.get(&row.bundle.run_id) {
                Some(kept) if !carried_further(&row, kept) => {}
                _ => {
                    runs.insert(row.bundle.run_id.clone(), row);
                }
            }
        }
    }
    // A run published from one of its commits is published, whatever another copy holds.
    refused.retain(|run_id, _| !runs.contains_key(run_id));
    let repository = Repository {
        workspace_id: workspace.unwrap_or_default(),
        name: options
            .name
            .clone()
            .unwrap_or_else(|| default_name(repo, options.remote.as_deref())),
        url: options.remote.as_deref().map(|r| remote_url(repo, r)),
    };
    let mut rows: Vec<RunRow> = runs.into_values().collect();
    rows.sort_by(|a, b| a.bundle.run_id.cmp(&b.bundle.run_id));
    Ok(Prepared {
        repository,
        merged,
        notes: listed.len() as u64,
        rows,
        not_counted,
        not_published: refused.into_values().collect(),
    })
}

/// Writes what [`prepare`] kept into `db`, batch by batch, each batch with the repository's row
/// in its transaction.
pub fn write(
    prepared: Prepared,
    db: &mut TeamDb,
    progress: &(dyn Fn(Stage, u64, u64) + Sync),
) -> Result<Report, Error> {
    let total = prepared.rows.len() as u64;
    let mut written = Written::default();
    let mut done = 0;
    for batch in batches(&prepared.rows) {
        let now = db.write_runs(&prepared.repository, batch).map_err(|e| match e {
            teamdb::Error::Query { target, action, reason } => Error::Write {
                target,
                action,
                reason,
                runs: batch.len() as u64,
                published: done,
            },
            other => Error::Team(other),
        })?;
        written.add(now);
        done += batch.len() as u64;
        progress(Stage::Writing, done, total);
    }
    Ok(Report {
        repository: prepared.repository,
        merged: prepared.merged,
        notes: prepared.notes,
        runs: total,
        written,
        not_counted: prepared.not_counted,
        not_published: prepared.not_published,
    })
}

/// Consecutive runs, at most [`BATCH`] and about [`BATCH_BYTES`] of records (at least one) each.
fn batches(rows: &[RunRow]) -> impl Iterator<Item = &[RunRow]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut n = 0;
        while n < rest.len() && n < BATCH && (n == 0 || bytes + rest[n].record.len() <= BATCH_BYTES) {
            bytes += rest[n].record.len();
            n += 1;
        }
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        Some(batch)
    })
}

/// Whether `row` is a better copy of its run than `kept`: carried by more rewrites, else on
/// the commit that sorts first (any rule would do, as long as every publisher picks the same).
fn carried_further(row: &RunRow, kept: &RunRow) -> bool {
    (row.carried_steps, std::cmp::Reverse(&row.commit_sha)) > (kept.carried_steps, std::cmp::Reverse(&kept.commit_sha))
}

/// What one note gave.
struct FromNote {
    /// Each counting bundle, as published or why it cannot be.
    runs: Vec<Result<RunRow, NotPublished>>,
    not_counted: Vec<String>,
}

/// Reads and checks every note, on every core, each thread through its own repository handle.
fn read_all(
    repo: &gix::Repository,
    listed: &[(ObjectId, ObjectId)],
    trust: &Trust,
    progress: &(dyn Fn(Stage, u64, u64) + Sync),
) -> Result<Vec<FromNote>, Error> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total = listed.len() as u64;
    let done = AtomicU64::new(0);
    let shared = repo.clone().into_sync();
    let chunk = listed.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<FromNote>, Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = listed
            .chunks(chunk)
            .map(|part| {
                let (shared, done) = (&shared, &done);
                scope.spawn(move || -> Result<Vec<FromNote>, Error> {
                    let mut repo = shared.to_thread_local();
                    repo.object_cache_size_if_unset(4 * 1024 * 1024);
                    let mut reader = NotesReader::new(&repo)?;
                    let mut out = Vec::with_capacity(part.len());
                    for (commit, _) in part {
                        if let Some(view) = proofs::view_of(&mut reader, *commit, trust)? {
                            out.push(from_note(&repo, &view)?);
                        }
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if n % 256 == 0 || n == total {
                            progress(Stage::Reading, n, total);
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut all = Vec::with_capacity(listed.len());
    for part in parts {
        all.extend(part?);
    }
    Ok(all)
}

/// The runs a note proves, checked as `verify` checks them, and the records that do not count.
fn from_note(repo: &gix::Repository, view: &NoteView) -> Result<FromNote, Error> {
    let here = git::is_commit(repo, view.commit);
    let report = if here {
        Some(verify::check_view(repo, view, &verify::Policy::default())?)
    } else {
        None
    };
    let runs = proofs::counting(view, report.as_ref())
        .into_iter()
        .filter_map(|(shown, bundle)| row_of(repo, view, bundle, shown, here))
        .collect();
    let not_counted = view
        .records
        .iter()
        .filter_map(|r| {
            let why = r.ignored.as_ref()?;
            let run = r
                .run_id
                .as_deref()
                .map(|id| format!(" of run {id}"))
                .unwrap_or_default();
            Some(format!(
                "{}: {} record{run}: {why}",
                crate::model::short_sha(&view.commit.to_string()),
                r.kind.as_str()
            ))
        })
        .collect();
    Ok(FromNote { runs, not_counted })
}

/// A counting bundle as the team database keeps it, or why it cannot keep it.
fn row_of(
    repo: &gix::Repository,
    view: &NoteView,
    bundle_view: &BundleView,
    mut shown: ShownProof,
    here: bool,
) -> Option<Result<RunRow, NotPublished>> {
    let Signature::Valid {
        principals,
        fingerprint,
    } = &shown.signature
    else {
        return None;
    };
    let record = view.record_of(bundle_view);
    let commit_sha = view.commit.to_string();
    let bad_time = |field: String, value: &str| NotPublished {
        run_id: shown.bundle.run_id.clone(),
        commit: commit_sha.clone(),
        why: Unpublishable::BadTime {
            field,
            value: value.to_owned(),
        },
    };
    let time = |field: &str, value: &str| teamdb::parse_time(value).ok_or_else(|| bad_time(field.to_owned(), value));
    let bundle = &shown.bundle;
    let ended_at = match time("generated_at", &bundle.generated_at) {
        Ok(t) => t,
        Err(e) => return Some(Err(e)),
    };
    let mut violations = Vec::with_capacity(bundle.scope_violations.len());
    for (v, standing) in bundle.scope_violations.iter().zip(&shown.standings) {
        let decided_at = match v.approval.decided_at.as_deref() {
            Some(at) => match time(&format!("decided_at of {}", crate::summary::quoted(&v.path)), at) {
                Ok(t) => Some(t),
                Err(e) => return Some(Err(e)),
            },
            None => None,
        };
        violations.push(ViolationRow {
            state: standing.word(),
            decided_at,
        });
    }
    let bundle_made = BundleDecisions {
        signer: principals,
        digest: record.digest(),
        violations: &violations,
        ended_at,
    };
    let decisions = match decisions(view, bundle_view, &shown, &bundle_made, &time) {
        Ok(decisions) => decisions,
        Err(e) => return Some(Err(e)),
    };
    // Whole seconds, as every time in a bundle.
    let started_at = run::started_by_id(&bundle.run_id, ended_at)
        .and_then(|t| Timestamp::from_second(t.as_second()).ok())
        .unwrap_or(ended_at);
    if !here {
        let why = format!("commit {commit_sha} is not in the clone that published it");
        shown.unchecked.push(why);
    }
    let (verdict, reasons) = if !shown.problems.is_empty() {
        (Verdict::Invalid, shown.problems.clone())
    } else if !shown.unchecked.is_empty() {
        (Verdict::Unchecked, shown.unchecked.clone())
    } else {
        (Verdict::Valid, Vec::new())
    };
    Some(Ok(RunRow {
        head_subject: git::subject(repo, &commit_sha),
        commit_sha,
        started_at,
        ended_at,
        verdict,
        reasons,
        signed_by: principals.clone(),
        fingerprint: fingerprint.clone(),
        bundle_digest: record.digest().to_owned(),
        carried_steps: match &bundle_view.placement {
            Placement::Carried(links) => links.len() as u32,
            _ => 0,
        },
        violations,
        violations_pending: shown.not_approved() as u32,
        decisions,
        reader_view: serde_json::to_value(shown.published()).unwrap_or_default(),
        record: record.record.to_text(),
        bundle: shown.bundle,
    }))
}

/// What a decision the bundle made itself is signed with and when it was made: the bundle's
/// signer and record, and the times [`row_of`] parsed already.
struct BundleDecisions<'a> {
    signer: &'a str,
    digest: &'a str,
    /// Each of the bundle's violations, its approval's time parsed.
    violations: &'a [ViolationRow],
    /// The bundle's `generated_at`, parsed: the time of a decision that names none.
    ended_at: Timestamp,
}

/// The decision in force on each decided path: a counting decision record, else the bundle's
/// own (made before the run finished, signed with it).
fn decisions(
    view: &NoteView,
    bundle_view: &BundleView,
    shown: &ShownProof,
    bundle_made: &BundleDecisions<'_>,
    time: &dyn Fn(&str, &str) -> Result<Timestamp, NotPublished>,
) -> Result<Vec<DecisionRow>, NotPublished> {
    let mut rows = Vec::new();
    let violations = shown.bundle.scope_violations.iter().zip(&shown.standings);
    for ((v, standing), parsed) in violations.zip(bundle_made.violations) {
        let Standing::Decided(state) = standing else {
            continue;
        };
        let decision = match state {
            ApprovalState::Approved => Decision::Approved,
            ApprovalState::Rejected => Decision::Rejected,
            ApprovalState::Pending => continue,
        };
        let row = match bundle_view.decisions.get(&v.path) {
            Some(Effective::Decided {
                record,
                decided_at,
                decided_by,
                reason,
                signer,
                ..
            }) => DecisionRow {
                path: v.path.clone(),
                decision,
                decided_at: time(
                    &format!("decided_at of the decision on {}", crate::summary::quoted(&v.path)),
                    decided_at,
                )?,
                decided_by: decided_by.clone(),
                reason: reason.clone(),
                signed_by: signer.principals.clone(),
                record_digest: view.records[*record].digest().to_owned(),
            },
            _ => DecisionRow {
                path: v.path.clone(),
                decision,
                decided_at: parsed.decided_at.unwrap_or(bundle_made.ended_at),
                decided_by: v
                    .approval
                    .decided_by
                    .clone()
                    .unwrap_or_else(|| bundle_made.signer.to_owned()),
                reason: v.approval.reason.clone(),
                signed_by: bundle_made.signer.to_owned(),
                record_digest: bundle_made.digest.to_owned(),
            },
        };
        rows.push(row);
    }
    Ok(rows)
}

/// The remote's URL without a password, or the path or URL given.
fn remote_url(repo: &gix::Repository, remote: &str) -> String {
    let configured = repo
        .find_remote(remote)
        .ok()
        .and_then(|r| r.url(gix::remote::Direction::Fetch).map(|u| u.to_bstring().to_string()));
    strip_password(&configured.unwrap_or_else(|| remote.to_owned()))
}

fn strip_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}{}", &rest[end..])
        }
        None => url.to_owned(),
    }
}

/// The last part of the remote's URL without `.git`, else the worktree's directory name.
fn default_name(repo: &gix::Repository, remote: Option<&str>) -> String {
    let from_url = remote.map(|r| remote_url(repo, r)).and_then(|url| {
        let last = url.trim_end_matches('/').rsplit(['/', ':']).next()?.to_owned();
        let last = last.strip_suffix(".git").unwrap_or(&last).to_owned();
        (!last.is_empty()).then_some(last)
    });
    from_url.unwrap_or_else(|| {
        let dir = repo.workdir().unwrap_or_else(|| repo.git_dir());
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.strip_suffix(".git").map(str::to_owned).unwrap_or(name)
    })
}

#[cfg(test)]
mod tests {
    use super::strip_password;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            strip_password("https://alice:tok3n@github.com/org/app.git"),
            "https://alice@github.com/org/app.git"
        );
        assert_eq!(
            strip_password("https://github.com/org/app.git"),
            "https://github.com/org/app.git"
        );
        assert_eq!(
            strip_password("git@github.com:org/app.git"),
            "git@github.com:org/app.git"
        );
        assert_eq!(strip_password("/srv/git/app.git"), "/srv/git/app.git");
    }
}
