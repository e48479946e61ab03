//! `git proof finish`: end a run and write its proof.

use std::path::PathBuf;

use git_proof::model::{ApprovalState, Bundle, DodStatus, RunStatus};
use git_proof::run::{self, Checks, FinishOptions, Proof, Workspace};

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
    /// No progress and no success line; what went wrong is still said.
    #[arg(short, long)]
    quiet: bool,
}

/// How `finish` and `run` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The result as JSON on stdout.
    Json,
    /// Progress and the result on stderr.
    Text,
    /// Only what went wrong, on stderr.
    Quiet,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Self {
        match (json, quiet) {
            (true, _) => Self::Json,
            (false, true) => Self::Quiet,
            (false, false) => Self::Text,
        }
    }
}

/// Finishes `run_id` with `exit_code`, reporting as `output` says.
pub fn finish_and_report(
    ctx: &Ctx,
    ws: &Workspace,
    run_id: &str,
    exit_code: Option<i32>,
    run_dod: bool,
    key: &git_proof::signing::SigningKey,
    output: Output,
) -> anyhow::Result<Proof> {
    let mut index = super::open_index(ws, ctx)?;
    let proof = run::finish(
        ws,
        &mut index,
        run_id,
        FinishOptions {
            exit_code,
            checks: if run_dod {
                Checks::Run {
                    progress: output == Output::Text,
                }
            } else {
                Checks::Pending
            },
            key,
        },
        ctx.now,
    )
    .map_err(|e| {
        // The run ended before its signature failed (a key the agent dropped meanwhile, a
        // token not touched): say how to write the proof once the key can sign.
        let signing = matches!(e, run::Error::Signing(_));
        let e = anyhow::Error::new(e);
        if signing {
            e.context(format!(
                "run {run_id} has ended but has no proof yet; `git proof finish --run {run_id}` writes it once the key can sign"
            ))
        } else {
            e
        }
    })?;
    if output == Output::Json {
        let b = &proof.bundle;
        let count = |status: DodStatus| b.dod_results.iter().filter(|c| c.status == status).count();
        super::print_json(&serde_json::json!({
            "run_id": b.run_id,
            "commit": proof.commit,
            "bundle_digest": proof.bundle_digest,
            "created": proof.created,
            "run_status": b.run_status,
            "dod": {
                "passed": count(DodStatus::Passed),
                "failed": b.dod_results.len() - count(DodStatus::Passed) - count(DodStatus::Pending),
                "pending": count(DodStatus::Pending),
            },
            "scope_violations": {
                "total": b.scope_violations.len(),
                "pending": b.scope_violations.iter().filter(|v| v.approval.state == ApprovalState::Pending).count(),
            },
        }))?;
    } else {
        match (output, proof.created) {
            (Output::Text, true) => eprintln!(
                "git-proof: proof of run {run_id} written to refs/notes/proof on {}",
                proof.commit
            ),
            (Output::Text, false) => eprintln!("git-proof: run {run_id} already has its proof on {}", proof.commit),
            _ => {}
        }
        for line in bad_news(ws, &proof.bundle) {
            eprintln!("git-proof: {line}");
        }
    }
    Ok(proof)
}

/// What a reader of the proof would want to hear first: the checks that did not pass, by name
/// and with where their output is, the scope violations nobody has decided, and a failed run.
fn bad_news(ws: &Workspace, bundle: &Bundle) -> Vec<String> {
    let mut lines = Vec::new();
    if bundle.run_status == RunStatus::Failed {
        lines.push(format!("the run failed (exit code {})", bundle.exit_code));
    }
    for check in bundle
        .dod_results
        .iter()
        .filter(|c| !matches!(c.status, DodStatus::Passed | DodStatus::Pending))
    {
        let code = check.exit_code.map(|c| format!(", exit code {c}")).unwrap_or_default();
        let log = check
            .log_digest
            .as_deref()
            .and_then(|d| git_proof::dod::log_path(&ws.common_dir, d))
            .map(|p| format!("; its output: {}", p.display()))
            .unwrap_or_default();
        lines.push(format!(
            "DoD check {} {}{code}{log}",
            git_proof::summary::quoted(&check.name),
            check.status.as_str()
        ));
    }
    let pending = bundle
        .dod_results
        .iter()
        .filter(|c| c.status == DodStatus::Pending)
        .count();
    if pending > 0 {
        lines.push(format!(
            "{pending} DoD check{} pending (not run)",
            if pending == 1 { "" } else { "s" }
        ));
    }
    let undecided = bundle
        .scope_violations
        .iter()
        .filter(|v| v.approval.state == ApprovalState::Pending)
        .count();
    if undecided > 0 {
        lines.push(format!(
            "{undecided} scope violation{} pending: `git proof show {}` lists them; `git proof approve|reject {} PATH` decides",
            if undecided == 1 { "" } else { "s" },
            bundle.run_id,
            bundle.run_id
        ));
    }
    lines
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        run: named,
        exit_code,
        no_dod,
        key,
        json,
        quiet,
    } = args;
    let ws = ctx.workspace()?;
    let index = super::open_index(&ws, ctx)?;
    let run_id = super::resolve_run(&ws, &index, named.as_deref())?;
    drop(index);
    // The key is checked before anything is written, so a bad key leaves the run open.
    let key = super::signing_key(key.as_deref(), Some(&ws.repo))?;
    finish_and_report(ctx, &ws, &run_id, exit_code, !no_dod, &key, Output::new(json, quiet))?;
    Ok(super::EXIT_OK)
}
