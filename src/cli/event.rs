//! `git proof event`: append one event to a run's stream.

use git_proof::run;
use serde_json::Value;

use super::{BadInput, Ctx};

/// Append one event to the active run (or --run).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run [default: GIT_PROOF_RUN, else this worktree's active run].
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// Event type, e.g. toolcall.requested (see docs/format.md section 4).
    #[arg(value_name = "TYPE")]
    event_type: String,
    /// Event id [default: <run_id>.<stream_seq>].
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Event data: a JSON object of pointers (ids, digests, sizes, paths, exit codes).
    #[arg(long, value_name = "JSON")]
    data: Option<String>,
    /// Print the stored event as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        run: named,
        event_type,
        id,
        data,
        json,
    } = args;
    let data: Value = match data {
        None => Value::Null,
        Some(text) => {
            git_proof::canon::parse_i_json(&text).map_err(|e| BadInput(format!("--data is not valid JSON: {e}")))?
        }
    };
    let ws = ctx.workspace()?;
    let mut index = super::open_index(&ws, ctx)?;
    let run_id = super::resolve_run(&ws, &index, named.as_deref())?;
    let event = run::append_event(&mut index, &run_id, &event_type, id, data, ctx.now)?;
    if json {
        super::print_json(&event)?;
    }
    Ok(super::EXIT_OK)
}
