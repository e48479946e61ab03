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
    /// The hook event, for agents whose payloads do not name it (Copilot CLI's camelCase
    /// hooks); `install --agent copilot` puts it in each hook's command.
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// Signing key for the proof written at the end of a turn [default: as for finish].
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// The payload, when the agent passes it as an argument (Codex `notify`).
    #[arg(value_name = "PAYLOAD")]
    payload: Option<String>,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        agent,
        event,
        key,
        payload,
    } = args;
    let env = |name: &str| std::env::var(name).ok();
    let named = agent.as_deref().map(|name| (name, Agent::parse(name)));
    let named = match (named, Agent::from_env(env)) {
        // Copilot CLI runs Claude Code's hooks too; its environment says whose payload this is.
        (Some((name, Some(Agent::ClaudeCode))), Some(Agent::Copilot)) => Some((name, Some(Agent::Copilot))),
        (None, Some(agent)) => Some((agent.name(), Some(agent))),
        (named, _) => named,
    };
    // The agent is known from its name, else from the payload once it parses: its reply and
    // whether it may hear of a problem are its, even when recording fails later.
    let mut told = named.and_then(|(_, a)| a);
    let outcome = ingest_payload(ctx, named, event.as_deref(), key, payload, &mut told);
    let agent = told.unwrap_or(Agent::Generic);
    if let Err(e) = outcome
        && !agent.shows_stderr()
    {
        eprintln!("git-proof ingest: {}", format!("{e:#}").replace('\n', " "));
    }
    let reply = agent.hook_reply();
    if !reply.is_empty() {
        outln!("{reply}")?;
    }
    Ok(super::EXIT_OK)
}

/// Records the payload; `told` learns the agent it came from as soon as that is known.
fn ingest_payload(
    ctx: &Ctx,
    named: Option<(&str, Option<Agent>)>,
    event: Option<&str>,
    key: Option<PathBuf>,
    argument: Option<String>,
    told: &mut Option<Agent>,
) -> anyhow::Result<()> {
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
    let normalized = ingest::normalize_event(agent, event, &payload);
    if let Ok(n) = &normalized {
        *told = Some(n.agent);
    }
    let ws = workspace(ctx, normalized.as_ref().ok(), agent)?;
    let mut index = super::open_index(&ws, ctx)?;
    let normalized = match normalized {
        Ok(n) => n,
        Err(rejected) => {
            ingest::record_rejection(&ws, &mut index, agent, &payload, &rejected.0, ctx.now)?;
            anyhow::bail!("payload rejected: {rejected} (its digest is recorded)");
        }
    };
    // The turn is recorded and ended whatever is wrong with the key; the key's problem is what
    // the one line then says.
    let key = super::signing_key(key.as_deref(), Some(&ws.repo));
    let applied = ingest::apply(&ws, &mut index, &normalized, key.as_ref().ok(), ctx.now)?;
    if let Some(run_id) = applied.unsigned.first() {
        let why = match &key {
            Err(e) => format!("{e:#}"),
            Ok(_) => "no signing key".into(),
        };
        anyhow::bail!(
            "{why}; run {run_id} ended without its proof: `git proof finish --run {run_id}` writes it once the key is fixed"
        );
    }
    Ok(())
}

/// The repository the payload is about. `-C` wins. Then the payload's own directory (its
/// workspace root, else its `cwd`) and the project root the agent puts in its hooks'
/// environment (`CLAUDE_PROJECT_DIR`...) are weighed: when both are in the same repository, the
/// payload's worktree is the session's (`claude -w` keeps the main checkout as the project
/// root); when they are in different repositories, or the payload's directory is in none, the
/// agent's shell has `cd`'d away and the project root is. Then where the hook runs.
fn workspace(ctx: &Ctx, n: Option<&ingest::Normalized>, named: Option<Agent>) -> anyhow::Result<Workspace> {
    if ctx.dir_given {
        return Ok(Workspace::discover(&ctx.dir)?);
    }
    let agent = n.map(|n| n.agent).or(named);
    let discover = |dir: &std::path::Path| dir.is_dir().then(|| Workspace::discover(dir).ok()).flatten();
    let project = agent
        .into_iter()
        .flat_map(|a| a.project_dir_vars())
        .filter_map(std::env::var_os)
        .filter(|dir| !dir.is_empty())
        .find_map(|dir| discover(std::path::Path::new(&dir)));
    let payload = n.and_then(|n| n.cwd.as_deref()).and_then(discover);
    match (payload, project) {
        (Some(payload), Some(project)) if payload.common_dir != project.common_dir => Ok(project),
        (Some(payload), _) => Ok(payload),
        (None, Some(project)) => Ok(project),
        (None, None) => Ok(Workspace::discover(&ctx.dir)?),
    }
}
