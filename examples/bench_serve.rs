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
#[path = "support/proven_history.rs"]
mod proven_history;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bench::{git, git_proof_binary, median, ms, p99, run, time};
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
    let (index_median, index_p99) = load(&mut conn, "/");
    let (view_median, view_p99) = load(&mut conn, &view);
    let rss_after = rss_kib(&server);
    load(&mut conn, "/");
    load(&mut conn, &view);
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

/// `REQUESTS` GETs of `path`; median and p99 of their latencies.
fn load(conn: &mut Connection, path: &str) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..REQUESTS)
        .map(|_| {
            let started = Instant::now();
            conn.get(path);
            started.elapsed()
        })
        .collect();
    (median(&mut times), p99(&mut times))
}

/// Reads the served address from the server's banner.
fn server_addr(server: &mut Child) -> String {
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("a banner").expect("text");
        if let Some(url) = line.split(" at http://").nth(1) {
            return url.trim_end_matches('/').to_owned();
        }
    }
}

/// The server's resident set size, from /proc.
fn rss_kib(server: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One HTTP/1.1 keep-alive connection.
struct Connection {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        Self {
            stream: BufReader::new(stream),
            host: addr.to_owned(),
        }
    }

    /// GETs `path`; panics unless the answer is 200; returns the body.
    fn get(&mut self, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.stream.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status = String::new();
        self.stream.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{path}: {status}");
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).unwrap();
        String::from_utf8(body).unwrap()
    }
}
