//! Benchmark (issue 6): `git proof verify` of 10,000 proven commits, against the loop a user
//! would write today (`git notes show` + `ssh-keygen -Y verify` per commit), timed on a sample
//! in the same run and scaled. Targets: under 1 s, and at least 100x faster than the loop.
//!
//! Issue 21 adds the floor: ed25519 verification alone, one signature at a time on every core
//! (`openssl speed -multi $(nproc) ed25519`, run first), and with several sizes the growth.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_verify [-- COMMITS...]
//! ```

#[path = "support/bench.rs"]
mod bench;
#[path = "support/proven_history.rs"]
mod proven_history;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench::{git, git_proof_binary, ms, output, time};
use proven_history::{build_history, trusted_key, write_proofs};

fn main() {
    let counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() { vec![10_000] } else { counts };
    let floor = ed25519_floor();
    println!(
        "openssl speed -multi {} ed25519: {floor:.0} verifies/s on all cores",
        cores()
    );
    let mut growth = Vec::new();
    for count in counts {
        growth.push((count, one_size(count, floor)));
    }
    if growth.len() > 1 {
        println!("growth:");
        let (first_count, first_time) = growth[0];
        for (count, time) in &growth {
            println!(
                "  {count:>7} commits {:>9.1} ms  ({:.2} µs per commit; {:.2}x the time for {:.0}x the commits)",
                ms(*time),
                time.as_secs_f64() * 1e6 / *count as f64,
                time.as_secs_f64() / first_time.as_secs_f64(),
                *count as f64 / first_count as f64
            );
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// ed25519 verifications per second on every core, one signature at a time: what
/// `openssl speed -multi $(nproc) ed25519` measures, here and now.
fn ed25519_floor() -> f64 {
    let out = output(Command::new("openssl").args([
        "speed",
        "-mr",
        "-multi",
        &cores().to_string(),
        "-seconds",
        "3",
        "ed25519",
    ]));
    // The summary line: +F6:0:253:Ed25519:<signs/s>:<verifies/s>
    out.lines()
        .rfind(|l| l.starts_with("+F6:"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|v| v.trim().parse().ok())
        .expect("openssl speed prints a summary line")
}

/// Builds `count` proven commits, times verify of all of them against the shell loop and the
/// ed25519 floor; returns verify's median.
fn one_size(count: usize, floor: f64) -> Duration {
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let (key, signers) = trusted_key(tmp.path());

    let started = Instant::now();
    let commits = build_history(&repo, count);
    write_proofs(&repo, &commits, &key);
    println!("built {count} proven commits in {:.1?}", started.elapsed());

    let range = format!("{}..{}", commits[0], commits[commits.len() - 1]);
    let verify = || {
        time(
            Command::new(&binary)
                .current_dir(&repo)
                .args(["verify", &range, "--allowed-signers"])
                .arg(&signers),
        )
    };
    verify();
    let mut times: Vec<Duration> = (0..3).map(|_| verify()).collect();
    times.sort();
    let ours = times[1];
    let verified = commits.len() - 1;

    // The loop a user would write, on a sample.
    let sample = 100.min(verified);
    let loop_start = Instant::now();
    for commit in commits.iter().skip(1).step_by(verified / sample).take(sample) {
        shell_verify(&repo, commit, &signers, tmp.path());
    }
    let per_commit = loop_start.elapsed() / sample as u32;
    let loop_total = per_commit * verified as u32;

    println!(
        "git proof verify            {verified} commits in {:>8.1} ms (median of 3)",
        ms(ours)
    );
    println!(
        "notes show + ssh-keygen     {:>8.2} ms per commit on {sample} sampled, {:>8.0} ms for {verified}",
        ms(per_commit),
        ms(loop_total)
    );
    let ratio = loop_total.as_secs_f64() / ours.as_secs_f64();
    println!(
        "speed-up {ratio:.0}x (target >= 100x: {}); under 1 s: {}",
        if ratio >= 100.0 { "met" } else { "NOT met" },
        if ours < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    let floor_time = verified as f64 / floor;
    println!(
        "ed25519 floor for {verified} signatures one at a time on all cores {:>8.1} ms; verify / floor {:.2}x (target <= 1.00x: {})",
        floor_time * 1000.0,
        ours.as_secs_f64() / floor_time,
        if ours.as_secs_f64() <= floor_time {
            "met"
        } else {
            "NOT met"
        }
    );
    uncovered_commit(&repo, &commits, &signers, &binary);
    if std::env::var_os("BENCH_KEEP").is_some() {
        // For profiling: keep the repository, its key and the allowed_signers file.
        println!("kept {} (range {range})", tmp.keep().display());
    }
    ours
}

/// A commit with no note asks verify for coverage: a run that covers it or a landing onto it is
/// looked for among every note, so it costs a read of every note. The git command doing the
/// same reading is `git log --notes` over the history, timed alternately in the same run.
fn uncovered_commit(repo: &Path, commits: &[String], signers: &Path, binary: &Path) {
    let last = &commits[commits.len() - 1];
    let tree = output(git(repo).args(["rev-parse", &format!("{last}^{{tree}}")]));
    let bare = output(
        git(repo)
            .args(["commit-tree", tree.trim(), "-p", last, "-m"])
            .arg("no proof"),
    );
    let bare = bare.trim().to_owned();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let started = Instant::now();
        let status = Command::new(binary)
            .current_dir(repo)
            .args(["verify", "--require", &bare, "--allowed-signers"])
            .arg(signers)
            .stdout(Stdio::null())
            .status()
            .expect("git proof verify");
        ours.push(started.elapsed());
        assert_eq!(status.code(), Some(1), "a commit with no proof is missing");
        theirs.push(time(git(repo).args(["log", "--notes=proof", "--format=%H%n%N", last])));
    }
    let (ours, theirs) = (bench::median(&mut ours), bench::median(&mut theirs));
    println!(
        "verify --require, no note   {:>8.1} ms (reads {} notes for coverage); git log --notes {:>8.1} ms; ratio {:.2}",
        ms(ours),
        commits.len(),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn shell_verify(repo: &Path, commit: &str, signers: &Path, scratch: &Path) {
    let note = output(git(repo).args(["notes", "--ref=proof", "show", commit]));
    let at = note.find("-----BEGIN SSH SIGNATURE-----").expect("signature");
    let sig = scratch.join("loop.sig");
    std::fs::write(&sig, &note[at..]).unwrap();
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(signers)
        .args(["-I", proven_history::PRINCIPAL, "-n", "git-proof", "-s"])
        .arg(&sig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&note.as_bytes()[..at]).unwrap();
    assert!(child.wait().unwrap().success(), "ssh-keygen rejected {commit}");
}
