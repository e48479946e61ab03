//! Definition-of-done checks: each a `sh -c` command in the worktree, with its own timeout,
//! its combined output kept in `<common dir>/proof/logs/` under its digest (never in a note).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::model::{DodCheck, DodResult, DodStatus};

/// Where check logs are kept.
pub fn logs_dir(common_dir: &Path) -> PathBuf {
    common_dir.join("proof").join("logs")
}

/// Where the log of a check with this digest (`sha256:<hex>`) is kept.
pub fn log_path(common_dir: &Path, digest: &str) -> Option<PathBuf> {
    let hex = digest.strip_prefix("sha256:")?;
    hex.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| logs_dir(common_dir).join(format!("{hex}.log")))
}

/// Every check recorded as not run.
pub fn pending(checks: &[DodCheck]) -> Vec<DodResult> {
    checks
        .iter()
        .map(|c| DodResult {
            name: c.name.clone(),
            status: DodStatus::Pending,
            exit_code: None,
            duration_ms: 0,
            log_digest: None,
            log_size: 0,
        })
        .collect()
}

/// Runs the checks in order in `workdir`; with `progress`, a long one says so on stderr when
/// that is a terminal.
pub fn run_checks(checks: &[DodCheck], workdir: &Path, logs: &Path, progress: bool) -> Vec<DodResult> {
    use std::io::IsTerminal;
    let report = match (progress, std::io::stderr().is_terminal()) {
        (false, _) => Report::Silent,
        (true, true) => Report::Counter,
        (true, false) => Report::Line,
    };
    checks.iter().map(|c| run_check(c, workdir, logs, report)).collect()
}

/// How a check that takes over a second says so: on a terminal, a line counting the seconds;
/// elsewhere (a log, CI) one line when it starts to take time; or not at all (`--quiet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    Silent,
    Counter,
    Line,
}

/// Why a check cannot start, before trying: a missing directory or environment variable.
fn precondition(check: &DodCheck, workdir: &Path) -> Result<std::path::PathBuf, String> {
    let dir = match &check.cwd {
        Some(cwd) => workdir.join(cwd),
        None => workdir.to_owned(),
    };
    if !dir.is_dir() {
        return Err(format!("working directory {} does not exist", dir.display()));
    }
    if let Some(missing) = check.env.iter().find(|var| std::env::var_os(var).is_none()) {
        return Err(format!("required environment variable {missing} is not set"));
    }
    Ok(dir)
}

fn run_check(check: &DodCheck, workdir: &Path, logs: &Path, report: Report) -> DodResult {
    let started = Instant::now();
    let mut result = DodResult {
        name: check.name.clone(),
        status: DodStatus::Error,
        exit_code: None,
        duration_ms: 0,
        log_digest: None,
        log_size: 0,
    };
    let log = match open_log(logs) {
        Ok(log) => log,
        Err(_) => return result,
    };
    let (log_path, log_file) = log;
    let dir = match precondition(check, workdir) {
        Ok(dir) => dir,
        Err(why) => {
            let _ = std::fs::write(&log_path, format!("could not start: {why}\n"));
            return finish_result(result, started, &log_path, logs);
        }
    };
    let spawned = log_file.try_clone().and_then(|stderr| {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&check.command)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(stderr);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so a timeout can end everything the check started.
            command.process_group(0);
        }
        command.spawn()
    });
    match spawned {
        Err(e) => {
            let _ = std::fs::write(&log_path, format!("could not start: {e}\n"));
        }
        Ok(mut child) => {
            // A timeout too far away to be an Instant (timeout_s = u64::MAX) is no timeout.
            let deadline = started.checked_add(Duration::from_secs(check.timeout_s));
            let mut shown = 0;
            loop {
                let elapsed = started.elapsed().as_secs();
                if elapsed >= 1 && elapsed > shown {
                    match report {
                        Report::Counter => eprint!("\rgit-proof: DoD check {} running for {elapsed}s ", check.name),
                        Report::Line if shown == 0 => eprintln!("git-proof: DoD check {} is running...", check.name),
                        Report::Line | Report::Silent => {}
                    }
                    shown = elapsed;
                }
                match child.try_wait() {
                    Ok(Some(status)) => {
                        result.exit_code = status.code();
                        result.status = if status.success() {
                            DodStatus::Passed
                        } else {
                            DodStatus::Failed
                        };
                        break;
                    }
                    Ok(None) if deadline.is_some_and(|d| Instant::now() >= d) => {
                        kill_group(&child);
                        let _ = child.kill();
                        let _ = child.wait();
                        result.status = DodStatus::Timeout;
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    Err(_) => break,
                }
            }
            if shown > 0 && report != Report::Silent {
                eprintln!(
                    "{}git-proof: DoD check {} {} after {}s   ",
                    if report == Report::Counter { "\r" } else { "" },
                    check.name,
                    result.status.as_str(),
                    started.elapsed().as_secs()
                );
            }
        }
    }
    finish_result(result, started, &log_path, logs)
}

fn finish_result(mut result: DodResult, started: Instant, log_path: &Path, logs: &Path) -> DodResult {
    result.duration_ms = started.elapsed().as_millis() as u64;
    if let Some((digest, size)) = seal_log(log_path, logs) {
        result.log_digest = Some(digest);
        result.log_size = size;
    }
    result
}

#[cfg(unix)]
fn kill_group(child: &std::process::Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_child: &std::process::Child) {}

fn open_log(logs: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    std::fs::create_dir_all(logs)?;
    let name = format!(
        ".running-{}-{}",
        std::process::id(),
        ulid::Ulid::from_parts(0, rand_u128())
    );
    let path = logs.join(name);
    let file = std::fs::File::create(&path)?;
    Ok((path, file))
}

fn rand_u128() -> u128 {
    use ssh_key::rand_core::RngCore;
    let mut bytes = [0u8; 16];
    ssh_key::rand_core::OsRng.fill_bytes(&mut bytes);
    u128::from_le_bytes(bytes)
}

/// Moves a finished log to `<hex digest>.log`; returns `sha256:<hex>` and its size.
fn seal_log(path: &Path, logs: &Path) -> Option<(String, u64)> {
    let (digest, size) = crate::canon::sha256_of_reader(std::fs::File::open(path).ok()?).ok()?;
    let hex = digest.strip_prefix("sha256:")?;
    std::fs::rename(path, logs.join(format!("{hex}.log"))).ok()?;
    Some((digest, size))
}
