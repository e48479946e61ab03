//! Runs: starting, ending, listing, and importing runs known only from their proofs.

use rusqlite::{OptionalExtension, params};

use super::events::{commit_recorded_key, insert_event};
use super::results::{insert_bundle_ref, insert_checks, insert_manifest, insert_violations};
use super::{BundleRef, Ended, Ending, Error, Index, NewEvent, Result, RunRecord, RunState, begin, sql_error};
use crate::evidence::{Event, EventType};
use crate::model::{DodResult, Manifest, ScopeViolation};

impl Index {
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

    /// Ends an active run: appends `commit.recorded` for each commit not yet recorded, then the
    /// event that ends it (see [`RunEnd`]), and marks the run ended, in one transaction. On a run that has already
    /// ended this changes nothing and returns the run as it ended.
    pub fn end_run(
        &mut self,
        run_id: &str,
        head_sha: &str,
        end: &RunEnd,
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
        insert_event(
            &tx,
            run_id,
            NewEvent {
                event_type: end.event_type(),
                event_id: None,
                occurred_at: ended_at.to_owned(),
                data: end.event_data(head_sha),
                idempotency_key: Some(format!("run.ended:{run_id}")),
            },
        )
        .map_err(|e| e.into_error(&path))?;
        tx.execute(
            "UPDATE runs SET state = 'ended', ended_at = ?2, head_sha = ?3, exit_code = ?4, ending = ?5, end_reason = ?6
             WHERE run_id = ?1",
            params![
                run_id,
                ended_at,
                head_sha,
                end.exit_code,
                end.how.as_str(),
                end.how.reason()
            ],
        )
        .map_err(sql("end the run"))?;
        tx.commit().map_err(sql("commit"))?;
        self.run(run_id)
    }

    /// Records a run known only from its proof (a clone's notes, a rebuilt index): the run,
    /// its checks, violations, manifest and proof reference, in one transaction. A run the index
    /// already has is left as it is; returns whether this one was new.
    pub fn import_proof(&mut self, proof: &Imported<'_>) -> Result<bool> {
        self.write_import(proof, Import::New)
    }

    /// Replaces what an earlier import recorded of a run (its facts, checks, violations,
    /// manifest and proof reference) with another proof of it: a rebuild under the trust in
    /// force found that one counts where the recorded one does not. Only a run known from its
    /// proof alone is replaced (one this clone started is its own); its events stay. Returns
    /// whether it was replaced.
    pub fn replace_import(&mut self, proof: &Imported<'_>) -> Result<bool> {
        self.write_import(proof, Import::Replace)
    }

    fn write_import(&mut self, proof: &Imported<'_>, how: Import) -> Result<bool> {
        let run = proof.run;
        let end = imported_end(run)?;
        let path = self.path.clone();
        let sql = |action| sql_error(&path, action);
        let tx = begin(&mut self.conn, &path)?;
        let statement = match how {
            Import::New => {
                "INSERT OR IGNORE INTO runs (run_id, worktree, state, started_at, ended_at, base_sha, head_sha,
                                             exit_code, prompt_hash, scope_json, dod_json, correlation_id, thread_id,
                                             ending, end_reason)
                 VALUES (?1, '', 'ended', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            }
            Import::Replace => {
                "UPDATE runs SET started_at = ?2, ended_at = ?3, base_sha = ?4, head_sha = ?5, exit_code = ?6,
                                 prompt_hash = ?7, scope_json = ?8, dod_json = ?9, correlation_id = ?10, thread_id = ?11,
                                 ending = ?12, end_reason = ?13
                 WHERE run_id = ?1 AND worktree = '' AND state = 'ended'"
            }
        };
        let written = write_imported_run(&tx, statement, run, end).map_err(sql("import a run"))? == 1;
        if written && how == Import::Replace {
            for table in ["checks", "scope_violations", "evidence_manifests", "proof_bundle_ref"] {
                tx.execute(&format!("DELETE FROM {table} WHERE run_id = ?1"), params![run.run_id])
                    .map_err(sql("replace an imported run"))?;
            }
        }
        if written {
            insert_checks(&tx, &run.run_id, proof.checks).map_err(sql("import a check"))?;
            insert_violations(&tx, &run.run_id, proof.violations).map_err(sql("import a violation"))?;
            insert_manifest(&tx, &run.run_id, proof.manifest, &end.ended_at).map_err(sql("import a manifest"))?;
        }
        // A new import takes the reference only if the run has none (first writer wins).
        if written || how == Import::New {
            insert_bundle_ref(&tx, proof.reference).map_err(sql("import a proof reference"))?;
        }
        tx.commit().map_err(sql("commit"))?;
        Ok(written)
    }
}

/// How an active run is to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    pub exit_code: i32,
    pub how: Ending,
}

impl RunEnd {
    /// The run's agent or command reported its end with this exit code.
    pub fn exited(exit_code: i32) -> Self {
        Self {
            exit_code,
            how: Ending::Exited,
        }
    }

    /// The event that ends it: `run.completed` or `run.failed` for a reported end (an
    /// abandoned run is failed work), `run.sealed` (not terminal) for a run whose end was never
    /// reported, so its manifest says `terminal_event_present: false`.
    fn event_type(&self) -> EventType {
        match self.how {
            Ending::Exited if self.exit_code == 0 => EventType::RunCompleted,
            Ending::Exited | Ending::Abandoned { .. } => EventType::RunFailed,
            Ending::Sealed { .. } => EventType::RunSealed,
        }
    }

    fn event_data(&self, head_sha: &str) -> serde_json::Value {
        let mut data = serde_json::json!({ "exit_code": self.exit_code, "head_sha": head_sha });
        if self.how != Ending::Exited {
            data["ending"] = self.how.as_str().into();
            data["reason"] = self.how.reason().into();
        }
        data
    }
}

/// Whether an import adds a run or replaces an earlier import of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Import {
    New,
    Replace,
}

/// A run known from its proof alone, as the index records it.
#[derive(Debug, Clone, Copy)]
pub struct Imported<'a> {
    pub run: &'a RunRecord,
    pub checks: &'a [DodResult],
    pub violations: &'a [ScopeViolation],
    pub manifest: &'a Manifest,
    pub reference: &'a BundleRef,
}

/// Runs `statement` (an insert or update of `runs`) with an imported run's thirteen values.
fn write_imported_run(
    tx: &rusqlite::Transaction<'_>,
    statement: &str,
    run: &RunRecord,
    end: &Ended,
) -> rusqlite::Result<usize> {
    tx.execute(
        statement,
        params![
            run.run_id,
            run.started_at,
            end.ended_at,
            run.base_sha,
            end.head_sha,
            end.exit_code,
            run.prompt_hash,
            serde_json::to_string(&run.scope).unwrap_or_default(),
            serde_json::to_string(&run.dod).unwrap_or_default(),
            run.correlation_id,
            run.thread_id,
            end.how.as_str(),
            end.how.reason(),
        ],
    )
}

/// How an imported run ended: a proof is only ever of an ended run.
fn imported_end(run: &RunRecord) -> Result<&Ended> {
    run.ended().ok_or_else(|| Error::Malformed {
        what: "imported run (a proof is only of an ended run)",
        run_id: run.run_id.clone(),
    })
}

const RUN_SELECT: &str = "SELECT run_id, worktree, state, started_at, ended_at, base_sha, head_sha, exit_code,
    prompt_hash, scope_json, dod_json, correlation_id, thread_id, ending, end_reason FROM runs";

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<std::result::Result<RunRecord, &'static str>> {
    let scope: String = r.get(9)?;
    let dod: String = r.get(10)?;
    let (Ok(scope), Ok(dod)) = (serde_json::from_str(&scope), serde_json::from_str(&dod)) else {
        return Ok(Err("scope or DoD snapshot"));
    };
    let state = match r.get::<_, String>(2)?.as_str() {
        "active" => RunState::Active,
        _ => {
            let (Some(ended_at), Some(head_sha), Some(exit_code)) = (r.get(4)?, r.get(6)?, r.get(7)?) else {
                return Ok(Err("end of the run"));
            };
            let Some(how) = Ending::from_row(r.get::<_, Option<String>>(13)?.as_deref(), r.get(14)?) else {
                return Ok(Err("how the run ended"));
            };
            RunState::Ended(Ended {
                ended_at,
                head_sha,
                exit_code,
                how,
            })
        }
    };
    Ok(Ok(RunRecord {
        run_id: r.get(0)?,
        worktree: r.get(1)?,
        state,
        started_at: r.get(3)?,
        base_sha: r.get(5)?,
        prompt_hash: r.get(8)?,
        scope,
        dod,
        correlation_id: r.get(11)?,
        thread_id: r.get(12)?,
    }))
}
