//! `git proof status`: the run active in this worktree, if any.

use git_proof::git;
use git_proof::model::short_sha;
use git_proof::run;
use serde_json::json;

use super::Ctx;

/// Show the run active in this worktree: its id, base, start, events, commits so far and the
/// agent session it belongs to.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON object: `{"active_run": null}` or `{"active_run": {...}}`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let ws = ctx.workspace()?;
    let index = super::open_index(&ws, ctx)?;
    let Some(run_id) = index.active_run(&ws.worktree_key())? else {
        if args.json {
            super::print_json(&json!({ "active_run": null }))?;
        } else {
            outln!("no active run in this worktree (start one with `git proof start` or `git proof run -- CMD`)")?;
        }
        return Ok(super::EXIT_OK);
    };
    let run = index.run(&run_id)?;
    let events = index.event_count(&run_id)?;
    let head = git::head_commit(&ws.repo)?;
    let base = run::parse_id(&run.base_sha)?;
    let commits: Vec<String> = git::commits_between(&ws.repo, base, head)?
        .iter()
        .map(ToString::to_string)
        .collect();
    if args.json {
        super::print_json(&json!({ "active_run": {
            "run_id": run.run_id,
            "worktree": run.worktree,
            "started_at": run.started_at,
            "base_sha": run.base_sha,
            "head_sha": head.to_string(),
            "commits": commits,
            "events": events,
            "session_id": run.correlation_id,
            "prompt_hash": run.prompt_hash,
        }}))?;
        return Ok(super::EXIT_OK);
    }
    outln!("run {} active since {}", run.run_id, run.started_at)?;
    if let Some(session) = &run.correlation_id {
        outln!("agent session {}", git_proof::summary::quoted(session))?;
    }
    let commits = match commits.len() {
        0 => "no commits yet".to_owned(),
        1 => "1 commit since".to_owned(),
        n => format!("{n} commits since"),
    };
    outln!("base {}, {commits}, {events} events", short_sha(&run.base_sha))?;
    outln!("end it with `git proof finish`, or `git proof abandon` if it is not to be proven")?;
    Ok(super::EXIT_OK)
}
