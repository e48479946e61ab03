//! Ending a run whose end nobody reported: sealing it when its agent has moved on, abandoning
//! it at a person's word.

use super::finish::{self, Proof};
use super::{Error, FinishOptions, Workspace, check_run_id, format_time, lock_run, parse_id};
use crate::model::Manifest;
use crate::signing::SigningKey;
use crate::store::{Ending, Index, NO_EXIT_CODE, RunEnd, RunRecord};

/// Ends an active run whose end was never reported (its agent's session died, or the agent
/// started another session or turn without ending this one) and, given a key, writes its proof:
/// failed, with no terminal event in its manifest, its DoD checks pending, `reason` in its
/// stream. Without a key the run is ended all the same (the next turn must not fall into it),
/// and `git proof finish --run ID` writes its proof later. A run that has already ended is
/// finished as it ended.
pub fn seal(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    reason: &str,
    key: Option<&SigningKey>,
    now: jiff::Timestamp,
) -> Result<Option<Proof>, Error> {
    let end = RunEnd {
        exit_code: NO_EXIT_CODE,
        how: Ending::Sealed {
            reason: reason.to_owned(),
        },
    };
    end_then_prove(ws, index, run_id, &end, key, now)
}

/// Ends an active run as it reported, and writes its proof when there is a key to sign it
/// with; without one, `git proof finish --run ID` writes it later.
pub fn end_and_prove(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    exit_code: i32,
    key: Option<&SigningKey>,
    now: jiff::Timestamp,
) -> Result<Option<Proof>, Error> {
    end_then_prove(ws, index, run_id, &RunEnd::exited(exit_code), key, now)
}

fn end_then_prove(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    end: &RunEnd,
    key: Option<&SigningKey>,
    now: jiff::Timestamp,
) -> Result<Option<Proof>, Error> {
    check_run_id(run_id)?;
    {
        let _lock = lock_run(&ws.common_dir, run_id)?;
        finish::end_run(ws, index, run_id, end, &format_time(now))?;
    }
    let Some(key) = key else {
        return Ok(None);
    };
    let options = FinishOptions {
        exit_code: None,
        checks: finish::Checks::Pending,
        key,
    };
    finish::finish(ws, index, run_id, options, now).map(Some)
}

/// Ends an active run as abandoned: work a person does not want proven as finished. Nothing is
/// signed and no note is written; the run's stream is closed and its evidence manifest built
/// (failed, its end reported as abandoned, with `reason`), and the worktree is free for the
/// next run.
pub fn abandon(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    reason: Option<&str>,
    now: jiff::Timestamp,
) -> Result<(RunRecord, Manifest), Error> {
    check_run_id(run_id)?;
    let _lock = lock_run(&ws.common_dir, run_id)?;
    let run = index.run(run_id)?;
    if !run.is_active() {
        return Err(Error::NotActive(run_id.to_owned()));
    }
    let end = RunEnd {
        exit_code: NO_EXIT_CODE,
        how: Ending::Abandoned {
            reason: reason.map(str::to_owned),
        },
    };
    let run = finish::end_run(ws, index, run_id, &end, &format_time(now))?;
    let (manifest, _) = finish::manifest(
        ws,
        index,
        &run,
        parse_id(&run.base_sha)?,
        NO_EXIT_CODE,
        &format_time(now),
    )?;
    Ok((run, manifest))
}
