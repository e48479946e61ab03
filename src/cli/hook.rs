//! `git proof hook NAME [ARGS]...`: what the shims in `hooks/` run. Never stops git: whatever
//! goes wrong is said in one line and the hook exits 0 (pre-push included: a branch push is
//! not held back because the notes could not follow it).

use std::io::Read as _;

use anyhow::Context as _;
use git_proof::{git, rewrite, run, sync};

use super::Ctx;

/// Run a git hook's part of git-proof (called by the hooks `git proof install` writes).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The hook: post-commit, post-rewrite or pre-push.
    #[arg(value_parser = ["post-commit", "post-rewrite", "pre-push"])]
    name: String,
    /// The arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { name, args } = args;
    let result = match name.as_str() {
        "post-commit" => post_commit(ctx),
        "post-rewrite" => post_rewrite(ctx, args.first().map_or("rewrite", String::as_str)),
        _ => pre_push(ctx, args.first().map(String::as_str)),
    };
    if let Err(err) = result {
        eprintln!("git-proof: {name} hook: {}", format!("{err:#}").replace('\n', " "));
    }
    Ok(super::EXIT_OK)
}

/// Records the commit in the worktree's active run; with `proof.finishOnCommit`, finishes it.
/// The shim has already checked the active-run marker, so this only runs when one may exist.
fn post_commit(ctx: &Ctx) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let mut index = super::open_index(&ws, ctx)?;
    let Some(run_id) = index.active_run(&ws.worktree_key())? else {
        return Ok(());
    };
    let head = git::head_commit(&ws.repo)?;
    run::record_commit(&mut index, &run_id, head, ctx.now)?;
    let finish_on_commit = ws
        .repo
        .config_snapshot()
        .boolean("proof.finishOnCommit")
        .unwrap_or(false);
    if finish_on_commit {
        drop(index);
        let key = super::signing_key(None, Some(&ws.repo)).context("proof.finishOnCommit is set, but")?;
        super::finish::finish_and_report(ctx, &ws, &run_id, None, true, &key, super::finish::Output::Text)?;
    }
    Ok(())
}

/// Carries the proofs on rewritten commits to their replacements.
fn post_rewrite(ctx: &Ctx, operation: &str) -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the rewritten commits from stdin")?;
    let pairs = rewrite::parse_rewrite_list(&input)?;
    if pairs.is_empty() {
        return Ok(());
    }
    let ws = ctx.workspace()?;
    let key = super::signing_key(None, Some(&ws.repo));
    let trust = super::writer_trust(&ws.repo, key.as_ref().ok(), ctx);
    let mut index = super::open_index(&ws, ctx)?;
    let carried = rewrite::carry_proofs(
        &ws.repo,
        Some(&mut index),
        &pairs,
        operation,
        key.as_ref().ok(),
        &trust,
        ctx.now,
    )?;
    for c in &carried {
        let new = &c.new.to_string()[..10];
        if !c.signed {
            eprintln!(
                "git-proof: proof of run {} copied to {new}, but not re-signed (no signing key: {}); verify will reject it there",
                c.run_id,
                key.as_ref().err().map(|e| format!("{e:#}")).unwrap_or_default()
            );
        } else if c.same_change {
            eprintln!(
                "git-proof: proof of run {} carried to {new} ({operation}, same patch-id)",
                c.run_id
            );
        } else {
            eprintln!(
                "git-proof: proof of run {} does not cover {new}: the {operation} changed the run's patch",
                c.run_id
            );
        }
    }
    Ok(())
}

/// Sends `refs/notes/proof` along with a push (fetch, union-merge, push with a lease).
fn pre_push(ctx: &Ctx, remote: Option<&str>) -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the refs being pushed from stdin")?;
    // Our own notes push runs with --no-verify; a user pushing the notes ref alone needs no help.
    let pushes_more_than_notes = input.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let local_ref = fields.next().unwrap_or_default();
        let local_sha = fields.next().unwrap_or_default();
        local_ref != git_proof::notes::NOTES_REF && !local_sha.bytes().all(|b| b == b'0')
    });
    if !pushes_more_than_notes {
        return Ok(());
    }
    let Some(remote) = remote else {
        anyhow::bail!("git passed no remote; run `git proof sync REMOTE`");
    };
    let ws = ctx.workspace()?;
    if ws.repo.try_find_reference(git_proof::notes::NOTES_REF)?.is_none() {
        return Ok(());
    }
    match sync::sync(&ws.repo, remote) {
        Ok(synced) if synced.pushed => eprintln!("git-proof: {} pushed to {remote}", git_proof::notes::NOTES_REF),
        Ok(_) => {}
        Err(e) => eprintln!(
            "git-proof: warning: {} was not pushed to {remote}: {e}; run `git proof sync {remote}`",
            git_proof::notes::NOTES_REF
        ),
    }
    Ok(())
}
