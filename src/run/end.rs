//! Ending a run whose end nobody reported: sealing it when its agent has moved on, abandoning
//! it at a person's word.

use super::finish::{self, Proof};
use super::{Error, FinishOptions, Workspace, check_run_id, format_time, lock_run, parse_id};
use crate::model::Manifest;
use crate::signing::SigningKey;
use crate::store::{Ending, Index, NO_EXIT_CODE, RunEnd, RunRecord};

/// Ends an active run whose end was never reported (its agent's session died, or the agent
/// started another session or turn without ending this one) and writes its proof: failed,
/// with no terminal event in its manifest, its DoD checks pending, `reason` in its stream. A
/// run that has already ended is finished as it ended.
pub fn seal(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    reason: &str,
    key: &SigningKey,
    now: jiff::Timestamp,
) -> Result<Proof, Error> {
    check_run_id(run_id)?;
    {
        let _lock = lock_run(&ws.common_dir, run_id)?;
        let end = RunEnd {
            exit_code: NO_EXIT_CODE,
            how: Ending::Sealed {
                reason: reason.to_owned(),
            },
        };
        finish::end_run(ws, index, run_id, &end, &format_time(now))?;
    }
    let options = FinishOptions {
        exit_code: None,
        run_dod: false,
        key,
    };
    finish::finish(ws, index, run_id, options, now)
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
    let (manifest, _) = finish::manifest(ws, index, &run, parse_id(&run.base_sha)?, NO_EXIT_CODE)?;
    Ok((run, manifest))
}
