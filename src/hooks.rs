//! The git hooks of a repository: installing the shims of `hooks/` next to the user's own hooks
//! (chained, never overwritten), the git config a proof needs, and undoing both exactly.
//!
//! A hook that was already there is renamed to `<name>.pre-git-proof`, which git never runs by
//! itself; our shim runs it first with the same arguments and stdin. Renaming keeps its bytes,
//! mode and times, so `uninstall` renaming it back leaves the file as it was. What `install`
//! added to the config is written down in `proof/install.json` so `uninstall` removes exactly
//! that and nothing the user set.
//!
//! The config is written with `git config`: this runs once per installation, and git's own
//! writer keeps the user's file layout, comments and locking exactly as git does.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::notes::{NOTES_REF, remote_notes_ref};

/// The hook shims, as they are in `hooks/`.
pub const SHIMS: [(&str, &str); 3] = [
    ("post-commit", include_str!("../hooks/post-commit")),
    ("post-rewrite", include_str!("../hooks/post-rewrite")),
    ("pre-push", include_str!("../hooks/pre-push")),
];

/// The suffix a user's own hook is kept under while ours is installed.
pub const CHAINED_SUFFIX: &str = ".pre-git-proof";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} exists next to a hook that is not ours: move one of them away, then run `git proof install` again",
        chained.display()
    )]
    ChainTaken { chained: PathBuf },
    #[error("`git config {args}` failed: {message}")]
    Config { args: String, message: String },
    #[error("{} is not valid: {message}; delete it and run `git proof install` again", path.display())]
    State { path: PathBuf, message: String },
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::ChainTaken { .. } | Self::State { .. } => ErrorKind::Conflict,
            Self::Io { .. } | Self::Config { .. } => ErrorKind::Internal,
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_owned();
    move |source| Error::Io { action, path, source }
}

/// What `install` or `uninstall` did, or would do, to one file or setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub what: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Written (or would be).
    Installed,
    /// Written, and the user's hook kept and chained (or would be).
    Chained,
    /// Already as it should be.
    Unchanged,
    /// Removed (or would be).
    Removed,
    /// Removed, and the user's hook put back (or would be).
    Restored,
    /// Left alone, with the reason.
    Kept(String),
}

/// What `install` added, so `uninstall` takes back exactly that.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct InstallState {
    /// `(key, value)` pairs added to the repository's config.
    config: Vec<(String, String)>,
}

/// Where git looks for this repository's hooks: `core.hooksPath` (relative to the worktree
/// root, as git runs hooks there), else `hooks/` in the common git dir (shared by worktrees).
pub fn hooks_dir(repo: &gix::Repository) -> PathBuf {
    let configured = repo.config_snapshot().trusted_path("core.hooksPath").ok().flatten();
    match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => repo.workdir().unwrap_or_else(|| repo.git_dir()).join(path),
        None => repo.common_dir().join("hooks"),
    }
}

fn state_path(repo: &gix::Repository) -> PathBuf {
    repo.common_dir().join("proof").join("install.json")
}

fn read_state(path: &Path) -> Result<InstallState, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
            path: path.to_owned(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(InstallState::default()),
        Err(e) => Err(io("read", path)(e)),
    }
}

/// Our shims say so in their second line.
fn is_our_hook(path: &Path, name: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(&format!("# git-proof {name} hook")))
}

/// Installs the hook shims and the config; with `dry_run`, only says what it would do.
pub fn install(repo: &gix::Repository, dry_run: bool) -> Result<Vec<Change>, Error> {
    let dir = hooks_dir(repo);
    // Every hook is looked at before any is written: a refusal leaves everything as it was.
    let mut planned = Vec::new();
    for (name, script) in SHIMS {
        let hook = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED_SUFFIX}"));
        let action = match std::fs::read(&hook) {
            Ok(existing) if existing == script.as_bytes() => Action::Unchanged,
            // An older shim of ours: replaced in place, the chained hook stays where it is.
            Ok(_) if is_our_hook(&hook, name) => Action::Installed,
            Ok(_) if chained.exists() => return Err(Error::ChainTaken { chained }),
            Ok(_) => Action::Chained,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Action::Installed,
            Err(e) => return Err(io("read", &hook)(e)),
        };
        planned.push((hook, chained, script, action));
    }
    let mut changes = Vec::new();
    for (hook, chained, script, action) in planned {
        let what = hook.display().to_string();
        if !dry_run {
            match action {
                Action::Chained => {
                    std::fs::rename(&hook, &chained).map_err(io("keep the existing hook as", &chained))?;
                    write_hook(&hook, script)?;
                }
                Action::Installed => write_hook(&hook, script)?,
                _ => {}
            }
        }
        changes.push(Change { what, action });
    }
    let state_file = state_path(repo);
    let mut state = read_state(&state_file)?;
    for (key, value) in wanted_config(repo)? {
        let present = config_values(repo, &key)?.contains(&value);
        let what = format!("git config {key} {value}");
        if present {
            changes.push(Change {
                what,
                action: Action::Unchanged,
            });
            continue;
        }
        if !dry_run {
            git_config(repo, &["--local", "--add", &key, &value])?;
            state.config.push((key, value));
            write_state(&state_file, &state)?;
        }
        changes.push(Change {
            what,
            action: Action::Installed,
        });
    }
    Ok(changes)
}

/// Removes our shims (putting chained hooks back) and the config `install` added.
pub fn uninstall(repo: &gix::Repository, dry_run: bool) -> Result<Vec<Change>, Error> {
    let dir = hooks_dir(repo);
    let mut changes = Vec::new();
    for (name, _) in SHIMS {
        let hook = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED_SUFFIX}"));
        let what = hook.display().to_string();
        let action = if !hook.exists() {
            if chained.exists() {
                Action::Restored
            } else {
                continue;
            }
        } else if !is_our_hook(&hook, name) {
            Action::Kept("not a git-proof hook".into())
        } else if chained.exists() {
            Action::Restored
        } else {
            Action::Removed
        };
        if !dry_run {
            match action {
                Action::Removed => std::fs::remove_file(&hook).map_err(io("remove", &hook))?,
                Action::Restored => std::fs::rename(&chained, &hook).map_err(io("restore", &hook))?,
                _ => {}
            }
        }
        changes.push(Change { what, action });
    }
    let state_file = state_path(repo);
    let state = read_state(&state_file)?;
    let mut left = state.clone();
    for (key, value) in &state.config {
        let what = format!("git config {key} {value}");
        if !dry_run && config_values(repo, key)?.contains(value) {
            git_config(repo, &["--local", "--fixed-value", "--unset", key, value])?;
        }
        left.config.retain(|(k, v)| !(k == key && v == value));
        if !dry_run {
            write_state(&state_file, &left)?;
        }
        changes.push(Change {
            what,
            action: Action::Removed,
        });
    }
    if !dry_run && state_file.exists() {
        std::fs::remove_file(&state_file).map_err(io("remove", &state_file))?;
    }
    Ok(changes)
}

fn write_hook(path: &Path, script: &str) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let temp = path.with_extension("git-proof-tmp");
    std::fs::write(&temp, script).map_err(io("write", &temp))?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).map_err(io("make executable", &temp))?;
    std::fs::rename(&temp, path).map_err(io("install", path))
}

fn write_state(path: &Path, state: &InstallState) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let text = serde_json::to_string_pretty(state).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(io("write", path))
}

/// The config a proof needs: notes follow amends and rebases, `git notes merge` keeps every
/// record, and each remote's notes are fetched next to (never over) ours, for `sync`.
fn wanted_config(repo: &gix::Repository) -> Result<Vec<(String, String)>, Error> {
    let mut wanted = vec![
        ("notes.rewriteRef".to_owned(), NOTES_REF.to_owned()),
        ("notes.proof.mergeStrategy".to_owned(), "union".to_owned()),
    ];
    for remote in repo.remote_names() {
        wanted.push((
            format!("remote.{remote}.fetch"),
            format!("+{NOTES_REF}:{}", remote_notes_ref(&remote.to_string())),
        ));
    }
    // mergeStrategy takes one value: leave a user's own choice alone.
    if !config_values(repo, "notes.proof.mergeStrategy")?.is_empty() {
        wanted.retain(|(k, _)| k != "notes.proof.mergeStrategy");
    }
    Ok(wanted)
}

fn config_values(repo: &gix::Repository, key: &str) -> Result<Vec<String>, Error> {
    let output = git_command(repo, &["--local", "--get-all", key])?;
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()),
        // 1: the key is not set.
        Some(1) => Ok(Vec::new()),
        _ => Err(config_failure(&["--get-all", key], &output)),
    }
}

fn git_config(repo: &gix::Repository, args: &[&str]) -> Result<(), Error> {
    let output = git_command(repo, args)?;
    if output.status.success() {
        Ok(())
    } else {
        Err(config_failure(args, &output))
    }
}

fn git_command(repo: &gix::Repository, args: &[&str]) -> Result<std::process::Output, Error> {
    Command::new("git")
        .arg("--git-dir")
        .arg(repo.common_dir())
        .arg("config")
        .args(args)
        .output()
        .map_err(|e| Error::Config {
            args: args.join(" "),
            message: format!("cannot run git: {e}"),
        })
}

fn config_failure(args: &[&str], output: &std::process::Output) -> Error {
    Error::Config {
        args: args.join(" "),
        message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    }
}
