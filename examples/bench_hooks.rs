//! Benchmark: what the git hooks cost (issue 7).
//!
//! Two identical repositories, one with `git proof install`'s hooks, one without; commits
//! alternate between them so both see the same machine state. The hook overhead is the
//! median of (commit with hooks) minus the median of (commit without), with no run active.
//! Target: under 3 ms. For scale, the same run times `git-proof --version` (a bare process
//! start of the binary) and `sh -c true` (the shell every hook costs).
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_hooks
//! ```

#[path = "support/bench.rs"]
mod bench;

use std::path::Path;
use std::process::Command;

use bench::{git, git_proof_binary, median, ms, p99, run, time};

fn main() {
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin_dir = binary.parent().expect("binary dir").to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let plain = tmp.path().join("plain");
    let hooked = tmp.path().join("hooked");
    for repo in [&plain, &hooked] {
        std::fs::create_dir_all(repo).unwrap();
        run(git(repo).args(["init", "-q"]));
        run(git(repo).args(["commit", "-q", "--allow-empty", "-m", "root"]));
    }
    run(Command::new(&binary).current_dir(&hooked).arg("install"));

    let n = 300;
    let (mut with, mut without) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let commit = |repo: &Path, i: usize| {
        time(
            git(repo)
                .env("PATH", &path)
                .args(["commit", "-q", "--allow-empty", "-m", &format!("c{i}")]),
        )
    };
    for i in 0..20 {
        commit(&plain, i);
        commit(&hooked, i);
    }
    for i in 0..n {
        without.push(commit(&plain, i));
        with.push(commit(&hooked, i));
    }
    let (mut version, mut shell) = (Vec::new(), Vec::new());
    for _ in 0..n {
        version.push(time(Command::new(&binary).arg("--version")));
        shell.push(time(Command::new("sh").args(["-c", "true"])));
    }
    let (w, wo) = (median(&mut with), median(&mut without));
    println!("commits: {n} each, no run active");
    println!(
        "  git commit without hooks   median {:>7.2} ms  p99 {:>7.2} ms",
        ms(wo),
        ms(p99(&mut without))
    );
    println!(
        "  git commit with hooks      median {:>7.2} ms  p99 {:>7.2} ms",
        ms(w),
        ms(p99(&mut with))
    );
    println!(
        "  hook overhead (median difference) {:>6.2} ms   target < 3 ms",
        ms(w) - ms(wo)
    );
    println!(
        "  git-proof --version        median {:>7.2} ms",
        ms(median(&mut version))
    );
    println!("  sh -c true                 median {:>7.2} ms", ms(median(&mut shell)));
}
