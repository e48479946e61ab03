//! What a run produced: DoD results, scope violations and decisions, the evidence manifest and
//! the reference of its proof.

use rusqlite::{Connection, OptionalExtension, params};

use super::{BundleRef, Error, Index, Result, begin, sql_error};
use crate::model::{Approval, ApprovalState, DodResult, DodStatus, Manifest, ScopeViolation};

impl Index {
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
        let values = params![
            run_id,
            path,
            approval.state.as_str(),
            approval.decided_at,
            approval.decided_by,
            approval.reason
        ];
        self.conn
            .execute(
                "INSERT INTO scope_decisions (run_id, path, state, decided_at, decided_by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id, path) DO UPDATE SET state = excluded.state,
                   decided_at = excluded.decided_at, decided_by = excluded.decided_by, reason = excluded.reason",
                values,
            )
            .map_err(self.err("save a decision"))?;
        self.conn
            .execute(
                "UPDATE scope_violations SET state = ?3, decided_at = ?4, decided_by = ?5, reason = ?6
                 WHERE run_id = ?1 AND path = ?2",
                values,
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
                let state: String = r.get(1)?;
                Ok((
                    r.get::<_, String>(0)?,
                    ApprovalState::parse(&state),
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })
            .map_err(self.err("read decisions"))?;
        let mut decisions = Vec::new();
        for row in rows {
            let (path, state, decided_at, decided_by, reason) = row.map_err(self.err("read decisions"))?;
            let state = state.ok_or_else(|| Error::Malformed {
                what: "decision",
                run_id: run_id.to_owned(),
            })?;
            decisions.push((
                path,
                Approval {
                    state,
                    decided_at,
                    decided_by,
                    reason,
                },
            ));
        }
        Ok(decisions)
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
    pub fn save_manifest(&mut self, run_id: &str, manifest: &Manifest, finalized_at: &str) -> Result<(Manifest, bool)> {
        let inserted =
            insert_manifest(&self.conn, run_id, manifest, finalized_at).map_err(self.err("save the manifest"))?;
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
}

pub(super) fn insert_checks(conn: &Connection, run_id: &str, results: &[DodResult]) -> rusqlite::Result<()> {
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

pub(super) fn insert_violations(
    conn: &Connection,
    run_id: &str,
    violations: &[ScopeViolation],
) -> rusqlite::Result<()> {
    for v in violations {
        conn.execute(
            "INSERT OR IGNORE INTO scope_violations (run_id, path, rule, state, decided_at, decided_by, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run_id,
                v.path,
                v.rule,
                v.approval.state.as_str(),
                v.approval.decided_at,
                v.approval.decided_by,
                v.approval.reason
            ],
        )?;
    }
    Ok(())
}

/// Returns how many rows were inserted: 0 when the run already has a manifest.
pub(super) fn insert_manifest(
    conn: &Connection,
    run_id: &str,
    manifest: &Manifest,
    finalized_at: &str,
) -> rusqlite::Result<usize> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO evidence_manifests (run_id, manifest_json, manifest_hash, finalized_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
        params![
            run_id,
            serde_json::to_string(manifest).unwrap_or_default(),
            manifest.manifest_hash,
            finalized_at
        ],
    )?;
    if inserted == 1 {
        set_manifest_columns(conn, run_id, manifest)?;
    }
    Ok(inserted)
}

/// Fills the projection's columns of one stored manifest from the manifest itself.
fn set_manifest_columns(conn: &Connection, run_id: &str, m: &Manifest) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE evidence_manifests SET evidence_id = ?2, workspace_id = ?3, thread_id = ?4, correlation_id = ?5,
             run_status = ?6, event_hash_root = ?7, stream_type = ?8, stream_id = ?9, from_seq = ?10, to_seq = ?11,
             event_count = ?12, last_event_id = ?13, idempotency_key = ?14
         WHERE run_id = ?1",
        params![
            run_id,
            m.evidence_id(),
            m.workspace_id,
            m.thread_id,
            m.correlation_id,
            m.run_status.as_str(),
            m.event_hash_root,
            m.stream_type,
            m.stream_id,
            m.from_seq as i64,
            m.to_seq as i64,
            m.event_count as i64,
            m.last_event_id(),
            Manifest::idempotency_key(run_id)
        ],
    )
}

/// Fills the projection's columns of the manifests an index older than schema 5 holds (inside
/// the migration's transaction). Their finalization time is their run's end, when they were
/// built. A manifest that does not parse keeps its text and gets no columns: nothing is lost.
pub(super) fn fill_manifest_columns(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT m.run_id, m.manifest_json, r.ended_at FROM evidence_manifests m JOIN runs r USING (run_id)
         WHERE m.evidence_id IS NULL",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (run_id, json, ended_at) in rows {
        let Ok(manifest) = serde_json::from_str::<Manifest>(&json) else {
            continue;
        };
        set_manifest_columns(conn, &run_id, &manifest)?;
        conn.execute(
            "UPDATE evidence_manifests SET finalized_at = ?2, created_at = ?2, updated_at = ?2 WHERE run_id = ?1",
            params![run_id, ended_at],
        )?;
    }
    Ok(())
}

pub(super) fn insert_bundle_ref(conn: &Connection, reference: &BundleRef) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR IGNORE INTO proof_bundle_ref (run_id, commit_sha, bundle_digest, recorded_at) VALUES (?1, ?2, ?3, ?4)",
        params![reference.run_id, reference.commit_sha, reference.bundle_digest, reference.recorded_at],
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
