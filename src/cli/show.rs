//! `git proof show RUN_ID|COMMIT`: the proof, for a person or (with --json) as the bundle.

use std::io::Write as _;

use git_proof::{proofs, summary};

use super::Ctx;

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

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { target, json, trust } = args;
    let ws = ctx.workspace()?;
    let trust = trust.load(&ws.repo, ctx)?;
    let index = super::open_index(&ws, ctx)?;
    let mut shown = proofs::find(&ws.repo, &index, &target, &trust)?;
    if json {
        shown = proofs::vouched(shown, &trust)?;
        if trust.signers.is_none() {
            eprintln!("git-proof: unverified: no allowed signers are configured, so no decision is shown");
        }
    }
    if json && shown.len() > 1 {
        // A commit several runs' proofs cover: one JSON document, an array of their bundles.
        let bundles: Vec<_> = shown.iter().map(|s| &s.bundle).collect();
        super::print_json(&bundles)?;
        return Ok(super::EXIT_OK);
    }
    let mut out = String::new();
    for (i, s) in shown.iter().enumerate() {
        if json {
            out.push_str(&proofs::bundle_json(&s.bundle)?);
        } else {
            if i == 0 && shown.len() > 1 {
                out.push_str(&format!("{} proofs on this commit\n\n", shown.len()));
            }
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&summary::render(s));
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(super::EXIT_OK)
}
