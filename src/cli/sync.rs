//! `git proof sync [REMOTE]`: fetch, merge and push `refs/notes/proof`.

use git_proof::notes::{Merged, NOTES_REF};
use git_proof::sync;

use super::{BadInput, Ctx};

/// Fetch a remote's proofs, merge them with ours (a union of records) and push the result.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A remote name, URL or path [default: the branch's push remote, else origin].
    #[arg(value_name = "REMOTE")]
    remote: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Say nothing unless something went wrong.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let ws = ctx.workspace()?;
    let remote = match args.remote.or_else(|| sync::default_remote(&ws.repo)) {
        Some(remote) => remote,
        None => return Err(BadInput("this repository has no remote; name one: git proof sync REMOTE".into()).into()),
    };
    let synced = sync::sync(&ws.repo, &remote).map_err(|e| match e {
        sync::Error::UnknownRemote(_) => anyhow::Error::new(BadInput(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    let merged = match synced.merged {
        Merged::UpToDate => "up to date",
        Merged::FastForward => "fast-forward",
        Merged::Merge(_) => "merged",
    };
    if args.json {
        super::print_json(&serde_json::json!({
            "remote": remote,
            "merged": merged,
            "pushed": synced.pushed,
            "attempts": synced.attempts,
        }))?;
    } else if !args.quiet {
        let pushed = if synced.pushed { "pushed" } else { "nothing to push" };
        eprintln!("git-proof: {NOTES_REF} synced with {remote}: {merged}, {pushed}");
    }
    Ok(super::EXIT_OK)
}
