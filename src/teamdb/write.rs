//! Writing published runs: whole runs of one repository, a batch per transaction, with the
//! repository's row in the same transaction, idempotently. A run that is already there as
//! published is left alone; one whose proof now reads differently (a new decision, a changed
//! verdict, a rewrite that carried it further) is replaced with its checks, violations and
//! decisions; its evidence manifest is finalized once and never replaced.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Error, Result, TeamDb, Verdict, is_transient, reason};
use crate::model::{Bundle, Decision, DodStatus, Manifest};

/// The earliest time written: PostgreSQL reads no year 0 or before in RFC 3339 form
/// (0001-01-01T00:00:00Z).
const EARLIEST: i64 = -62_135_596_800;

/// A signed time as the `timestamptz` columns take it: RFC 3339 with an offset, from year 1,
/// to the microsecond PostgreSQL keeps. `None` for anything else, which the caller reports:
/// one malformed time must not reach the database, where it would fail its whole batch.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t: Timestamp = text.parse().ok()?;
    let t = t.round(jiff::Unit::Microsecond).ok()?;
    (t.as_second() >= EARLIEST).then_some(t)
}

/// A repository runs are published from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The root commit of its history.
    pub workspace_id: String,
    pub name: String,
    /// Where it was fetched from, without credentials.
    pub url: Option<String>,
}

/// One run as published: its counting proof and what the publisher's checks found. It
/// belongs to the repository [`TeamDb::write_runs`] is given, whatever its manifest says.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// The commit whose note holds the proof.
    pub commit_sha: String,
    pub head_subject: Option<String>,
    pub started_at: Timestamp,
    /// The bundle's `generated_at`, parsed ([`parse_time`]).
    pub ended_at: Timestamp,
    pub verdict: Verdict,
    /// Why the verdict is not `valid`.
    pub reasons: Vec<String>,
    pub signed_by: String,
    pub fingerprint: String,
    pub bundle_digest: String,
    /// How many rewrites carried the proof to `commit_sha` (a run seen on several commits is
    /// published from the one carried furthest).
    pub carried_steps: u32,
    /// The bundle with the decisions in force folded into its violations.
    pub bundle: Bundle,
    /// Each of `bundle.scope_violations`, in order, as it stands.
    pub violations: Vec<ViolationRow>,
    pub violations_pending: u32,
    pub decisions: Vec<DecisionRow>,
    /// What a reader is shown besides the bundle, as JSON.
    pub reader_view: Value,
    /// The signed record, as the note holds it.
    pub record: String,
}

/// Where one scope violation stands.
#[derive(Debug, Clone)]
pub struct ViolationRow {
    /// `pending`, `approved`, `rejected`, `conflicting` or `unverified`.
    pub state: &'static str,
    /// Its approval's `decided_at`, parsed ([`parse_time`]).
    pub decided_at: Option<Timestamp>,
}

/// The decision in force on one path, and the record that made it.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub path: String,
    pub decision: Decision,
    pub decided_at: Timestamp,
    pub decided_by: String,
    pub reason: Option<String>,
    pub signed_by: String,
    pub record_digest: String,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub manifests_created: u64,
    /// Runs whose stored manifest has another hash than the one published now (kept: a manifest
    /// is finalized once).
    pub manifest_conflicts: Vec<String>,
    /// Runs published without their manifest: it has no workspace id (a shallow clone made it),
    /// and another repository's run of the same id holds its evidence id.
    pub manifests_elsewhere: Vec<String>,
}

impl Written {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Written) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.manifests_created += other.manifests_created;
        self.manifest_conflicts.extend(other.manifest_conflicts);
        self.manifests_elsewhere.extend(other.manifests_elsewhere);
    }
}

/// How often a batch is tried again after a deadlock or serialization failure with another
/// publisher before the failure is reported.
const ATTEMPTS: u32 = 8;

impl TeamDb {
    /// Writes whole runs of `repository` in one transaction, which also records the repository
    /// (its name and URL as this publisher knows them), so that a repository is never there
    /// without the runs it was recorded for. Retries the transaction when it lost a deadlock or
    /// a serialization failure to a concurrent publisher. A failure leaves none of it written.
    pub fn write_runs(&mut self, repository: &Repository, rows: &[RunRow]) -> Result<Written> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_batch(repository, rows) {
                Ok(written) => return Ok(written),
                Err((e, _)) if is_transient(&e) && attempt < ATTEMPTS => {
                    std::thread::sleep(std::time::Duration::from_millis(5 << attempt.min(6)));
                }
                // A commit the server did not answer may have taken effect.
                Err((e, "commit")) if e.as_db_error().is_none() => {
                    return Err(Error::CommitUnknown {
                        target: self.target.clone(),
                        reason: reason(&e),
                    });
                }
                Err((e, action)) => {
                    return Err(Error::Query {
                        target: self.target.clone(),
                        action,
                        reason: reason(&e),
                    });
                }
            }
        }
    }

    fn write_batch(
        &mut self,
        repository: &Repository,
        rows: &[RunRow],
    ) -> std::result::Result<Written, (postgres::Error, &'static str)> {
        let at = |action: &'static str| move |e| (e, action);
        let ws = repository.workspace_id.as_str();
        let mut sorted: Vec<&RunRow> = rows.iter().collect();
        // One order for every publisher, so that two batches lock shared runs alike.
        sorted.sort_by(|a, b| a.bundle.run_id.cmp(&b.bundle.run_id));
        sorted.dedup_by(|a, b| a.bundle.run_id == b.bundle.run_id);
        let mut runs: Vec<Value> = sorted.iter().map(|r| run_json(ws, r)).collect();
        let mut tx = self.client.transaction().map_err(at("begin"))?;
        // First, so that every publisher of the repository takes its row's lock before any run's.
        tx.execute(
            UPSERT_REPOSITORY,
            &[&repository.workspace_id, &repository.name, &repository.url],
        )
        .map_err(at("record the repository"))?;
        // What is there already as it would be written, or carried further, is not sent again:
        // publishing an unchanged repository costs one small query per batch.
        let ids: Vec<&str> = sorted.iter().map(|r| r.bundle.run_id.as_str()).collect();
        let stored: std::collections::HashMap<String, (String, i32)> = tx
            .query(STORED_DIGESTS, &[&ws, &ids])
            .map_err(at("read the runs published"))?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        let total = sorted.len() as u64;
        let keep = |r: &&RunRow, json: &Value| match stored.get(&r.bundle.run_id) {
            Some((digest, carried)) => {
                json["row_digest"].as_str() != Some(digest.as_str())
                    && i64::from(*carried) <= i64::from(r.carried_steps)
            }
            None => true,
        };
        let mut kept = Vec::with_capacity(sorted.len());
        let mut kept_json = Vec::with_capacity(sorted.len());
        for (row, json) in sorted.into_iter().zip(runs.drain(..)) {
            if keep(&row, &json) {
                kept.push(row);
                kept_json.push(json);
            }
        }
        let sorted = kept;
        let mut written = Written {
            unchanged: total - sorted.len() as u64,
            ..Written::default()
        };
        if sorted.is_empty() {
            tx.commit().map_err(at("commit"))?;
            return Ok(written);
        }
        let changed = tx
            .query(UPSERT_RUNS, &[&Value::Array(kept_json)])
            .map_err(at("write the runs"))?;
        let mut changed_ids = std::collections::HashSet::new();
        for row in &changed {
            if row.get::<_, bool>(1) {
                written.inserted += 1;
            } else {
                written.updated += 1;
            }
            changed_ids.insert(row.get::<_, String>(0));
        }
        if written.inserted > 0 {
            tx.execute(COUNT_NEW_RUNS, &[&ws, &(written.inserted as i64)])
                .map_err(at("count the repository's runs"))?;
        }
        written.unchanged += sorted.len() as u64 - written.inserted - written.updated;
        let rewritten: Vec<&RunRow> = sorted
            .iter()
            .copied()
            .filter(|r| changed_ids.contains(&r.bundle.run_id))
            .collect();
        if !rewritten.is_empty() {
            let ids: Vec<&str> = rewritten.iter().map(|r| r.bundle.run_id.as_str()).collect();
            for delete in DELETE_CHILDREN {
                tx.execute(*delete, &[&ws, &ids])
                    .map_err(at("replace a run's checks"))?;
            }
            let checks = Value::Array(rewritten.iter().flat_map(|r| checks_json(ws, r)).collect());
            tx.execute(INSERT_CHECKS, &[&checks])
                .map_err(at("write the DoD results"))?;
            let violations = Value::Array(rewritten.iter().flat_map(|r| violations_json(ws, r)).collect());
            tx.execute(INSERT_VIOLATIONS, &[&violations])
                .map_err(at("write the scope violations"))?;
            let decisions = Value::Array(rewritten.iter().flat_map(|r| decisions_json(ws, r)).collect());
            tx.execute(INSERT_DECISIONS, &[&decisions])
                .map_err(at("write the scope decisions"))?;
        }
        let manifests = Value::Array(sorted.iter().map(|r| manifest_json(ws, r)).collect());
        written.manifests_created = tx
            .execute(INSERT_MANIFESTS, &[&manifests])
            .map_err(at("finalize the evidence manifests"))?;
        for row in tx
            .query(MANIFEST_CONFLICTS, &[&manifests])
            .map_err(at("compare the evidence manifests"))?
        {
            let (run_id, elsewhere): (String, bool) = (row.get(0), row.get(1));
            if elsewhere {
                written.manifests_elsewhere.push(run_id);
            } else {
                written.manifest_conflicts.push(run_id);
            }
        }
        tx.commit().map_err(at("commit"))?;
        Ok(written)
    }
}

/// The repository's row, named as this publisher names it; a URL this publisher does not know
/// (`--no-fetch`) keeps the one another gave.
const UPSERT_REPOSITORY: &str = r#"
INSERT INTO repositories (workspace_id, name, url) VALUES ($1, $2, $3)
ON CONFLICT (workspace_id) DO UPDATE
    SET name = excluded.name, url = coalesce(excluded.url, repositories.url), last_published_at = now()
"#;

/// The digest and carried steps of the runs of a batch that are published already.
const STORED_DIGESTS: &str = r#"
SELECT run_id, row_digest, carried_steps FROM runs WHERE workspace_id = $1 AND run_id = ANY($2)
"#;

/// Inserts new runs and replaces those that read differently now; returns each run written,
/// and whether it is new. A proof carried by fewer rewrites never replaces one carried further.
const UPSERT_RUNS: &str = r#"
INSERT INTO runs (workspace_id, run_id, commit_sha, base_sha, head_sha, head_subject, run_status, exit_code,
                  started_at, ended_at, files_changed, insertions, deletions, checks_passed, checks_failed,
                  checks_error, checks_timeout, checks_pending, violations_pending, verdict, reasons, signed_by,
                  fingerprint, bundle_digest, carried_steps, row_digest, bundle, reader_view, record)
SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    workspace_id text, run_id text, commit_sha text, base_sha text, head_sha text, head_subject text,
    run_status text, exit_code integer, started_at timestamptz, ended_at timestamptz, files_changed bigint,
    insertions bigint, deletions bigint, checks_passed integer, checks_failed integer, checks_error integer,
    checks_timeout integer, checks_pending integer, violations_pending integer, verdict text, reasons jsonb,
    signed_by text, fingerprint text, bundle_digest text, carried_steps integer, row_digest text, bundle jsonb,
    reader_view jsonb, record text)
ON CONFLICT (workspace_id, run_id) DO UPDATE SET
    commit_sha = excluded.commit_sha, base_sha = excluded.base_sha, head_sha = excluded.head_sha,
    head_subject = excluded.head_subject, run_status = excluded.run_status, exit_code = excluded.exit_code,
    started_at = excluded.started_at, ended_at = excluded.ended_at, files_changed = excluded.files_changed,
    insertions = excluded.insertions, deletions = excluded.deletions, checks_passed = excluded.checks_passed,
    checks_failed = excluded.checks_failed, checks_error = excluded.checks_error,
    checks_timeout = excluded.checks_timeout, checks_pending = excluded.checks_pending,
    violations_pending = excluded.violations_pending, verdict = excluded.verdict, reasons = excluded.reasons,
    signed_by = excluded.signed_by, fingerprint = excluded.fingerprint, bundle_digest = excluded.bundle_digest,
    carried_steps = excluded.carried_steps, row_digest = excluded.row_digest, bundle = excluded.bundle,
    reader_view = excluded.reader_view, record = excluded.record, published_at = now()
WHERE excluded.carried_steps >= runs.carried_steps AND excluded.row_digest <> runs.row_digest
RETURNING run_id, (xmax = 0)
"#;

const COUNT_NEW_RUNS: &str = "UPDATE repositories SET run_count = run_count + $2 WHERE workspace_id = $1";

const DELETE_CHILDREN: &[&str] = &[
    "DELETE FROM dod_results WHERE workspace_id = $1 AND run_id = ANY($2)",
    "DELETE FROM scope_violations WHERE workspace_id = $1 AND run_id = ANY($2)",
    "DELETE FROM scope_decisions WHERE workspace_id = $1 AND run_id = ANY($2)",
];

const INSERT_CHECKS: &str = r#"
INSERT INTO dod_results (workspace_id, run_id, position, name, command, status, exit_code, duration_ms,
                         log_digest, log_size)
SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    workspace_id text, run_id text, position integer, name text, command text, status text, exit_code integer,
    duration_ms bigint, log_digest text, log_size bigint)
"#;

const INSERT_VIOLATIONS: &str = r#"
INSERT INTO scope_violations (workspace_id, run_id, path, rule, state, decided_at, decided_by, reason)
SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    workspace_id text, run_id text, path text, rule text, state text, decided_at timestamptz,
    decided_by text, reason text)
"#;

const INSERT_DECISIONS: &str = r#"
INSERT INTO scope_decisions (workspace_id, run_id, path, decision, decided_at, decided_by, reason, signed_by,
                             record_digest)
SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    workspace_id text, run_id text, path text, decision text, decided_at timestamptz, decided_by text,
    reason text, signed_by text, record_digest text)
"#;

/// Finalizes each run's manifest once: a second finalize (publishing again, or another clone
/// publishing at the same moment) finds the first row and writes nothing.
const INSERT_MANIFESTS: &str = r#"
INSERT INTO proj_evidence_manifests (evidence_id, workspace_id, run_id, room_id, thread_id, correlation_id,
                                     run_status, manifest, manifest_hash, event_hash_root, stream_type, stream_id,
                                     from_seq, to_seq, event_count, finalized_at, last_event_id, idempotency_key)
SELECT evidence_id, workspace_id, run_id, NULL, thread_id, correlation_id, run_status, manifest, manifest_hash,
       event_hash_root, stream_type, stream_id, from_seq, to_seq, event_count, finalized_at, last_event_id,
       idempotency_key
FROM jsonb_to_recordset($1::jsonb) AS x(
    evidence_id text, workspace_id text, run_id text, thread_id text, correlation_id text, run_status text,
    manifest jsonb, manifest_hash text, event_hash_root text, stream_type text, stream_id text, from_seq bigint,
    to_seq bigint, event_count bigint, finalized_at timestamptz, last_event_id text, idempotency_key text)
ON CONFLICT DO NOTHING
"#;

/// The runs of a batch whose stored manifest is another one, and whether theirs is missing
/// (its evidence id is another repository's: only a manifest without a workspace id shares one).
const MANIFEST_CONFLICTS: &str = r#"
SELECT x.run_id, m.run_id IS NULL
FROM jsonb_to_recordset($1::jsonb) AS x(workspace_id text, run_id text, manifest_hash text)
LEFT JOIN proj_evidence_manifests m ON m.workspace_id = x.workspace_id AND m.run_id = x.run_id
WHERE m.run_id IS NULL OR m.manifest_hash <> x.manifest_hash
"#;

/// The run's row as JSON, with `row_digest`: sha256 of the rest.
fn run_json(ws: &str, r: &RunRow) -> Value {
    let mut row = run_fields(ws, r);
    let digest = crate::canon::prefixed_sha256(row.to_string().as_bytes());
    row["row_digest"] = Value::String(digest);
    row
}

fn run_fields(ws: &str, r: &RunRow) -> Value {
    let b = &r.bundle;
    let count = |status: DodStatus| b.dod_results.iter().filter(|d| d.status == status).count();
    json!({
        "workspace_id": ws,
        "run_id": b.run_id,
        "commit_sha": r.commit_sha,
        "base_sha": b.base_sha,
        "head_sha": b.head_sha,
        "head_subject": r.head_subject,
        "run_status": b.run_status.as_str(),
        "exit_code": b.exit_code,
        "started_at": r.started_at.to_string(),
        "ended_at": r.ended_at.to_string(),
        "files_changed": b.diff_stat.files,
        "insertions": b.diff_stat.insertions,
        "deletions": b.diff_stat.deletions,
        "checks_passed": count(DodStatus::Passed),
        "checks_failed": count(DodStatus::Failed),
        "checks_error": count(DodStatus::Error),
        "checks_timeout": count(DodStatus::Timeout),
        "checks_pending": count(DodStatus::Pending),
        "violations_pending": r.violations_pending,
        "verdict": r.verdict.as_str(),
        "reasons": r.reasons,
        "signed_by": r.signed_by,
        "fingerprint": r.fingerprint,
        "bundle_digest": r.bundle_digest,
        "carried_steps": r.carried_steps,
        "bundle": b,
        "reader_view": r.reader_view,
        "record": r.record,
    })
}

fn checks_json(ws: &str, r: &RunRow) -> Vec<Value> {
    let b = &r.bundle;
    b.dod_results
        .iter()
        .enumerate()
        .map(|(position, d)| {
            let command = b.dod_snapshot.iter().find(|c| c.name == d.name).map(|c| &c.command);
            json!({
                "workspace_id": ws, "run_id": b.run_id, "position": position, "name": d.name,
                "command": command, "status": d.status.as_str(), "exit_code": d.exit_code,
                "duration_ms": d.duration_ms, "log_digest": d.log_digest, "log_size": d.log_size,
            })
        })
        .collect()
}

fn violations_json(ws: &str, r: &RunRow) -> Vec<Value> {
    let b = &r.bundle;
    b.scope_violations
        .iter()
        .zip(&r.violations)
        .map(|(v, row)| {
            json!({
                "workspace_id": ws, "run_id": b.run_id, "path": v.path, "rule": v.rule,
                "state": row.state, "decided_at": row.decided_at.map(|t| t.to_string()),
                "decided_by": v.approval.decided_by, "reason": v.approval.reason,
            })
        })
        .collect()
}

fn decisions_json(ws: &str, r: &RunRow) -> Vec<Value> {
    r.decisions
        .iter()
        .map(|d| {
            json!({
                "workspace_id": ws, "run_id": r.bundle.run_id, "path": d.path,
                "decision": d.decision.as_str(), "decided_at": d.decided_at.to_string(), "decided_by": d.decided_by,
                "reason": d.reason, "signed_by": d.signed_by, "record_digest": d.record_digest,
            })
        })
        .collect()
}

fn manifest_json(ws: &str, r: &RunRow) -> Value {
    let m: &Manifest = &r.bundle.evidence;
    json!({
        "evidence_id": m.evidence_id(),
        "workspace_id": ws,
        "run_id": r.bundle.run_id,
        "thread_id": m.thread_id,
        "correlation_id": m.correlation_id,
        "run_status": m.run_status.as_str(),
        "manifest": m,
        "manifest_hash": m.manifest_hash,
        "event_hash_root": m.event_hash_root,
        "stream_type": m.stream_type,
        "stream_id": m.stream_id,
        "from_seq": m.from_seq,
        "to_seq": m.to_seq,
        "event_count": m.event_count,
        // The bundle was signed once its manifest was final.
        "finalized_at": r.ended_at.to_string(),
        "last_event_id": m.last_event_id(),
        "idempotency_key": Manifest::idempotency_key(&r.bundle.run_id),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn only_times_postgresql_reads_alike_are_written() {
        let written = |text: &str| parse_time(text).map(|t| t.to_string());
        assert_eq!(written("2026-11-23T10:00:00Z").as_deref(), Some("2026-11-23T10:00:00Z"));
        assert_eq!(
            written("2026-11-23T12:00:00+02:00").as_deref(),
            Some("2026-11-23T10:00:00Z")
        );
        assert_eq!(
            written("2026-11-23T10:00:00.1234567Z").as_deref(),
            Some("2026-11-23T10:00:00.123457Z")
        );
        assert_eq!(written("0001-01-01T00:00:00Z").as_deref(), Some("0001-01-01T00:00:00Z"));
        for bad in [
            "",
            "yesterday",
            "2026-11-23",
            "2026-11-23T10:00:00",
            "2026-13-01T00:00:00Z",
            "0000-12-31T23:59:59Z",
            "-000001-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
