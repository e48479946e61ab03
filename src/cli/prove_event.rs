//! `git proof prove-event RUN_ID EVENT_ID`: an inclusion proof for one event of a proven run.

use git_proof::{inclusion, proofs, run};

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
    // The prover only discloses; `verify-event` judges under the auditor's trust. Trust is
    // still read, so that among several bundles of the run the one that counts is chosen.
    let now = ctx.now.as_second();
    let trust = git_proof::trust::load(&ws.repo, &Default::default(), now)
        .unwrap_or_else(|_| git_proof::trust::Trust::none(now));
    let shown = proofs::of_run(&ws.repo, &index, &run_id, &trust)?;
    let (bundle, commit) = (shown.bundle, shown.commit);
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
