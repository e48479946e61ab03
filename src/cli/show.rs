//! `git proof show RUN_ID|COMMIT`: the proof, for a person or (with --json) as the bundle.

use git_proof::model::Bundle;
use git_proof::notes;
use git_proof::run::{self, Workspace};
use git_proof::signing::{self, AllowedSigners};
use git_proof::{approval, git, summary, verify};

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
    let shown = find(&ws, ctx, &target, &trust)?;
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
fn find(ws: &Workspace, ctx: &Ctx, target: &str, trust: &super::TrustArgs) -> anyhow::Result<Vec<Shown>> {
    let now = ctx.now.as_second();
    let signers = verify::load_trust(&ws.repo, &trust.options()).ok();
    let index = super::open_index(ws, ctx)?;
    // A run id in the index wins over a revision of the same spelling.
    let is_run = run::check_run_id(target).is_ok() && index.run(target).is_ok();
    let (commit, run_id) = match git::resolve_commit(&ws.repo, target) {
        Ok(commit) if !is_run => (commit, None),
        _ => match run::locate_run(&ws.repo, &index, target) {
            Ok(commit) => (commit, Some(target.to_owned())),
            Err(run::Error::Store(git_proof::store::Error::UnknownRun(_)) | run::Error::BadRunId(_)) => {
                return Err(NotFound(format!("'{target}' is neither a run nor a commit with a proof")).into());
            }
            Err(e) => return Err(e.into()),
        },
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
    // Decisions made after the proof fold into its violations; with a trust source, only the
    // approvals whose signature checks out.
    let approvals: Vec<notes::Record> = records
        .iter()
        .filter(|r| approval::approval_of(r).is_some())
        .filter(|r| {
            signers
                .as_ref()
                .is_none_or(|s| signing::verify(r.payload.as_bytes(), &r.signature, s, now).is_ok())
        })
        .cloned()
        .collect();
    let shown: Vec<Shown> = records
        .iter()
        .filter_map(|r| Some((r, verify::bundle_of(r)?)))
        .filter(|(_, b)| run_id.as_ref().is_none_or(|id| &b.run_id == id))
        .map(|(record, mut bundle)| {
            approval::fold(&mut bundle, record, &approvals);
            Shown {
                signature: signature_line(record, signers.as_ref(), now),
                bundle,
            }
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

fn signature_line(record: &notes::Record, signers: Option<&AllowedSigners>, now: i64) -> String {
    match signers {
        None => "not checked (no allowed signers configured; see `git proof verify --help`)".into(),
        Some(signers) => match signing::verify(record.payload.as_bytes(), &record.signature, signers, now) {
            Ok(signer) => format!("valid, signed by {} ({})", signer.principals, signer.fingerprint),
            Err(why) => format!("INVALID: {why}"),
        },
    }
}
