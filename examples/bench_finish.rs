//! Benchmark: `git proof finish` of a run that changed 1,000 files in a 20,000-file
//! repository, against `git diff --numstat -M` of the same two commits, in the same run.
//!
//! Target (issue 3): finish within 2x of `git diff --numstat -M`. Issue 21: at most 0.8x
//! `git diff --numstat -M` + `git status --porcelain --untracked-files=all`, also for 200,000
//! files and a 2,000-file change, and with `core.untrackedCache` on; the note's bytes per
//! changed file, against the same bundle indented throughout (the layout before 0.1).
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_finish [-- ITERATIONS [FILES:CHANGED]...]
//! ```

#[path = "support/bench.rs"]
mod bench;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bench::{fast_import, git, git_proof_binary, median, ms, output, run, time};

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let sizes: Vec<(usize, usize)> = args
        .filter_map(|a| {
            let (files, changed) = a.split_once(':')?;
            Some((files.parse().ok()?, changed.parse().ok()?))
        })
        .collect();
    let sizes = if sizes.is_empty() { vec![(20_000, 1_000)] } else { sizes };
    for (files, changed) in sizes {
        one_size(iterations, files, changed);
    }
}

fn one_size(iterations: usize, files: usize, changed: usize) {
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let key = tmp.path().join("key");
    let started = Instant::now();
    let (base, head) = build_repo(&repo, files, changed);
    println!(
        "built a {files}-file repository with a {changed}-file change in {:.1?}",
        started.elapsed()
    );
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));

    let numstat = |_: usize| time(git(&repo).args(["diff", "--numstat", "-M", &base, &head]));
    // finish also lists uncommitted changes (dirty_files), which is git status's work.
    let status = |_: usize| time(git(&repo).args(["status", "--porcelain", "--untracked-files=all"]));
    let finish = |i: usize| {
        run(git(&repo).args(["update-ref", "-d", "refs/notes/proof"]));
        run(git(&repo).args(["checkout", "-q", "--detach", &base]));
        run(Command::new(&binary)
            .current_dir(&repo)
            .args(["start", "--run-id", &format!("bench-{i}")]));
        run(git(&repo).args(["checkout", "-q", "--detach", &head]));
        time(
            Command::new(&binary)
                .current_dir(&repo)
                .env("GIT_PROOF_KEY", &key)
                .args(["finish"]),
        )
    };
    // Warm the page cache and both code paths once before measuring.
    numstat(0);
    status(0);
    finish(0);
    let (mut git_times, mut status_times, mut finish_times) = (Vec::new(), Vec::new(), Vec::new());
    for i in 1..=iterations {
        git_times.push(numstat(i));
        status_times.push(status(i));
        finish_times.push(finish(i));
    }
    let (git_median, finish_median) = (median(&mut git_times), median(&mut finish_times));
    let status_median = median(&mut status_times);
    if std::env::var_os("BENCH_KEEP").is_some() {
        // For profiling: keep the repository, its key and its last run.
        println!("kept {}", tmp.keep().display());
        return;
    }
    let bundle = output(
        Command::new(&binary)
            .current_dir(&repo)
            .args(["show", "HEAD", "--json"]),
    );
    let bundle: serde_json::Value = serde_json::from_str(&bundle).expect("bundle JSON");
    println!(
        "bundle: {} changed files, +{} -{}",
        bundle["diff_stat"]["files"], bundle["diff_stat"]["insertions"], bundle["diff_stat"]["deletions"]
    );
    let lines = [
        ("git diff --numstat -M", git_median, "the diff facts"),
        ("git status --porcelain", status_median, "the uncommitted-changes facts"),
        (
            "git proof finish",
            finish_median,
            "all facts, signed, note and index written; no DoD",
        ),
    ];
    for (name, time, what) in lines {
        println!("{name:<24} median {:>8.2} ms  ({iterations} runs; {what})", ms(time));
    }
    let ratio = finish_median.as_secs_f64() / git_median.as_secs_f64();
    let verdict = if ratio <= 2.0 { "met" } else { "NOT met" };
    println!("ratio finish / numstat            {ratio:.2}x  (issue 3 target <= 2.00x: {verdict})");
    let both = finish_median.as_secs_f64() / (git_median + status_median).as_secs_f64();
    let verdict = if both <= 0.8 { "met" } else { "NOT met" };
    println!(
        "ratio finish / (numstat + status) {both:.2}x  (git's own cost for the same facts; issue 21 target <= 0.80x: {verdict})"
    );
    note_size(&repo, changed);

    // With git's untracked cache on (and filled by a first status), against git status using it.
    run(git(&repo).args(["config", "core.untrackedCache", "true"]));
    run(git(&repo).args(["update-index", "--untracked-cache"]));
    status(0);
    finish(2 * iterations + 1);
    let (mut status_times, mut finish_times) = (Vec::new(), Vec::new());
    for i in 1..=iterations {
        status_times.push(status(i));
        finish_times.push(finish(iterations + i));
    }
    let (status_cached, finish_cached) = (median(&mut status_times), median(&mut finish_times));
    println!(
        "core.untrackedCache=true: git status median {:.2} ms, git proof finish median {:.2} ms; finish / (numstat + status) {:.2}x",
        ms(status_cached),
        ms(finish_cached),
        finish_cached.as_secs_f64() / (git_median + status_cached).as_secs_f64()
    );
}

/// The head's note: bytes in all and per changed file, as written and as the same statement
/// indented throughout would be.
fn note_size(repo: &Path, changed: usize) {
    let note = output(git(repo).args(["notes", "--ref=proof", "show", "HEAD"]));
    let at = note.find("-----BEGIN SSH SIGNATURE-----").expect("a signed record");
    let statement: serde_json::Value = serde_json::from_str(&note[..at]).expect("the payload is JSON");
    let indented = serde_json::to_string_pretty(&statement).unwrap().len() + 1 + (note.len() - at);
    println!(
        "note: {} bytes, {:.1} per changed file ({} bytes, {:.1} per file, indented throughout)",
        note.len(),
        note.len() as f64 / changed as f64,
        indented,
        indented as f64 / changed as f64
    );
}

fn file_body(i: usize, version: usize) -> String {
    let mut body = String::new();
    for line in 0..24 {
        let changed = version > 0 && line % 6 == 0;
        body.push_str(&format!(
            "// file {i} line {line}{}\n",
            if changed { " (edited)" } else { "" }
        ));
        if changed && line == 12 {
            body.push_str("// an added line\n");
        }
    }
    body
}

/// Two commits through one `git fast-import`: `files` files, then `changed` of them changed
/// (edits, plus some renames, deletions and additions). Returns (base, head).
fn build_repo(repo: &Path, files: usize, changed: usize) -> (String, String) {
    std::fs::create_dir_all(repo).unwrap();
    run(git(repo).args(["init", "-q", "-b", "main"]));
    let mut script = String::new();
    let blob = |script: &mut String, path: &str, body: &str| {
        script.push_str(&format!("M 100644 inline {path}\ndata {}\n{body}\n", body.len()));
    };
    script.push_str(
        "commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> 1795428000 +0000\ndata 5\nbase\n",
    );
    for i in 0..files {
        blob(
            &mut script,
            &format!("src/d{:03}/f{i:06}.rs", i % 200),
            &file_body(i, 0),
        );
    }
    script.push_str("\ncommit refs/heads/main\nmark :2\ncommitter Bench <bench@example.com> 1795428060 +0000\ndata 5\nwork\nfrom :1\n");
    for n in 0..changed {
        let i = n * (files / changed);
        let path = format!("src/d{:03}/f{i:06}.rs", i % 200);
        match n % 20 {
            0 => script.push_str(&format!("D {path}\n")),
            1 => {
                script.push_str(&format!("D {path}\n"));
                blob(&mut script, &format!("moved/f{i:06}.rs"), &file_body(i, 1));
            }
            2 => blob(&mut script, &format!("new/f{i:06}.rs"), &file_body(i, 1)),
            _ => blob(&mut script, &path, &file_body(i, 1)),
        }
    }
    script.push('\n');
    fast_import(repo, &script);
    // fast-import deltas each blob against the one written before it; a clone or `git gc`
    // packs by path and recency instead, which is what real repositories look like.
    run(git(repo).args(["repack", "-adfq"]));
    run(git(repo).args(["reset", "-q", "--hard", "main"]));
    let base = output(git(repo).args(["rev-parse", "main~1"])).trim().to_owned();
    let head = output(git(repo).args(["rev-parse", "main"])).trim().to_owned();
    (base, head)
}
