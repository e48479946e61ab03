//! Checking the proofs attached to commits: every record's signature against the trusted
//! signers, the statement's subject against the commit, and the manifest's hashes against
//! its own contents.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use gix::ObjectId;
use gix::bstr::ByteSlice;
use serde_json::Value;

use crate::evidence;
use crate::git::{self, GitContext};
use crate::model::{
    APPROVAL_PREDICATE_TYPE, ApprovalRecord, BUNDLE_PREDICATE_TYPE, Bundle, REWRITE_PREDICATE_TYPE, RewriteRecord,
    STATEMENT_TYPE, Statement,
};
use crate::notes::{self, NotesReader, Record};
use crate::signing::{self, AllowedSigners, Signer};

/// Where `allowed_signers` is read from inside a repository.
pub const ALLOWED_SIGNERS_PATH: &str = ".proof/allowed_signers";

/// Why the trusted signers could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "no allowed signers: pass --allowed-signers FILE, set `git config proof.allowedSignersFile FILE`, or commit {ALLOWED_SIGNERS_PATH}"
    )]
    NoTrustSource,
    #[error("{ALLOWED_SIGNERS_PATH} is not in the tree of '{0}'")]
    NotInTrustRef(String),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Signing(#[from] signing::Error),
    #[error(transparent)]
    Policy(#[from] crate::policy::Error),
}

/// Where trust comes from, in SPEC section 6 order.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// `--allowed-signers FILE`.
    pub allowed_signers: Option<PathBuf>,
    /// `--trust-ref REF`: read `.proof/allowed_signers` from that ref's tree only.
    pub trust_ref: Option<String>,
}

/// Loads the allowed signers: `--trust-ref`, else `--allowed-signers`, git config
/// `proof.allowedSignersFile`, `gpg.ssh.allowedSignersFile`, then `.proof/allowed_signers` in
/// the worktree (or in HEAD's tree for a bare repository).
pub fn load_trust(repo: &gix::Repository, opts: &TrustOptions) -> Result<AllowedSigners, TrustError> {
    if let Some(reference) = &opts.trust_ref {
        let commit = git::resolve_commit(repo, reference)?;
        let text = file_at_commit(repo, commit, ALLOWED_SIGNERS_PATH)?
            .ok_or_else(|| TrustError::NotInTrustRef(reference.clone()))?;
        return Ok(AllowedSigners::parse(
            &format!("{reference}:{ALLOWED_SIGNERS_PATH}"),
            &text,
        )?);
    }
    if let Some(path) = &opts.allowed_signers {
        return Ok(AllowedSigners::read(path)?);
    }
    let config = repo.config_snapshot();
    for key in ["proof.allowedSignersFile", "gpg.ssh.allowedSignersFile"] {
        if let Ok(Some(path)) = config.trusted_path(key) {
            let path = relative_to(repo, &path);
            return Ok(AllowedSigners::read(&path)?);
        }
    }
    if let Some(workdir) = repo.workdir() {
        let path = workdir.join(ALLOWED_SIGNERS_PATH);
        if path.is_file() {
            return Ok(AllowedSigners::read(&path)?);
        }
    } else if let Ok(head) = git::head_commit(repo)
        && let Some(text) = file_at_commit(repo, head, ALLOWED_SIGNERS_PATH)?
    {
        return Ok(AllowedSigners::parse(&format!("HEAD:{ALLOWED_SIGNERS_PATH}"), &text)?);
    }
    Err(TrustError::NoTrustSource)
}

/// The team's `[verify]` policy: from `trust_ref`'s tree when given (a change cannot relax the
/// policy it is judged by), else from the worktree.
pub fn load_verify_policy(
    repo: &gix::Repository,
    trust_ref: Option<&str>,
) -> Result<crate::policy::VerifyPolicy, TrustError> {
    let path = Path::new(crate::policy::POLICY_PATH);
    match (trust_ref, repo.workdir()) {
        (Some(reference), _) => {
            let commit = git::resolve_commit(repo, reference)?;
            match file_at_commit(repo, commit, crate::policy::POLICY_PATH)? {
                Some(text) => Ok(crate::policy::verify_policy(path, &text)?),
                None => Ok(Default::default()),
            }
        }
        (None, Some(workdir)) => Ok(crate::policy::worktree_verify_policy(workdir)?),
        (None, None) => Ok(Default::default()),
    }
}

/// A relative path in git config is relative to the worktree (as git resolves it for hooks).
fn relative_to(repo: &gix::Repository, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    repo.workdir().unwrap_or_else(|| repo.git_dir()).join(path)
}

fn file_at_commit(repo: &gix::Repository, commit: ObjectId, path: &str) -> Result<Option<String>, git::Error> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .doing(|| format!("read the tree of {commit}"))?;
    let Some(entry) = tree
        .lookup_entry_by_path(path)
        .doing(|| format!("look up {path} in {commit}"))?
    else {
        return Ok(None);
    };
    let blob = entry.object().doing(|| format!("read {path} in {commit}"))?;
    Ok(Some(blob.data.to_str_lossy().into_owned()))
}

/// The bundle of a record, if its payload is a bundle statement.
pub fn bundle_of(record: &Record) -> Option<Bundle> {
    statement_of(record).map(|s| s.predicate)
}

/// The bundle statement of a record, if its payload is one (of the statement type).
fn statement_of(record: &Record) -> Option<Statement<Bundle>> {
    typed_statement(record, BUNDLE_PREDICATE_TYPE)
}

/// The record's statement, if its payload is an in-toto statement of `predicate_type` with a
/// predicate of that shape.
pub fn typed_statement<P: serde::de::DeserializeOwned>(record: &Record, predicate_type: &str) -> Option<Statement<P>> {
    let statement: Statement<P> = serde_json::from_str(&record.payload).ok()?;
    (statement.statement_type == STATEMENT_TYPE && statement.predicate_type == predicate_type).then_some(statement)
}

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Bundle,
    Approval,
    Rewrite,
    Unknown,
}

/// Team judgements `verify` applies on top of validity (the bundle itself never judges).
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Fail unless every scope violation is approved.
    pub deny_pending: bool,
    /// Fail unless every DoD check passed.
    pub require_dod: bool,
}

/// The outcome of one record.
#[derive(Debug, Clone)]
pub struct RecordReport {
    pub kind: RecordKind,
    /// The run the record is about.
    pub run_id: Option<String>,
    /// Who signed it, when the signature checked out.
    pub signer: Option<Signer>,
    /// What is wrong with it; empty means valid.
    pub problems: Vec<String>,
    /// What could not be checked here (a shallow clone without the base commit).
    pub unchecked: Vec<String>,
    /// For a bundle made on another commit and carried here by rewrites: how.
    pub carried: Option<String>,
}

/// The outcome for one commit.
#[derive(Debug, Clone)]
pub struct CommitReport {
    pub commit: ObjectId,
    /// `None`: the commit has no note.
    pub records: Option<Vec<RecordReport>>,
    /// A note that is not a sequence of records.
    pub note_problem: Option<String>,
    /// What the policy flags found, on bundles folded with their trusted approvals.
    pub policy_problems: Vec<String>,
}

/// Valid, invalid or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    Missing,
}

impl CommitReport {
    /// The commit's verdict: every record valid and at least one bundle.
    pub fn verdict(&self) -> Verdict {
        match &self.records {
            None => Verdict::Missing,
            Some(_) if self.note_problem.is_some() || !self.policy_problems.is_empty() => Verdict::Invalid,
            Some(records) if records.iter().any(|r| !r.problems.is_empty()) => Verdict::Invalid,
            Some(records) if !records.iter().any(|r| r.kind == RecordKind::Bundle) => Verdict::Invalid,
            Some(_) => Verdict::Valid,
        }
    }

    /// Every problem, each prefixed with the run it is about.
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = self.note_problem.iter().cloned().collect();
        for r in self.records.iter().flatten() {
            for p in &r.problems {
                out.push(match &r.run_id {
                    Some(run) => format!("run {run}: {p}"),
                    None => p.clone(),
                });
            }
        }
        out.extend(self.policy_problems.iter().cloned());
        if out.is_empty() && self.verdict() == Verdict::Invalid {
            out.push("the note holds no proof bundle".into());
        }
        out
    }
}

/// Counts for a progress display: commits found by the walk, and checked so far.
#[derive(Debug, Default)]
pub struct Progress {
    pub found: AtomicUsize,
    pub checked: AtomicUsize,
}

/// Checks many commits, on every core, while `commits` is still being walked: the calling
/// thread walks and hands out batches, each worker reads notes through its own handles.
/// Reports come back in the order of `commits`. `notes_commit` reads the proofs from that
/// notes commit instead of `refs/notes/proof`.
pub fn verify_commits(
    repo: &gix::Repository,
    commits: impl Iterator<Item = Result<ObjectId, git::Error>>,
    notes_commit: Option<ObjectId>,
    signers: &AllowedSigners,
    now: i64,
    policy: Policy,
    progress: Option<&Progress>,
) -> Result<Vec<CommitReport>, git::Error> {
    /// Commits per hand-out: large enough that the queue is no cost, small enough that both
    /// workers start while the walk has found little.
    const BATCH: usize = 64;
    type Checked = Result<Vec<(usize, Vec<CommitReport>)>, git::Error>;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shared = repo.clone().into_sync();
    let (hand_out, batches) = std::sync::mpsc::sync_channel::<(usize, Vec<ObjectId>)>(threads * 2);
    let batches = Mutex::new(Some(batches));
    let worker = || -> Checked {
        // A worker that panics (a bug, never input) closes the queue on its way out, so the
        // walk stops handing out work and the panic reaches the caller instead of a hang.
        struct CloseOnPanic<'a, T>(&'a Mutex<Option<T>>);
        impl<T> Drop for CloseOnPanic<'_, T> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                }
            }
        }
        let _close = CloseOnPanic(&batches);
        let next = || {
            let receiver = batches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            receiver.as_ref()?.recv().ok()
        };
        let mut repo = shared.to_thread_local();
        // A commit's tree is read again as the parent tree of the next commit checked: a small
        // cache keeps it. A large one costs more in copying every note blob into it than it
        // saves (32 MiB measured 10% slower than 4 MiB on the 10,000-commit benchmark).
        repo.object_cache_size_if_unset(4 * 1024 * 1024);
        let reader = match notes_commit {
            Some(commit) => NotesReader::at(&repo, commit),
            None => NotesReader::new(&repo),
        };
        let mut failure = None;
        let mut checked = Vec::new();
        let mut reader = reader.map_err(|e| failure = Some(e)).ok();
        // After a failure, batches are still taken (and dropped) so the walk never waits on a
        // full queue.
        while let Some((first, part)) = next() {
            let Some(reader) = reader.as_mut().filter(|_| failure.is_none()) else {
                continue;
            };
            let mut reports = Vec::with_capacity(part.len());
            for commit in part {
                match verify_commit(&repo, reader, commit, signers, now, policy) {
                    Ok(report) => reports.push(report),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
                if let Some(progress) = progress {
                    progress.checked.fetch_add(1, Ordering::Relaxed);
                }
            }
            checked.push((first, reports));
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(checked),
        }
    };
    let (walked, checked): (Result<(), git::Error>, Vec<Checked>) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        let mut walked = Ok(());
        let mut batch = Vec::with_capacity(BATCH);
        let mut first = 0;
        for (index, commit) in commits.enumerate() {
            match commit {
                Ok(commit) => batch.push(commit),
                Err(e) => {
                    walked = Err(e);
                    break;
                }
            }
            if let Some(progress) = progress {
                progress.found.fetch_add(1, Ordering::Relaxed);
            }
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if hand_out.send((first, full)).is_err() {
                    break; // A worker panicked; joining it below passes the panic on.
                }
                first = index + 1;
            }
        }
        if walked.is_ok() && !batch.is_empty() {
            let _ = hand_out.send((first, batch));
        }
        drop(hand_out);
        let checked = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect();
        (walked, checked)
    });
    walked?;
    let mut parts = Vec::new();
    for part in checked {
        parts.extend(part?);
    }
    parts.sort_unstable_by_key(|(first, _)| *first);
    Ok(parts.into_iter().flat_map(|(_, reports)| reports).collect())
}

/// Checks the note of `commit`.
pub fn verify_commit(
    repo: &gix::Repository,
    reader: &mut NotesReader<'_>,
    commit: ObjectId,
    signers: &AllowedSigners,
    now: i64,
    policy: Policy,
) -> Result<CommitReport, git::Error> {
    let Some(note) = reader.note(commit)? else {
        return Ok(CommitReport {
            commit,
            records: None,
            note_problem: None,
            policy_problems: Vec::new(),
        });
    };
    check_note(repo, commit, &note, signers, now, policy)
}

/// Checks the bytes of a note as if attached to `commit` (the part of [`verify_commit`] that
/// never touches the notes ref; the fuzz tests drive it directly).
pub fn check_note(
    repo: &gix::Repository,
    commit: ObjectId,
    note: &[u8],
    signers: &AllowedSigners,
    now: i64,
    policy: Policy,
) -> Result<CommitReport, git::Error> {
    let report = |records, note_problem| CommitReport {
        commit,
        records,
        note_problem,
        policy_problems: Vec::new(),
    };
    let records = match notes::parse_records(note) {
        Ok(records) => records,
        Err(e) => return Ok(report(Some(Vec::new()), Some(format!("the note cannot be read: {e}")))),
    };
    let head_tree = git::tree_of(repo, commit)?.to_string();
    // Each payload is parsed once; bundle statements are kept for the approvals that name them.
    let statements: Vec<Option<Statement<Bundle>>> = records.iter().map(statement_of).collect();
    // Only rewrites signed by a trusted key may carry a bundle to another commit.
    let rewrite_records: Vec<RewriteRecord> = records
        .iter()
        .zip(&statements)
        .filter(|(_, bundle)| bundle.is_none())
        .filter_map(|(r, _)| {
            let rewrite = crate::rewrite::rewrite_of(r)?;
            signing::verify(r.payload.as_bytes(), &r.signature, signers, now).ok()?;
            Some(rewrite)
        })
        .collect();
    let rewrites: Vec<&RewriteRecord> = rewrite_records.iter().collect();
    let bundles: Vec<(&Record, &Bundle)> = records
        .iter()
        .zip(&statements)
        .filter_map(|(r, s)| Some((r, &s.as_ref()?.predicate)))
        .collect();
    let reports: Vec<RecordReport> = records
        .iter()
        .zip(&statements)
        .map(|(record, statement)| {
            verify_record(
                repo,
                record,
                statement.as_ref(),
                Target {
                    commit,
                    head_tree: &head_tree,
                    bundles: &bundles,
                    rewrites: &rewrites,
                },
                signers,
                now,
            )
        })
        .collect();
    let mut policy_problems = Vec::new();
    if policy.deny_pending || policy.require_dod {
        let trusted: Vec<Record> = records
            .iter()
            .zip(&reports)
            .filter(|(_, r)| r.kind == RecordKind::Approval && r.problems.is_empty())
            .map(|(record, _)| record.clone())
            .collect();
        for (record, bundle) in &bundles {
            let mut bundle = (*bundle).clone();
            crate::approval::fold(&mut bundle, record, &trusted);
            policy_problems.extend(policy_findings(&bundle, policy));
        }
    }
    Ok(CommitReport {
        commit,
        records: Some(reports),
        note_problem: None,
        policy_problems,
    })
}

/// What `policy` finds in a (folded) bundle.
pub fn policy_findings(bundle: &Bundle, policy: Policy) -> Vec<String> {
    let mut found = Vec::new();
    if policy.deny_pending {
        for v in bundle
            .scope_violations
            .iter()
            .filter(|v| v.approval.state != "approved")
        {
            found.push(format!(
                "run {}: scope violation {} ({}) is {} (--deny-pending)",
                bundle.run_id, v.path, v.rule, v.approval.state
            ));
        }
    }
    if policy.require_dod {
        for r in bundle
            .dod_results
            .iter()
            .filter(|r| r.status != crate::model::DodStatus::Passed)
        {
            found.push(format!(
                "run {}: DoD check {} {} (--require-dod)",
                bundle.run_id,
                r.name,
                r.status.as_str()
            ));
        }
    }
    found
}

/// The commit a note is checked against, and what its other records say.
#[derive(Clone, Copy)]
struct Target<'a> {
    commit: ObjectId,
    head_tree: &'a str,
    bundles: &'a [(&'a Record, &'a Bundle)],
    rewrites: &'a [&'a RewriteRecord],
}

fn verify_record(
    repo: &gix::Repository,
    record: &Record,
    parsed: Option<&Statement<Bundle>>,
    target: Target<'_>,
    signers: &AllowedSigners,
    now: i64,
) -> RecordReport {
    let Target { commit, bundles, .. } = target;
    let mut report = RecordReport {
        kind: RecordKind::Unknown,
        run_id: None,
        signer: None,
        problems: Vec::new(),
        unchecked: Vec::new(),
        carried: None,
    };
    match signing::verify(record.payload.as_bytes(), &record.signature, signers, now) {
        Ok(signer) => report.signer = Some(signer),
        Err(rejection) => report.problems.push(rejection.to_string()),
    }
    if let Some(statement) = parsed {
        check_bundle(repo, record, statement, target, &mut report);
        return report;
    }
    let value: Value = match serde_json::from_str(&record.payload) {
        Ok(v) => v,
        Err(e) => {
            report.problems.push(format!("the payload is not JSON ({e})"));
            return report;
        }
    };
    if value.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        report
            .problems
            .push(format!("the payload is not an in-toto statement ({STATEMENT_TYPE})"));
        return report;
    }
    let predicate_type = value.get("predicateType").and_then(Value::as_str).unwrap_or_default();
    if predicate_type == APPROVAL_PREDICATE_TYPE {
        report.kind = RecordKind::Approval;
        check_approval(value, commit, bundles, &mut report);
        return report;
    }
    if predicate_type == REWRITE_PREDICATE_TYPE {
        report.kind = RecordKind::Rewrite;
        check_rewrite(value, bundles, &mut report);
        return report;
    }
    if predicate_type != BUNDLE_PREDICATE_TYPE {
        report.problems.push(format!("unknown record kind '{predicate_type}'"));
        return report;
    }
    match serde_json::from_value::<Statement<Bundle>>(value) {
        Ok(statement) => check_bundle(repo, record, &statement, target, &mut report),
        Err(e) => report
            .problems
            .push(format!("the bundle does not have the bundle's shape ({e})")),
    }
    report
}

fn check_bundle(
    repo: &gix::Repository,
    record: &Record,
    statement: &Statement<Bundle>,
    target: Target<'_>,
    report: &mut RecordReport,
) {
    let Target { commit, head_tree, .. } = target;
    let bundle = &statement.predicate;
    report.kind = RecordKind::Bundle;
    report.run_id = Some(bundle.run_id.clone());
    let commit_hex = commit.to_string();
    report.problems.extend(manifest_problems(bundle));
    let subjects: Vec<&str> = statement.subject.iter().map(|s| s.digest.git_commit.as_str()).collect();
    if subjects != [bundle.head_sha.as_str()] {
        report.problems.push(format!(
            "the statement's subject is {subjects:?}, not its head_sha {}",
            bundle.head_sha
        ));
    }
    if bundle.head_sha != commit_hex {
        let digest = crate::run::record_digest(record);
        match crate::rewrite::chain_to(bundle, &digest, target.rewrites, &commit_hex) {
            Some(links) => check_carried(repo, bundle, &links, commit, report),
            None => report.problems.push(format!(
                "head_sha {} is not this commit {commit_hex}, and no trusted rewrite record carries it here",
                bundle.head_sha
            )),
        }
        return;
    }
    if bundle.head_tree != head_tree {
        report.problems.push(format!(
            "head_tree {} is not this commit's tree {head_tree}",
            bundle.head_tree
        ));
    }
    recompute_facts(repo, bundle, &bundle.base_sha, commit, report);
}

/// A bundle carried to `commit` by rewrites: every rewrite kept the change (equal patch-ids),
/// and the last one's patch-id and the bundle's numbers recompute on this commit.
fn check_carried(
    repo: &gix::Repository,
    bundle: &Bundle,
    links: &[&RewriteRecord],
    commit: ObjectId,
    report: &mut RecordReport,
) {
    let operations: Vec<&str> = links.iter().map(|l| l.operation.as_str()).collect();
    report.carried = Some(format!(
        "carried from {} by {}",
        &bundle.head_sha[..bundle.head_sha.len().min(10)],
        operations.join(", ")
    ));
    for link in links {
        if link.old_patch_id != link.new_patch_id {
            report.problems.push(format!(
                "{} {}..{} changed the run's patch (patch-id {} became {}): the proof does not cover this commit",
                link.operation,
                &link.old_sha[..link.old_sha.len().min(10)],
                &link.new_sha[..link.new_sha.len().min(10)],
                link.old_patch_id.as_deref().unwrap_or("none"),
                link.new_patch_id.as_deref().unwrap_or("none"),
            ));
        }
    }
    let Some(last) = links.last() else { return };
    let Ok(base) = ObjectId::from_hex(last.new_base_sha.as_bytes()) else {
        report
            .problems
            .push(format!("rewrite base '{}' is not a commit id", last.new_base_sha));
        return;
    };
    if !git::is_commit(repo, base) {
        report.unchecked.push(format!(
            "rewrite base {} is not in this clone: the patch-id was not recomputed",
            &last.new_base_sha[..last.new_base_sha.len().min(10)]
        ));
        return;
    }
    match crate::patch_id::patch_id(repo, base, commit) {
        Ok(id) if id == last.new_patch_id => {}
        Ok(id) => report.problems.push(format!(
            "this commit's patch-id is {}, not {} as its rewrite record says",
            id.as_deref().unwrap_or("none"),
            last.new_patch_id.as_deref().unwrap_or("none")
        )),
        Err(_) => report.unchecked.push("the patch-id could not be recomputed".into()),
    }
    recompute_facts(repo, bundle, &last.new_base_sha, commit, report);
}

/// A rewrite record must name a bundle of this note.
fn check_rewrite(value: Value, bundles: &[(&Record, &Bundle)], report: &mut RecordReport) {
    let rewrite: RewriteRecord = match serde_json::from_value::<Statement<RewriteRecord>>(value) {
        Ok(s) => s.predicate,
        Err(e) => {
            report
                .problems
                .push(format!("the rewrite record does not have its shape ({e})"));
            return;
        }
    };
    report.run_id = Some(rewrite.run_id.clone());
    if !bundles
        .iter()
        .any(|(record, b)| b.run_id == rewrite.run_id && crate::run::record_digest(record) == rewrite.bundle_digest)
    {
        report.problems.push(format!(
            "the rewrite record names bundle {}, which is not in this note",
            rewrite.bundle_digest
        ));
    }
}

/// An approval must be about this commit and name a bundle of this note with that violation.
fn check_approval(value: Value, commit: ObjectId, bundles: &[(&Record, &Bundle)], report: &mut RecordReport) {
    let statement: Statement<ApprovalRecord> = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => {
            report
                .problems
                .push(format!("the approval does not have the approval's shape ({e})"));
            return;
        }
    };
    let approval = &statement.predicate;
    report.run_id = Some(approval.run_id.clone());
    let commit_hex = commit.to_string();
    if statement.subject.len() != 1 || statement.subject[0].digest.git_commit != commit_hex {
        report
            .problems
            .push(format!("the approval is not about this commit {commit_hex}"));
    }
    if !matches!(approval.decision.as_str(), "approved" | "rejected") {
        report
            .problems
            .push(format!("unknown decision '{}'", approval.decision));
    }
    match bundles
        .iter()
        .find(|(record, _)| crate::run::record_digest(record) == approval.bundle_digest)
    {
        None => report.problems.push(format!(
            "the approval of {} names bundle {}, which is not in this note",
            approval.path, approval.bundle_digest
        )),
        Some((_, bundle)) => {
            if bundle.run_id != approval.run_id {
                report.problems.push(format!(
                    "the approval names run '{}', its bundle is run '{}'",
                    approval.run_id, bundle.run_id
                ));
            }
            if !bundle.scope_violations.iter().any(|v| v.path == approval.path) {
                report.problems.push(format!(
                    "the approval is for {}, which is not a scope violation of its bundle",
                    approval.path
                ));
            }
        }
    }
}

/// The facts git can recompute: `base_sha` is an ancestor of the commit, and `changed_files`
/// and `diff_stat` are what `git diff --numstat -M base head` says.
fn recompute_facts(
    repo: &gix::Repository,
    bundle: &Bundle,
    base_sha: &str,
    commit: ObjectId,
    report: &mut RecordReport,
) {
    let Ok(base) = ObjectId::from_hex(base_sha.as_bytes()) else {
        report
            .problems
            .push(format!("base_sha '{base_sha}' is not a commit id"));
        return;
    };
    if !git::is_commit(repo, base) {
        report.unchecked.push(format!(
            "base {} is not in this clone (shallow?): changed_files and diff_stat not recomputed",
            &base_sha[..base_sha.len().min(10)]
        ));
        return;
    }
    // A run of one commit has the commit's parent as its base: no graph walk needed for that.
    let is_parent = repo
        .find_commit(commit)
        .is_ok_and(|c| c.parent_ids().any(|p| p.detach() == base));
    if base != commit && !is_parent {
        match repo.merge_base(base, commit) {
            Ok(Some(merge_base)) if merge_base.detach() == base => {}
            Ok(_) => report
                .problems
                .push(format!("base_sha {base_sha} is not an ancestor of this commit")),
            Err(_) => report
                .unchecked
                .push("the ancestry of base_sha could not be read".into()),
        }
    }
    match crate::diffstat::diff_stat(repo, base, commit) {
        Ok(stat) => {
            let files: Vec<&str> = stat.entries.iter().map(|e| e.path.as_str()).collect();
            if files != bundle.changed_files.iter().map(String::as_str).collect::<Vec<_>>() {
                report
                    .problems
                    .push("changed_files is not what git diff says for base_sha..head_sha".into());
            } else if stat != bundle.diff_stat {
                report
                    .problems
                    .push("diff_stat is not what git diff --numstat -M says for base_sha..head_sha".into());
            }
        }
        Err(_) => report
            .unchecked
            .push("the diff base_sha..head_sha could not be read".into()),
    }
}

/// What does not recompute in a bundle's evidence manifest.
pub fn manifest_problems(bundle: &Bundle) -> Vec<String> {
    let m = &bundle.evidence;
    let mut problems = Vec::new();
    if m.run_id != bundle.run_id || m.stream_id != bundle.run_id {
        problems.push(format!(
            "the manifest is for run '{}', not '{}'",
            m.run_id, bundle.run_id
        ));
    }
    if m.event_count != m.events.len() as u64 {
        problems.push(format!(
            "event_count {} does not match the {} listed events",
            m.event_count,
            m.events.len()
        ));
    }
    match evidence::event_hash_root(&m.events) {
        Some(root) if root == m.event_hash_root => {}
        _ => problems.push("event_hash_root does not recompute from the listed event hashes".into()),
    }
    match evidence::manifest_hash(m) {
        Ok(hash) if hash == m.manifest_hash => {}
        _ => problems.push("manifest_hash does not recompute from the manifest".into()),
    }
    problems
}

/// Why a commit looks agent-made, if it does: a `Co-authored-by` trailer naming a coding agent,
/// aider's "(aider)" name suffix, or an author/committer matching one of `patterns` (from
/// `[verify] agents` in the policy file). Human commits in the same range need no proof.
pub fn agent_signal(repo: &gix::Repository, commit: ObjectId, patterns: &[String]) -> Option<String> {
    const AGENT_TRAILERS: [&str; 9] = [
        "noreply@anthropic.com",
        "claude",
        "aider",
        "cursoragent@cursor.com",
        "cursor agent",
        "copilot",
        "codex",
        "openai",
        "gemini",
    ];
    let object = repo.find_commit(commit).ok()?;
    let decoded = object.decode().ok()?;
    let author = format!("{} <{}>", decoded.author().ok()?.name, decoded.author().ok()?.email);
    let committer = format!(
        "{} <{}>",
        decoded.committer().ok()?.name,
        decoded.committer().ok()?.email
    );
    for who in [&author, &committer] {
        if who
            .split(" <")
            .next()
            .is_some_and(|name| name.trim_end().ends_with("(aider)"))
        {
            return Some(format!("{who} is aider's"));
        }
        if let Some(p) = patterns
            .iter()
            .find(|p| !p.is_empty() && who.to_lowercase().contains(&p.to_lowercase()))
        {
            return Some(format!("{who} matches the policy's agent pattern '{p}'"));
        }
    }
    let message = decoded.message.to_str_lossy();
    for line in message.lines() {
        let lower = line.trim().to_lowercase();
        if let Some(value) = lower.strip_prefix("co-authored-by:")
            && AGENT_TRAILERS.iter().any(|agent| value.contains(agent))
        {
            return Some(format!("trailer '{}'", line.trim()));
        }
    }
    None
}
