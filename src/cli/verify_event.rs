//! `git proof verify-event PROOF`: check an event inclusion proof against the signed note.

use std::path::PathBuf;

use git_proof::inclusion::{self, EventProof};
use git_proof::{run, signing, verify};

use super::{BadInput, Ctx, NotFound};

/// Check a `prove-event` proof: the note's signature (against the allowed signers), and that
/// the audit path leads from the event to the signed manifest's root. Exit 0 valid, 1 invalid.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The proof file from `git proof prove-event` (`-` for stdin).
    #[arg(value_name = "PROOF")]
    proof: PathBuf,
    #[command(flatten)]
    trust: super::TrustArgs,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { proof, trust } = args;
    let text = super::read_input(&proof)?;
    let proof: EventProof = serde_json::from_slice(&text)
        .map_err(|e| BadInput(format!("{} is not an event proof: {e}", proof.display())))?;
    let repo = git_proof::git::discover(&ctx.dir)?;
    let signers = verify::load_trust(&repo, &trust.options())?;
    let commit = git_proof::git::resolve_commit(&repo, &proof.commit)?;
    let (record, bundle) = run::record_of_run(&repo, commit, &proof.run_id)?
        .ok_or_else(|| NotFound(format!("the note on {commit} holds no proof of run '{}'", proof.run_id)))?;
    let mut problems = Vec::new();
    let signer = match signing::verify(
        record.payload.as_bytes(),
        &record.signature,
        &signers,
        ctx.now.as_second(),
    ) {
        Ok(signer) => Some(signer),
        Err(why) => {
            problems.push(why.to_string());
            None
        }
    };
    problems.extend(inclusion::check(&proof, &bundle));
    if problems.is_empty() {
        let signer = signer.map(|s| s.principals).unwrap_or_default();
        println!(
            "valid: event {} ({}) is #{} of {} in run {}, signed by {signer} on {}",
            proof.event_id,
            proof.event_type,
            proof.leaf_index + 1,
            proof.tree_size,
            proof.run_id,
            &proof.commit[..proof.commit.len().min(10)]
        );
        Ok(super::EXIT_OK)
    } else {
        println!("invalid: {}", problems.join("; "));
        Ok(super::EXIT_INVALID)
    }
}
