//! Command-line front end: one file per subcommand, each with its clap args next to its `run`.
//! Errors from the library are mapped here, once, to the exit codes README documents.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use git_proof::error::ErrorKind;
use git_proof::run::Workspace;
use git_proof::trust::{self, Trust};
use git_proof::{policy, run, signing, store};

/// `println!` that returns the write's error instead of panicking: a reader that stops reading
/// (`git proof log | head -1`) ends the command quietly, as it ends git (see `is_broken_pipe`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

mod abandon;
mod approve;
mod completions;
mod event;
mod export;
mod finish;
mod hook;
mod ingest;
mod install;
mod keygen;
mod land;
mod log;
mod man;
mod prove_event;
mod publish;
mod reindex;
mod reject;
mod run_cmd;
mod serve;
mod show;
mod start;
mod status;
mod sync;
mod ui;
mod uninstall;
mod verify_cmd;
mod verify_event;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a proof is invalid, or missing where one is required.
pub const EXIT_INVALID: u8 = 1;
/// Exit code: bad usage or bad input.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: the thing asked for does not exist.
pub const EXIT_NOT_FOUND: u8 = 3;

/// Signed proofs of AI coding-agent runs, stored as git notes under refs/notes/proof.
#[derive(Parser, Debug)]
#[command(name = "git-proof", version, about, propagate_version = true)]
pub struct Cli {
    /// Run as if started in <path> (like `git -C`).
    #[arg(short = 'C', global = true, value_name = "path")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    ui: ui::UiArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Keygen(keygen::Args),
    Start(start::Args),
    Event(event::Args),
    Ingest(ingest::Args),
    Install(install::Args),
    Uninstall(uninstall::Args),
    Finish(finish::Args),
    Status(status::Args),
    Abandon(abandon::Args),
    Run(run_cmd::Args),
    Show(show::Args),
    Log(log::Args),
    Verify(verify_cmd::Args),
    /// Approve scope violations of a run (a signed record once its proof is written).
    Approve(approve::Args),
    /// Reject scope violations of a run (a signed record once its proof is written).
    Reject(approve::Args),
    Reindex(reindex::Args),
    Sync(sync::Args),
    Publish(publish::Args),
    Land(land::Args),
    Serve(serve::Args),
    #[command(hide = true)]
    Hook(hook::Args),
    ProveEvent(prove_event::Args),
    VerifyEvent(verify_event::Args),
    Export(export::Args),
    Man(man::Args),
    Completions(completions::Args),
}

/// What every command gets: where it runs and what time it is.
pub struct Ctx {
    pub dir: PathBuf,
    /// Whether `-C` named the directory (it then wins over a directory a payload names).
    pub dir_given: bool,
    /// Now, or `GIT_PROOF_DATE` (RFC 3339) for reproducible runs, like `GIT_COMMITTER_DATE`.
    pub now: jiff::Timestamp,
    /// `--no-pager` and `--color`.
    pub ui: ui::UiArgs,
}

impl Ctx {
    /// Sends the rest of stdout through the pager, for output a person reads (`show`, `log`,
    /// `verify`), when stdout is a terminal; returns how to write it.
    pub fn page(&self) -> git_proof::summary::Style {
        let settings = ui::Settings::read(&self.dir);
        ui::start_pager(&settings, &self.ui);
        ui::style(&settings, &self.ui)
    }

    /// The repository and worktree the command runs in.
    pub fn workspace(&self) -> anyhow::Result<Workspace> {
        Ok(Workspace::discover(&self.dir)?)
    }
}

/// Entry point: parse, run, print one error line, exit with the documented code.
pub fn main() -> ExitCode {
    // A hook's exit code is the agent's business: 2 blocks a tool call in Claude Code, Codex
    // and Copilot. `ingest` exits 0 whatever is wrong, even with its own arguments.
    let hook = subcommand_named(std::env::args_os().skip(1)).is_some_and(|c| c == "ingest");
    let json = ui::wants_json(std::env::args_os().skip(1));
    let failed = |code: u8| ExitCode::from(if hook { EXIT_OK } else { code });
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if json && e.use_stderr() => {
            let message = usage_detail(&e).unwrap_or_else(|| "bad usage; see git proof --help".to_owned());
            ui::print_error(true, "usage", &message);
            return failed(EXIT_BAD_INPUT);
        }
        Err(e) => {
            let _ = e.print();
            return failed(if e.use_stderr() { EXIT_BAD_INPUT } else { EXIT_OK });
        }
    };
    let mut outcome = dispatch(cli);
    // Damage found mid-command: repaired once, and the command run again on the rebuilt index
    // (every command is safe to repeat after a failure: finish and the writers look for what
    // an earlier try stored).
    if let Err(err) = &outcome
        && index_is_corrupt(err)
        && let Ok(again) = Cli::try_parse()
        && repair_index(&again).is_ok()
    {
        outcome = dispatch(again);
    }
    let code = match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::from(EXIT_OK),
        Err(err) => {
            let message = format!("{err:#}").replace('\n', " ");
            let (kind, code) = classify(&err);
            ui::print_error(json, code, &message);
            failed(exit_code_for(kind))
        }
    };
    ui::wait_for_pager();
    code
}

/// clap's own error line, without its `error: ` prefix and the usage lines after it.
fn usage_detail(e: &clap::Error) -> Option<String> {
    let text = e.render().to_string();
    // The error and what it lists ("the following required arguments were not provided:"
    // and the arguments beneath), up to the usage.
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let first = lines.first()?;
    let mut detail = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    for more in &lines[1..] {
        detail.push(' ');
        detail.push_str(more);
    }
    Some(detail)
}

/// The subcommand of a command line, read before clap does: the first argument that is not
/// a global flag (`-C <path>`, `-C<path>`, `--no-pager`, `--color[=WHEN]`; only `-C` takes
/// the next argument).
fn subcommand_named(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<std::ffi::OsString> {
    while let Some(arg) = args.next() {
        if arg == "-C" {
            args.next();
        } else if !arg.to_string_lossy().starts_with('-') {
            return Some(arg);
        }
    }
    None
}

fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let dir_given = cli.dir.is_some();
    let dir = match cli.dir {
        Some(dir) => dir,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    if !dir.is_dir() {
        anyhow::bail!(BadInput(format!(
            "cannot change to '{}': no such directory",
            dir.display()
        )));
    }
    let ctx = Ctx {
        dir,
        dir_given,
        now: now()?,
        ui: cli.ui,
    };
    match cli.command {
        Command::Keygen(args) => keygen::run(args, &ctx),
        Command::Start(args) => start::run(args, &ctx),
        Command::Event(args) => event::run(args, &ctx),
        Command::Ingest(args) => ingest::run(args, &ctx),
        Command::Install(args) => install::run(args, &ctx),
        Command::Uninstall(args) => uninstall::run(args, &ctx),
        Command::Finish(args) => finish::run(args, &ctx),
        Command::Status(args) => status::run(args, &ctx),
        Command::Abandon(args) => abandon::run(args, &ctx),
        Command::Run(args) => run_cmd::run(args, &ctx),
        Command::Show(args) => show::run(args, &ctx),
        Command::Log(args) => log::run(args, &ctx),
        Command::Verify(args) => verify_cmd::run(args, &ctx),
        Command::Approve(args) => approve::run(args, &ctx),
        Command::Reject(args) => reject::run(args, &ctx),
        Command::Reindex(args) => reindex::run(args, &ctx),
        Command::Sync(args) => sync::run(args, &ctx),
        Command::Publish(args) => publish::run(args, &ctx),
        Command::Land(args) => land::run(args, &ctx),
        Command::Serve(args) => serve::run(args, &ctx),
        Command::Hook(args) => hook::run(args, &ctx),
        Command::ProveEvent(args) => prove_event::run(args, &ctx),
        Command::VerifyEvent(args) => verify_event::run(args, &ctx),
        Command::Export(args) => export::run(args, &ctx),
        Command::Man(args) => man::run(args, &ctx),
        Command::Completions(args) => completions::run(args, &ctx),
    }
}

fn now() -> anyhow::Result<jiff::Timestamp> {
    match std::env::var("GIT_PROOF_DATE") {
        Ok(text) if !text.is_empty() => text
            .parse::<jiff::Timestamp>()
            .map_err(|_| anyhow::Error::new(BadInput(format!("GIT_PROOF_DATE '{text}' is not an RFC 3339 time")))),
        _ => Ok(jiff::Timestamp::now()),
    }
}

/// A usage or input problem found by the CLI itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Something asked for that does not exist, found by the CLI itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|json| json.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// What kind of failure `err` is, and its machine-readable name (the `error` field of JSON
/// errors: the HTTP API's names, `not_found`, `bad_input`, and the library's more precise
/// ones): the CLI's own errors, else the first the library classifies, else bad input.
fn classify(err: &anyhow::Error) -> (ErrorKind, &'static str) {
    for cause in err.chain() {
        if cause.is::<NotFound>() {
            return (ErrorKind::NotFound, ErrorKind::NotFound.code());
        }
        if cause.is::<BadInput>() {
            return (ErrorKind::BadInput, ErrorKind::BadInput.code());
        }
        if let Some(found) = git_proof::describe(cause) {
            return found;
        }
    }
    (ErrorKind::BadInput, ErrorKind::BadInput.code())
}

/// Exit codes (README): 3 for what does not exist, 2 for everything the user must fix. The library
/// says what kind each of its errors is; this maps kinds to exit codes, once.
fn exit_code_for(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => EXIT_NOT_FOUND,
        ErrorKind::Invalid => EXIT_INVALID,
        ErrorKind::BadInput | ErrorKind::Conflict | ErrorKind::Unavailable | ErrorKind::Internal => EXIT_BAD_INPUT,
    }
}

/// Opens the index; a corrupt one is moved aside and rebuilt from the notes, said in one line.
pub fn open_index(ws: &Workspace, ctx: &Ctx) -> anyhow::Result<store::Index> {
    match ws.open_index() {
        Err(run::Error::Store(store::Error::Corrupt { .. })) => rebuild_index(ws, ctx.now),
        other => Ok(other?),
    }
}

/// Moves the corrupt index aside and rebuilds it from the notes, saying so in one line.
fn rebuild_index(ws: &Workspace, now: jiff::Timestamp) -> anyhow::Result<store::Index> {
    let aside = store::Index::move_aside(&ws.common_dir, now.as_second())?;
    let mut index = ws.open_index()?;
    let now = now.as_second();
    let trust = trust::load(&ws.repo, &Default::default(), now).unwrap_or_else(|_| Trust::none(now));
    let found = git_proof::reindex::reindex(&ws.repo, &mut index, &trust)?;
    eprintln!(
        "git-proof: the index was corrupt; moved it to {} and rebuilt it from {} ({} runs)",
        aside.display(),
        git_proof::notes::NOTES_REF,
        found.imported
    );
    Ok(index)
}

/// Whether a command failed on damage to the index that opening it did not show (SQLite reads
/// pages as queries reach them, so garbage past the first pages surfaces mid-command).
fn index_is_corrupt(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<store::Error>()
            .is_some_and(store::Error::is_corrupt)
            || cause
                .downcast_ref::<run::Error>()
                .is_some_and(|e| matches!(e, run::Error::Store(s) if s.is_corrupt()))
    })
}

/// Repairs the index of the repository `cli` runs in, for a second try of the command.
fn repair_index(cli: &Cli) -> anyhow::Result<()> {
    let dir = match &cli.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    };
    let ws = Workspace::discover(&dir)?;
    rebuild_index(&ws, now()?)?;
    Ok(())
}

/// The run a command is about: `--run`, else `GIT_PROOF_RUN`, else the worktree's active run.
pub fn resolve_run(ws: &Workspace, index: &store::Index, named: Option<&str>) -> anyhow::Result<String> {
    let from_env = std::env::var("GIT_PROOF_RUN").ok();
    Ok(run::resolve_run(ws, index, named, from_env.as_deref())?)
}

/// The signing key: `--key`, then the order README gives (Keys and trust).
pub fn signing_key(explicit: Option<&Path>, repo: Option<&gix::Repository>) -> anyhow::Result<signing::SigningKey> {
    let source = signing::resolve_key_source(explicit, |name| std::env::var(name).ok(), repo)?;
    Ok(signing::SigningKey::load(&source)?)
}

/// Trust options shared by commands that check signatures.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// An OpenSSH allowed_signers file (default: git config proof.allowedSignersFile,
    /// gpg.ssh.allowedSignersFile, then .proof/allowed_signers).
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// Read .proof/allowed_signers from this ref's tree only (e.g. origin/main), so a change
    /// cannot trust the key that signs its own proof.
    #[arg(long, value_name = "REF")]
    pub trust_ref: Option<String>,
}

impl TrustArgs {
    /// The library's view of these flags.
    pub fn options(&self) -> trust::TrustOptions {
        trust::TrustOptions {
            allowed_signers: self.allowed_signers.clone(),
            trust_ref: self.trust_ref.clone(),
        }
    }

    /// The trust to judge by for a command that may run outside any repository (an auditor's
    /// `verify-event`, `verify --envelope`): the repository's, as every command reads it, or
    /// outside one the `--allowed-signers` file alone (nothing else there says who may sign).
    pub fn load_anywhere(&self, repo: Option<&gix::Repository>, ctx: &Ctx) -> anyhow::Result<Trust> {
        if let Some(repo) = repo {
            return self.load(repo, ctx);
        }
        if self.trust_ref.is_some() {
            Err(BadInput(
                "--trust-ref needs a repository; outside one, give --allowed-signers FILE".into(),
            ))?;
        }
        let Some(path) = &self.allowed_signers else {
            Err(BadInput(
                "not in a git repository: give --allowed-signers FILE to say who may sign".into(),
            ))?
        };
        Ok(Trust::signers(
            signing::AllowedSigners::read(path)?,
            ctx.now.as_second(),
        ))
    }

    /// The trust in force for a command that reads records: the trust sources these flags and
    /// the repository name, and the team policy from the same place.
    pub fn load(&self, repo: &gix::Repository, ctx: &Ctx) -> anyhow::Result<Trust> {
        Ok(trust::load(repo, &self.options(), ctx.now.as_second())?)
    }
}

/// What a writer that builds on earlier records trusts: the configured trust (when it can be
/// read) and the key it signs with.
pub fn writer_trust(repo: &gix::Repository, key: Option<&signing::SigningKey>, ctx: &Ctx) -> Trust {
    let now = ctx.now.as_second();
    let trust = trust::load(repo, &Default::default(), now).unwrap_or_else(|_| Trust::none(now));
    match key {
        Some(key) => trust.and_signers(signing::AllowedSigners::of_key("self", key.public_key())),
        None => trust,
    }
}

/// Prints JSON, pretty, with a final newline.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Reads a file named on the command line, `-` meaning stdin (a prompt: a FIFO such as
/// `<(...)` is fine), up to 64 MiB: only its digest is kept, and `/dev/zero` must not fill
/// the memory.
pub fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    const LIMIT: u64 = 64 << 20;
    let read = if path == Path::new("-") {
        git_proof::bounded::read_at_most(std::io::stdin(), LIMIT)
    } else {
        std::fs::File::open(path).and_then(|file| git_proof::bounded::read_at_most(file, LIMIT))
    };
    read.map_err(|e| {
        let name = if path == Path::new("-") {
            "stdin".to_owned()
        } else {
            path.display().to_string()
        };
        anyhow::Error::new(BadInput(format!("cannot read {name}: {e}")))
    })
}

/// Makes `policy::CliRules` from `start` flags.
pub fn cli_rules(scope: &[String], deny: &[String], dod: &[String]) -> anyhow::Result<policy::CliRules> {
    Ok(policy::CliRules {
        allow: scope.to_vec(),
        deny: deny.to_vec(),
        dod: dod
            .iter()
            .map(|d| policy::parse_dod_spec(d))
            .collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
