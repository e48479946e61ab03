//! A history of proven commits for the benchmarks, built fast: one fast-import for the commits,
//! one for the notes (a signed bundle per commit). Included with `#[path]`; not an example.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use git_proof::evidence::{self, Event, EventSummary, EventType, ManifestIdentity};
use git_proof::model::{Bundle, DiffStat, Generator, RunStatus, ScopeSnapshot};
use git_proof::signing::{KeySource, SigningKey};

use crate::bench::{fast_import, git, output, run};

/// The principal the benchmark key is trusted as.
pub const PRINCIPAL: &str = "bench@example.com";

/// A fresh ed25519 key made by ssh-keygen in `dir`, and an allowed_signers file trusting it as
/// [`PRINCIPAL`] for git-proof signatures. Returns the key and the file's path.
pub fn trusted_key(dir: &Path) -> (SigningKey, PathBuf) {
    let key_path = dir.join("key");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f"])
        .arg(&key_path));
    let public = std::fs::read_to_string(key_path.with_extension("pub")).unwrap();
    let signers = dir.join("allowed_signers");
    std::fs::write(&signers, format!("{PRINCIPAL} namespaces=\"git-proof\" {public}")).unwrap();
    (SigningKey::load(&KeySource::Path(key_path)).unwrap(), signers)
}

/// `count` commits through one fast-import, each changing one of 100 files. Returns the ids,
/// oldest first.
pub fn build_history(repo: &Path, count: usize) -> Vec<String> {
    build_history_of(repo, count, "")
}

/// [`build_history`] with `salt` in every file, so that histories built with different salts
/// are different repositories (another root commit).
pub fn build_history_of(repo: &Path, count: usize, salt: &str) -> Vec<String> {
    std::fs::create_dir_all(repo).unwrap();
    run(git(repo).args(["init", "-q", "-b", "main"]));
    let mut script = String::new();
    for i in 0..count {
        let body = format!("{salt}line {i}\n");
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
pub fn write_proofs(repo: &Path, commits: &[String], key: &SigningKey) {
    let git_repo = git_proof::git::discover(repo).unwrap();
    let mut script =
        String::from("commit refs/notes/proof\ncommitter Bench <bench@example.com> 1795428000 +0000\ndata 7\nproofs\n");
    for pair in commits.windows(2) {
        let (base, head) = (&pair[0], &pair[1]);
        let base_id = gix::ObjectId::from_hex(base.as_bytes()).unwrap();
        let head_id = gix::ObjectId::from_hex(head.as_bytes()).unwrap();
        let run_id = format!("run-{}", &head[..12]);
        let diff_stat: DiffStat = git_proof::diffstat::diff_stat(&git_repo, base_id, head_id).unwrap();
        let events: Vec<Event> = [
            (EventType::RunStarted, 1),
            (EventType::CommitRecorded, 2),
            (EventType::RunCompleted, 3),
        ]
        .iter()
        .map(|(kind, seq)| Event {
            event_id: format!("{run_id}.{seq}"),
            run_id: run_id.clone(),
            stream_seq: *seq,
            event_type: *kind,
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
            dirty_at_start: Vec::new(),
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
    // fast-import deltifies each object against its previous version, so the newest commits
    // sit at the end of the longest delta chains: the opposite of a clone's or gc's pack, where
    // git pack-objects keeps the newest whole. Repack as git-fast-import(1) advises, with -f so
    // the deltas are chosen again, and measure the repository a user would have.
    run(git(repo).args(["repack", "-adfq"]));
}
