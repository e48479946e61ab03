//! Benchmark (issue 17): `git proof sync` when both sides hold a large note that is not records
//! (anyone who can push the notes ref can write one): the union must join the two texts in time
//! linear in their size. Two clones of one bare remote each hold N MB of different text on one
//! commit; one pushes, the other syncs. Timed for 2 and 8 MB, the ratio printed (linear: 4).
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_sync_junk
//! ```

#[path = "support/bench.rs"]
mod bench;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bench::{git, git_proof_binary, ms, run, time};

fn main() {
    let binary = git_proof_binary();
    let small = sync_with_junk(&binary, 2);
    let large = sync_with_junk(&binary, 8);
    println!(
        "2 MB of text that is not records on each side: sync {:>8.1} ms",
        ms(small)
    );
    println!(
        "8 MB of text that is not records on each side: sync {:>8.1} ms",
        ms(large)
    );
    println!(
        "4x the text costs {:.2}x the time (linear: 4, quadratic: 16)",
        large.as_secs_f64() / small.as_secs_f64()
    );
}

/// Median of three syncs, each from scratch, with `mb` MB of junk on each side.
fn sync_with_junk(binary: &Path, mb: usize) -> Duration {
    let mut times: Vec<Duration> = (0..3).map(|round| one_sync(binary, mb, round)).collect();
    bench::median(&mut times)
}

fn one_sync(binary: &Path, mb: usize, round: usize) -> Duration {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, clones) = bench::remote_with_clones(tmp.path(), 2);
    let (a, b) = (&clones[0], &clones[1]);
    for (dir, seed) in [(a, 1 + round as u64 * 2), (b, 2 + round as u64 * 2)] {
        let file = dir.join("junk.txt");
        std::fs::write(&file, junk(mb << 20, seed)).unwrap();
        run(git(dir)
            .args(["notes", "--ref=proof", "add", "-f", "-F"])
            .arg(&file)
            .arg("HEAD"));
    }
    run(git(a).args(["push", "-q", "origin", "refs/notes/proof"]));
    time(
        Command::new(binary)
            .current_dir(b)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_COMMITTER_NAME", "Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.com")
            .arg("sync"),
    )
}

/// `len` bytes of lines of letters, different for each seed.
fn junk(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if i % 80 == 79 { b'\n' } else { b'a' + (state % 26) as u8 }
        })
        .collect()
}
