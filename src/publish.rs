//! `git proof publish`: the proofs this clone can check, into the team database.
//!
//! In order: fetch the remote's notes and merge them into ours (as `sync` does, without
//! pushing); read every note under the trust in force, on every core, checking the facts of
//! each counting bundle as `verify` does; keep one proof per run (the one rewrites carried
//! furthest); write them in batches of whole runs ([`TeamDb::write_runs`]). Records that do not
//! count are never published: the team database holds only what the trust in force vouches for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use gix::ObjectId;

use crate::model::{ApprovalState, Decision};
use crate::notes::{self, Merged, NotesReader};
use crate::proofs::{self, ShownProof, Signature, Standing};
use crate::teamdb::{self, DecisionRow, Repository, RunRow, TeamDb, Verdict, Written};
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
    #[error(transparent)]
    Team(#[from] teamdb::Error),
    #[error(transparent)]
    Sync(#[from] sync::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Proofs(#[from] proofs::Error),
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::NoTrust => crate::error::ErrorKind::Unavailable,
            Self::Team(e) => e.kind(),
            Self::Sync(e) => e.kind(),
            Self::Git(e) => e.kind(),
            Self::Proofs(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NoTrust => "no_trust_source",
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

/// What a publish did.
#[derive(Debug, Clone)]
pub struct Report {
    pub repository: Repository,
    /// How the remote's notes came in, when one was fetched.
    pub merged: Option<Merged>,
    pub notes: u64,
    /// Runs published (each once, however many commits its proof is on).
    pub runs: u64,
    pub written: Written,
    /// Records about a run that do not count under the trust in force, with why.
    pub not_counted: Vec<String>,
    /// Runs not published because neither their proof nor this clone names the repository.
    pub without_workspace: Vec<String>,
}

/// Publishes every counting proof of the repository into `db`. `progress` is called now and
/// then with the stage, what is done and the total.
pub fn publish(
    repo: &gix::Repository,
    trust: &Trust,
    db: &mut TeamDb,
    options: &Options,
    progress: &(dyn Fn(Stage, u64, u64) + Sync),
) -> Result<Report, Error> {
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
    let mut without_workspace = Vec::new();
    let mut runs: HashMap<(String, String), RunRow> = HashMap::new();
    for commit in found {
        not_counted.extend(commit.not_counted);
        for mut row in commit.rows {
            let Some(ws) = row.bundle.evidence.workspace_id.clone().or_else(|| workspace.clone()) else {
                without_workspace.push(row.bundle.run_id.clone());
                continue;
            };
            row.workspace_id = ws;
            let key = (row.workspace_id.clone(), row.bundle.run_id.clone());
            match runs.get(&key) {
                Some(kept) if !carried_further(&row, kept) => {}
                _ => {
                    runs.insert(key, row);
                }
            }
        }
    }
    let repository = Repository {
        workspace_id: workspace.clone().unwrap_or_default(),
        name: options
            .name
            .clone()
            .unwrap_or_else(|| default_name(repo, options.remote.as_deref())),
        url: options.remote.as_deref().map(|r| remote_url(repo, r)),
    };
    let mut workspaces: Vec<Repository> = runs
        .keys()
        .map(|(ws, _)| ws.clone())
        .chain(workspace)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|workspace_id| Repository {
            workspace_id,
            ..repository.clone()
        })
        .collect();
    workspaces.dedup();
    db.register_repositories(&workspaces)?;
    let mut rows: Vec<RunRow> = runs.into_values().collect();
    rows.sort_by(|a, b| (&a.workspace_id, &a.bundle.run_id).cmp(&(&b.workspace_id, &b.bundle.run_id)));
    let total = rows.len() as u64;
    let mut written = Written::default();
    let mut done = 0;
    for batch in batches(&rows) {
        written.add(db.write_runs(batch)?);
        done += batch.len() as u64;
        progress(Stage::Writing, done, total);
    }
    Ok(Report {
        repository,
        merged,
        notes: listed.len() as u64,
        runs: total,
        written,
        not_counted,
        without_workspace,
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
    rows: Vec<RunRow>,
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
    let rows = proofs::counting(view, report.as_ref())
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
    Ok(FromNote { rows, not_counted })
}

/// A counting bundle as the team database keeps it (the workspace is filled in by the caller).
fn row_of(
    repo: &gix::Repository,
    view: &NoteView,
    bundle_view: &BundleView,
    mut shown: ShownProof,
    here: bool,
) -> Option<RunRow> {
    let Signature::Valid {
        principals,
        fingerprint,
    } = &shown.signature
    else {
        return None;
    };
    let record = view.record_of(bundle_view);
    let commit_sha = view.commit.to_string();
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
    let bundle = &shown.bundle;
    let started_at = bundle
        .generated_at
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|end| run::started_by_id(&bundle.run_id, end))
        .map_or_else(|| bundle.generated_at.clone(), run::format_time);
    Some(RunRow {
        workspace_id: String::new(),
        head_subject: git::subject(repo, &commit_sha),
        commit_sha,
        started_at,
        verdict,
        reasons,
        signed_by: principals.clone(),
        fingerprint: fingerprint.clone(),
        bundle_digest: record.digest().to_owned(),
        carried_steps: match &bundle_view.placement {
            Placement::Carried(links) => links.len() as u32,
            _ => 0,
        },
        standings: shown.standings.iter().map(|s| s.word()).collect(),
        violations_pending: shown.not_approved() as u32,
        decisions: decisions(view, bundle_view, &shown, principals, record.digest()),
        reader_view: serde_json::to_value(shown.published()).unwrap_or_default(),
        record: record.record.to_text(),
        bundle: shown.bundle,
    })
}

/// The decision in force on each decided path: a counting decision record, else the bundle's
/// own (made before the run finished, signed with it).
fn decisions(
    view: &NoteView,
    bundle_view: &BundleView,
    shown: &ShownProof,
    bundle_signer: &str,
    bundle_digest: &str,
) -> Vec<DecisionRow> {
    shown
        .bundle
        .scope_violations
        .iter()
        .zip(&shown.standings)
        .filter_map(|(v, standing)| {
            let Standing::Decided(state) = standing else {
                return None;
            };
            let decision = match state {
                ApprovalState::Approved => Decision::Approved,
                ApprovalState::Rejected => Decision::Rejected,
                ApprovalState::Pending => return None,
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
                    decided_at: decided_at.clone(),
                    decided_by: decided_by.clone(),
                    reason: reason.clone(),
                    signed_by: signer.principals.clone(),
                    record_digest: view.records[*record].digest().to_owned(),
                },
                _ => DecisionRow {
                    path: v.path.clone(),
                    decision,
                    decided_at: v
                        .approval
                        .decided_at
                        .clone()
                        .unwrap_or_else(|| shown.bundle.generated_at.clone()),
                    decided_by: v
                        .approval
                        .decided_by
                        .clone()
                        .unwrap_or_else(|| bundle_signer.to_owned()),
                    reason: v.approval.reason.clone(),
                    signed_by: bundle_signer.to_owned(),
                    record_digest: bundle_digest.to_owned(),
                },
            };
            Some(row)
        })
        .collect()
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
