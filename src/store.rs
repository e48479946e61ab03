//! The local SQLite index at `<common git dir>/proof/index.sqlite`: runs, their append-only
//! event streams, DoD check results, scope violations, one evidence manifest per run and the
//! reference of each run's proof. Shared by all worktrees; every write is one transaction.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use crate::evidence::{Event, EventSummary, EventType};
use crate::model::{Approval, DodCheck, DodResult, DodStatus, EventPointer, Manifest, ScopeSnapshot, ScopeViolation};

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
    #[error("run '{run_id}' is already active in this worktree; finish it first (`git proof finish`)")]
    AlreadyActive { run_id: String },
    /// A run id that is taken.
    #[error("a run with id '{0}' already exists")]
    DuplicateRun(String),
    /// An event id that is taken.
    #[error("an event with id '{0}' already exists")]
    DuplicateEvent(String),
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

type Result<T> = std::result::Result<T, Error>;

/// A run as the index knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub worktree: String,
    pub active: bool,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub base_sha: String,
    pub head_sha: Option<String>,
    pub exit_code: Option<i32>,
    pub prompt_hash: Option<String>,
    pub scope: ScopeSnapshot,
    pub dod: Vec<DodCheck>,
    pub correlation_id: Option<String>,
    pub thread_id: Option<String>,
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
const SCHEMA_VERSION: i64 = 3;

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
    thread_id      TEXT
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
);
CREATE TABLE IF NOT EXISTS proof_bundle_ref (
    run_id        TEXT PRIMARY KEY REFERENCES runs (run_id),
    commit_sha    TEXT NOT NULL,
    bundle_digest TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS proof_bundle_ref_by_commit ON proof_bundle_ref (commit_sha);
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
        let aside = path.with_extension(format!("sqlite.corrupt-{now}"));
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

    /// Records a run known only from its proof (a clone's notes, a rebuilt index): the run,
    /// its checks, violations, manifest and proof reference, in one transaction. A run the index
    /// already has is left as it is; returns whether this one was new.
    pub fn import_proof(
        &mut self,
        run: &RunRecord,
        checks: &[DodResult],
        violations: &[ScopeViolation],
        manifest: &Manifest,
        reference: &BundleRef,
    ) -> Result<bool> {
        let path = self.path.clone();
        let sql = |action| sql_error(&path, action);
        let tx = begin(&mut self.conn, &path)?;
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO runs (run_id, worktree, state, started_at, ended_at, base_sha, head_sha, exit_code,
                                             prompt_hash, scope_json, dod_json, correlation_id, thread_id)
                 VALUES (?1, '', 'ended', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    run.run_id,
                    run.started_at,
                    run.ended_at,
                    run.base_sha,
                    run.head_sha,
                    run.exit_code,
                    run.prompt_hash,
                    serde_json::to_string(&run.scope).unwrap_or_default(),
                    serde_json::to_string(&run.dod).unwrap_or_default(),
                    run.correlation_id,
                    run.thread_id,
                ],
            )
            .map_err(sql("import a run"))?
            == 1;
        if inserted {
            insert_checks(&tx, &run.run_id, checks).map_err(sql("import a check"))?;
            insert_violations(&tx, &run.run_id, violations).map_err(sql("import a violation"))?;
            insert_manifest(&tx, &run.run_id, manifest).map_err(sql("import a manifest"))?;
        }
        insert_bundle_ref(&tx, reference).map_err(sql("import a proof reference"))?;
        tx.commit().map_err(sql("commit"))?;
        Ok(inserted)
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
        if version < SCHEMA_VERSION {
            // WAL mode is persistent in the file; set it once, with the schema.
            self.conn
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(wrap("switch to WAL"))?;
            self.conn.execute_batch(SCHEMA).map_err(wrap("create the schema"))?;
            self.conn
                .pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(wrap("record the schema version"))?;
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

    /// Records a new active run and its `run.started` event, atomically.
    pub fn start_run(&mut self, run: &RunRecord, started: NewEvent) -> Result<Event> {
        let path = self.path.clone();
        let err = |action| sql_error(&path, action);
        let tx = begin(&mut self.conn, &path)?;
        if let Some(active) = tx
            .query_row(
                "SELECT run_id FROM runs WHERE worktree = ?1 AND state = 'active'",
                params![run.worktree],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(err("find the active run"))?
        {
            return Err(Error::AlreadyActive { run_id: active });
        }
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = ?1)",
                params![run.run_id],
                |r| r.get(0),
            )
            .map_err(err("look up the run"))?;
        if exists {
            return Err(Error::DuplicateRun(run.run_id.clone()));
        }
        tx.execute(
            "INSERT INTO runs (run_id, worktree, state, started_at, base_sha, prompt_hash, scope_json, dod_json,
                               correlation_id, thread_id)
             VALUES (?1, ?2, 'active', ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                run.run_id,
                run.worktree,
                run.started_at,
                run.base_sha,
                run.prompt_hash,
                serde_json::to_string(&run.scope).unwrap_or_default(),
                serde_json::to_string(&run.dod).unwrap_or_default(),
                run.correlation_id,
                run.thread_id,
            ],
        )
        .map_err(err("insert the run"))?;
        let event = insert_event(&tx, &run.run_id, started).map_err(|e| e.into_error(&path))?;
        tx.commit().map_err(err("commit"))?;
        Ok(event)
    }

    /// The run with this id.
    pub fn run(&self, run_id: &str) -> Result<RunRecord> {
        self.conn
            .prepare_cached(&format!("{RUN_SELECT} WHERE run_id = ?1"))
            .and_then(|mut stmt| stmt.query_row(params![run_id], run_from_row))
            .optional()
            .map_err(self.err("read a run"))?
            .ok_or_else(|| Error::UnknownRun(run_id.to_owned()))?
            .map_err(|what| Error::Malformed {
                what,
                run_id: run_id.to_owned(),
            })
    }

    /// The active run of a worktree, if any.
    pub fn active_run(&self, worktree: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT run_id FROM runs WHERE worktree = ?1 AND state = 'active'",
                params![worktree],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("find the active run"))
    }

    /// All runs, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        self.runs_page(u32::MAX, 0)
    }

    /// At most `limit` runs, newest first, skipping the `offset` newest.
    pub fn runs_page(&self, limit: u32, offset: u64) -> Result<Vec<RunRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "{RUN_SELECT} ORDER BY started_at DESC, rowid DESC LIMIT ?1 OFFSET ?2"
            ))
            .map_err(self.err("list runs"))?;
        let rows = stmt
            .query_map(params![limit, i64::try_from(offset).unwrap_or(i64::MAX)], run_from_row)
            .map_err(self.err("list runs"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list runs"))?;
        rows.into_iter()
            .map(|r| {
                r.map_err(|what| Error::Malformed {
                    what,
                    run_id: String::new(),
                })
            })
            .collect()
    }

    /// How many runs the index holds.
    pub fn run_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.err("count runs"))
    }

    /// Appends one event to an active run's stream (or, for `after_end` types such as
    /// `evidence.manifest.created`, to an ended one).
    pub fn append_event(&mut self, run_id: &str, event: NewEvent) -> Result<Event> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let state: Option<String> = tx
            .query_row("SELECT state FROM runs WHERE run_id = ?1", params![run_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_error(&path, "read a run"))?;
        let allowed_after_end = matches!(
            event.event_type,
            EventType::EvidenceManifestCreated | EventType::ScopeViolationDecided
        );
        match state.as_deref() {
            None => return Err(Error::UnknownRun(run_id.to_owned())),
            Some("ended") if !allowed_after_end => return Err(Error::RunEnded(run_id.to_owned())),
            _ => {}
        }
        let stored = insert_event(&tx, run_id, event).map_err(|e| e.into_error(&path))?;
        tx.commit().map_err(sql_error(&path, "commit"))?;
        Ok(stored)
    }

    /// Ends an active run: appends `commit.recorded` for each commit not yet recorded, then the
    /// terminal event, and marks the run ended, in one transaction. On a run that has already
    /// ended this changes nothing and returns the run as it ended.
    pub fn end_run(
        &mut self,
        run_id: &str,
        head_sha: &str,
        exit_code: i32,
        commits: &[String],
        ended_at: &str,
    ) -> Result<RunRecord> {
        let path = self.path.clone();
        let sql = |action| sql_error(&path, action);
        let tx = begin(&mut self.conn, &path)?;
        let state: Option<String> = tx
            .query_row("SELECT state FROM runs WHERE run_id = ?1", params![run_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("read a run"))?;
        match state.as_deref() {
            None => return Err(Error::UnknownRun(run_id.to_owned())),
            Some("ended") => {
                drop(tx);
                return self.run(run_id);
            }
            _ => {}
        }
        for commit in commits {
            let key = commit_recorded_key(run_id, commit);
            insert_event(
                &tx,
                run_id,
                NewEvent {
                    event_type: EventType::CommitRecorded,
                    event_id: None,
                    occurred_at: ended_at.to_owned(),
                    data: serde_json::json!({ "commit": commit }),
                    idempotency_key: Some(key),
                },
            )
            .map_err(|e| e.into_error(&path))?;
        }
        let terminal = if exit_code == 0 {
            EventType::RunCompleted
        } else {
            EventType::RunFailed
        };
        insert_event(
            &tx,
            run_id,
            NewEvent {
                event_type: terminal,
                event_id: None,
                occurred_at: ended_at.to_owned(),
                data: serde_json::json!({ "exit_code": exit_code, "head_sha": head_sha }),
                idempotency_key: Some(format!("run.ended:{run_id}")),
            },
        )
        .map_err(|e| e.into_error(&path))?;
        tx.execute(
            "UPDATE runs SET state = 'ended', ended_at = ?2, head_sha = ?3, exit_code = ?4 WHERE run_id = ?1",
            params![run_id, ended_at, head_sha, exit_code],
        )
        .map_err(sql("end the run"))?;
        tx.commit().map_err(sql("commit"))?;
        self.run(run_id)
    }

    /// The run's events in stream order.
    pub fn events(&self, run_id: &str) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT event_id, stream_seq, event_type, occurred_at, data_json FROM events
                 WHERE run_id = ?1 ORDER BY stream_seq",
            )
            .map_err(self.err("read events"))?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.err("read events"))?;
        let mut events = Vec::new();
        for row in rows {
            let (event_id, seq, event_type, occurred_at, data) = row.map_err(self.err("read events"))?;
            let data = serde_json::from_str(&data).map_err(|_| Error::Malformed {
                what: "event",
                run_id: run_id.to_owned(),
            })?;
            events.push(Event {
                event_id,
                run_id: run_id.to_owned(),
                stream_seq: seq as u64,
                event_type,
                occurred_at,
                data,
            });
        }
        Ok(events)
    }

    /// The pointers of the run's events in stream order, with the hash stored when each was
    /// appended (computed then from exactly the stored event) and the step, tool call or
    /// artifact id each is about; the events themselves are not loaded.
    pub fn event_summaries(&self, run_id: &str) -> Result<Vec<EventSummary>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT event_id, stream_seq, event_type, event_hash,
                        CASE
                          WHEN event_type IN ('step.started', 'step.completed') THEN json_extract(data_json, '$.step_id')
                          WHEN event_type LIKE 'toolcall.%' THEN json_extract(data_json, '$.toolcall_id')
                          WHEN event_type = 'artifact.created' THEN json_extract(data_json, '$.artifact_id')
                        END
                 FROM events WHERE run_id = ?1 ORDER BY stream_seq",
            )
            .map_err(self.err("read events"))?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                // A non-text id (a number) is not an id the manifest lists, as in Event::subject_id.
                let subject = match r.get_ref(4)? {
                    rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    _ => None,
                };
                Ok(EventSummary {
                    pointer: EventPointer {
                        event_id: r.get(0)?,
                        stream_seq: r.get::<_, i64>(1)? as u64,
                        event_type: r.get(2)?,
                        event_hash: r.get(3)?,
                    },
                    subject_id: subject,
                })
            })
            .map_err(self.err("read events"))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read events"))
    }

    /// Stores the run's DoD results (replacing none: results are written once).
    pub fn save_checks(&mut self, run_id: &str, results: &[DodResult]) -> Result<Vec<DodResult>> {
        let path = self.path.clone();
        let sql = |action| sql_error(&path, action);
        let tx = begin(&mut self.conn, &path)?;
        let existing: i64 = tx
            .query_row("SELECT COUNT(*) FROM checks WHERE run_id = ?1", params![run_id], |r| {
                r.get(0)
            })
            .map_err(sql("count checks"))?;
        if existing == 0 {
            insert_checks(&tx, run_id, results).map_err(sql("save a check"))?;
        }
        tx.commit().map_err(sql("commit"))?;
        self.checks(run_id)?.ok_or_else(|| Error::Malformed {
            what: "check result",
            run_id: run_id.to_owned(),
        })
    }

    /// The run's stored DoD results, if the checks have run.
    pub fn checks(&self, run_id: &str) -> Result<Option<Vec<DodResult>>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, status, exit_code, duration_ms, log_digest, log_size FROM checks
                 WHERE run_id = ?1 ORDER BY position",
            )
            .map_err(self.err("read checks"))?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i32>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(self.err("read checks"))?;
        let mut results = Vec::new();
        for row in rows {
            let (name, status, exit_code, duration_ms, log_digest, log_size) = row.map_err(self.err("read checks"))?;
            let status = DodStatus::parse(&status).ok_or_else(|| Error::Malformed {
                what: "check status",
                run_id: run_id.to_owned(),
            })?;
            results.push(DodResult {
                name,
                status,
                exit_code,
                duration_ms: duration_ms as u64,
                log_digest,
                log_size: log_size as u64,
            });
        }
        let any: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = ?1)",
                params![run_id],
                |r| r.get(0),
            )
            .map_err(self.err("read a run"))?;
        if !any {
            return Err(Error::UnknownRun(run_id.to_owned()));
        }
        // A run with no DoD checks has none to store: "not run yet" and "nothing to run" are the
        // same empty list.
        Ok(Some(results).filter(|r| !r.is_empty()))
    }

    /// Records a decision on a scope violation (the latest decision on a path wins).
    pub fn save_decision(&mut self, run_id: &str, path: &str, approval: &Approval) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO scope_decisions (run_id, path, state, decided_at, decided_by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id, path) DO UPDATE SET state = excluded.state,
                   decided_at = excluded.decided_at, decided_by = excluded.decided_by, reason = excluded.reason",
                params![
                    run_id,
                    path,
                    approval.state,
                    approval.decided_at,
                    approval.decided_by,
                    approval.reason
                ],
            )
            .map_err(self.err("save a decision"))?;
        self.conn
            .execute(
                "UPDATE scope_violations SET state = ?3, decided_at = ?4, decided_by = ?5, reason = ?6
                 WHERE run_id = ?1 AND path = ?2",
                params![
                    run_id,
                    path,
                    approval.state,
                    approval.decided_at,
                    approval.decided_by,
                    approval.reason
                ],
            )
            .map_err(self.err("save a decision"))?;
        Ok(())
    }

    /// The decisions made on the run's scope violations, by path.
    pub fn decisions(&self, run_id: &str) -> Result<Vec<(String, Approval)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, state, decided_at, decided_by, reason FROM scope_decisions WHERE run_id = ?1 ORDER BY path")
            .map_err(self.err("read decisions"))?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Approval {
                        state: r.get(1)?,
                        decided_at: r.get(2)?,
                        decided_by: r.get(3)?,
                        reason: r.get(4)?,
                    },
                ))
            })
            .map_err(self.err("read decisions"))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read decisions"))
    }

    /// Stores the run's scope violations once.
    pub fn save_violations(&mut self, run_id: &str, violations: &[ScopeViolation]) -> Result<()> {
        let path = self.path.clone();
        let sql = |action| sql_error(&path, action);
        let tx = begin(&mut self.conn, &path)?;
        insert_violations(&tx, run_id, violations).map_err(sql("save a violation"))?;
        tx.commit().map_err(sql("commit"))
    }

    /// Stores the run's manifest unless it has one; returns the stored one and whether this
    /// call created it. The primary key makes "one manifest per run" a constraint, not a hope.
    pub fn save_manifest(&mut self, run_id: &str, manifest: &Manifest) -> Result<(Manifest, bool)> {
        let inserted = insert_manifest(&self.conn, run_id, manifest).map_err(self.err("save the manifest"))?;
        if inserted == 1 {
            return Ok((manifest.clone(), true));
        }
        let stored = self.manifest(run_id)?.ok_or_else(|| Error::Malformed {
            what: "manifest",
            run_id: run_id.to_owned(),
        })?;
        Ok((stored, false))
    }

    /// The run's manifest, if built.
    pub fn manifest(&self, run_id: &str) -> Result<Option<Manifest>> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT manifest_json FROM evidence_manifests WHERE run_id = ?1",
                params![run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read the manifest"))?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|_| Error::Malformed {
                what: "manifest",
                run_id: run_id.to_owned(),
            })
        })
        .transpose()
    }

    /// Records where the run's proof is (first writer wins); returns the stored reference.
    pub fn save_bundle_ref(&mut self, reference: &BundleRef) -> Result<BundleRef> {
        insert_bundle_ref(&self.conn, reference).map_err(self.err("save the proof reference"))?;
        self.bundle_ref(&reference.run_id)?.ok_or_else(|| Error::Malformed {
            what: "proof reference",
            run_id: reference.run_id.clone(),
        })
    }

    /// Points the run's proof reference from `old` to `new` (a rewrite carried it there); a
    /// reference to any other commit is left alone.
    pub fn move_bundle_ref(&mut self, run_id: &str, old: &str, new: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE proof_bundle_ref SET commit_sha = ?3 WHERE run_id = ?1 AND commit_sha = ?2",
                params![run_id, old, new],
            )
            .map_err(self.err("move the proof reference"))?;
        Ok(())
    }

    /// Points the run's proof reference at `commit`, wherever it pointed before (reindex found
    /// the proof carried there by rewrites).
    pub fn set_bundle_commit(&mut self, run_id: &str, commit: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE proof_bundle_ref SET commit_sha = ?2 WHERE run_id = ?1",
                params![run_id, commit],
            )
            .map_err(self.err("move the proof reference"))?;
        Ok(())
    }

    /// Where the run's proof is, if written.
    pub fn bundle_ref(&self, run_id: &str) -> Result<Option<BundleRef>> {
        self.conn
            .prepare_cached(
                "SELECT run_id, commit_sha, bundle_digest, recorded_at FROM proof_bundle_ref WHERE run_id = ?1",
            )
            .and_then(|mut stmt| stmt.query_row(params![run_id], bundle_ref_from_row))
            .optional()
            .map_err(self.err("read the proof reference"))
    }

    /// Whether the event stream of the run already holds an event with this idempotency key.
    pub fn has_event_key(&self, key: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM events WHERE idempotency_key = ?1)",
                params![key],
                |r| r.get(0),
            )
            .map_err(self.err("look up an event"))
    }
}

/// The idempotency key of a run's `commit.recorded` event for `commit`: a commit recorded by
/// the post-commit hook is not recorded again when the run ends.
pub fn commit_recorded_key(run_id: &str, commit: &str) -> String {
    format!("commit.recorded:{run_id}:{commit}")
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

fn insert_checks(conn: &Connection, run_id: &str, results: &[DodResult]) -> rusqlite::Result<()> {
    for (position, r) in results.iter().enumerate() {
        conn.execute(
            "INSERT OR IGNORE INTO checks (run_id, position, name, status, exit_code, duration_ms, log_digest, log_size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run_id,
                position as i64,
                r.name,
                r.status.as_str(),
                r.exit_code,
                r.duration_ms as i64,
                r.log_digest,
                r.log_size as i64
            ],
        )?;
    }
    Ok(())
}

fn insert_violations(conn: &Connection, run_id: &str, violations: &[ScopeViolation]) -> rusqlite::Result<()> {
    for v in violations {
        conn.execute(
            "INSERT OR IGNORE INTO scope_violations (run_id, path, rule, state, decided_at, decided_by, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run_id,
                v.path,
                v.rule,
                v.approval.state,
                v.approval.decided_at,
                v.approval.decided_by,
                v.approval.reason
            ],
        )?;
    }
    Ok(())
}

/// Returns how many rows were inserted: 0 when the run already has a manifest.
fn insert_manifest(conn: &Connection, run_id: &str, manifest: &Manifest) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR IGNORE INTO evidence_manifests (run_id, manifest_json, manifest_hash) VALUES (?1, ?2, ?3)",
        params![
            run_id,
            serde_json::to_string(manifest).unwrap_or_default(),
            manifest.manifest_hash
        ],
    )
}

fn insert_bundle_ref(conn: &Connection, reference: &BundleRef) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR IGNORE INTO proof_bundle_ref (run_id, commit_sha, bundle_digest, recorded_at) VALUES (?1, ?2, ?3, ?4)",
        params![reference.run_id, reference.commit_sha, reference.bundle_digest, reference.recorded_at],
    )
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut os = path.as_os_str().to_owned();
    os.push(suffix);
    PathBuf::from(os)
}

/// Errors that mean the file itself is broken, not that it is busy or missing.
fn is_corruption(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

fn bundle_ref_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BundleRef> {
    Ok(BundleRef {
        run_id: r.get(0)?,
        commit_sha: r.get(1)?,
        bundle_digest: r.get(2)?,
        recorded_at: r.get(3)?,
    })
}

const RUN_SELECT: &str = "SELECT run_id, worktree, state, started_at, ended_at, base_sha, head_sha, exit_code,
    prompt_hash, scope_json, dod_json, correlation_id, thread_id FROM runs";

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<std::result::Result<RunRecord, &'static str>> {
    let scope: String = r.get(9)?;
    let dod: String = r.get(10)?;
    let (Ok(scope), Ok(dod)) = (serde_json::from_str(&scope), serde_json::from_str(&dod)) else {
        return Ok(Err("scope or DoD snapshot"));
    };
    Ok(Ok(RunRecord {
        run_id: r.get(0)?,
        worktree: r.get(1)?,
        active: r.get::<_, String>(2)? == "active",
        started_at: r.get(3)?,
        ended_at: r.get(4)?,
        base_sha: r.get(5)?,
        head_sha: r.get(6)?,
        exit_code: r.get(7)?,
        prompt_hash: r.get(8)?,
        scope,
        dod,
        correlation_id: r.get(11)?,
        thread_id: r.get(12)?,
    }))
}

/// A failure inside a transaction, before the index path is attached.
enum InsertError {
    Sqlite(&'static str, rusqlite::Error),
    DuplicateEvent(String),
}

impl InsertError {
    fn into_error(self, path: &Path) -> Error {
        match self {
            Self::Sqlite(action, source) => Error::Sqlite {
                path: path.to_owned(),
                action,
                source,
            },
            Self::DuplicateEvent(id) => Error::DuplicateEvent(id),
        }
    }
}

fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    event: NewEvent,
) -> std::result::Result<Event, InsertError> {
    let sql = |action| move |e| InsertError::Sqlite(action, e);
    if let Some(key) = &event.idempotency_key
        && let Some((event_id, seq, occurred_at, data)) = tx
            .query_row(
                "SELECT event_id, stream_seq, occurred_at, data_json FROM events WHERE idempotency_key = ?1",
                params![key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(sql("look up an event"))?
    {
        return Ok(Event {
            event_id,
            run_id: run_id.to_owned(),
            stream_seq: seq as u64,
            event_type: event.event_type.as_str().to_owned(),
            occurred_at,
            data: serde_json::from_str(&data).unwrap_or(Value::Null),
        });
    }
    let seq: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(stream_seq), 0) + 1 FROM events WHERE run_id = ?1",
            params![run_id],
            |r| r.get(0),
        )
        .map_err(sql("number the event"))?;
    let event_id = event.event_id.unwrap_or_else(|| format!("{run_id}.{seq}"));
    let taken: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = ?1)",
            params![event_id],
            |r| r.get(0),
        )
        .map_err(sql("look up an event"))?;
    if taken {
        return Err(InsertError::DuplicateEvent(event_id));
    }
    let stored = Event {
        event_id,
        run_id: run_id.to_owned(),
        stream_seq: seq as u64,
        event_type: event.event_type.as_str().to_owned(),
        occurred_at: event.occurred_at,
        data: event.data,
    };
    // The hash is of the event exactly as stored, so it can be recomputed from the row.
    let hash = stored.hash().unwrap_or_default();
    tx.execute(
        "INSERT INTO events (run_id, stream_seq, event_id, event_type, occurred_at, data_json, event_hash, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            run_id,
            seq,
            stored.event_id,
            stored.event_type,
            stored.occurred_at,
            stored.data.to_string(),
            hash,
            event.idempotency_key
        ],
    )
    .map_err(sql("append the event"))?;
    Ok(stored)
}
