//! The local SQLite index at `<common git dir>/proof/index.sqlite`: runs, their append-only
//! event streams, DoD check results, scope violations, one evidence manifest per run and the
//! reference of each run's proof. Shared by all worktrees; every write is one transaction.
//!
//! `impl Index` is split by topic, as gitoxide splits `impl Repository`: opening and the schema
//! here, runs in [`runs`], event streams in [`events`], and what a run produced (checks,
//! violations and decisions, manifests, proof references) in [`results`].

mod events;
mod results;
mod runs;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, TransactionBehavior};
use serde_json::Value;

pub use events::commit_recorded_key;
pub use runs::{Imported, RunEnd};

use crate::error::{Classify, ErrorKind};
use crate::evidence::EventType;
use crate::model::{DodCheck, ScopeSnapshot};

/// Why the index could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed (locked past the busy timeout, disk full, corrupt file).
    #[error("the index {} failed: {action}", path.display())]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The index directory could not be created.
    #[error("cannot create {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No run with that id.
    #[error("no run '{0}' in the index (see `git proof log`)")]
    UnknownRun(String),
    /// The run has ended; its stream is closed.
    #[error("run '{0}' has already ended; its event stream is closed")]
    RunEnded(String),
    /// The worktree already has an active run.
    #[error(
        "run '{run_id}' is already active in this worktree; end it first (`git proof finish`, or `git proof abandon` if it is not to be proven)"
    )]
    AlreadyActive { run_id: String },
    /// A run id that is taken.
    #[error("a run with id '{0}' already exists")]
    DuplicateRun(String),
    /// An event id that is taken.
    #[error("an event with id '{0}' already exists")]
    DuplicateEvent(String),
    /// An event id given by a caller that git-proof could give an event itself (`<id>.<n>`),
    /// or that is no id at all: refused, so that no caller can take the id of a later event.
    #[error(
        "'{0}' cannot be an event id: 1-128 of A-Z a-z 0-9 . _ -, not starting with '.' or '-', and not ending in '.<number>' (the ids git-proof gives)"
    )]
    ReservedEventId(String),
    /// An index written by a newer git-proof, whose schema this one does not know.
    #[error("the index {} was written by a newer git-proof (schema {version}); upgrade git-proof to use it", path.display())]
    NewerSchema { path: PathBuf, version: i64 },
    /// The file is not a readable SQLite database (truncated, overwritten, not ours).
    #[error("the index {} is corrupt", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A stored row that does not decode (written by a newer version, or edited by hand).
    #[error("the index holds a malformed {what} for run '{run_id}'")]
    Malformed { what: &'static str, run_id: String },
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UnknownRun(_) => ErrorKind::NotFound,
            Self::ReservedEventId(_) => ErrorKind::BadInput,
            Self::NewerSchema { .. } => ErrorKind::Unavailable,
            Self::RunEnded(_) | Self::AlreadyActive { .. } | Self::DuplicateRun(_) | Self::DuplicateEvent(_) => {
                ErrorKind::Conflict
            }
            Self::Sqlite { .. } | Self::Create { .. } | Self::Corrupt { .. } | Self::Malformed { .. } => {
                ErrorKind::Internal
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::UnknownRun(_) => "unknown_run",
            Self::AlreadyActive { .. } => "run_active",
            other => other.kind().code(),
        }
    }
}

type Result<T> = std::result::Result<T, Error>;

/// A run as the index knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub worktree: String,
    pub state: RunState,
    pub started_at: String,
    pub base_sha: String,
    pub prompt_hash: Option<String>,
    pub scope: ScopeSnapshot,
    pub dod: Vec<DodCheck>,
    pub correlation_id: Option<String>,
    pub thread_id: Option<String>,
}

impl RunRecord {
    /// Whether the run is still open.
    pub fn is_active(&self) -> bool {
        self.state == RunState::Active
    }

    /// How it ended, once it has.
    pub fn ended(&self) -> Option<&Ended> {
        match &self.state {
            RunState::Active => None,
            RunState::Ended(ended) => Some(ended),
        }
    }

    /// The commit the run's change ends at: its head once ended, its base while active.
    pub fn head_or_base(&self) -> &str {
        self.ended().map_or(&self.base_sha, |e| &e.head_sha)
    }
}

/// Whether a run is open or how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Events are still recorded into it.
    Active,
    Ended(Ended),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub ended_at: String,
    /// HEAD when it ended.
    pub head_sha: String,
    /// The exit code reported, or [`NO_EXIT_CODE`] when nothing reported one.
    pub exit_code: i32,
    pub how: Ending,
}

/// The exit code of a run whose end nobody reported (sealed or abandoned): not a process's.
pub const NO_EXIT_CODE: i32 = -1;

/// What ended a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Its agent or command reported its end (`finish`, a turn's end, `run`).
    Exited,
    /// It was still open when its agent's next session or turn began, so its end was never
    /// reported: it has no terminal event and never succeeded.
    Sealed { reason: String },
    /// A person ended it as work not to be proven as finished (`git proof abandon`).
    Abandoned { reason: Option<String> },
}

impl Ending {
    /// The name in the index and in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Exited => "exited",
            Self::Sealed { .. } => "sealed",
            Self::Abandoned { .. } => "abandoned",
        }
    }

    /// Why it ended so, when it was not reported.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Exited => None,
            Self::Sealed { reason } => Some(reason),
            Self::Abandoned { reason } => reason.as_deref(),
        }
    }

    fn from_row(name: Option<&str>, reason: Option<String>) -> Option<Self> {
        Some(match name {
            None | Some("exited") => Self::Exited,
            Some("sealed") => Self::Sealed {
                reason: reason.unwrap_or_default(),
            },
            Some("abandoned") => Self::Abandoned { reason },
            Some(_) => return None,
        })
    }
}

/// Where a run's proof is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRef {
    pub run_id: String,
    pub commit_sha: String,
    pub bundle_digest: String,
    pub recorded_at: String,
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    /// `None`: `<run_id>.<stream_seq>`, which is unique and the same in every clone.
    pub event_id: Option<String>,
    pub occurred_at: String,
    pub data: Value,
    /// A second append with the same key is a no-op that returns the first event.
    pub idempotency_key: Option<String>,
}

/// The open index.
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

/// The WAL size from which closing the index checkpoints it. The first connection of a
/// process reads the whole WAL to rebuild its shared index, and SQLite only restarts a WAL it
/// knows was checkpointed, which a new process does not: without this it would grow forever.
const CHECKPOINT_AT_WAL_BYTES: u64 = 256 * 1024;

impl Drop for Index {
    fn drop(&mut self) {
        let wal = with_suffix(&self.path, "-wal");
        if std::fs::metadata(wal).is_ok_and(|m| m.len() >= CHECKPOINT_AT_WAL_BYTES) {
            // Closing then checkpoints and, as the last connection, removes the WAL. A failure
            // only leaves the WAL for the next close.
            let _ = self
                .conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false);
        }
    }
}

/// Bumped when [`SCHEMA`] changes; stored as SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 5;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS runs (
    run_id         TEXT PRIMARY KEY,
    worktree       TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('active', 'ended')),
    started_at     TEXT NOT NULL,
    ended_at       TEXT,
    base_sha       TEXT NOT NULL,
    head_sha       TEXT,
    exit_code      INTEGER,
    prompt_hash    TEXT,
    scope_json     TEXT NOT NULL,
    dod_json       TEXT NOT NULL,
    correlation_id TEXT,
    thread_id      TEXT,
    -- NULL or 'exited', 'sealed', 'abandoned' (schema 4; see `Ending`).
    ending         TEXT,
    end_reason     TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_active_per_worktree ON runs (worktree) WHERE state = 'active';
-- Newest first, a page at a time, without sorting every run (`git proof serve`).
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE TABLE IF NOT EXISTS events (
    run_id          TEXT NOT NULL REFERENCES runs (run_id),
    stream_seq      INTEGER NOT NULL CHECK (stream_seq >= 1),
    event_id        TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    data_json       TEXT NOT NULL,
    event_hash      TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    PRIMARY KEY (run_id, stream_seq)
);
CREATE TABLE IF NOT EXISTS checks (
    run_id      TEXT NOT NULL REFERENCES runs (run_id),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    exit_code   INTEGER,
    duration_ms INTEGER NOT NULL,
    log_digest  TEXT,
    log_size    INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE TABLE IF NOT EXISTS scope_violations (
    run_id     TEXT NOT NULL REFERENCES runs (run_id),
    path       TEXT NOT NULL,
    rule       TEXT NOT NULL,
    state      TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    reason     TEXT,
    PRIMARY KEY (run_id, path)
);
CREATE TABLE IF NOT EXISTS scope_decisions (
    run_id     TEXT NOT NULL REFERENCES runs (run_id),
    path       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('approved', 'rejected')),
    decided_at TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    reason     TEXT,
    PRIMARY KEY (run_id, path)
);
CREATE TABLE IF NOT EXISTS evidence_manifests (
    run_id        TEXT PRIMARY KEY REFERENCES runs (run_id),
    manifest_json TEXT NOT NULL,
    manifest_hash TEXT NOT NULL
    -- Schema 5 adds the projection's columns (MANIFEST_COLUMNS), so that they can be queried
    -- without parsing JSON; they are added the same way to a new index and to an old one.
);
CREATE TABLE IF NOT EXISTS proof_bundle_ref (
    run_id        TEXT PRIMARY KEY REFERENCES runs (run_id),
    commit_sha    TEXT NOT NULL,
    bundle_digest TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS proof_bundle_ref_by_commit ON proof_bundle_ref (commit_sha);
"#;

/// Columns later schemas added to tables an older index already has (`CREATE TABLE IF NOT
/// EXISTS` leaves those as they were): `(table, column, declaration)`.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // Schema 4: how a run ended (see `Ending`).
    ("runs", "ending", "TEXT"),
    ("runs", "end_reason", "TEXT"),
    // Schema 5: the evidence projection (docs/format.md, "The index"), filled from
    // `manifest_json` for the manifests an older index holds.
    ("evidence_manifests", "evidence_id", "TEXT"),
    ("evidence_manifests", "workspace_id", "TEXT"),
    ("evidence_manifests", "room_id", "TEXT"),
    ("evidence_manifests", "thread_id", "TEXT"),
    ("evidence_manifests", "correlation_id", "TEXT"),
    (
        "evidence_manifests",
        "run_status",
        "TEXT CHECK (run_status IN ('succeeded', 'failed'))",
    ),
    ("evidence_manifests", "event_hash_root", "TEXT"),
    ("evidence_manifests", "stream_type", "TEXT"),
    ("evidence_manifests", "stream_id", "TEXT"),
    ("evidence_manifests", "from_seq", "INTEGER"),
    ("evidence_manifests", "to_seq", "INTEGER"),
    ("evidence_manifests", "event_count", "INTEGER"),
    ("evidence_manifests", "last_event_id", "TEXT"),
    ("evidence_manifests", "idempotency_key", "TEXT"),
    ("evidence_manifests", "finalized_at", "TEXT"),
    ("evidence_manifests", "created_at", "TEXT"),
    ("evidence_manifests", "updated_at", "TEXT"),
];

/// Indexes over added columns, made once the columns exist.
const ADDED_INDEXES: &str = r#"
CREATE UNIQUE INDEX IF NOT EXISTS evidence_manifests_by_id ON evidence_manifests (evidence_id);
CREATE UNIQUE INDEX IF NOT EXISTS evidence_manifests_by_key ON evidence_manifests (idempotency_key);
"#;

impl Index {
    /// The index path inside a repository's common git dir.
    pub fn path_in(common_dir: &Path) -> PathBuf {
        common_dir.join("proof").join("index.sqlite")
    }

    /// Opens (creating if needed) the index of the repository whose common dir is `common_dir`.
    pub fn open(common_dir: &Path) -> Result<Self> {
        let path = Self::path_in(common_dir);
        let dir = path.parent().unwrap_or(common_dir);
        std::fs::create_dir_all(dir).map_err(|source| Error::Create {
            path: dir.to_owned(),
            source,
        })?;
        // An empty file is no index git-proof wrote (it writes its schema first): one that was
        // truncated. Read as a new index, it would hide every run the notes hold.
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
            return Err(Error::Corrupt {
                path,
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
                    Some("the index file is empty".into()),
                ),
            });
        }
        let conn = Connection::open(&path).map_err(|source| Error::Sqlite {
            path: path.clone(),
            action: "open",
            source,
        })?;
        let index = Self { conn, path };
        match index.init() {
            Err(Error::Sqlite { path, source, .. }) if is_corruption(&source) => Err(Error::Corrupt { path, source }),
            other => other.map(|()| index),
        }
    }

    /// Moves a corrupt index (and its WAL and shared-memory files) aside as
    /// `index.sqlite.corrupt-<unix time>`; returns where it went.
    pub fn move_aside(common_dir: &Path, now: i64) -> Result<PathBuf> {
        let path = Self::path_in(common_dir);
        // A second repair in the same second keeps the first one's copy.
        let mut aside = path.with_extension(format!("sqlite.corrupt-{now}"));
        let mut n = 0;
        while aside.exists() {
            n += 1;
            aside = path.with_extension(format!("sqlite.corrupt-{now}.{n}"));
        }
        for (from, to) in [
            (path.clone(), aside.clone()),
            (with_suffix(&path, "-wal"), with_suffix(&aside, "-wal")),
            (with_suffix(&path, "-shm"), with_suffix(&aside, "-shm")),
        ] {
            if from.exists() {
                std::fs::rename(&from, &to).map_err(|source| Error::Create {
                    path: to.clone(),
                    source,
                })?;
            }
        }
        Ok(aside)
    }

    fn init(&self) -> Result<()> {
        let wrap = |action| sql_error(&self.path, action);
        // Parallel agents in sibling worktrees write at once: wait for the lock rather than fail.
        self.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(wrap("set the busy timeout"))?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap("set synchronous"))?;
        // Most processes open the index, append an event and exit. Closing the last connection
        // would checkpoint the WAL into the database and delete the WAL and shared-memory
        // files: fsyncs and two files made and removed, most of what an event costs. So a
        // close checkpoints only once the WAL has grown (see `Drop`).
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(wrap("defer the checkpoint on close"))?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap("enable foreign keys"))?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(wrap("read the schema version"))?;
        if version > SCHEMA_VERSION {
            // Its rows may mean what this version cannot know (an abandoned run it would sign).
            return Err(Error::NewerSchema {
                path: self.path.clone(),
                version,
            });
        }
        if version < SCHEMA_VERSION {
            // WAL mode is persistent in the file; set it once, with the schema.
            self.conn
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(wrap("switch to WAL"))?;
            // Hooks of parallel agents open a new or older index at the same moment: one
            // process migrates, under the write lock, and the others find it done.
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(wrap("lock the index to create the schema"))?;
            let migrated = self.migrate();
            let end = if migrated.is_ok() { "COMMIT" } else { "ROLLBACK" };
            self.conn.execute_batch(end).map_err(wrap("commit the schema"))?;
            migrated?;
        }
        Ok(())
    }

    /// Creates the schema, or brings an older one up to date; inside the caller's transaction.
    fn migrate(&self) -> Result<()> {
        let wrap = |action| sql_error(&self.path, action);
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(wrap("read the schema version"))?;
        if version >= SCHEMA_VERSION {
            return Ok(());
        }
        self.conn.execute_batch(SCHEMA).map_err(wrap("create the schema"))?;
        self.add_missing_columns()?;
        results::fill_manifest_columns(&self.conn).map_err(wrap("fill the manifest columns"))?;
        self.conn
            .execute_batch(ADDED_INDEXES)
            .map_err(wrap("index the added columns"))?;
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(wrap("record the schema version"))
    }

    /// Adds the [`ADDED_COLUMNS`] a table does not have yet.
    fn add_missing_columns(&self) -> Result<()> {
        let wrap = |action| sql_error(&self.path, action);
        let mut known: Vec<(String, String)> = Vec::new();
        for &(table, column, declaration) in ADDED_COLUMNS {
            if !known.iter().any(|(t, _)| t == table) {
                let mut stmt = self
                    .conn
                    .prepare("SELECT name FROM pragma_table_info(?1)")
                    .map_err(wrap("read a table's columns"))?;
                let columns = stmt
                    .query_map([table], |r| r.get::<_, String>(0))
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(wrap("read a table's columns"))?;
                known.extend(columns.into_iter().map(|c| (table.to_owned(), c)));
            }
            if !known.iter().any(|(t, c)| t == table && c == column) {
                self.conn
                    .execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {declaration}"))
                    .map_err(wrap("add a column"))?;
            }
        }
        Ok(())
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> Error + use<> {
        sql_error(&self.path, action)
    }

    /// The file this index lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Maps a SQLite failure of `action` on the index at `path`.
fn sql_error(path: &Path, action: &'static str) -> impl FnOnce(rusqlite::Error) -> Error + use<> {
    let path = path.to_owned();
    move |source| Error::Sqlite { path, action, source }
}

/// A write transaction that takes the lock at once, so concurrent writers queue on the busy
/// timeout instead of failing to upgrade a read lock.
fn begin<'c>(conn: &'c mut Connection, path: &Path) -> Result<rusqlite::Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error(path, "begin"))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut os = path.as_os_str().to_owned();
    os.push(suffix);
    PathBuf::from(os)
}

/// Errors that mean the file itself is broken, not that it is busy or missing.
impl Error {
    /// Whether the index file itself is damaged (found on open, or only when a query reached
    /// the damaged pages): moving it aside and rebuilding it from the notes repairs it.
    pub fn is_corrupt(&self) -> bool {
        match self {
            Self::Corrupt { .. } => true,
            Self::Sqlite { source, .. } => is_corruption(source),
            _ => false,
        }
    }
}

fn is_corruption(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}
