//! `git proof show RUN_ID|COMMIT`: the proof, for a person or (with --json) as the bundle.

use git_proof::model::Bundle;
use git_proof::notes::{self, NotesReader};
use git_proof::run::{self, Workspace};
use git_proof::signing::{self, AllowedSigners};
use git_proof::{git, summary, verify};

use super::{Ctx, NotFound};

/// Show the proof of a run (by run id) or of a commit.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A run id, or a commit (any revision git understands).
    #[arg(value_name = "RUN_ID|COMMIT")]
    target: String,
    /// Print the bundle object itself (the signed statement's predicate).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: super::TrustArgs,
}

/// A bundle and the signature verdict of its record.
struct Shown {
    bundle: Bundle,
    signature: String,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { target, json, trust } = args;
    let ws = ctx.workspace()?;
    let shown = find(&ws, &target, &trust, ctx.now.as_second())?;
    if json {
        for s in &shown {
            super::print_json(&s.bundle)?;
        }
    } else {
        let mut out = String::new();
        for (i, s) in shown.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&summary::render(&s.bundle, &s.signature));
        }
        print!("{out}");
    }
    Ok(super::EXIT_OK)
}

/// The bundles `target` names: the run's own, or every bundle on the commit.
fn find(ws: &Workspace, target: &str, trust: &super::TrustArgs, now: i64) -> anyhow::Result<Vec<Shown>> {
    let signers = verify::load_trust(&ws.repo, &trust.options()).ok();
    let index = ws.open_index()?;
    let (commit, run_id) = if run::check_run_id(target).is_ok() && index.run(target).is_ok() {
        let reference = index
            .bundle_ref(target)?
            .ok_or_else(|| run::Error::NoProof(target.to_owned()))?;
        (
            gix::ObjectId::from_hex(reference.commit_sha.as_bytes())?,
            Some(target.to_owned()),
        )
    } else {
        match git::resolve_commit(&ws.repo, target) {
            Ok(commit) => (commit, None),
            Err(_) => match find_run_in_notes(&ws.repo, target)? {
                Some(commit) => (commit, Some(target.to_owned())),
                None => {
                    return Err(NotFound(format!(
                        "'{target}' is neither a run in the index nor a commit with a proof"
                    ))
                    .into());
                }
            },
        }
    };
    let note = notes::read_note(&ws.repo, commit)?.ok_or_else(|| {
        NotFound(format!(
            "commit {commit} has no proof (no note under {})",
            notes::NOTES_REF
        ))
    })?;
    let records = notes::parse_records(&note).map_err(|e| {
        anyhow::anyhow!("the proof note on {commit} is corrupt: {e}; run `git proof verify {commit}` for details")
    })?;
    let shown: Vec<Shown> = records
        .iter()
        .filter_map(|r| Some((r, verify::bundle_of(r)?)))
        .filter(|(_, b)| run_id.as_ref().is_none_or(|id| &b.run_id == id))
        .map(|(record, bundle)| Shown {
            signature: signature_line(record, signers.as_ref(), now),
            bundle,
        })
        .collect();
    if shown.is_empty() {
        return Err(NotFound(format!(
            "the note on {commit} holds no proof bundle{}",
            run_id.map(|r| format!(" for run {r}")).unwrap_or_default()
        ))
        .into());
    }
    Ok(shown)
}

/// Looks for a run's bundle in every note: the path for a clone whose index is not built yet.
fn find_run_in_notes(repo: &gix::Repository, run_id: &str) -> anyhow::Result<Option<gix::ObjectId>> {
    if run::check_run_id(run_id).is_err() {
        return Ok(None);
    }
    let mut reader = NotesReader::new(repo)?;
    let needle = format!("\"run_id\": \"{run_id}\"");
    for (commit, _) in notes::list_notes(repo)? {
        let Some(note) = reader.note(commit)? else { continue };
        if !note.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            continue;
        }
        let found = notes::parse_records(&note)
            .unwrap_or_default()
            .iter()
            .filter_map(verify::bundle_of)
            .any(|b| b.run_id == run_id);
        if found {
            return Ok(Some(commit));
        }
    }
    Ok(None)
}

fn signature_line(record: &notes::Record, signers: Option<&AllowedSigners>, now: i64) -> String {
    match signers {
        None => "not checked (no allowed signers configured; see `git proof verify --help`)".into(),
        Some(signers) => match signing::verify(record.payload.as_bytes(), &record.signature, signers, now) {
            Ok(signer) => format!("valid, signed by {} ({})", signer.principals, signer.fingerprint),
            Err(why) => format!("INVALID: {why}"),
        },
    }
}
