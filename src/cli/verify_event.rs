//! `git proof verify-event PROOF`: check an event inclusion proof against the signed note.

use std::path::PathBuf;

use git_proof::inclusion::{self, EventProof};
use git_proof::proofs;
use git_proof::view::SignatureCheck;

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
    let trust = trust.load(&repo, ctx)?;
    trust.require_signers()?;
    let commit = git_proof::git::resolve_commit(&repo, &proof.commit)?;
    let mut reader = git_proof::notes::NotesReader::new(&repo)?;
    let view = proofs::view_of(&mut reader, commit, &trust)?
        .ok_or_else(|| NotFound(format!("commit {commit} has no proof note")))?;
    let bundle = view
        .bundle_of_run(&proof.run_id, None)
        .ok_or_else(|| NotFound(format!("the note on {commit} holds no proof of run '{}'", proof.run_id)))?;
    let record = view.record_of(bundle);
    let mut problems = Vec::new();
    // The bundle must count on the commit the proof names: signed by a trusted key, and about
    // that commit (a note copied to another commit proves nothing there).
    if let Some(why) = &record.ignored {
        problems.push(why.clone());
    }
    let signer = match &record.signature {
        SignatureCheck::Trusted(signer) => Some(signer.clone()),
        _ => None,
    };
    problems.extend(inclusion::check(&proof, bundle.bundle()));
    if problems.is_empty() {
        let signer = signer.map(|s| s.principals).unwrap_or_default();
        outln!(
            "valid: event {} ({}) is #{} of {} in run {}, signed by {signer} on {}",
            proof.event_id,
            proof.event_type,
            proof.leaf_index + 1,
            proof.tree_size,
            proof.run_id,
            git_proof::model::short_sha(&proof.commit)
        )?;
        Ok(super::EXIT_OK)
    } else {
        outln!("invalid: {}", problems.join("; "))?;
        Ok(super::EXIT_INVALID)
    }
}
