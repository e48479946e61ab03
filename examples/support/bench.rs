//! What the benchmark examples share: finding the release binary, running git and timing
//! commands. Included by each example with `#[path]`; not an example itself.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `git-proof` built next to this example (`cargo build --release` first).
pub fn git_proof_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    match exe.parent().and_then(Path::parent).map(|dir| dir.join("git-proof")) {
        Some(path) if path.is_file() => path,
        _ => {
            eprintln!("build the binary first: cargo build --release");
            std::process::exit(2);
        }
    }
}

/// git in `repo`, ignoring the user's global configuration, with a fixed identity.
pub fn git(repo: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com");
    cmd
}

/// Runs a command, discarding its output; panics with its stderr on failure.
pub fn run(cmd: &mut Command) {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command and returns its stdout.
pub fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Feeds `script` to `git fast-import` in `repo`.
pub fn fast_import(repo: &Path, script: &str) {
    use std::io::Write;
    let mut child = git(repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "fast-import");
}

/// How long a successful run of the command took.
pub fn time(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    run(cmd);
    started.elapsed()
}

pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

pub fn p99(times: &mut [Duration]) -> Duration {
    times.sort();
    times[(times.len() * 99 / 100).min(times.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A bare remote in `dir` holding one commit, and `count` clones of it (`clone0`, ...).
pub fn remote_with_clones(dir: &Path, count: usize) -> (PathBuf, Vec<PathBuf>) {
    let origin = dir.join("origin");
    std::fs::create_dir_all(&origin).unwrap();
    run(git(&origin).args(["init", "-q", "-b", "main"]));
    std::fs::write(origin.join("README"), "bench\n").unwrap();
    run(git(&origin).args(["add", "-A"]));
    run(git(&origin).args(["commit", "-qm", "initial"]));
    let bare = dir.join("remote.git");
    run(git(dir).args(["clone", "-q", "--bare"]).arg(&origin).arg(&bare));
    let clones = (0..count)
        .map(|i| {
            let clone = dir.join(format!("clone{i}"));
            run(git(dir).args(["clone", "-q"]).arg(&bare).arg(&clone));
            clone
        })
        .collect();
    (bare, clones)
}
