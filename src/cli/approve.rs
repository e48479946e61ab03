//! `git proof approve RUN_ID PATH...`: decide scope violations in favour.

use std::path::PathBuf;

use git_proof::approval::{self, DecisionRequest};
use git_proof::model::Decision;

use super::Ctx;

/// Approve scope violations of a run. Before its proof is written the decision goes into the
/// bundle; after, it is a new signed record appended to the same note (the bundle is never
/// rewritten).
#[derive(clap::Args, Debug)]
#[command(override_usage = "git-proof approve|reject [--run ID | RUN_ID] [PATH]... [--all]")]
pub struct Args {
    /// The run.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// The violating paths to decide; without `--run`, the run's id first (the older form).
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Decide every violation of the run.
    #[arg(long)]
    pub all: bool,
    /// Why (kept in the decision record).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Signing key, needed once the proof is written [default: as for finish].
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    decide(args, ctx, Decision::Approved)
}

/// Shared by `approve` and `reject`.
pub fn decide(args: Args, ctx: &Ctx, decision: Decision) -> anyhow::Result<u8> {
    let Args {
        run,
        mut paths,
        all,
        reason,
        key,
        json,
    } = args;
    let verb = match decision {
        Decision::Approved => "approve",
        Decision::Rejected => "reject",
    };
    let ws = ctx.workspace()?;
    let mut index = super::open_index(&ws, ctx)?;
    let run_id = match run {
        Some(run) => run,
        None if !paths.is_empty() => paths.remove(0),
        // Nothing named: GIT_PROOF_RUN, then the worktree's active run, as everywhere.
        None => super::resolve_run(&ws, &index, None).map_err(|_| {
            super::BadInput(format!(
                "which run? git proof {verb} --run ID PATH... or --run ID --all"
            ))
        })?,
    };
    if all && !paths.is_empty() {
        Err(super::BadInput(format!(
            "--all decides every violation: name no paths with it (git proof {verb} --run ID --all)"
        )))?;
    }
    let config = ws.repo.config_snapshot();
    let decided_by = match (config.string("user.name"), config.string("user.email")) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (None, Some(email)) => email.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => "unknown".to_owned(),
    };
    // Needed only when the run's proof is written; when it is, the key's own problem is the one
    // to tell (a key too open, a file that is not a key), not that there is none.
    let key = super::signing_key(key.as_deref(), Some(&ws.repo));
    let decided = approval::decide(
        &ws,
        &mut index,
        DecisionRequest {
            run_id: &run_id,
            paths: &paths,
            all,
            decision,
            reason,
            decided_by,
            key: key.as_ref().ok(),
        },
        ctx.now,
    );
    let decided = match (decided, key) {
        (Err(e), Err(key_error)) if git_proof::error::Classify::code(&e) == "no_signing_key" => {
            return Err(key_error);
        }
        (decided, _) => decided?,
    };
    if json {
        super::print_json(&serde_json::json!({
            "run_id": run_id,
            "decision": decision.as_str(),
            "paths": decided.paths,
            "signed_on": decided.signed_on,
        }))?;
        return Ok(super::EXIT_OK);
    }
    let how = match &decided.signed_on {
        Some(commit) => format!(
            "signed record appended to the note on {}",
            git_proof::model::short_sha(commit)
        ),
        None => "goes into the proof when the run finishes".to_owned(),
    };
    for path in &decided.paths {
        outln!("{} {path} ({how})", decision.as_str())?;
    }
    Ok(super::EXIT_OK)
}
