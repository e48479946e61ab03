//! `git proof prove-event RUN_ID EVENT_ID`: an inclusion proof for one event of a proven run.

use git_proof::{inclusion, run};

use super::Ctx;

/// Print an RFC 6962 inclusion proof (JSON) that one event is part of a run's signed manifest,
/// for `git proof verify-event`; only that event is disclosed, not the rest of the log.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run.
    #[arg(value_name = "RUN_ID")]
    run_id: String,
    /// The event (see `git proof show RUN_ID --json`, evidence.events).
    #[arg(value_name = "EVENT_ID")]
    event_id: String,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { run_id, event_id } = args;
    run::check_run_id(&run_id)?;
    let ws = ctx.workspace()?;
    let index = super::open_index(&ws, ctx)?;
    let commit = run::locate_run(&ws.repo, &index, &run_id)?;
    let (_, bundle) = run::record_of_run(&ws.repo, commit, &run_id)?.ok_or_else(|| run::Error::ProofMissing {
        run_id: run_id.clone(),
        commit: commit.to_string(),
    })?;
    // The event's content, when this clone recorded it, lets the auditor recompute its hash.
    let event = index
        .events(&run_id)
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.event_id == event_id);
    let proof =
        inclusion::prove(&bundle, &commit.to_string(), &event_id, event).map_err(|e| super::NotFound(e.to_string()))?;
    super::print_json(&proof)?;
    Ok(super::EXIT_OK)
}
