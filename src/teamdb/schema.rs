//! The team database's tables (docs/format.md, "The team database"), created by the first
//! publish and upgraded by later ones; `git_proof_schema` holds the version.

use super::{Error, Result, TeamDb};

/// Bumped when [`SCHEMA`] changes; later versions only add.
pub(super) const VERSION: i32 = 1;

/// Serializes schema changes between publishers that start at the same moment (an advisory
/// lock, so no table needs to exist to take it): "gitproof" in ASCII.
const SCHEMA_LOCK: i64 = 0x6769_7470_726f_6f66;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS git_proof_schema (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   integer NOT NULL
);
-- One row per repository: its id is the root commit of its history, the same in every clone.
CREATE TABLE IF NOT EXISTS repositories (
    workspace_id       text PRIMARY KEY,
    name               text NOT NULL,
    url                text,
    first_published_at timestamptz NOT NULL DEFAULT now(),
    last_published_at  timestamptz NOT NULL DEFAULT now(),
    -- Its rows in runs, kept by each publish in the transaction that inserts them (runs are
    -- never deleted), so that a list's total needs no count over every run.
    run_count          bigint NOT NULL DEFAULT 0
);
-- One row per run of a repository whose proof counts under the publisher's trust.
CREATE TABLE IF NOT EXISTS runs (
    workspace_id       text NOT NULL REFERENCES repositories (workspace_id),
    run_id             text NOT NULL,
    commit_sha         text NOT NULL,
    base_sha           text NOT NULL,
    head_sha           text NOT NULL,
    head_subject       text,
    run_status         text NOT NULL CHECK (run_status IN ('succeeded', 'failed')),
    exit_code          integer NOT NULL,
    started_at         timestamptz NOT NULL,
    ended_at           timestamptz NOT NULL,
    files_changed      bigint NOT NULL,
    insertions         bigint NOT NULL,
    deletions          bigint NOT NULL,
    checks_passed      integer NOT NULL,
    checks_failed      integer NOT NULL,
    checks_error       integer NOT NULL,
    checks_timeout     integer NOT NULL,
    checks_pending     integer NOT NULL,
    violations_pending integer NOT NULL,
    verdict            text NOT NULL CHECK (verdict IN ('valid', 'unchecked', 'invalid')),
    reasons            jsonb NOT NULL,
    signed_by          text NOT NULL,
    fingerprint        text NOT NULL,
    bundle_digest      text NOT NULL,
    carried_steps      integer NOT NULL,
    -- sha256 of everything above and below as published: equal means nothing to rewrite.
    row_digest         text NOT NULL,
    bundle             jsonb NOT NULL,
    reader_view        jsonb NOT NULL,
    record             text NOT NULL,
    published_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, run_id)
);
CREATE INDEX IF NOT EXISTS runs_newest ON runs (started_at DESC, workspace_id, run_id);
CREATE INDEX IF NOT EXISTS runs_of_repository ON runs (workspace_id, started_at DESC, run_id);
CREATE INDEX IF NOT EXISTS runs_failed ON runs (started_at DESC) WHERE run_status = 'failed';
CREATE INDEX IF NOT EXISTS runs_failed_checks ON runs (started_at DESC)
    WHERE checks_failed + checks_error + checks_timeout > 0;
CREATE INDEX IF NOT EXISTS runs_pending_violations ON runs (started_at DESC) WHERE violations_pending > 0;
CREATE INDEX IF NOT EXISTS runs_not_valid ON runs (started_at DESC) WHERE verdict <> 'valid';
-- The evidence projection: one manifest per run, finalized once.
CREATE TABLE IF NOT EXISTS proj_evidence_manifests (
    evidence_id     text PRIMARY KEY,
    workspace_id    text NOT NULL,
    run_id          text NOT NULL,
    room_id         text,
    thread_id       text,
    correlation_id  text,
    run_status      text NOT NULL CHECK (run_status IN ('succeeded', 'failed')),
    manifest        jsonb NOT NULL,
    manifest_hash   text NOT NULL,
    event_hash_root text NOT NULL,
    stream_type     text NOT NULL,
    stream_id       text NOT NULL,
    from_seq        bigint NOT NULL,
    to_seq          bigint NOT NULL,
    event_count     bigint NOT NULL,
    finalized_at    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_event_id   text,
    idempotency_key text NOT NULL,
    UNIQUE (workspace_id, run_id),
    UNIQUE (workspace_id, idempotency_key),
    FOREIGN KEY (workspace_id, run_id) REFERENCES runs (workspace_id, run_id)
);
CREATE TABLE IF NOT EXISTS dod_results (
    workspace_id text NOT NULL,
    run_id       text NOT NULL,
    position     integer NOT NULL,
    name         text NOT NULL,
    command      text,
    status       text NOT NULL CHECK (status IN ('passed', 'failed', 'error', 'timeout', 'pending')),
    exit_code    integer,
    duration_ms  bigint NOT NULL,
    log_digest   text,
    log_size     bigint NOT NULL,
    PRIMARY KEY (workspace_id, run_id, position),
    FOREIGN KEY (workspace_id, run_id) REFERENCES runs (workspace_id, run_id) ON DELETE CASCADE
);
-- Each violation as it stands under the decisions the publisher's trust vouches for.
CREATE TABLE IF NOT EXISTS scope_violations (
    workspace_id text NOT NULL,
    run_id       text NOT NULL,
    path         text NOT NULL,
    rule         text NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'conflicting', 'unverified')),
    decided_at   timestamptz,
    decided_by   text,
    reason       text,
    PRIMARY KEY (workspace_id, run_id, path),
    FOREIGN KEY (workspace_id, run_id) REFERENCES runs (workspace_id, run_id) ON DELETE CASCADE
);
-- The decision in force on each decided path, and the signed record that made it.
CREATE TABLE IF NOT EXISTS scope_decisions (
    workspace_id  text NOT NULL,
    run_id        text NOT NULL,
    path          text NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('approved', 'rejected')),
    decided_at    timestamptz NOT NULL,
    decided_by    text NOT NULL,
    reason        text,
    signed_by     text NOT NULL,
    record_digest text NOT NULL,
    PRIMARY KEY (workspace_id, run_id, path),
    FOREIGN KEY (workspace_id, run_id) REFERENCES runs (workspace_id, run_id) ON DELETE CASCADE
);
"#;

/// The schema version the database holds, `None` before the first publish.
fn stored_version(db: &mut TeamDb) -> Result<Option<i32>> {
    let err = db.err("read the schema version");
    let exists: bool = db
        .client
        .query_one("SELECT to_regclass('git_proof_schema') IS NOT NULL", &[])
        .map_err(db.err("read the schema version"))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = db
        .client
        .query_opt("SELECT version FROM git_proof_schema", &[])
        .map_err(err)?;
    Ok(row.map(|r| r.get(0)))
}

/// For readers: the schema must be there, and not newer than this git-proof.
pub(super) fn check(db: &mut TeamDb) -> Result<()> {
    match stored_version(db)? {
        None => Err(Error::NoSchema {
            target: db.target.clone(),
        }),
        Some(version) if version > VERSION => Err(newer(db, version)),
        Some(_) => Ok(()),
    }
}

/// For publishers: creates the schema, or brings an older one up to date, in one transaction
/// under [`SCHEMA_LOCK`]; refuses a newer one, whose rows may mean what this version cannot know.
pub(super) fn ensure(db: &mut TeamDb) -> Result<()> {
    match stored_version(db)? {
        Some(VERSION) => return Ok(()),
        Some(version) if version > VERSION => return Err(newer(db, version)),
        _ => {}
    }
    let target = db.target.clone();
    let err = |action| {
        let target = target.clone();
        move |e: postgres::Error| Error::Query {
            target,
            action,
            reason: super::reason(&e),
        }
    };
    let mut tx = db.client.transaction().map_err(err("begin"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(err("lock the schema"))?;
    tx.batch_execute(SCHEMA).map_err(err("create the schema"))?;
    let stored: Option<i32> = tx
        .query_opt("SELECT version FROM git_proof_schema", &[])
        .map_err(err("read the schema version"))?
        .map(|r| r.get(0));
    if let Some(version) = stored.filter(|v| *v > VERSION) {
        return Err(Error::NewerSchema {
            target,
            version,
            known: VERSION,
        });
    }
    tx.execute(
        "INSERT INTO git_proof_schema (version) VALUES ($1)
         ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
        &[&VERSION],
    )
    .map_err(err("record the schema version"))?;
    tx.commit().map_err(err("commit the schema"))
}

fn newer(db: &TeamDb, version: i32) -> Error {
    Error::NewerSchema {
        target: db.target.clone(),
        version,
        known: VERSION,
    }
}
