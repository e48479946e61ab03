//! `git proof abandon`: end an active run that is not to be proven as finished work.

use git_proof::run;

use super::Ctx;

/// End an active run without a proof: it is recorded as abandoned (never succeeded), its
/// evidence is sealed, and the worktree is free for the next run.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run [default: GIT_PROOF_RUN, else this worktree's active run].
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// Why, recorded in the run's event stream.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        run: named,
        reason,
        json,
    } = args;
    let ws = ctx.workspace()?;
    let mut index = super::open_index(&ws, ctx)?;
    let run_id = super::resolve_run(&ws, &index, named.as_deref())?;
    let (run, manifest) = run::abandon(&ws, &mut index, &run_id, reason.as_deref(), ctx.now)?;
    if json {
        super::print_json(&serde_json::json!({
            "run_id": run.run_id,
            "ending": "abandoned",
            "reason": reason,
            "head_sha": run.ended().map(|e| &e.head_sha),
            "manifest_hash": manifest.manifest_hash,
        }))?;
    } else {
        eprintln!("git-proof: run {run_id} abandoned; no proof was written and the worktree is free");
    }
    Ok(super::EXIT_OK)
}
