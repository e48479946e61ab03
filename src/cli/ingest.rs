//! `git proof ingest`: one agent hook payload in, run events out. Never breaks the agent.

use std::io::Read;
use std::path::PathBuf;

use git_proof::ingest::{self, Agent};
use git_proof::run::Workspace;

use super::Ctx;

/// Map one agent hook payload (stdin; for Codex's legacy notify, the last argument) to run
/// events: a prompt starts a run, tool hooks become tool-call events, file writes artifacts, the
/// turn's end finishes the run and writes its proof. Always exits 0 and prints what the agent
/// expects (`{}` for Cursor, `{"cancel":false}` for Cline, nothing otherwise); problems go to
/// stderr in one line.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// claude-code, codex, cursor, gemini, copilot, cline or generic [default: recognised from
    /// the payload].
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// Signing key for the proof written at the end of a turn [default: as for finish].
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// The payload, when the agent passes it as an argument (Codex `notify`).
    #[arg(value_name = "PAYLOAD")]
    payload: Option<String>,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { agent, key, payload } = args;
    let named = agent.as_deref().map(|name| (name, Agent::parse(name)));
    let reply_agent = named.and_then(|(_, a)| a);
    let outcome = ingest_payload(ctx, named, key, payload);
    let agent = outcome
        .as_ref()
        .ok()
        .copied()
        .flatten()
        .or(reply_agent)
        .unwrap_or(Agent::Generic);
    if let Err(e) = outcome {
        eprintln!("git-proof ingest: {}", format!("{e:#}").replace('\n', " "));
    }
    let reply = agent.hook_reply();
    if !reply.is_empty() {
        println!("{reply}");
    }
    Ok(super::EXIT_OK)
}

/// Returns the agent the payload came from, when it could be told.
fn ingest_payload(
    ctx: &Ctx,
    named: Option<(&str, Option<Agent>)>,
    key: Option<PathBuf>,
    argument: Option<String>,
) -> anyhow::Result<Option<Agent>> {
    let agent = match named {
        Some((name, None)) => {
            anyhow::bail!("unknown agent '{name}' (claude-code, codex, cursor, gemini, copilot, cline, generic)")
        }
        Some((_, agent)) => agent,
        None => None,
    };
    let mut payload = Vec::new();
    if argument.is_none() {
        std::io::stdin().read_to_end(&mut payload)?;
    }
    if payload.iter().all(u8::is_ascii_whitespace)
        && let Some(argument) = argument
    {
        payload = argument.into_bytes();
    }
    let normalized = ingest::normalize(agent, &payload);
    let cwd = normalized.as_ref().ok().and_then(|n| n.cwd.clone());
    let dir = match cwd {
        Some(cwd) if !ctx.dir_given && cwd.is_dir() => cwd,
        _ => ctx.dir.clone(),
    };
    let ws = Workspace::discover(&dir)?;
    let mut index = super::open_index(&ws, ctx)?;
    let normalized = match normalized {
        Ok(n) => n,
        Err(rejected) => {
            ingest::record_rejection(&ws, &mut index, agent, &payload, &rejected.0, ctx.now)?;
            anyhow::bail!("payload rejected: {rejected} (its digest is recorded)");
        }
    };
    let key = super::signing_key(key.as_deref(), Some(&ws.repo)).ok();
    ingest::apply(&ws, &mut index, &normalized, key.as_ref(), ctx.now)?;
    Ok(Some(normalized.agent))
}
