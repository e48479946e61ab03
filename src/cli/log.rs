//! `git proof log`: the runs in the index.

use git_proof::model::RunStatus;
use git_proof::store::{Ending, RunState};

use super::Ctx;

/// List the runs in the index, newest first.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { json } = args;
    let ws = ctx.workspace()?;
    let index = super::open_index(&ws, ctx)?;
    let mut rows = Vec::new();
    for run in index.runs()? {
        let proof = index.bundle_ref(&run.run_id)?;
        rows.push((run, proof));
    }
    if json {
        let items: Vec<_> = rows
            .iter()
            .map(|(run, proof)| {
                let end = run.ended();
                serde_json::json!({
                    "run_id": run.run_id,
                    "state": if run.is_active() { "active" } else { "ended" },
                    "run_status": end.map(|e| RunStatus::from_exit_code(e.exit_code).as_str()),
                    "exit_code": end.map(|e| e.exit_code),
                    "ending": end.map(|e| e.how.as_str()),
                    "end_reason": end.and_then(|e| e.how.reason()),
                    "started_at": run.started_at,
                    "ended_at": end.map(|e| &e.ended_at),
                    "base_sha": run.base_sha,
                    "head_sha": end.map(|e| &e.head_sha),
                    "worktree": run.worktree,
                    "proof": proof.as_ref().map(|p| serde_json::json!({
                        "commit": p.commit_sha,
                        "bundle_digest": p.bundle_digest,
                    })),
                })
            })
            .collect();
        super::print_json(&items)?;
        return Ok(super::EXIT_OK);
    }
    if rows.is_empty() {
        // A fresh clone has proofs in its notes and none in its index yet.
        let ref_name = git_proof::notes::NOTES_REF;
        if ws.repo.find_reference(ref_name).is_ok() {
            eprintln!("no runs in this clone's index, but {ref_name} holds proofs: `git proof reindex` reads them in");
        } else {
            eprintln!("no runs yet (start one with `git proof start` or `git proof run -- CMD`)");
        }
    }
    for (run, proof) in &rows {
        let status = match &run.state {
            RunState::Active => "active".to_owned(),
            RunState::Ended(end) if end.how != Ending::Exited => end.how.as_str().to_owned(),
            RunState::Ended(end) if end.exit_code == 0 => "succeeded".to_owned(),
            RunState::Ended(end) => format!("failed({})", end.exit_code),
        };
        let proof = match proof {
            Some(p) => format!("proof on {}", git_proof::model::short_sha(&p.commit_sha)),
            None if run.is_active() => String::new(),
            None => "no proof".to_owned(),
        };
        outln!("{}  {}  {:<11}  {}", run.run_id, run.started_at, status, proof)?;
    }
    Ok(super::EXIT_OK)
}
