//! `git proof start`: begin a run in this worktree.

use std::path::PathBuf;

use git_proof::run::{self, StartOptions};

use super::Ctx;

/// Start a run in this worktree and print its id.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Use this run id instead of a new ULID (`--run-id` is the older spelling).
    #[arg(long = "run", alias = "run-id", value_name = "ID")]
    pub run_id: Option<String>,
    /// The prompt (`-` for stdin); only its SHA-256 digest is kept.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Allow glob (gitignore syntax); repeatable; adds to .proof/policy.toml.
    #[arg(long = "scope", value_name = "GLOB")]
    pub scope: Vec<String>,
    /// Deny glob; repeatable; adds to .proof/policy.toml.
    #[arg(long = "deny", value_name = "GLOB")]
    pub deny: Vec<String>,
    /// Definition-of-done check NAME=COMMAND, run with `sh -c` at finish; repeatable.
    #[arg(long = "dod", value_name = "NAME=CMD")]
    pub dod: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// Starts the run these flags describe.
    pub fn start(self, ctx: &Ctx, ws: &run::Workspace) -> anyhow::Result<String> {
        let Args {
            run_id,
            prompt_file,
            scope,
            deny,
            dod,
            json: _,
        } = self;
        let rules = super::cli_rules(&scope, &deny, &dod)?;
        let prompt = prompt_file.as_deref().map(super::read_input).transpose()?;
        let mut index = super::open_index(ws, ctx)?;
        let run = run::start(
            ws,
            &mut index,
            StartOptions {
                run_id,
                prompt,
                rules,
                correlation_id: None,
                thread_id: None,
            },
            ctx.now,
        )?;
        Ok(run.run_id)
    }
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let ws = ctx.workspace()?;
    let json = args.json;
    let run_id = args.start(ctx, &ws)?;
    if json {
        super::print_json(&serde_json::json!({ "run_id": run_id }))?;
    } else {
        outln!("{run_id}")?;
    }
    Ok(super::EXIT_OK)
}
