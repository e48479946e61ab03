//! Benchmark: the event log (issue 4).
//!
//! 1. `git proof event` end to end, one process per event (what a hook costs), against
//!    `git rev-parse HEAD` (a process that opens the same repository) in the same run.
//!    Target: median under 5 ms.
//! 2. A turn-end seal through `git proof ingest` (a Stop payload: finish without DoD checks) on
//!    a 2,000-file repository with a 20-file change. Target: well inside 1 s.
//! 3. A run of 100,000 events: `git proof finish`, the manifest step's time and the peak RSS.
//!    Target: manifest part under 2 s, memory bounded.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_events
//! ```

#[path = "support/bench.rs"]
mod bench;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench::{git, git_proof_binary, median, ms, output, p99, run, time};

fn main() {
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = tmp.path().join("key");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));

    // 1. One event per process.
    let repo = tmp.path().join("small");
    make_repo(&repo, 2_000);
    run(Command::new(&binary)
        .current_dir(&repo)
        .args(["start", "--run-id", "events"]));
    let n = 300;
    let (mut event_times, mut git_times) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let data = format!(r#"{{"toolcall_id":"t{i}","input_digest":"sha256:00","input_size":{i}}}"#);
        event_times.push(time(Command::new(&binary).current_dir(&repo).args([
            "event",
            "toolcall.requested",
            "--data",
            &data,
        ])));
        git_times.push(time(git(&repo).args(["rev-parse", "HEAD"])));
    }
    let (event, rev_parse) = (median(&mut event_times), median(&mut git_times));
    println!(
        "1. git proof event         median {:>7.2} ms  p99 {:>7.2} ms  ({n} processes)",
        ms(event),
        ms(p99(&mut event_times))
    );
    println!(
        "   git rev-parse HEAD       median {:>7.2} ms  (same repository, same run)",
        ms(rev_parse)
    );
    println!(
        "   ratio {:.2}x; target median < 5 ms: {}",
        event.as_secs_f64() / rev_parse.as_secs_f64(),
        if event < Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        }
    );
    run(Command::new(&binary)
        .current_dir(&repo)
        .env("GIT_PROOF_KEY", &key)
        .args(["finish"]));

    // 2. A turn's end through the Claude Code Stop hook.
    let mut seal_times = Vec::new();
    for turn in 0..9 {
        let cwd = repo.display().to_string();
        let base = format!(r#""session_id":"bench","cwd":"{cwd}","permission_mode":"default""#);
        ingest(
            &binary,
            &repo,
            &key,
            &format!(r#"{{{base},"hook_event_name":"UserPromptSubmit","prompt":"turn {turn}"}}"#),
        );
        for f in 0..20 {
            std::fs::write(repo.join(format!("src/d{}/f{f}.txt", f % 20)), format!("turn {turn}\n")).unwrap();
        }
        run(git(&repo).args(["add", "-A"]));
        run(git(&repo).args(["commit", "-qm", &format!("turn {turn}")]));
        let started = Instant::now();
        ingest(
            &binary,
            &repo,
            &key,
            &format!(r#"{{{base},"hook_event_name":"Stop","stop_hook_active":false}}"#),
        );
        seal_times.push(started.elapsed());
    }
    let seal = median(&mut seal_times);
    println!(
        "2. ingest Stop (seal a turn) median {:>7.2} ms  max {:>7.2} ms  (2,000 files, 20 changed)",
        ms(seal),
        ms(*seal_times.last().unwrap())
    );
    println!(
        "   target well inside 1 s: {}",
        if seal < Duration::from_millis(250) {
            "met"
        } else {
            "NOT met"
        }
    );

    // 3. 100,000 events in one run, written through the library (a process each would take minutes).
    let big = tmp.path().join("big");
    make_repo(&big, 10);
    let count = 100_000;
    let started = Instant::now();
    let run_id = fill_events(&big, count);
    println!(
        "3. appended {count} events in {:.1?} (library, one transaction each)",
        started.elapsed()
    );
    let mut finish = Command::new("/usr/bin/time");
    finish
        .args(["-f", "peak-rss-kb %M"])
        .arg(&binary)
        .current_dir(&big)
        .env("GIT_PROOF_KEY", &key)
        .env("GIT_PROOF_TRACE", "1")
        .args(["finish", "--run", &run_id]);
    let started = Instant::now();
    let out = finish.output().expect("/usr/bin/time (GNU time) runs git-proof");
    let total = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let step = |name: &str| {
        stderr
            .lines()
            .find(|l| l.contains(&format!("trace: {name} ")))
            .and_then(|l| l.split_whitespace().rev().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let rss_kb: f64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kb "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let manifest_ms = step("manifest");
    println!(
        "   git proof finish total {:>8.0} ms; manifest step {manifest_ms:.0} ms; peak RSS {:.0} MiB",
        ms(total),
        rss_kb / 1024.0
    );
    println!(
        "   target manifest < 2 s: {}",
        if manifest_ms < 2000.0 { "met" } else { "NOT met" }
    );
    let note = output(git(&big).args(["notes", "--ref=proof", "show", &head(&big)]));
    let at = note.find("-----BEGIN SSH SIGNATURE-----").expect("a signed record");
    let statement: serde_json::Value = serde_json::from_str(&note[..at]).expect("the payload is JSON");
    let indented = serde_json::to_string_pretty(&statement).unwrap().len() + 1 + (note.len() - at);
    println!(
        "   the note holds {} KiB for {count} event pointers, {:.1} bytes each ({} KiB, {:.1} each, indented throughout)",
        note.len() / 1024,
        note.len() as f64 / count as f64,
        indented / 1024,
        indented as f64 / count as f64
    );
}

fn fill_events(repo: &Path, count: usize) -> String {
    let ws = git_proof::run::Workspace::discover(repo).expect("repository");
    let mut index = ws.open_index().expect("index");
    let now = jiff::Timestamp::now();
    let run = git_proof::run::start(&ws, &mut index, git_proof::run::StartOptions::default(), now).expect("start");
    for i in 0..count {
        let (kind, data) = if i % 2 == 0 {
            (
                "toolcall.requested",
                serde_json::json!({"toolcall_id": format!("t{i}"), "input_digest": "sha256:00", "input_size": i}),
            )
        } else {
            (
                "toolcall.completed",
                serde_json::json!({"toolcall_id": format!("t{}", i - 1), "exit_code": 0}),
            )
        };
        git_proof::run::append_event(&mut index, &run.run_id, kind, None, data, now).expect("append");
    }
    run.run_id
}

fn ingest(binary: &Path, repo: &Path, key: &Path, payload: &str) {
    let mut child = Command::new(binary)
        .current_dir(repo)
        .env("GIT_PROOF_KEY", key)
        .args(["ingest", "--agent", "claude-code"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(payload.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_repo(repo: &Path, files: usize) {
    std::fs::create_dir_all(repo).unwrap();
    run(git(repo).args(["init", "-q", "-b", "main"]));
    for i in 0..files {
        let dir = repo.join(format!("src/d{}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    run(git(repo).args(["add", "-A"]));
    run(git(repo).args(["commit", "-qm", "base"]));
}

fn head(repo: &Path) -> String {
    output(git(repo).args(["rev-parse", "HEAD"])).trim().to_owned()
}
