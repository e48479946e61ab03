//! `git proof verify-event PROOF`: check an event inclusion proof against the signed note.

use std::path::PathBuf;

use git_proof::inclusion::{self, EventProof};
use git_proof::trust::Trust;
use git_proof::view::{NoteView, SignatureCheck};

use super::{BadInput, Ctx, NotFound};

/// Check a `prove-event` proof: the bundle's signature (against the allowed signers), and that
/// the audit path leads from the event to the signed manifest's root. In a repository that has
/// the commit's note, the note is what is checked; elsewhere the signed record the proof
/// carries (give `--allowed-signers`). Exit 0 valid, 1 invalid.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The proof file from `git proof prove-event` (`-` for stdin).
    #[arg(value_name = "PROOF")]
    proof: PathBuf,
    #[command(flatten)]
    trust: super::TrustArgs,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

/// What the proof was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Against {
    /// The note on the commit, in this repository.
    Note,
    /// The signed record the proof carries (no repository, or it lacks the note).
    CarriedRecord,
}

impl Against {
    fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::CarriedRecord => "signed_record",
        }
    }
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { proof, trust, json } = args;
    let text = super::read_input(&proof)?;
    let proof: EventProof = serde_json::from_slice(&text)
        .map_err(|e| BadInput(format!("{} is not an event proof: {e}", proof.display())))?;
    let commit = gix::ObjectId::from_hex(proof.commit.as_bytes())
        .map_err(|_| BadInput(format!("the proof's commit '{}' is not an object id", proof.commit)))?;
    let repo = git_proof::git::discover(&ctx.dir).ok();
    let trust = trust.load_anywhere(repo.as_ref(), ctx)?;
    trust.require_signers()?;
    let (view, against) = note_view(repo.as_ref(), &proof, commit, &trust)?;
    let bundle = view
        .bundle_of_run(&proof.run_id, None)
        .ok_or_else(|| NotFound(format!("the note on {commit} holds no proof of run '{}'", proof.run_id)))?;
    let record = view.record_of(bundle);
    let mut problems = Vec::new();
    if let Some(why) = &record.ignored {
        problems.push(why.clone());
    }
    let signer = match &record.signature {
        SignatureCheck::Trusted(signer) => Some(signer.principals.clone()),
        _ => None,
    };
    problems.extend(inclusion::check(&proof, bundle.bundle()));
    let valid = problems.is_empty();
    if json {
        super::print_json(&serde_json::json!({
            "valid": valid,
            "run_id": proof.run_id,
            "commit": proof.commit,
            "event_id": proof.event_id,
            "event_type": proof.event_type,
            "position": proof.leaf_index + 1,
            "tree_size": proof.tree_size,
            "signed_by": signer,
            "checked_against": against.as_str(),
            "problems": problems,
        }))?;
    } else if valid {
        let whence = match against {
            Against::Note => "",
            Against::CarriedRecord => " (the signed record the proof carries; the note itself was not read)",
        };
        let line = format!(
            "valid: event {} ({}) is #{} of {} in run {}, signed by {} on {}{whence}",
            proof.event_id,
            proof.event_type,
            proof.leaf_index + 1,
            proof.tree_size,
            proof.run_id,
            signer.unwrap_or_default(),
            git_proof::model::short_sha(&proof.commit)
        );
        // The proof file is the untrusted input here: its text never reaches the terminal raw.
        outln!("{}", git_proof::summary::quoted(&line))?;
    } else {
        outln!(
            "{}",
            git_proof::summary::quoted(&format!("invalid: {}", problems.join("; ")))
        )?;
    }
    Ok(if valid { super::EXIT_OK } else { super::EXIT_INVALID })
}

/// The note to check the proof against: the commit's own, when this repository has it, else
/// the signed record the proof carries, read under the same rule as a one-record note.
fn note_view(
    repo: Option<&gix::Repository>,
    proof: &EventProof,
    commit: gix::ObjectId,
    trust: &Trust,
) -> anyhow::Result<(NoteView, Against)> {
    if let Some(repo) = repo
        && let Some(view) = git_proof::proofs::view_of(&mut git_proof::notes::NotesReader::new(repo)?, commit, trust)?
    {
        return Ok((view, Against::Note));
    }
    match &proof.signed_record {
        Some(record) => Ok((
            NoteView::build(commit, record.as_bytes(), trust),
            Against::CarriedRecord,
        )),
        None if repo.is_some() => Err(NotFound(format!("commit {commit} has no proof note here")))?,
        None => Err(BadInput(
            "this proof carries no signed record (made by an older git-proof): check it in the repository".into(),
        ))?,
    }
}
