//! `git proof reindex`: rebuild the index from `refs/notes/proof`.

use super::Ctx;

/// Rebuild the index from the notes alone (a fresh clone after fetching refs/notes/proof, or
/// a lost or corrupt index, which is moved aside first).
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {} = args;
    let ws = ctx.workspace()?;
    let mut index = super::open_index(&ws, ctx)?;
    let found = git_proof::reindex::reindex(&ws.repo, &mut index)?;
    eprintln!(
        "git-proof: read {} notes: {} runs added to the index, {} already in it{}",
        found.notes,
        found.imported,
        found.known,
        if found.unreadable > 0 {
            format!(
                ", {} notes are not signed records (see `git proof verify`)",
                found.unreadable
            )
        } else {
            String::new()
        }
    );
    Ok(super::EXIT_OK)
}
