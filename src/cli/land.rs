//! `git proof land COMMIT --from REV`: carry a proof to the commit a server-side merge made.

use std::path::PathBuf;

use git_proof::{git, land};

use super::Ctx;

/// For CI after a squash or rebase merge: check that COMMIT's tree is exactly the merge of the
/// proven head REV into the commit it landed onto (as `git merge-tree --write-tree` computes
/// it), then write a signed landing record on COMMIT naming the proofs it carries. Exit 0
/// landed, 1 refused (COMMIT is not that merge), 2 bad input, 3 REV holds no proof.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The landed commit (e.g. the new tip of the default branch).
    #[arg(value_name = "COMMIT")]
    commit: String,
    /// The proven head that was merged (e.g. refs/pull/123/head).
    #[arg(long, value_name = "REV")]
    from: String,
    /// The commit the change landed onto [default: COMMIT's first parent]; for a rebase merge,
    /// the branch before the merge, so every commit in between belongs to the landing.
    #[arg(long, value_name = "REV")]
    onto: Option<String>,
    /// Signing key for the landing record [default: as for finish].
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    #[command(flatten)]
    trust: super::TrustArgs,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        commit,
        from,
        onto,
        key,
        trust,
        json,
    } = args;
    let repo = git::discover(&ctx.dir)?;
    let commit = git::resolve_commit(&repo, &commit)?;
    let from = git::resolve_commit(&repo, &from)?;
    let onto = onto.map(|o| git::resolve_commit(&repo, &o)).transpose()?;
    let trust = trust.load(&repo, ctx)?;
    trust.require_signers()?;
    // The key is checked before anything is computed, so a bad key writes nothing.
    let key = super::signing_key(key.as_deref(), Some(&repo))?;
    let landed = land::land(&repo, commit, from, onto, &key, &trust, ctx.now)?;
    if json {
        let items: Vec<_> = landed
            .iter()
            .map(|l| {
                serde_json::json!({
                    "run_id": l.run_id,
                    "bundle_digest": l.bundle_digest,
                    "commit": commit.to_string(),
                    "from": from.to_string(),
                    "onto": l.onto.to_string(),
                })
            })
            .collect();
        super::print_json(&items)?;
    } else {
        for l in &landed {
            outln!(
                "landed: run {} carried to {} (its tree is the merge of {} into {})",
                l.run_id,
                git_proof::model::short_sha(&commit.to_string()),
                git_proof::model::short_sha(&from.to_string()),
                git_proof::model::short_sha(&l.onto.to_string())
            )?;
        }
    }
    Ok(super::EXIT_OK)
}
