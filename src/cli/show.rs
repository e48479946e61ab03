//! `git proof show RUN_ID|COMMIT`: the proof, for a person or (with --json) as the bundle.

use std::io::Write as _;

use git_proof::{proofs, summary};

use super::Ctx;

/// Show the proof of a run (by run id) or of a commit.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A run id, or a commit (any revision git understands).
    #[arg(
        value_name = "RUN_ID|COMMIT",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    target: Option<String>,
    /// The run (a run id only, never read as a commit).
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// Print the bundle object itself (the signed statement's predicate).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: super::TrustArgs,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        target,
        run,
        json,
        trust,
    } = args;
    let ws = ctx.workspace()?;
    let trust = trust.load(&ws.repo, ctx)?;
    let index = super::open_index(&ws, ctx)?;
    let mut shown = match (run, target) {
        (Some(run_id), _) => {
            git_proof::run::check_run_id(&run_id)?;
            vec![proofs::of_run(&ws.repo, &index, &run_id, &trust)?]
        }
        (None, Some(target)) => proofs::find(&ws.repo, &index, &target, &trust)?,
        (None, None) => Err(super::BadInput(
            "name a run or a commit: git proof show RUN_ID|COMMIT".into(),
        ))?,
    };
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
    let style = ctx.page();
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
            out.push_str(&summary::render(s, style, Some(&ws.common_dir)));
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(super::EXIT_OK)
}
