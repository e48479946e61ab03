//! Benchmark (issue 6): `git proof verify` of 10,000 proven commits, against the loop a user
//! would write today (`git notes show` + `ssh-keygen -Y verify` per commit), timed on a sample
//! in the same run and scaled. Targets: under 1 s, and at least 100x faster than the loop.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_verify [-- COMMITS]
//! ```

#[path = "support/bench.rs"]
mod bench;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench::{fast_import, git, git_proof_binary, ms, output, run, time};

use git_proof::evidence::{self, Event, EventSummary, ManifestIdentity};
use git_proof::model::{Bundle, DiffStat, Generator, RunStatus, ScopeSnapshot};
use git_proof::signing::{KeySource, SigningKey};

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let binary = git_proof_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let key_path = tmp.path().join("key");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f"])
        .arg(&key_path));
    let public = std::fs::read_to_string(key_path.with_extension("pub")).unwrap();
    let signers = tmp.path().join("allowed_signers");
    std::fs::write(&signers, format!("bench@example.com namespaces=\"git-proof\" {public}")).unwrap();

    let started = Instant::now();
    let commits = build_history(&repo, count);
    let key = SigningKey::load(&KeySource::Path(key_path.clone())).unwrap();
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
}

/// `count` commits through one fast-import, each changing one of 100 files. Returns the ids,
/// oldest first.
fn build_history(repo: &Path, count: usize) -> Vec<String> {
    std::fs::create_dir_all(repo).unwrap();
    run(git(repo).args(["init", "-q", "-b", "main"]));
    let mut script = String::new();
    for i in 0..count {
        let body = format!("line {i}\n");
        script.push_str(&format!(
            "commit refs/heads/main\ncommitter Agent <agent@example.com> {} +0000\ndata 6\nchange\nM 100644 inline f{}.txt\ndata {}\n{body}\n",
            1_795_428_000 + i,
            i % 100,
            body.len()
        ));
    }
    fast_import(repo, &script);
    output(git(repo).args(["rev-list", "--reverse", "main"]))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A signed bundle per commit (its run: the commit on its parent), all notes in one notes
/// commit written by fast-import.
fn write_proofs(repo: &Path, commits: &[String], key: &SigningKey) {
    let git_repo = git_proof::git::discover(repo).unwrap();
    let mut script =
        String::from("commit refs/notes/proof\ncommitter Bench <bench@example.com> 1795428000 +0000\ndata 7\nproofs\n");
    for pair in commits.windows(2) {
        let (base, head) = (&pair[0], &pair[1]);
        let base_id = gix::ObjectId::from_hex(base.as_bytes()).unwrap();
        let head_id = gix::ObjectId::from_hex(head.as_bytes()).unwrap();
        let run_id = format!("run-{}", &head[..12]);
        let diff_stat: DiffStat = git_proof::diffstat::diff_stat(&git_repo, base_id, head_id).unwrap();
        let events: Vec<Event> = [("run.started", 1), ("commit.recorded", 2), ("run.completed", 3)]
            .iter()
            .map(|(kind, seq)| Event {
                event_id: format!("{run_id}.{seq}"),
                run_id: run_id.clone(),
                stream_seq: *seq,
                event_type: (*kind).into(),
                occurred_at: "2026-11-23T10:00:00Z".into(),
                data: serde_json::json!({}),
            })
            .collect();
        let manifest = evidence::build_manifest(
            ManifestIdentity {
                run_id: run_id.clone(),
                run_status: RunStatus::Succeeded,
                correlation_id: None,
                workspace_id: Some(commits[0].clone()),
                thread_id: None,
            },
            events.iter().map(|e| EventSummary::of(e).unwrap()),
        )
        .unwrap();
        let bundle = Bundle {
            version: "1.0".into(),
            run_id,
            generated_at: "2026-11-23T10:00:00Z".into(),
            prompt_hash: None,
            scope_snapshot: ScopeSnapshot::default(),
            dod_snapshot: Vec::new(),
            base_sha: base.clone(),
            head_sha: head.clone(),
            head_tree: git_proof::git::tree_of(&git_repo, head_id).unwrap().to_string(),
            changed_files: diff_stat.entries.iter().map(|e| e.path.clone()).collect(),
            diff_stat,
            dirty_files: Vec::new(),
            exit_code: 0,
            run_status: RunStatus::Succeeded,
            dod_results: Vec::new(),
            scope_violations: Vec::new(),
            evidence: manifest,
            generator: Generator::current(),
        };
        let record = git_proof::run::sign_bundle(&bundle, key).unwrap().to_text();
        script.push_str(&format!("N inline {head}\ndata {}\n{record}\n", record.len()));
    }
    fast_import(repo, &script);
}

fn shell_verify(repo: &Path, commit: &str, signers: &Path, scratch: &Path) {
    let note = output(git(repo).args(["notes", "--ref=proof", "show", commit]));
    let at = note.find("-----BEGIN SSH SIGNATURE-----").expect("signature");
    let sig = scratch.join("loop.sig");
    std::fs::write(&sig, &note[at..]).unwrap();
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(signers)
        .args(["-I", "bench@example.com", "-n", "git-proof", "-s"])
        .arg(&sig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&note.as_bytes()[..at]).unwrap();
    assert!(child.wait().unwrap().success(), "ssh-keygen rejected {commit}");
}
