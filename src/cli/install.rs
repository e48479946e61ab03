//! `git proof install`: the git hooks of this repository, or with `--agent NAME` an agent's
//! hooks wired to `git proof ingest`.

use git_proof::agent_config::{self, Action};
use git_proof::hooks::{self, Change};
use git_proof::ingest::Agent;

use super::{BadInput, Ctx};

/// Install git-proof's git hooks (post-commit, post-rewrite, pre-push), chaining any hook already
/// there, and the git config proofs need; or, with --agent, merge an agent's hook configuration.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Configure this agent's hooks instead: claude-code, codex, cursor, gemini, copilot or cline.
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// Show what would change without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { agent, dry_run, json } = args;
    let ws = ctx.workspace()?;
    let Some(name) = agent else {
        let changes = hooks::install(&ws.repo, dry_run)?;
        print_changes(&changes, dry_run, json)?;
        return Ok(super::EXIT_OK);
    };
    let agent = Agent::parse(&name).ok_or_else(|| {
        BadInput(format!(
            "unknown agent '{name}' (claude-code, codex, cursor, gemini, copilot, cline)"
        ))
    })?;
    let changes = agent_config::install(agent, &ws.workdir, dry_run)?;
    if json {
        let items: Vec<_> = changes
            .iter()
            .map(|change| {
                let (action, reason) = match &change.action {
                    Action::Created => ("created", None),
                    Action::Updated => ("updated", None),
                    Action::Unchanged => ("unchanged", None),
                    Action::Skipped(why) => ("skipped", Some(why)),
                };
                let path = change.path.strip_prefix(&ws.workdir).unwrap_or(&change.path);
                change_json(&path.display().to_string(), action, reason, dry_run)
            })
            .collect();
        super::print_json(&items)?;
        return Ok(super::EXIT_OK);
    }
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
        outln!("{verb}: {path}")?;
    }
    // What the agent itself asks before it runs a repository's hooks.
    match agent {
        Agent::Gemini => eprintln!(
            "note: Gemini CLI runs a project's hooks only in a trusted folder (hooks are on by default; `hooksConfig.enabled` turns them off)"
        ),
        Agent::Codex => eprintln!(
            "note: Codex runs these hooks once you trust them: open `/hooks` in Codex and trust each (an edit to .codex/hooks.json asks again)"
        ),
        Agent::Cline => eprintln!("note: turn hooks on in Cline's settings (Hooks) for the extension to run them"),
        _ => {}
    }
    Ok(super::EXIT_OK)
}

/// One line per file or setting: what was (or would be) done to it.
/// One change as `--json` prints it.
fn change_json(what: &str, action: &str, reason: Option<&String>, dry_run: bool) -> serde_json::Value {
    serde_json::json!({ "what": what, "action": action, "reason": reason, "dry_run": dry_run })
}

/// The changes to git hooks, one line each, or as a JSON array.
pub fn print_changes(changes: &[Change], dry_run: bool, json: bool) -> anyhow::Result<()> {
    use hooks::Action as A;
    if json {
        let items: Vec<_> = changes
            .iter()
            .map(|change| {
                let (action, reason) = match &change.action {
                    A::Installed => ("installed", None),
                    A::Chained => ("chained", None),
                    A::Unchanged => ("unchanged", None),
                    A::Removed => ("removed", None),
                    A::Restored => ("restored", None),
                    A::Kept(why) => ("kept", Some(why)),
                };
                change_json(&change.what, action, reason, dry_run)
            })
            .collect();
        return super::print_json(&items);
    }
    for change in changes {
        let verb = match (&change.action, dry_run) {
            (A::Installed, false) => "installed".to_owned(),
            (A::Installed, true) => "would install".to_owned(),
            (A::Chained, false) => "installed (existing hook kept and run first)".to_owned(),
            (A::Chained, true) => "would install (existing hook kept and run first)".to_owned(),
            (A::Unchanged, _) => "already installed".to_owned(),
            (A::Removed, false) => "removed".to_owned(),
            (A::Removed, true) => "would remove".to_owned(),
            (A::Restored, false) => "removed (your earlier hook restored)".to_owned(),
            (A::Restored, true) => "would remove (and restore your earlier hook)".to_owned(),
            (A::Kept(why), _) => format!("left alone ({why})"),
        };
        outln!("{verb}: {}", change.what)?;
    }
    Ok(())
}
