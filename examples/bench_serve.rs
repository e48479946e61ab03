//! Benchmark (issue 8): `git proof serve` with 10,000 runs in the index. 1,000 requests each of
//! the index page's first page and of one Proof view over one keep-alive loopback connection,
//! median and p99, against `git notes --ref=proof show` of the same proof timed in the same run
//! (what a reviewer runs without the server). Targets: each median under 20 ms; the server's
//! memory bounded (resident size after another 2,000 requests does not grow).
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_serve [-- RUNS]
//! ```

#[path = "support/bench.rs"]
mod bench;
#[path = "support/http.rs"]
mod http;
#[path = "support/proven_history.rs"]
mod proven_history;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench::{git, git_proof_binary, median, ms, run, time};
use http::{Connection, rss_kib, server_addr};
use proven_history::{build_history, trusted_key, write_proofs};

const REQUESTS: usize = 1_000;

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let (key, signers) = trusted_key(tmp.path());

    let started = Instant::now();
    // One more commit than runs: each run is a commit on its parent.
    let commits = build_history(&repo, count + 1);
    write_proofs(&repo, &commits, &key);
    run(Command::new(&binary).current_dir(&repo).arg("reindex"));
    println!("built {count} proven runs and their index in {:.1?}", started.elapsed());

    let mut server = Command::new(&binary)
        .current_dir(&repo)
        .args(["serve", "--addr", "127.0.0.1:0", "--allowed-signers"])
        .arg(&signers)
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let addr = server_addr(&mut server);
    let mut conn = Connection::open(&addr);

    let middle = &commits[commits.len() / 2];
    let run_id = format!("run-{}", &middle[..12]);
    let view = format!("/runs/{run_id}");
    // The first requests, caches empty; and check that what is measured is the real page.
    let cold = Instant::now();
    let first_page = conn.get("/");
    let cold_index = cold.elapsed();
    assert!(
        first_page.contains(&format!("{count} in all")),
        "index page lists every run"
    );
    assert_eq!(first_page.matches("<tr data-run=").count(), 50, "a page of 50 runs");
    assert!(first_page.contains("badge sig-valid"), "signatures checked");
    let cold = Instant::now();
    let page = conn.get(&view);
    let cold_view = cold.elapsed();
    assert!(
        page.contains("badge sig-valid") && page.contains("Changed files"),
        "a Proof view"
    );
    // Pages of runs not read before: every note decoded for the first time.
    let mut unseen: Vec<Duration> = (2..=41)
        .map(|page| {
            let started = Instant::now();
            conn.get(&format!("/?page={page}"));
            started.elapsed()
        })
        .collect();
    let unseen_median = median(&mut unseen);

    let rss_before = rss_kib(&server);
    let (index_median, index_p99) = http::load(&mut conn, REQUESTS, "/");
    let (view_median, view_p99) = http::load(&mut conn, REQUESTS, &view);
    let rss_after = rss_kib(&server);
    http::load(&mut conn, REQUESTS, "/");
    http::load(&mut conn, REQUESTS, &view);
    let rss_again = rss_kib(&server);

    // The reviewer's alternative for one proof, timed here too.
    let mut notes: Vec<Duration> = (0..50)
        .map(|_| time(git(&repo).args(["notes", "--ref=proof", "show", middle])))
        .collect();
    let notes_median = median(&mut notes);

    println!("{REQUESTS} requests each, one keep-alive loopback connection, {count} runs in the index:");
    report("index page (first 50 runs)", index_median, index_p99, notes_median);
    report("Proof view (one run)", view_median, view_p99, notes_median);
    println!(
        "git notes show (one proof)       median {:>7.2} ms (50 runs)",
        ms(notes_median)
    );
    println!(
        "cold: first index page {:.2} ms, first Proof view {:.2} ms; pages 2-41 (runs not read before) median {:.2} ms",
        ms(cold_index),
        ms(cold_view),
        ms(unseen_median)
    );
    println!(
        "server resident memory: {} KiB after warm-up, {} KiB after {} requests, {} KiB after {} more ({})",
        rss_before,
        rss_after,
        2 * REQUESTS,
        rss_again,
        2 * REQUESTS,
        if rss_again <= rss_after + rss_after / 10 {
            "bounded"
        } else {
            "GROWING"
        }
    );
    let met = index_median < Duration::from_millis(20) && view_median < Duration::from_millis(20);
    println!("median under 20 ms for both: {}", if met { "met" } else { "NOT met" });

    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(server.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    );
    let _ = server.wait();
}

fn report(what: &str, median: Duration, p99: Duration, reference: Duration) {
    println!(
        "{what:<32} median {:>7.2} ms  p99 {:>7.2} ms  ({:.2}x git notes show)",
        ms(median),
        ms(p99),
        median.as_secs_f64() / reference.as_secs_f64()
    );
}
