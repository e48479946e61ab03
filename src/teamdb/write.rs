//! Writing published runs: whole runs, a batch per transaction, idempotently. A run that is
//! already there as published is left alone; one whose proof now reads differently (a new
//! decision, a changed verdict, a rewrite that carried it further) is replaced with its checks,
//! violations and decisions; its evidence manifest is finalized once and never replaced.

use serde_json::{Value, json};

use super::{Error, Result, TeamDb, Verdict, is_transient, reason};
use crate::model::{Bundle, Decision, DodStatus, Manifest};

/// A repository runs are published from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The root commit of its history.
    pub workspace_id: String,
    pub name: String,
    /// Where it was fetched from, without credentials.
    pub url: Option<String>,
}

/// One run as published: its counting proof and what the publisher's checks found.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub workspace_id: String,
    /// The commit whose note holds the proof.
    pub commit_sha: String,
    pub head_subject: Option<String>,
    pub started_at: String,
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
    /// Where each of `bundle.scope_violations` stands, in order (`pending`, `approved`,
    /// `rejected`, `conflicting`, `unverified`).
    pub standings: Vec<&'static str>,
    pub violations_pending: u32,
    pub decisions: Vec<DecisionRow>,
    /// What a reader is shown besides the bundle, as JSON.
    pub reader_view: Value,
    /// The signed record, as the note holds it.
    pub record: String,
}

impl RunRow {
    fn key(&self) -> (&str, &str) {
        (&self.workspace_id, &self.bundle.run_id)
    }
}

/// The decision in force on one path, and the record that made it.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub path: String,
    pub decision: Decision,
    pub decided_at: String,
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
}

impl Written {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Written) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.manifests_created += other.manifests_created;
        self.manifest_conflicts.extend(other.manifest_conflicts);
    }
}

/// How often a batch is tried again after a deadlock or serialization failure with another
/// publisher before the failure is reported.
const ATTEMPTS: u32 = 8;

impl TeamDb {
    /// Records the repositories (their name and URL as this publisher knows them).
    pub fn register_repositories(&mut self, repositories: &[Repository]) -> Result<()> {
        let rows: Vec<Value> = repositories
            .iter()
            .map(|r| json!({ "workspace_id": r.workspace_id, "name": r.name, "url": r.url }))
            .collect();
        self.client
            .execute(
                "INSERT INTO repositories (workspace_id, name, url)
                 SELECT workspace_id, name, url FROM jsonb_to_recordset($1::jsonb)
                     AS x(workspace_id text, name text, url text)
                 ORDER BY workspace_id
                 ON CONFLICT (workspace_id) DO UPDATE
                     SET name = excluded.name, url = coalesce(excluded.url, repositories.url),
                         last_published_at = now()",
                &[&Value::Array(rows)],
            )
            .map_err(self.err("record the repository"))?;
        Ok(())
    }

    /// Writes whole runs in one transaction, retrying it when it lost a deadlock or a
    /// serialization failure to a concurrent publisher. A failure leaves none of them written.
    pub fn write_runs(&mut self, rows: &[RunRow]) -> Result<Written> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_batch(rows) {
                Ok(written) => return Ok(written),
                Err((e, _)) if is_transient(&e) && attempt < ATTEMPTS => {
                    std::thread::sleep(std::time::Duration::from_millis(5 << attempt.min(6)));
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

    fn write_batch(&mut self, rows: &[RunRow]) -> std::result::Result<Written, (postgres::Error, &'static str)> {
        let at = |action: &'static str| move |e| (e, action);
        let mut sorted: Vec<&RunRow> = rows.iter().collect();
        // One order for every publisher, so that two batches lock shared runs alike.
        sorted.sort_by(|a, b| a.key().cmp(&b.key()));
        sorted.dedup_by(|a, b| a.key() == b.key());
        let mut runs: Vec<Value> = sorted.iter().map(|r| run_json(r)).collect();
        let mut tx = self.client.transaction().map_err(at("begin"))?;
        // What is there already as it would be written, or carried further, is not sent again:
        // publishing an unchanged repository costs one small query per batch.
        let keys = Value::Array(
            runs.iter()
                .map(|r| json!({ "workspace_id": r["workspace_id"], "run_id": r["run_id"] }))
                .collect(),
        );
        let stored: std::collections::HashMap<(String, String), (String, i32)> = tx
            .query(STORED_DIGESTS, &[&keys])
            .map_err(at("read the runs published"))?
            .iter()
            .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3))))
            .collect();
        let total = sorted.len() as u64;
        let keep = |r: &&RunRow, json: &Value| match stored.get(&(r.workspace_id.clone(), r.bundle.run_id.clone())) {
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
        let mut changed_keys = std::collections::HashSet::new();
        let mut new_per_workspace: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        for row in &changed {
            let (workspace, run): (String, String) = (row.get(0), row.get(1));
            if row.get::<_, bool>(2) {
                written.inserted += 1;
                *new_per_workspace.entry(workspace.clone()).or_default() += 1;
            } else {
                written.updated += 1;
            }
            changed_keys.insert((workspace, run));
        }
        if !new_per_workspace.is_empty() {
            let counts = Value::Array(
                new_per_workspace
                    .iter()
                    .map(|(ws, n)| json!({ "workspace_id": ws, "n": n }))
                    .collect(),
            );
            tx.execute(COUNT_NEW_RUNS, &[&counts])
                .map_err(at("count the repository's runs"))?;
        }
        written.unchanged += sorted.len() as u64 - written.inserted - written.updated;
        let is_changed = |r: &&&RunRow| changed_keys.contains(&(r.workspace_id.clone(), r.bundle.run_id.clone()));
        let rewritten: Vec<&&RunRow> = sorted.iter().filter(is_changed).collect();
        if !rewritten.is_empty() {
            let keys = Value::Array(
                rewritten
                    .iter()
                    .map(|r| json!({ "workspace_id": r.workspace_id, "run_id": r.bundle.run_id }))
                    .collect(),
            );
            for delete in DELETE_CHILDREN {
                tx.execute(*delete, &[&keys]).map_err(at("replace a run's checks"))?;
            }
            let checks = Value::Array(rewritten.iter().flat_map(|r| checks_json(r)).collect());
            tx.execute(INSERT_CHECKS, &[&checks])
                .map_err(at("write the DoD results"))?;
            let violations = Value::Array(rewritten.iter().flat_map(|r| violations_json(r)).collect());
            tx.execute(INSERT_VIOLATIONS, &[&violations])
                .map_err(at("write the scope violations"))?;
            let decisions = Value::Array(rewritten.iter().flat_map(|r| decisions_json(r)).collect());
            tx.execute(INSERT_DECISIONS, &[&decisions])
                .map_err(at("write the scope decisions"))?;
        }
        let manifests = Value::Array(sorted.iter().map(|r| manifest_json(r)).collect());
        written.manifests_created = tx
            .execute(INSERT_MANIFESTS, &[&manifests])
            .map_err(at("finalize the evidence manifests"))?;
        let conflicts = tx
            .query(MANIFEST_CONFLICTS, &[&manifests])
            .map_err(at("compare the evidence manifests"))?;
        written.manifest_conflicts = conflicts.iter().map(|r| r.get(0)).collect();
        tx.commit().map_err(at("commit"))?;
        Ok(written)
    }
}

/// The digest and carried steps of the runs of a batch that are published already.
const STORED_DIGESTS: &str = r#"
SELECT r.workspace_id, r.run_id, r.row_digest, r.carried_steps FROM runs r
JOIN jsonb_to_recordset($1::jsonb) AS k(workspace_id text, run_id text)
  ON r.workspace_id = k.workspace_id AND r.run_id = k.run_id
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
RETURNING workspace_id, run_id, (xmax = 0)
"#;

const COUNT_NEW_RUNS: &str = r#"
UPDATE repositories p SET run_count = p.run_count + x.n
FROM jsonb_to_recordset($1::jsonb) AS x(workspace_id text, n bigint)
WHERE p.workspace_id = x.workspace_id
"#;

const DELETE_CHILDREN: &[&str] = &[
    "DELETE FROM dod_results t USING jsonb_to_recordset($1::jsonb) AS k(workspace_id text, run_id text)
     WHERE t.workspace_id = k.workspace_id AND t.run_id = k.run_id",
    "DELETE FROM scope_violations t USING jsonb_to_recordset($1::jsonb) AS k(workspace_id text, run_id text)
     WHERE t.workspace_id = k.workspace_id AND t.run_id = k.run_id",
    "DELETE FROM scope_decisions t USING jsonb_to_recordset($1::jsonb) AS k(workspace_id text, run_id text)
     WHERE t.workspace_id = k.workspace_id AND t.run_id = k.run_id",
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

const MANIFEST_CONFLICTS: &str = r#"
SELECT m.run_id FROM proj_evidence_manifests m
JOIN jsonb_to_recordset($1::jsonb) AS x(workspace_id text, run_id text, manifest_hash text)
  ON m.workspace_id = x.workspace_id AND m.run_id = x.run_id
WHERE m.manifest_hash <> x.manifest_hash
"#;

/// The run's row as JSON, with `row_digest`: sha256 of the rest.
fn run_json(r: &RunRow) -> Value {
    let mut row = run_fields(r);
    let digest = crate::canon::prefixed_sha256(row.to_string().as_bytes());
    row["row_digest"] = Value::String(digest);
    row
}

fn run_fields(r: &RunRow) -> Value {
    let b = &r.bundle;
    let count = |status: DodStatus| b.dod_results.iter().filter(|d| d.status == status).count();
    json!({
        "workspace_id": r.workspace_id,
        "run_id": b.run_id,
        "commit_sha": r.commit_sha,
        "base_sha": b.base_sha,
        "head_sha": b.head_sha,
        "head_subject": r.head_subject,
        "run_status": b.run_status.as_str(),
        "exit_code": b.exit_code,
        "started_at": r.started_at,
        "ended_at": b.generated_at,
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

fn checks_json(r: &RunRow) -> Vec<Value> {
    let b = &r.bundle;
    b.dod_results
        .iter()
        .enumerate()
        .map(|(position, d)| {
            let command = b.dod_snapshot.iter().find(|c| c.name == d.name).map(|c| &c.command);
            json!({
                "workspace_id": r.workspace_id, "run_id": b.run_id, "position": position, "name": d.name,
                "command": command, "status": d.status.as_str(), "exit_code": d.exit_code,
                "duration_ms": d.duration_ms, "log_digest": d.log_digest, "log_size": d.log_size,
            })
        })
        .collect()
}

fn violations_json(r: &RunRow) -> Vec<Value> {
    let b = &r.bundle;
    b.scope_violations
        .iter()
        .zip(&r.standings)
        .map(|(v, state)| {
            json!({
                "workspace_id": r.workspace_id, "run_id": b.run_id, "path": v.path, "rule": v.rule,
                "state": state, "decided_at": v.approval.decided_at, "decided_by": v.approval.decided_by,
                "reason": v.approval.reason,
            })
        })
        .collect()
}

fn decisions_json(r: &RunRow) -> Vec<Value> {
    r.decisions
        .iter()
        .map(|d| {
            json!({
                "workspace_id": r.workspace_id, "run_id": r.bundle.run_id, "path": d.path,
                "decision": d.decision.as_str(), "decided_at": d.decided_at, "decided_by": d.decided_by,
                "reason": d.reason, "signed_by": d.signed_by, "record_digest": d.record_digest,
            })
        })
        .collect()
}

fn manifest_json(r: &RunRow) -> Value {
    let m: &Manifest = &r.bundle.evidence;
    json!({
        "evidence_id": m.evidence_id(Some(&r.workspace_id)),
        "workspace_id": r.workspace_id,
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
        "finalized_at": r.bundle.generated_at,
        "last_event_id": m.last_event_id(),
        "idempotency_key": Manifest::idempotency_key(&r.bundle.run_id),
    })
}
