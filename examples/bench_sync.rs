//! Benchmark (issue 15): sixteen clones, each with a new proof, run `git proof sync` against one
//! bare remote at the same moment, two rounds. Prints each round's wall time, the fetch-merge-push
//! rounds the syncs needed (more than one when another clone pushed first), and checks that the
//! remote ends with every record exactly once. For scale, one uncontended sync is timed too.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_sync [-- CLONES]
//! ```

#[path = "support/bench.rs"]
mod bench;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bench::{git, git_proof_binary, ms, output, run};

fn main() {
    let clones: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(16);
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = tmp.path().join("key");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f"])
        .arg(&key));
    let (bare, dirs) = bench::remote_with_clones(tmp.path(), clones);
    let proof = |dir: &Path| {
        let mut cmd = Command::new(&binary);
        cmd.current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_PROOF_KEY", &key)
            .env("GIT_COMMITTER_NAME", "Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.com");
        cmd
    };
    let mut commits = Vec::new();
    println!("{clones} clones of one bare remote, each syncing a new proof at the same moment:");
    for round in 1..=2 {
        for (i, dir) in dirs.iter().enumerate() {
            run(git(dir).args(["checkout", "-q", "-B", &format!("r{round}c{i}")]));
            run(proof(dir).arg("start"));
            std::fs::write(dir.join(format!("r{round}c{i}.txt")), "work\n").unwrap();
            run(git(dir).args(["add", "-A"]));
            run(git(dir).args(["commit", "-qm", "work"]));
            run(proof(dir).arg("finish"));
            commits.push(output(git(dir).args(["rev-parse", "HEAD"])).trim().to_owned());
        }
        let started = Instant::now();
        let attempts: Vec<u64> = std::thread::scope(|s| {
            let syncs: Vec<_> = dirs
                .iter()
                .map(|dir| {
                    let mut cmd = proof(dir);
                    s.spawn(move || {
                        let out = output(cmd.args(["sync", "--json"]));
                        let json: serde_json::Value = serde_json::from_str(&out).expect("sync --json");
                        json["attempts"].as_u64().unwrap_or(0)
                    })
                })
                .collect();
            syncs.into_iter().map(|t| t.join().expect("a sync")).collect()
        });
        let wall = started.elapsed();
        let total: u64 = attempts.iter().sum();
        let retried = attempts.iter().filter(|a| **a > 1).count();
        println!(
            "round {round}: {clones} syncs in {:.2} s; {total} fetch-merge-push rounds ({retried} syncs retried, at most {} rounds, mean {:.1})",
            wall.as_secs_f64(),
            attempts.iter().max().unwrap_or(&0),
            total as f64 / clones as f64
        );
    }
    let mut held = 0;
    for commit in &commits {
        let note = output(git(&bare).args(["notes", "--ref=proof", "show", commit]));
        assert_eq!(note.matches("BEGIN SSH SIGNATURE").count(), 1, "{commit}: one record");
        held += 1;
    }
    println!(
        "remote holds {held} of {} records, each once: {}",
        commits.len(),
        if held == commits.len() {
            "nothing lost"
        } else {
            "LOST RECORDS"
        }
    );
    let started = Instant::now();
    run(proof(&dirs[0]).arg("sync"));
    println!(
        "one uncontended sync (nothing to push): {:.1} ms",
        ms(started.elapsed())
    );
}
