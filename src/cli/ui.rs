//! What a person at a terminal gets and a script does not: long output through a pager and
//! colour, both chosen the way git chooses them, and errors as JSON under `--json`.

use std::io::{IsTerminal as _, Write as _};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use git_proof::summary::Style;

/// `--color`'s values, as git spells them.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Flags every command takes, before or after its name.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct UiArgs {
    /// Do not pipe long output into a pager (as `git --no-pager`).
    #[arg(long, global = true)]
    pub no_pager: bool,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always or never [default: git
    /// config color.proof, then color.ui, then auto].
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "always"
    )]
    pub color: Option<ColorWhen>,
}

/// The pager this process writes into, and its own stdout and stderr from before, to hand back
/// once the pager has all the output.
struct Paging {
    child: Child,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

static PAGER: Mutex<Option<Paging>> = Mutex::new(None);

/// The git configuration the pager and colour follow, read once.
pub struct Settings {
    core_pager: Option<String>,
    /// `color.proof`, else `color.ui`.
    color: Option<String>,
}

impl Settings {
    /// The settings as git reads them from `dir`.
    pub fn read(dir: &Path) -> Self {
        let [core_pager, color_proof, color_ui] =
            git_proof::git::config_strings(dir, ["core.pager", "color.proof", "color.ui"]);
        Self {
            core_pager,
            color: color_proof.or(color_ui),
        }
    }
}

/// The pager git would start: `GIT_PAGER`, `core.pager`, `PAGER`, then `less`; none when that
/// is empty or `cat` (git's rule in `git_pager()`).
fn pager_command(settings: &Settings) -> Option<String> {
    let chosen = std::env::var("GIT_PAGER")
        .ok()
        .or_else(|| settings.core_pager.clone())
        .or_else(|| std::env::var("PAGER").ok())
        .unwrap_or_else(|| "less".to_owned());
    let chosen = chosen.trim();
    (!chosen.is_empty() && chosen != "cat").then(|| chosen.to_owned())
}

/// Whether git (or another git-proof) already pipes this process's output into a pager.
fn pager_in_use() -> bool {
    std::env::var("GIT_PAGER_IN_USE")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Pipes the rest of stdout (and stderr, when it is the terminal too) into the pager, when
/// stdout is a terminal and nothing said not to. A pager that cannot start leaves the output on
/// the terminal, as git does.
pub fn start_pager(settings: &Settings, ui: &UiArgs) {
    if ui.no_pager || pager_in_use() || !std::io::stdout().is_terminal() {
        return;
    }
    let Some(pager) = pager_command(settings) else {
        return;
    };
    // As git runs it (`prepare_shell_cmd`): through the shell when it has anything the shell
    // would read, else directly, so that a pager that does not exist leaves the output here.
    let mut command = if pager.contains(|c| "|&;<>()$`\\\"' \t\n*?[#~=%".contains(c)) {
        let mut shell = Command::new("sh");
        shell.arg("-c").arg(&pager);
        shell
    } else {
        Command::new(&pager)
    };
    command.stdin(Stdio::piped());
    // git's defaults: quit when the output fits, keep colours, do not clear the screen.
    if std::env::var_os("LESS").is_none() {
        command.env("LESS", "FRX");
    }
    if std::env::var_os("LV").is_none() {
        command.env("LV", "-c");
    }
    let Ok(mut child) = command.spawn() else {
        return;
    };
    let (Some(input), Ok(stdout), Ok(stderr)) = (
        child.stdin.take(),
        rustix::io::dup(std::io::stdout()),
        rustix::io::dup(std::io::stderr()),
    ) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    if rustix::stdio::dup2_stdout(&input).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    if std::io::stderr().is_terminal() {
        let _ = rustix::stdio::dup2_stderr(&input);
    }
    // From here the pipe's write end lives only in fds 1 and 2, so handing those back in
    // `wait_for_pager` is the end of the pager's input.
    drop(input);
    if let Ok(mut slot) = PAGER.lock() {
        *slot = Some(Paging { child, stdout, stderr });
    }
}

/// Whether output goes into a pager this process started.
fn paging() -> bool {
    PAGER.lock().is_ok_and(|slot| slot.is_some())
}

/// Ends the pager's input and waits for the person to quit it, as git does at exit.
pub fn wait_for_pager() {
    let Some(mut paging) = PAGER.lock().ok().and_then(|mut slot| slot.take()) else {
        return;
    };
    let _ = std::io::stdout().flush();
    let _ = rustix::stdio::dup2_stdout(&paging.stdout);
    let _ = rustix::stdio::dup2_stderr(&paging.stderr);
    let _ = paging.child.wait();
}

/// Whether to colour stdout: `--color`, else `color.proof`, else `color.ui` (always, never,
/// or auto; git's `true` means auto), else auto: on a terminal or into a pager, unless
/// `NO_COLOR` is set or the terminal is dumb.
pub fn style(settings: &Settings, ui: &UiArgs) -> Style {
    let configured = || {
        let value = settings.color.as_deref()?;
        match value.to_ascii_lowercase().as_str() {
            "always" => Some(ColorWhen::Always),
            "never" | "false" | "no" | "off" | "0" => Some(ColorWhen::Never),
            _ => Some(ColorWhen::Auto),
        }
    };
    let color = match ui.color.or_else(configured).unwrap_or(ColorWhen::Auto) {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").as_deref() != Ok("dumb")
                && (std::io::stdout().is_terminal() || paging() || pager_in_use())
        }
    };
    Style { color }
}

/// Whether a command line asks for JSON output: `--json` before any `--` (what follows `--` is
/// a command `run` starts). Read from the arguments themselves so that even an error clap
/// finds in them is reported as JSON.
pub fn wants_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.take_while(|a| a != "--").any(|a| a == "--json")
}

/// Prints an error the way the command line asked: one line `error: ...`, or under `--json`
/// one JSON object `{"error": CODE, "message": ...}` (as the HTTP API's errors are).
pub fn print_error(json: bool, code: &str, message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = if json {
        let body = serde_json::json!({ "error": code, "message": message });
        writeln!(err, "{body}")
    } else {
        // A message may quote what came from outside (a proof file, a note): no escape
        // sequence of it reaches the terminal.
        writeln!(err, "error: {}", git_proof::summary::terminal_safe(message.to_owned()))
    };
}
