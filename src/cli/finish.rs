//! `git proof finish`: end a run and write its proof.

use std::path::PathBuf;

use git_proof::run::{self, FinishOptions, Proof, Workspace};

use super::Ctx;

/// End the run, run its DoD checks, and write its signed proof note (idempotent).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run [default: GIT_PROOF_RUN, else this worktree's active run].
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// The agent's exit code [default: 0].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    exit_code: Option<i32>,
    /// Record every DoD check as pending instead of running it.
    #[arg(long)]
    no_dod: bool,
    /// Signing key [default: GIT_PROOF_KEY, GIT_PROOF_KEY_DATA, git config proof.signingKey].
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Finishes `run_id` with `exit_code`, reporting on stderr (or JSON on stdout).
pub fn finish_and_report(
    ctx: &Ctx,
    ws: &Workspace,
    run_id: &str,
    exit_code: Option<i32>,
    run_dod: bool,
    key: &git_proof::signing::SigningKey,
    json: bool,
) -> anyhow::Result<Proof> {
    let mut index = super::open_index(ws, ctx)?;
    let proof = run::finish(
        ws,
        &mut index,
        run_id,
        FinishOptions {
            exit_code,
            run_dod,
            key,
        },
        ctx.now,
    )?;
    if json {
        super::print_json(&serde_json::json!({
            "run_id": proof.bundle.run_id,
            "commit": proof.commit,
            "bundle_digest": proof.bundle_digest,
            "created": proof.created,
        }))?;
    } else if proof.created {
        eprintln!(
            "git-proof: proof of run {run_id} written to refs/notes/proof on {}",
            proof.commit
        );
    } else {
        eprintln!("git-proof: run {run_id} already has its proof on {}", proof.commit);
    }
    Ok(proof)
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        run: named,
        exit_code,
        no_dod,
        key,
        json,
    } = args;
    let ws = ctx.workspace()?;
    let index = super::open_index(&ws, ctx)?;
    let run_id = run::resolve_run(
        &ws,
        &index,
        named.as_deref(),
        std::env::var("GIT_PROOF_RUN").ok().as_deref(),
    )?;
    drop(index);
    // The key is checked before anything is written, so a bad key leaves the run open.
    let key = super::signing_key(key.as_deref(), Some(&ws.repo))?;
    finish_and_report(ctx, &ws, &run_id, exit_code, !no_dod, &key, json)?;
    Ok(super::EXIT_OK)
}
