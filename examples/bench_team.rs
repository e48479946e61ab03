//! Benchmark (issue 20): the team database. 100,000 proven runs in 20 repositories published
//! into a real PostgreSQL (started here, as the tests start it), in runs per second, first and
//! again (nothing to change); then `serve --index` over it: 1,000 requests each of the index
//! page, a filtered page, the JSON list and one Proof view on a keep-alive loopback connection,
//! median and p99, against `git notes --ref=proof show` of one proof timed in the same run.
//! Target: the index page under 20 ms median.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_team [-- RUNS [REPOSITORIES]]
//! ```

#[path = "support/bench.rs"]
mod bench;
#[path = "support/http.rs"]
mod http;
#[path = "../tests/it/common/postgres.rs"]
mod postgres;
#[path = "support/proven_history.rs"]
mod proven_history;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench::{git, git_proof_binary, median, ms, time};
use http::{Connection, server_addr};
use proven_history::{build_history_of, trusted_key, write_proofs};

const REQUESTS: usize = 1_000;

/// What the PostgreSQL helper calls when it cannot start one.
fn skipped(what: &str, why: &str) {
    eprintln!("*** SKIPPED: {what}: {why} ***");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let repositories: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let per_repo = total / repositories;
    let total = per_repo * repositories;
    let binary = git_proof_binary();
    let Some(pg) = postgres::Cluster::start("bench_team") else {
        std::process::exit(2);
    };
    let url = pg.create_database("team");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (key, signers) = trusted_key(tmp.path());

    let started = Instant::now();
    let mut repos = Vec::new();
    for r in 0..repositories {
        let repo = tmp.path().join(format!("repo-{r:02}"));
        // One more commit than runs: each run is a commit on its parent.
        let commits = build_history_of(&repo, per_repo + 1, &format!("repository {r}\n"));
        write_proofs(&repo, &commits, &key);
        repos.push((repo, commits));
    }
    println!(
        "built {total} proven runs in {repositories} repositories in {:.1?}",
        started.elapsed()
    );

    let publish = |repo: &std::path::Path, name: &str| {
        time(
            Command::new(&binary)
                .current_dir(repo)
                .args([
                    "publish",
                    "--to",
                    &url,
                    "--no-fetch",
                    "-q",
                    "--name",
                    name,
                    "--allowed-signers",
                ])
                .arg(&signers),
        )
    };
    let mut first = Duration::ZERO;
    for (i, (repo, _)) in repos.iter().enumerate() {
        first += publish(repo, &format!("repo-{i:02}"));
    }
    let published: i64 = pg.psql("team", "SELECT count(*) FROM runs").parse().unwrap();
    let manifests: i64 = pg
        .psql("team", "SELECT count(*) FROM proj_evidence_manifests")
        .parse()
        .unwrap();
    assert_eq!(
        (published, manifests),
        (total as i64, total as i64),
        "every run published once"
    );
    let mut again = Duration::ZERO;
    for (i, (repo, _)) in repos.iter().enumerate() {
        again += publish(repo, &format!("repo-{i:02}"));
    }
    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    println!(
        "publish, first:  {total} runs in {:>7.1} ms ({:>6.0} runs/s, {:.1} ms per repository of {per_repo})",
        ms(first),
        rate(first),
        ms(first) / repositories as f64
    );
    println!(
        "publish, again:  {total} runs in {:>7.1} ms ({:>6.0} runs/s; nothing changed, nothing written)",
        ms(again),
        rate(again)
    );

    let mut server = Command::new(&binary)
        .current_dir(tmp.path())
        .args(["serve", "--index", &url, "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let addr = server_addr(&mut server);
    let mut conn = Connection::open(&addr);
    let first_page = conn.get("/");
    assert!(
        first_page.contains(&format!("{total} in all")),
        "the index lists every run"
    );
    assert_eq!(first_page.matches("<tr data-run=").count(), 50, "a page of 50 runs");
    let (repo, commits) = &repos[repositories / 2];
    let middle = &commits[commits.len() / 2];
    let run_id = format!("run-{}", &middle[..12]);
    let view = format!("/runs/{run_id}?repo={}", commits[0]);
    assert!(conn.get(&view).contains("Changed files"), "a Proof view");
    let filtered = format!("/?repo=repo-{:02}&status=succeeded", repositories / 2);
    assert!(conn.get(&filtered).contains(&format!("{per_repo} in all")));

    let (index_median, index_p99) = http::load(&mut conn, REQUESTS, "/");
    let (filtered_median, filtered_p99) = http::load(&mut conn, REQUESTS, &filtered);
    let (api_median, api_p99) = http::load(&mut conn, REQUESTS, "/api/runs");
    let (view_median, view_p99) = http::load(&mut conn, REQUESTS, &view);
    let mut notes: Vec<Duration> = (0..50)
        .map(|_| time(git(repo).args(["notes", "--ref=proof", "show", middle])))
        .collect();
    let notes_median = median(&mut notes);

    println!("{REQUESTS} requests each, one keep-alive loopback connection, {total} runs in the team database:");
    let report = |what: &str, median: Duration, p99: Duration| {
        println!(
            "{what:<40} median {:>7.2} ms  p99 {:>7.2} ms  ({:.2}x git notes show)",
            ms(median),
            ms(p99),
            median.as_secs_f64() / notes_median.as_secs_f64()
        )
    };
    report("index page (newest 50 of all)", index_median, index_p99);
    report("index page, one repository, succeeded", filtered_median, filtered_p99);
    report("GET /api/runs", api_median, api_p99);
    report("Proof view (one run)", view_median, view_p99);
    println!(
        "git notes show (one proof)               median {:>7.2} ms (50 runs)",
        ms(notes_median)
    );
    println!(
        "index page median under 20 ms: {}",
        if index_median < Duration::from_millis(20) {
            "met"
        } else {
            "NOT met"
        }
    );
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(server.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    );
    let _ = server.wait();
}
