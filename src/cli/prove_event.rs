//! `git proof prove-event [--run ID | RUN_ID] EVENT_ID`: an inclusion proof for one event of a
//! proven run.

use git_proof::{inclusion, proofs, run};

use super::{BadInput, Ctx};

/// Print an RFC 6962 inclusion proof (JSON) that one event is part of a run's signed manifest,
/// for `git proof verify-event`; only that event is disclosed, not the rest of the log. The
/// proof carries the signed record of the run's bundle, so it is checked anywhere.
#[derive(clap::Args, Debug)]
#[command(override_usage = "git-proof prove-event [--run ID | RUN_ID] EVENT_ID")]
pub struct Args {
    /// The run [default: GIT_PROOF_RUN].
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// The run (the older spelling of `--run`), then the event (see `git proof show RUN_ID
    /// --json`, evidence.events).
    #[arg(value_name = "RUN_ID] [EVENT_ID", num_args = 1..=2, required = true)]
    ids: Vec<String>,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { run, ids } = args;
    let (run_id, event_id) = match (run, ids.as_slice()) {
        (Some(run), [event]) => (run, event.clone()),
        (None, [run, event]) => (run.clone(), event.clone()),
        (None, [event]) => match std::env::var("GIT_PROOF_RUN") {
            Ok(run) if !run.is_empty() => (run, event.clone()),
            _ => Err(BadInput(
                "which run? name it: git proof prove-event --run ID EVENT_ID".into(),
            ))?,
        },
        _ => Err(BadInput(
            "give the run once: git proof prove-event --run ID EVENT_ID".into(),
        ))?,
    };
    run::check_run_id(&run_id)?;
    let ws = ctx.workspace()?;
    let index = super::open_index(&ws, ctx)?;
    // The prover only discloses; `verify-event` judges under the auditor's trust. Trust is
    // still read, so that among several bundles of the run the one that counts is chosen.
    let now = ctx.now.as_second();
    let trust = git_proof::trust::load(&ws.repo, &Default::default(), now)
        .unwrap_or_else(|_| git_proof::trust::Trust::none(now));
    let shown = proofs::of_run(&ws.repo, &index, &run_id, &trust)?;
    let mut reader = git_proof::notes::NotesReader::new(&ws.repo)?;
    let signed_record = proofs::view_of(&mut reader, shown.commit, &trust)?
        .and_then(|view| view.records.get(shown.record_index()).map(|r| r.record.to_text()));
    // The event's content, when this clone recorded it, lets the auditor recompute its hash.
    let event = index
        .events(&run_id)
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.event_id == event_id);
    let proof = inclusion::prove(
        &shown.bundle,
        &shown.commit.to_string(),
        &event_id,
        event,
        signed_record,
    )
    .map_err(|e| super::NotFound(e.to_string()))?;
    super::print_json(&proof)?;
    Ok(super::EXIT_OK)
}
