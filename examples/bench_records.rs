//! Benchmark (issue 17): what one commit's note costs to verify as it grows. A note of N
//! distinct bundles of one run and N distinct approvals (anyone who can push the notes ref can
//! write one) is verified against a note of 1 + 1, timed in the same run, and the ratio per
//! record printed: linear cost keeps it near 1.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_records [-- N]
//! ```

#[path = "support/bench.rs"]
mod bench;
#[path = "support/proven_history.rs"]
mod proven_history;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bench::{git, git_proof_binary, ms, output, run, time};
use git_proof::model::{ApprovalRecord, Bundle, Decision, Generator, Statement};
use proven_history::{build_history, trusted_key, write_proofs};

fn main() {
    let big: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let (key, signers) = trusted_key(tmp.path());
    let commits = build_history(&repo, 2);
    write_proofs(&repo, &commits, &key);
    let head = commits[1].clone();
    let bundle: Bundle = serde_json::from_str(&output(
        Command::new(&binary)
            .current_dir(&repo)
            .args(["show", &head, "--json", "--allowed-signers"])
            .arg(&signers),
    ))
    .expect("the bundle");

    let verify = |records: usize| -> Duration {
        note_of(&repo, &head, &bundle, &key, records);
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                time(
                    Command::new(&binary)
                        .current_dir(&repo)
                        .args(["verify", &head, "--allowed-signers"])
                        .arg(&signers),
                )
            })
            .collect();
        bench::median(&mut times)
    };
    let small = verify(1);
    let large = verify(big);
    let per_record = large.as_secs_f64() / small.as_secs_f64() / big as f64;
    println!("note of 1 bundle + 1 approval          {:>9.1} ms", ms(small));
    println!(
        "note of {big} bundles + {big} approvals {:>9.1} ms  ({:.1}x for {big}x the records)",
        ms(large),
        large.as_secs_f64() / small.as_secs_f64()
    );
    let half = verify(big / 2);
    println!(
        "note of {} bundles + {} approvals {:>9.1} ms; doubling the records costs {:.2}x (linear: 2)",
        big / 2,
        big / 2,
        ms(half),
        large.as_secs_f64() / half.as_secs_f64()
    );
    println!("per record, relative to the 1 + 1 note: {per_record:.4}");
}

/// Replaces the note on `head` with `count` distinct signed copies of `bundle` (each its own
/// prompt digest) and `count` distinct approvals of the first, through stock `git notes`.
fn note_of(repo: &Path, head: &str, bundle: &Bundle, key: &git_proof::signing::SigningKey, count: usize) {
    let mut text = String::new();
    let mut first_digest = None;
    for i in 0..count {
        let mut b = bundle.clone();
        b.prompt_hash = Some(format!("sha256:{i:064x}"));
        let record = git_proof::run::sign_bundle(&b, key).unwrap();
        first_digest.get_or_insert_with(|| record.digest());
        text.push_str(&record.to_text());
    }
    for i in 0..count {
        let approval = ApprovalRecord {
            version: "1.1".into(),
            kind: "approval".into(),
            run_id: bundle.run_id.clone(),
            bundle_digest: first_digest.clone().unwrap(),
            path: format!("f{i}.txt"),
            decision: Decision::Approved,
            decided_at: "2026-12-01T00:00:00Z".into(),
            decided_by: "bench@example.com".into(),
            reason: Some(format!("ok {i}")),
            supersedes: vec![first_digest.clone().unwrap()],
            generator: Generator::current(),
        };
        let record = git_proof::record::sign(&Statement::for_approval(head, approval), key).unwrap();
        text.push_str(&record.to_text());
    }
    let file = repo.join("note.txt");
    std::fs::write(&file, text).unwrap();
    run(git(repo)
        .args(["notes", "--ref=proof", "add", "-f", "-F"])
        .arg(&file)
        .arg(head));
}
