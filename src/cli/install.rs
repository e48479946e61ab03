//! `git proof install --agent NAME`: wire an agent's hooks to `git proof ingest`.

use git_proof::agent_config::{self, Action};
use git_proof::ingest::Agent;

use super::{BadInput, Ctx};

/// Write (merge into, never clobber) an agent's hook configuration for this repository so that
/// every prompt, tool call and turn end reaches `git proof ingest`. (Installing the git hooks
/// themselves is not built yet.)
#[derive(clap::Args, Debug)]
pub struct Args {
    /// claude-code, codex, cursor, gemini, copilot or cline.
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// Show what would change without writing anything.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { agent, dry_run } = args;
    let Some(name) = agent else {
        return Err(BadInput(
            "installing git hooks is not built yet; pass --agent NAME to configure an agent's hooks".into(),
        )
        .into());
    };
    let agent = Agent::parse(&name).ok_or_else(|| {
        BadInput(format!(
            "unknown agent '{name}' (claude-code, codex, cursor, gemini, copilot, cline)"
        ))
    })?;
    let ws = ctx.workspace()?;
    let changes = agent_config::install(agent, &ws.workdir, dry_run)?;
    for change in changes {
        let path = change.path.strip_prefix(&ws.workdir).unwrap_or(&change.path).display();
        let verb = match (&change.action, dry_run) {
            (Action::Created, false) => "created".to_owned(),
            (Action::Created, true) => "would create".to_owned(),
            (Action::Updated, false) => "updated".to_owned(),
            (Action::Updated, true) => "would update".to_owned(),
            (Action::Unchanged, _) => "already configured".to_owned(),
            (Action::Skipped(why), _) => format!("skipped ({why})"),
        };
        println!("{verb}: {path}");
    }
    if agent == Agent::Gemini {
        eprintln!("note: Gemini CLI runs hooks only when its hook system is enabled in its settings");
    }
    Ok(super::EXIT_OK)
}
