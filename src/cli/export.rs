//! `git proof export REV`: the records of a commit's note as DSSE envelopes.

use std::path::PathBuf;

use git_proof::dsse;

use super::{Ctx, NotFound};

/// Print each record of REV's note that counts under the trust in force as a DSSE envelope
/// (payloadType application/vnd.in-toto+json, the record's exact statement bytes), signed
/// anew with your ed25519 key over DSSE's PAE; the key id is securesystemslib's for the key.
/// Records that do not count are left out, said on stderr. `git proof verify --envelope FILE`
/// reads the output back.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit whose note to export.
    #[arg(value_name = "REV")]
    rev: String,
    /// dsse: a JSON array of envelopes; intoto-jsonl: one envelope per line (in-toto's
    /// attestation bundle, `.intoto.jsonl`).
    #[arg(long, value_enum, default_value_t = Format::Dsse)]
    format: Format,
    /// The ed25519 private key that signs the envelopes [default: as for finish].
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    #[command(flatten)]
    trust: super::TrustArgs,
}

/// The shape of the output.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dsse,
    IntotoJsonl,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        rev,
        format,
        key,
        trust,
    } = args;
    let ws = ctx.workspace()?;
    let trust = trust.load(&ws.repo, ctx)?;
    // Only what the trust in force counts is re-signed: an export never launders a record.
    trust.require_signers()?;
    let key = super::signing_key(key.as_deref(), Some(&ws.repo))?;
    let commit = git_proof::git::resolve_commit(&ws.repo, &rev)?;
    let mut reader = git_proof::notes::NotesReader::new(&ws.repo)?;
    let view = git_proof::proofs::view_of(&mut reader, commit, &trust)?
        .ok_or_else(|| NotFound(format!("commit {commit} has no proof note")))?;
    let counting: Vec<_> = view.records.iter().filter(|r| r.ignored.is_none()).collect();
    let left_out = view.records.len() - counting.len();
    if counting.is_empty() {
        Err(NotFound(format!(
            "no record of the note on {commit} counts under the trust in force (see `git proof verify {commit}`)"
        )))?;
    }
    let ssh_key::public::KeyData::Ed25519(public) = key.public_key().key_data() else {
        Err(git_proof::signing::Error::RawSigning)?
    };
    let envelopes = counting
        .iter()
        .map(|r| dsse::seal(r.record.payload.as_bytes(), &public.0, |pae| key.sign_raw(pae)))
        .collect::<Result<Vec<_>, _>>()?;
    if left_out > 0 {
        eprintln!(
            "git-proof: {left_out} record(s) of the note do not count and were left out (see `git proof verify`)"
        );
    }
    match format {
        Format::Dsse => super::print_json(&envelopes)?,
        Format::IntotoJsonl => {
            for envelope in &envelopes {
                outln!("{}", serde_json::to_string(envelope)?)?;
            }
        }
    }
    Ok(super::EXIT_OK)
}
