//! The run lifecycle: start, events, and [`finish`], which ends a run and writes its proof.

mod dirty;
mod end;
mod finish;
pub mod marker;

use std::fs::File;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use serde_json::Value;

pub use end::{abandon, end_and_prove, seal};
pub use finish::{Checks, Finalized, FinishOptions, Proof, bundle_by_digest, finalize_evidence, finish, sign_bundle};

use crate::canon;
use crate::error::{Classify, ErrorKind};
use crate::evidence::{self, EventType};
use crate::git;
use crate::policy;
use crate::signing;
use crate::store::{self, Index, NewEvent, RunRecord, RunState};

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
    /// Abandoning a run that has already ended.
    #[error("run '{0}' has already ended; only an active run can be abandoned (see `git proof status`)")]
    NotActive(String),
    /// A proof asked for of a run a person abandoned.
    #[error("run '{0}' was abandoned: it gets no proof (start a new run for work to be proven)")]
    Abandoned(String),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Git(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Signing(e) => e.kind(),
            Self::Policy(e) => e.kind(),
            Self::Canon(_) | Self::Lock { .. } | Self::StatusThread | Self::Marker(_) => ErrorKind::Internal,
            Self::NoActiveRun | Self::ProofMissing { .. } => ErrorKind::NotFound,
            Self::BadRunId(_) | Self::BadEvent(_) => ErrorKind::BadInput,
            Self::OtherWorktree { .. } | Self::RunActive(_) | Self::NotActive(_) | Self::Abandoned(_) => {
                ErrorKind::Conflict
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Git(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Signing(e) => e.code(),
            Self::BadRunId(_) => "bad_run_id",
            Self::RunActive(_) => "run_active",
            Self::NotActive(_) => "run_ended",
            Self::Abandoned(_) => "run_abandoned",
            Self::NoActiveRun => "no_active_run",
            Self::ProofMissing { .. } => "no_proof",
            other => other.kind().code(),
        }
    }
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

/// When a run started, read from its id when git-proof made it (a ULID begins with its
/// creation time in milliseconds), if that time is no later than `not_after` (the bundle's
/// time): a chosen id that merely looks like a ULID says nothing.
pub fn started_by_id(run_id: &str, not_after: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let id = ulid::Ulid::from_string(run_id).ok()?;
    let ms = i64::try_from(id.timestamp_ms()).ok()?;
    let started = jiff::Timestamp::from_millisecond(ms).ok()?;
    (started.as_second() <= not_after.as_second()).then_some(started)
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
    // Refused before anything is written: the marker of the run that is active stays as it is.
    if let Some(active) = index.active_run(&ws.worktree_key())? {
        return Err(store::Error::AlreadyActive { run_id: active }.into());
    }
    if index.run(&run_id).is_ok() {
        return Err(store::Error::DuplicateRun(run_id).into());
    }
    let (scope, dod) = policy::effective(&ws.workdir, &opts.rules)?;
    let prompt_hash = opts.prompt.as_deref().map(canon::prefixed_sha256);
    let started_at = format_time(now);
    let run = RunRecord {
        run_id: run_id.clone(),
        worktree: ws.worktree_key(),
        state: RunState::Active,
        started_at: started_at.clone(),
        base_sha: base.to_string(),
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
    dirty::record(&mut data, dirty::snapshot(ws)?);
    // Before the run exists, so that a commit made the moment after never misses it.
    marker::mark_active(ws.repo.git_dir(), &run_id).map_err(Error::Marker)?;
    let started = index.start_run(
        &run,
        NewEvent {
            event_type: EventType::RunStarted,
            event_id: None,
            occurred_at: started_at,
            data,
            idempotency_key: Some(format!("run.started:{run_id}")),
        },
    );
    if let Err(e) = started {
        // Another start won the race, or the index failed: the marker says what is true now.
        match index.active_run(&ws.worktree_key()) {
            Ok(Some(active)) => marker::mark_active(ws.repo.git_dir(), &active),
            _ => marker::clear_active(ws.repo.git_dir()),
        }
        .map_err(Error::Marker)?;
        return Err(e.into());
    }
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
    if matches!(
        kind,
        EventType::RunStarted | EventType::EvidenceManifestCreated | EventType::RunSealed
    ) || kind.is_terminal()
    {
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

/// A commit id the index recorded.
pub fn parse_id(hex: &str) -> Result<ObjectId, Error> {
    ObjectId::from_hex(hex.as_bytes()).map_err(|_| {
        Error::Store(store::Error::Malformed {
            what: "commit id",
            run_id: hex.to_owned(),
        })
    })
}

/// Holds an exclusive lock on `<common dir>/proof/locks/<run_id>.lock` until dropped; the OS
/// releases it if the process dies, so a crashed finish never blocks the next one.
pub(crate) fn lock_run(common_dir: &Path, run_id: &str) -> Result<File, Error> {
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
pub(crate) struct StepTrace {
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
