//! `git proof reindex`: rebuild the index from `refs/notes/proof`.

use super::Ctx;

/// Rebuild the index from the notes alone (a fresh clone after fetching refs/notes/proof, or
/// a lost or corrupt index, which is moved aside first).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
    /// Say nothing unless something went wrong.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { json, quiet } = args;
    let ws = ctx.workspace()?;
    let mut index = super::open_index(&ws, ctx)?;
    let trust = git_proof::trust::load(&ws.repo, &Default::default(), ctx.now.as_second())?;
    let found = git_proof::reindex::reindex(&ws.repo, &mut index, &trust)?;
    if json {
        super::print_json(&found)?;
        return Ok(super::EXIT_OK);
    }
    if quiet {
        return Ok(super::EXIT_OK);
    }
    let notes = [
        (
            found.unverified,
            "of them unverified (no allowed signers are configured)",
        ),
        (found.ignored, "bundle records count nowhere (see `git proof verify`)"),
        (
            found.ambiguous,
            "runs left out: several bundles claim each and none can be verified",
        ),
        (found.replaced, "runs placed anew on the proof that counts"),
        (found.unreadable, "notes hold no signed record (see `git proof verify`)"),
    ];
    let extra: String = notes
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!(", {count} {what}"))
        .collect();
    eprintln!(
        "git-proof: read {} notes: {} runs added to the index, {} already in it{extra}",
        found.notes, found.imported, found.known,
    );
    Ok(super::EXIT_OK)
}
