//! `git proof log`: the runs in the index.

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
                serde_json::json!({
                    "run_id": run.run_id,
                    "state": if run.active { "active" } else { "ended" },
                    "run_status": run.exit_code.map(|c| git_proof::model::RunStatus::from_exit_code(c).as_str()),
                    "exit_code": run.exit_code,
                    "started_at": run.started_at,
                    "ended_at": run.ended_at,
                    "base_sha": run.base_sha,
                    "head_sha": run.head_sha,
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
        eprintln!("no runs yet (start one with `git proof start` or `git proof run -- CMD`)");
    }
    for (run, proof) in &rows {
        let status = match (run.active, run.exit_code) {
            (true, _) => "active".to_owned(),
            (false, Some(0)) => "succeeded".to_owned(),
            (false, Some(code)) => format!("failed({code})"),
            (false, None) => "ended".to_owned(),
        };
        let proof = match proof {
            Some(p) => format!("proof on {}", &p.commit_sha[..p.commit_sha.len().min(10)]),
            None if run.active => String::new(),
            None => "no proof".to_owned(),
        };
        println!("{}  {}  {:<11}  {}", run.run_id, run.started_at, status, proof);
    }
    Ok(super::EXIT_OK)
}
