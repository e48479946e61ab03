//! The run lifecycle: start, events, finish. Finish is the heart of git-proof: it ends the run,
//! runs the DoD checks, reads the diff, builds the bundle and manifest, signs, writes the note
//! and records the reference, in an order that makes every step safe to repeat.

use std::fs::File;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use serde_json::Value;

use crate::canon;
use crate::evidence::{self, EventType, ManifestIdentity};
use crate::git;
use crate::model::{BUNDLE_VERSION, Bundle, Generator, Manifest, RunStatus, Statement};
use crate::notes::{self, Appended, Record};
use crate::policy::{self, ScopeMatcher};
use crate::signing::{self, SigningKey};
use crate::store::{self, BundleRef, Index, NewEvent, RunRecord};
use crate::{diffstat, dod, verify};

/// Why a lifecycle step failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Signing(#[from] signing::Error),
    #[error(transparent)]
    Policy(#[from] policy::Error),
    #[error(transparent)]
    Canon(#[from] canon::Error),
    /// No run was named and none is active here.
    #[error("no active run in this worktree; pass --run ID or set GIT_PROOF_RUN (see `git proof log`)")]
    NoActiveRun,
    /// A run id we would not be able to use as a file name or ref component.
    #[error("'{0}' is not a valid run id (1-128 of A-Z a-z 0-9 . _ -, not starting with '.' or '-')")]
    BadRunId(String),
    /// A run that has no proof yet.
    #[error("run '{0}' has no proof yet (finish it with `git proof finish --run {0}`)")]
    NoProof(String),
    /// The proof the index points at is not in the notes.
    #[error(
        "the index says run '{run_id}' is proven on {commit}, but that note holds no bundle for it (run `git proof finish --run {run_id}` to rewrite it)"
    )]
    ProofMissing { run_id: String, commit: String },
    /// Locking the run for finish failed.
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A run finished from another worktree than its own.
    #[error("run '{run_id}' belongs to the worktree {worktree}; finish it there (git -C {worktree} proof finish)")]
    OtherWorktree { run_id: String, worktree: String },
    /// The worktree scan died (a bug, reported rather than hidden).
    #[error("the worktree status scan failed unexpectedly")]
    StatusThread,
    /// The worktree's active-run marker could not be written or removed.
    #[error("cannot update the active-run marker: {0}")]
    Marker(std::io::Error),
    /// An event that does not belong in a stream.
    #[error("{0}")]
    BadEvent(String),
    /// Evidence asked for of a run that has not ended.
    #[error("run '{0}' is still active; its evidence is finalized when it ends (`git proof finish --run {0}`)")]
    RunActive(String),
}

/// The worktree a command runs in.
pub struct Workspace {
    pub repo: gix::Repository,
    pub workdir: PathBuf,
    pub common_dir: PathBuf,
}

impl Workspace {
    /// Discovers the repository at or above `dir`; it must have a worktree.
    pub fn discover(dir: &Path) -> Result<Self, Error> {
        let repo = git::discover(dir)?;
        let workdir = git::workdir(&repo)?;
        let common_dir = std::fs::canonicalize(repo.common_dir()).unwrap_or_else(|_| repo.common_dir().to_owned());
        Ok(Self {
            repo,
            workdir,
            common_dir,
        })
    }

    /// Opens this repository's index.
    pub fn open_index(&self) -> Result<Index, Error> {
        Ok(Index::open(&self.common_dir)?)
    }

    /// The key runs of this worktree are filed under in the index.
    pub fn worktree_key(&self) -> String {
        self.workdir.display().to_string()
    }
}

/// A run id: `[A-Za-z0-9._-]{1,128}`, not starting with `.` or `-`.
pub fn check_run_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with(['.', '-'])
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadRunId(id.to_owned()))
    }
}

/// A new ULID: unique and sortable by start time.
pub fn new_run_id(now: jiff::Timestamp) -> String {
    use ssh_key::rand_core::RngCore;
    let mut random = [0u8; 16];
    ssh_key::rand_core::OsRng.fill_bytes(&mut random);
    let ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
    ulid::Ulid::from_parts(ms, u128::from_le_bytes(random)).to_string()
}

/// RFC 3339 UTC with second precision, as every time in a bundle.
pub fn format_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What `start` needs to know.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub run_id: Option<String>,
    pub prompt: Option<Vec<u8>>,
    pub rules: policy::CliRules,
    pub correlation_id: Option<String>,
    pub thread_id: Option<String>,
}

/// Starts a run in the workspace's worktree: snapshots scope and DoD, records `base_sha` and
/// the prompt digest, and appends `run.started`.
pub fn start(ws: &Workspace, index: &mut Index, opts: StartOptions, now: jiff::Timestamp) -> Result<RunRecord, Error> {
    let base = git::head_commit(&ws.repo)?;
    let run_id = match opts.run_id {
        Some(id) => {
            check_run_id(&id)?;
            id
        }
        None => new_run_id(now),
    };
    let (scope, dod) = policy::effective(&ws.workdir, &opts.rules)?;
    let prompt_hash = opts.prompt.as_deref().map(canon::prefixed_sha256);
    let started_at = format_time(now);
    let run = RunRecord {
        run_id: run_id.clone(),
        worktree: ws.worktree_key(),
        active: true,
        started_at: started_at.clone(),
        ended_at: None,
        base_sha: base.to_string(),
        head_sha: None,
        exit_code: None,
        prompt_hash: prompt_hash.clone(),
        scope,
        dod,
        correlation_id: opts.correlation_id,
        thread_id: opts.thread_id,
    };
    let mut data = serde_json::json!({ "base_sha": run.base_sha, "prompt_hash": prompt_hash });
    if let Some(size) = opts.prompt.as_ref().map(Vec::len) {
        data["prompt_size"] = size.into();
    }
    // Before the run exists, so that a commit made the moment after never misses it.
    crate::hooks::mark_active(ws.repo.git_dir(), &run_id).map_err(Error::Marker)?;
    index.start_run(
        &run,
        NewEvent {
            event_type: EventType::RunStarted,
            event_id: None,
            occurred_at: started_at,
            data,
            idempotency_key: Some(format!("run.started:{run_id}")),
        },
    )?;
    Ok(run)
}

/// The run a command is about: the one named, else `GIT_PROOF_RUN` (passed in as `env_run`),
/// else the worktree's active run.
pub fn resolve_run(ws: &Workspace, index: &Index, named: Option<&str>, env_run: Option<&str>) -> Result<String, Error> {
    if let Some(id) = named.or(env_run).filter(|s| !s.is_empty()) {
        check_run_id(id)?;
        index.run(id)?;
        return Ok(id.to_owned());
    }
    index.active_run(&ws.worktree_key())?.ok_or(Error::NoActiveRun)
}

/// Appends one event given by a user or an agent.
pub fn append_event(
    index: &mut Index,
    run_id: &str,
    event_type: &str,
    event_id: Option<String>,
    data: Value,
    now: jiff::Timestamp,
) -> Result<evidence::Event, Error> {
    let kind = EventType::parse(event_type).ok_or_else(|| {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        Error::BadEvent(format!(
            "unknown event type '{event_type}' (one of: {})",
            known.join(", ")
        ))
    })?;
    if kind == EventType::RunStarted || kind.is_terminal() || kind == EventType::EvidenceManifestCreated {
        return Err(Error::BadEvent(format!(
            "'{event_type}' is recorded by git proof itself (start/finish), not by `event`"
        )));
    }
    if !data.is_object() && !data.is_null() {
        return Err(Error::BadEvent("--data must be a JSON object".into()));
    }
    if !data.is_null() {
        evidence::check_pointers(&data).map_err(Error::BadEvent)?;
    }
    if let Some(id) = &event_id {
        check_run_id(id).map_err(|_| Error::BadEvent(format!("'{id}' is not a valid event id")))?;
    }
    let data = if data.is_null() {
        Value::Object(Default::default())
    } else {
        data
    };
    Ok(index.append_event(
        run_id,
        NewEvent {
            event_type: kind,
            event_id,
            occurred_at: format_time(now),
            data,
            idempotency_key: None,
        },
    )?)
}

/// Records that the run's worktree made `commit` (the post-commit hook), once per commit.
pub fn record_commit(
    index: &mut Index,
    run_id: &str,
    commit: ObjectId,
    now: jiff::Timestamp,
) -> Result<evidence::Event, Error> {
    let commit = commit.to_string();
    Ok(index.append_event(
        run_id,
        NewEvent {
            event_type: EventType::CommitRecorded,
            event_id: None,
            occurred_at: format_time(now),
            data: serde_json::json!({ "commit": commit }),
            idempotency_key: Some(store::commit_recorded_key(run_id, &commit)),
        },
    )?)
}

/// What `finish` needs.
pub struct FinishOptions<'k> {
    /// The process exit code; `None` means 0 (the run ended normally).
    pub exit_code: Option<i32>,
    /// `false` records every check as `pending` instead of running it.
    pub run_dod: bool,
    pub key: &'k SigningKey,
}

/// The proof of a finished run.
#[derive(Debug, Clone)]
pub struct Proof {
    pub bundle: Bundle,
    pub commit: String,
    pub bundle_digest: String,
    /// `false` when the proof already existed and nothing was written.
    pub created: bool,
    /// Whether this call built the evidence manifest (an earlier, interrupted finish may have).
    pub manifest_created: bool,
}

/// Ends the run and writes its proof; on a run that already has one, returns it unchanged.
///
/// Every step stores its result before the next starts (terminal event, check results,
/// manifest, note, index reference), and each looks for a stored result first, so a finish
/// interrupted anywhere is completed by the next one. A lock file per run serializes
/// concurrent finishes of the same run; the loser finds the winner's proof.
pub fn finish(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    opts: FinishOptions<'_>,
    now: jiff::Timestamp,
) -> Result<Proof, Error> {
    check_run_id(run_id)?;
    let mut trace = StepTrace::from_env();
    let _lock = lock_run(&ws.common_dir, run_id)?;
    if let Some(proof) = recorded_proof(ws, index, run_id, now)? {
        return Ok(proof);
    }
    // The worktree as the agent left it, before DoD checks add build output to it.
    let dirty = git::dirty_files_in_background(&ws.repo);
    let run = index.run(run_id)?;
    if run.active && run.worktree != ws.worktree_key() {
        // Its HEAD, diff and uncommitted changes are that worktree's, not this one's.
        return Err(Error::OtherWorktree {
            run_id: run_id.to_owned(),
            worktree: run.worktree,
        });
    }
    let now_text = format_time(now);
    let run = if run.active {
        let head = git::head_commit(&ws.repo)?;
        let base = parse_id(&run.base_sha)?;
        let commits: Vec<String> = git::commits_between(&ws.repo, base, head)?
            .iter()
            .map(ToString::to_string)
            .collect();
        index.end_run(
            run_id,
            &head.to_string(),
            opts.exit_code.unwrap_or(0),
            &commits,
            &now_text,
        )?
    } else {
        run
    };
    if run.worktree == ws.worktree_key() {
        crate::hooks::clear_active(ws.repo.git_dir()).map_err(Error::Marker)?;
    }
    let head = parse_id(run.head_sha.as_deref().unwrap_or(&run.base_sha))?;
    let base = parse_id(&run.base_sha)?;
    let exit_code = run.exit_code.unwrap_or(0);

    trace.step("end the run");
    let dod_results = match index.checks(run_id)? {
        Some(stored) => stored,
        None if run.dod.is_empty() => Vec::new(),
        None => {
            let results = if opts.run_dod {
                dod::run_checks(&run.dod, &ws.workdir, &dod::logs_dir(&ws.common_dir))
            } else {
                dod::pending(&run.dod)
            };
            index.save_checks(run_id, &results)?
        }
    };

    trace.step("DoD checks");
    let diff_stat = diffstat::diff_stat(&ws.repo, base, head)?;
    trace.step("diff");
    let dirty_files = dirty.join().map_err(|_| Error::StatusThread)??;
    trace.step("status (joined)");
    let mut scope_violations = policy::violations(&ScopeMatcher::new(&run.scope)?, &diff_stat, &dirty_files);
    // Decisions made while the run was open go into the bundle itself.
    for (path, approval) in index.decisions(run_id)? {
        if let Some(v) = scope_violations.iter_mut().find(|v| v.path == path) {
            v.approval = approval;
        }
    }
    index.save_violations(run_id, &scope_violations)?;

    trace.step("scope");
    let (manifest, manifest_created) = match index.manifest(run_id)? {
        Some(m) => (m, false),
        None => {
            let events = index.event_summaries(run_id)?;
            let identity = ManifestIdentity {
                run_id: run_id.to_owned(),
                run_status: RunStatus::from_exit_code(exit_code),
                correlation_id: run.correlation_id.clone(),
                workspace_id: git::workspace_id(&ws.repo, base)?,
                thread_id: run.thread_id.clone(),
            };
            let built = evidence::build_manifest(identity, events)?;
            index.save_manifest(run_id, &built)?
        }
    };

    trace.step("manifest");
    let bundle = Bundle {
        version: BUNDLE_VERSION.into(),
        run_id: run_id.to_owned(),
        generated_at: now_text.clone(),
        prompt_hash: run.prompt_hash.clone(),
        scope_snapshot: run.scope.clone(),
        dod_snapshot: run.dod.clone(),
        base_sha: base.to_string(),
        head_sha: head.to_string(),
        head_tree: git::tree_of(&ws.repo, head)?.to_string(),
        changed_files: diff_stat.entries.iter().map(|e| e.path.clone()).collect(),
        diff_stat,
        dirty_files,
        exit_code,
        run_status: RunStatus::from_exit_code(exit_code),
        dod_results,
        scope_violations,
        evidence: manifest,
        generator: Generator::current(),
    };
    trace.step("bundle");
    let record = sign_bundle(&bundle, opts.key)?;
    trace.step("sign");
    let appended = notes::append_record(&ws.repo, head, &record, |r| {
        verify::bundle_of(r).is_some_and(|b| b.run_id == run_id)
    })?;
    let (bundle, created) = match &appended {
        Appended::Written(_) => (bundle.clone(), true),
        // An earlier finish wrote the note but did not live to record it in the index.
        Appended::AlreadyPresent(existing) => (
            verify::bundle_of(existing).ok_or_else(|| Error::ProofMissing {
                run_id: run_id.to_owned(),
                commit: head.to_string(),
            })?,
            false,
        ),
    };
    trace.step("note");
    let bundle_digest = match &appended {
        Appended::Written(_) => record_digest(&record),
        Appended::AlreadyPresent(existing) => record_digest(existing),
    };
    trace.step("digest");
    let reference = index.save_bundle_ref(&BundleRef {
        run_id: run_id.to_owned(),
        commit_sha: head.to_string(),
        bundle_digest: bundle_digest.clone(),
        recorded_at: now_text.clone(),
    })?;
    trace.step("proof reference");
    record_manifest_created(index, &bundle, &reference, &now_text)?;
    trace.step("index");
    Ok(Proof {
        bundle,
        commit: reference.commit_sha,
        bundle_digest: reference.bundle_digest,
        created,
        manifest_created,
    })
}

/// The proof the index already records for the run, if any. A finish killed between saving the
/// reference and appending `evidence.manifest.created` left the stream without it: appended here.
fn recorded_proof(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    now: jiff::Timestamp,
) -> Result<Option<Proof>, Error> {
    let Some(reference) = index.bundle_ref(run_id)? else {
        return Ok(None);
    };
    let proof = existing_proof(&ws.repo, &reference)?;
    record_manifest_created(index, &proof.bundle, &reference, &format_time(now))?;
    Ok(Some(proof))
}

/// What finalizing a run's evidence did.
#[derive(Debug, Clone)]
pub enum Finalized {
    /// This call built the manifest.
    Created(Manifest),
    /// The run had one already; nothing was appended.
    Existing(Manifest),
}

/// Gives an ended run its evidence manifest, and the signed proof that carries it, once (the
/// finalize of SPEC section 9). An active run is refused; a run that has a manifest gets it back.
/// Checks that never ran are recorded `pending`: finalizing never starts a program (run
/// `git proof finish` for that). `key` is asked for only when a proof must be signed.
pub fn finalize_evidence(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    key: impl FnOnce() -> Result<SigningKey, signing::Error>,
    now: jiff::Timestamp,
) -> Result<Finalized, Error> {
    check_run_id(run_id)?;
    let run = match index.run(run_id) {
        Err(store::Error::UnknownRun(_)) => {
            // A clone whose index is not rebuilt yet: the proof in the notes carries the manifest.
            let commit = locate_run(&ws.repo, index, run_id)?;
            let (_, bundle) = record_of_run(&ws.repo, commit, run_id)?.ok_or_else(|| Error::ProofMissing {
                run_id: run_id.to_owned(),
                commit: commit.to_string(),
            })?;
            return Ok(Finalized::Existing(bundle.evidence));
        }
        other => other?,
    };
    if run.active {
        return Err(Error::RunActive(run_id.to_owned()));
    }
    {
        let _lock = lock_run(&ws.common_dir, run_id)?;
        if let Some(proof) = recorded_proof(ws, index, run_id, now)? {
            return Ok(Finalized::Existing(proof.bundle.evidence));
        }
    }
    let key = key()?;
    let opts = FinishOptions {
        exit_code: None,
        run_dod: false,
        key: &key,
    };
    let proof = finish(ws, index, run_id, opts, now)?;
    Ok(if proof.manifest_created {
        Finalized::Created(proof.bundle.evidence)
    } else {
        Finalized::Existing(proof.bundle.evidence)
    })
}

/// Appends `evidence.manifest.created` to the run's stream, once.
fn record_manifest_created(index: &mut Index, bundle: &Bundle, reference: &BundleRef, now: &str) -> Result<(), Error> {
    index.append_event(
        &bundle.run_id,
        NewEvent {
            event_type: EventType::EvidenceManifestCreated,
            event_id: None,
            occurred_at: now.to_owned(),
            data: serde_json::json!({
                "manifest_hash": bundle.evidence.manifest_hash,
                "event_hash_root": bundle.evidence.event_hash_root,
                "bundle_digest": reference.bundle_digest,
                "commit": reference.commit_sha,
            }),
            idempotency_key: Some(format!("evidence_manifest:{}", bundle.run_id)),
        },
    )?;
    Ok(())
}

/// The payload and signature of a bundle record.
pub fn sign_bundle(bundle: &Bundle, key: &SigningKey) -> Result<Record, Error> {
    sign_statement(&Statement::for_bundle(bundle.clone()), key)
}

/// A note record: the statement as pretty JSON ending in a newline, signed over exactly those bytes.
pub fn sign_statement<P: serde::Serialize>(statement: &Statement<P>, key: &SigningKey) -> Result<Record, Error> {
    let mut payload = serde_json::to_string_pretty(statement).map_err(canon::Error)?;
    payload.push('\n');
    let signature = key.sign(payload.as_bytes())?;
    Ok(Record { payload, signature })
}

/// `sha256:<hex>` of a record's payload, the exact signed bytes: the name later records
/// (approvals) use for a bundle, computable by anyone from the note alone.
pub fn record_digest(record: &Record) -> String {
    canon::prefixed_sha256(record.payload.as_bytes())
}

fn existing_proof(repo: &gix::Repository, reference: &BundleRef) -> Result<Proof, Error> {
    let commit = parse_id(&reference.commit_sha)?;
    let (_, bundle) = record_of_run(repo, commit, &reference.run_id)?.ok_or_else(|| Error::ProofMissing {
        run_id: reference.run_id.clone(),
        commit: reference.commit_sha.clone(),
    })?;
    Ok(Proof {
        bundle,
        commit: reference.commit_sha.clone(),
        bundle_digest: reference.bundle_digest.clone(),
        created: false,
        manifest_created: false,
    })
}

/// The record on `commit`'s note that holds the bundle of `run_id`, if any.
pub fn record_of_run(
    repo: &gix::Repository,
    commit: ObjectId,
    run_id: &str,
) -> Result<Option<(Record, Bundle)>, Error> {
    let Some(note) = notes::read_note(repo, commit)? else {
        return Ok(None);
    };
    Ok(notes::parse_records(&note)
        .unwrap_or_default()
        .into_iter()
        .find_map(|record| {
            let bundle = verify::bundle_of(&record).filter(|b| b.run_id == run_id)?;
            Some((record, bundle))
        }))
}

/// The proof of a run, read from its note.
pub fn proof_of_run(repo: &gix::Repository, index: &Index, run_id: &str) -> Result<Proof, Error> {
    let reference = index
        .bundle_ref(run_id)?
        .ok_or_else(|| Error::NoProof(run_id.to_owned()))?;
    existing_proof(repo, &reference)
}

/// The commit whose note proves `run_id`: from the index, else by reading every note (a clone
/// whose index has not been rebuilt).
pub fn locate_run(repo: &gix::Repository, index: &Index, run_id: &str) -> Result<ObjectId, Error> {
    if let Some(reference) = index.bundle_ref(run_id)? {
        return parse_id(&reference.commit_sha);
    }
    if index.run(run_id).is_ok() {
        return Err(Error::NoProof(run_id.to_owned()));
    }
    find_run_in_notes(repo, run_id)?.ok_or_else(|| Error::Store(store::Error::UnknownRun(run_id.to_owned())))
}

/// Looks for a run's bundle in every note: the path for a clone whose index is not built yet.
pub fn find_run_in_notes(repo: &gix::Repository, run_id: &str) -> Result<Option<ObjectId>, Error> {
    if check_run_id(run_id).is_err() {
        return Ok(None);
    }
    let mut reader = notes::NotesReader::new(repo)?;
    let needle = format!("\"run_id\": \"{run_id}\"");
    for (commit, _) in notes::list_notes(repo)? {
        let Some(note) = reader.note(commit)? else { continue };
        if !note.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            continue;
        }
        let found = notes::parse_records(&note)
            .unwrap_or_default()
            .iter()
            .filter_map(verify::bundle_of)
            .any(|b| b.run_id == run_id);
        if found {
            return Ok(Some(commit));
        }
    }
    Ok(None)
}

fn parse_id(hex: &str) -> Result<ObjectId, Error> {
    ObjectId::from_hex(hex.as_bytes()).map_err(|_| {
        Error::Store(store::Error::Malformed {
            what: "commit id",
            run_id: hex.to_owned(),
        })
    })
}

/// Holds an exclusive lock on `<common dir>/proof/locks/<run_id>.lock` until dropped; the OS
/// releases it if the process dies, so a crashed finish never blocks the next one.
fn lock_run(common_dir: &Path, run_id: &str) -> Result<File, Error> {
    let dir = common_dir.join("proof").join("locks");
    let path = dir.join(format!("{run_id}.lock"));
    let lock = || -> std::io::Result<File> {
        std::fs::create_dir_all(&dir)?;
        let file = File::options().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok(file)
    };
    lock().map_err(|source| Error::Lock { path, source })
}

/// `GIT_PROOF_TRACE=1` prints how long each step of `finish` took, to stderr, so a slow hook
/// can be diagnosed where it runs (in the spirit of `GIT_TRACE_PERFORMANCE`).
struct StepTrace {
    last: Option<std::time::Instant>,
    /// `GIT_PROOF_TEST_KILL_AFTER`: the step after which the process SIGKILLs itself, so the
    /// crash-safety tests can stop a finish exactly between two steps.
    kill_after: Option<String>,
}

impl StepTrace {
    fn from_env() -> Self {
        let on = std::env::var_os("GIT_PROOF_TRACE").is_some_and(|v| !v.is_empty() && v != "0");
        Self {
            last: on.then(std::time::Instant::now),
            kill_after: std::env::var("GIT_PROOF_TEST_KILL_AFTER")
                .ok()
                .filter(|v| !v.is_empty()),
        }
    }

    fn step(&mut self, name: &str) {
        if self.kill_after.as_deref() == Some(name) {
            let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        }
        if let Some(last) = self.last {
            eprintln!(
                "git-proof trace: {name:<16} {:>8.2} ms",
                last.elapsed().as_secs_f64() * 1000.0
            );
            self.last = Some(std::time::Instant::now());
        }
    }
}
