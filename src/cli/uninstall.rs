//! `git proof uninstall`: remove the git hooks and config `install` added, exactly.

use git_proof::hooks;

use super::Ctx;

/// Remove git-proof's git hooks (putting back the hooks they chained) and the config install added.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let ws = ctx.workspace()?;
    let changes = hooks::uninstall(&ws.repo, args.dry_run)?;
    if changes.is_empty() && !args.json {
        outln!(
            "nothing to uninstall: no git-proof hooks in {}",
            hooks::hooks_dir(&ws.repo).display()
        )?;
    }
    super::install::print_changes(&changes, args.dry_run, args.json)?;
    Ok(super::EXIT_OK)
}
