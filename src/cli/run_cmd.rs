//! `git proof run -- CMD...`: start, run the command, finish with its exit code.

use std::path::PathBuf;
use std::process::Command;

use super::{BadInput, Ctx};

/// Start a run, run CMD (stdin/stdout/stderr passed through), finish with its exit code.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    start: super::start::Args,
    /// Record every DoD check as pending instead of running it.
    #[arg(long)]
    no_dod: bool,
    /// Signing key [default: GIT_PROOF_KEY, GIT_PROOF_KEY_DATA, git config proof.signingKey].
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// No progress and no success lines; what went wrong is still said.
    #[arg(short, long)]
    quiet: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        start,
        no_dod,
        key,
        quiet,
        command,
    } = args;
    let output = super::finish::Output::new(start.json, quiet);
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| BadInput("no command after --".into()))?;
    let ws = ctx.workspace()?;
    // Refuse a missing key before the command runs, not after its work is done.
    let key = super::signing_key(key.as_deref(), Some(&ws.repo))?;
    let run_id = start.start(ctx, &ws)?;
    if output == super::finish::Output::Text {
        eprintln!("git-proof: run {run_id} started");
    }
    let status = Command::new(program)
        .args(rest)
        .current_dir(&ctx.dir)
        .env("GIT_PROOF_RUN", &run_id)
        .status();
    let exit_code = match &status {
        Ok(status) => exit_code_of(status),
        Err(e) => {
            eprintln!("git-proof: cannot run '{program}': {e}");
            if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            }
        }
    };
    // The clock moved while the command ran.
    let ctx = Ctx {
        dir: ctx.dir.clone(),
        dir_given: ctx.dir_given,
        ui: ctx.ui.clone(),
        now: if std::env::var_os("GIT_PROOF_DATE").is_some() {
            ctx.now
        } else {
            jiff::Timestamp::now()
        },
    };
    super::finish::finish_and_report(&ctx, &ws, &run_id, Some(exit_code), !no_dod, &key, output)?;
    Ok(u8::try_from(exit_code & 0xff).unwrap_or(1))
}

/// A shell's view of how a process ended: its code, or 128 + the signal that killed it.
fn exit_code_of(status: &std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}
