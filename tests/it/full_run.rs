//! A whole run, every bundle field checked against what git itself says.

use serde_json::{Value, json};

use git_proof::model::DiffEntry;

use crate::common::{DATE, TestRepo, git_diff_entries, sha256_prefixed};

fn bundle_entries(bundle: &Value) -> Vec<DiffEntry> {
    serde_json::from_value(bundle["diff_stat"]["entries"].clone()).expect("diff_stat entries have the model's shape")
}

/// RFC 6962 root over `sha256:` leaf values, written here independently of the library.
fn merkle_root(leaves: &[Vec<u8>]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    match leaves.len() {
        0 => Sha256::digest([]).to_vec(),
        1 => Sha256::new()
            .chain_update([0u8])
            .chain_update(&leaves[0])
            .finalize()
            .to_vec(),
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let (l, r) = (merkle_root(&leaves[..k]), merkle_root(&leaves[k..]));
            Sha256::new()
                .chain_update([1u8])
                .chain_update(l)
                .chain_update(r)
                .finalize()
                .to_vec()
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn full_run_records_every_fact_as_git_reports_it() {
    let repo = TestRepo::new();
    let old_body: String = (1..=30).map(|i| format!("fn f{i}() {{}}\n")).collect();
    repo.write("src/old_name.rs", &old_body);
    repo.write("src/lib.rs", "pub mod a;\npub mod b;\n");
    repo.write("docs/remove_me.txt", "obsolete\nnotes\n");
    repo.write("config.toml", "[a]\nx = 1\n");
    let base = repo.commit_all("base");

    let prompt = repo.tmp.path().join("prompt.txt");
    std::fs::write(&prompt, "Refactor the parser; keep the API.\n").unwrap();
    let run_id = repo.start(&[
        "--prompt-file",
        prompt.to_str().unwrap(),
        "--scope",
        "src/**",
        "--scope",
        "assets/**",
        "--deny",
        "src/secrets/**",
        "--dod",
        "pass=echo checking; true",
        "--dod",
        "fail=printf 'bro%s\\n' ken >&2; exit 3",
    ]);
    assert_eq!(run_id.len(), 26, "a ULID: {run_id}");

    // Commit 1: a rename with an edit, a binary file, a deletion.
    std::fs::remove_file(repo.path("src/old_name.rs")).unwrap();
    repo.write("src/new_name.rs", old_body.replace("fn f7() {}", "fn f7() { todo!() }"));
    repo.write("assets/logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01binary");
    std::fs::remove_file(repo.path("docs/remove_me.txt")).unwrap();
    repo.commit_all("rename, binary, delete");
    // Commit 2: in scope without a final newline, out of scope, inside deny.
    repo.write("src/lib.rs", "pub mod a;\npub mod c;");
    repo.write("config.toml", "[a]\nx = 2\ny = 3\n");
    repo.write("src/secrets/token.txt", "not really\n");
    let head = repo.commit_all("more");
    // Left uncommitted at finish.
    repo.write("README.md", "# test\nedited\n");
    repo.write("scratch.txt", "untracked\n");

    repo.proof(&["finish", "--exit-code", "0"]).ok();
    let b = repo.bundle(&run_id);

    // Every key of the bundle (docs/format.md section 3.1), in its order.
    let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    let expected_keys = [
        "version",
        "run_id",
        "generated_at",
        "prompt_hash",
        "scope_snapshot",
        "dod_snapshot",
        "base_sha",
        "head_sha",
        "head_tree",
        "changed_files",
        "diff_stat",
        "dirty_files",
        "dirty_at_start",
        "exit_code",
        "run_status",
        "dod_results",
        "scope_violations",
        "evidence",
        "generator",
    ];
    assert_eq!(keys, expected_keys);

    assert_eq!(b["version"], "1.1");
    assert_eq!(b["run_id"], run_id.as_str());
    assert_eq!(b["generated_at"], DATE);
    assert_eq!(
        b["prompt_hash"],
        sha256_prefixed(&std::fs::read(&prompt).unwrap()).as_str()
    );
    assert_eq!(
        b["scope_snapshot"],
        json!({"allow": ["src/**", "assets/**"], "deny": ["src/secrets/**"], "source": "cli"})
    );
    assert_eq!(
        b["dod_snapshot"],
        json!([
            {"name": "pass", "command": "echo checking; true", "timeout_s": 600, "cwd": null, "env": [], "source": "cli"},
            {"name": "fail", "command": "printf 'bro%s\\n' ken >&2; exit 3", "timeout_s": 600, "cwd": null, "env": [], "source": "cli"}
        ])
    );
    assert_eq!(b["base_sha"], base.as_str());
    assert_eq!(b["head_sha"], head.as_str());
    assert_eq!(b["head_tree"], repo.git(&["rev-parse", "HEAD^{tree}"]).as_str());

    // changed_files and diff_stat are exactly what git says.
    let mut git_names: Vec<String> = repo
        .git(&["diff", "--name-only", "-M", &base, &head])
        .lines()
        .map(str::to_owned)
        .collect();
    git_names.sort();
    assert_eq!(strings(&b["changed_files"]), git_names);
    let git_entries = git_diff_entries(&repo, &base, &head);
    assert_eq!(bundle_entries(&b), git_entries);
    assert!(
        git_entries
            .iter()
            .any(|e| e.status == "R" && e.old_path.as_deref() == Some("src/old_name.rs"))
    );
    assert!(git_entries.iter().any(|e| e.binary && e.path == "assets/logo.png"));
    assert!(git_entries.iter().any(|e| e.status == "D"));
    let stat = &b["diff_stat"];
    assert_eq!(stat["files"].as_u64().unwrap(), git_entries.len() as u64);
    assert_eq!(
        stat["insertions"].as_u64().unwrap(),
        git_entries.iter().map(|e| e.insertions).sum::<u64>()
    );
    assert_eq!(
        stat["deletions"].as_u64().unwrap(),
        git_entries.iter().map(|e| e.deletions).sum::<u64>()
    );

    // dirty_files is what `git status` lists.
    let porcelain = repo.git(&["status", "--porcelain", "-z", "--untracked-files=all"]);
    let mut dirty: Vec<String> = porcelain
        .split('\0')
        .filter(|l| l.len() > 3)
        .map(|l| l[3..].to_owned())
        .collect();
    dirty.sort();
    assert_eq!(strings(&b["dirty_files"]), dirty);
    assert_eq!(dirty, ["README.md", "scratch.txt"]);

    assert_eq!(b["exit_code"], 0);
    assert_eq!(b["run_status"], "succeeded");

    // DoD: statuses, exit codes, and logs stored under their digest, never in the note.
    let results = b["dod_results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(
        (results[0]["name"].as_str(), results[0]["status"].as_str()),
        (Some("pass"), Some("passed"))
    );
    assert_eq!(results[0]["exit_code"], 0);
    assert_eq!(
        (results[1]["name"].as_str(), results[1]["status"].as_str()),
        (Some("fail"), Some("failed"))
    );
    assert_eq!(results[1]["exit_code"], 3);
    for (result, expected_output) in results.iter().zip(["checking\n", "broken\n"]) {
        let digest = result["log_digest"].as_str().unwrap();
        let log = repo.path(&format!(".git/proof/logs/{}.log", digest.trim_start_matches("sha256:")));
        let content = std::fs::read(&log).unwrap();
        assert_eq!(sha256_prefixed(&content), digest);
        assert_eq!(result["log_size"].as_u64().unwrap(), content.len() as u64);
        assert_eq!(String::from_utf8(content).unwrap(), expected_output);
        assert!(result["duration_ms"].is_u64());
    }
    let note = repo.note(&head);
    assert!(!note.contains("broken"), "log text must never enter a note");
    assert!(
        !note.contains("Refactor the parser"),
        "the prompt must never enter a note"
    );

    // Scope: out of allow (committed or dirty), inside deny, and the deleted path.
    let violations: Vec<(String, String, String)> = b["scope_violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(
                v["approval"],
                json!({"state": "pending", "decided_at": null, "decided_by": null, "reason": null})
            );
            (
                v["path"].as_str().unwrap().to_owned(),
                v["rule"].as_str().unwrap().to_owned(),
                v["approval"]["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let outside = "outside allow: src/**, assets/**".to_owned();
    let pending = "pending".to_owned();
    assert_eq!(
        violations,
        vec![
            ("README.md".into(), outside.clone(), pending.clone()),
            ("config.toml".into(), outside.clone(), pending.clone()),
            ("docs/remove_me.txt".into(), outside.clone(), pending.clone()),
            ("scratch.txt".into(), outside.clone(), pending.clone()),
            (
                "src/secrets/token.txt".into(),
                "inside deny: src/secrets/**".into(),
                pending.clone()
            ),
        ]
    );

    // Evidence: the events of this run, rooted and hashed.
    let ev = &b["evidence"];
    assert_eq!(ev["run_id"], run_id.as_str());
    assert_eq!(ev["run_status"], "succeeded");
    assert_eq!(ev["correlation_id"], Value::Null);
    assert_eq!(ev["thread_id"], Value::Null);
    assert_eq!(
        ev["workspace_id"],
        repo.git(&["rev-list", "--max-parents=0", "HEAD"]).as_str()
    );
    for set in ["step_ids", "toolcall_ids", "artifact_ids"] {
        assert_eq!(ev[set], json!([]));
    }
    assert_eq!(ev["stream_type"], "run");
    assert_eq!(ev["stream_id"], run_id.as_str());
    assert_eq!(
        (
            ev["from_seq"].as_u64(),
            ev["to_seq"].as_u64(),
            ev["event_count"].as_u64()
        ),
        (Some(1), Some(4), Some(4))
    );
    let events = ev["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["run.started", "commit.recorded", "commit.recorded", "run.completed"]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["stream_seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let leaves: Vec<Vec<u8>> = events
        .iter()
        .map(|e| unhex(e["event_hash"].as_str().unwrap().strip_prefix("sha256:").unwrap()))
        .collect();
    let root: String = merkle_root(&leaves).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(ev["event_hash_root"], format!("sha256:{root}").as_str());
    assert_eq!(
        ev["completeness"],
        json!({"terminal_event_present": true, "all_toolcalls_terminal": true, "artifact_count": 0})
    );
    let mut without_hash = ev.clone();
    without_hash.as_object_mut().unwrap().remove("manifest_hash");
    assert_eq!(
        ev["manifest_hash"],
        sha256_prefixed(&serde_jcs::to_vec(&without_hash).unwrap()).as_str()
    );
    assert_eq!(
        b["generator"],
        json!({"name": "git-proof", "version": env!("CARGO_PKG_VERSION")})
    );

    // The signed statement carries exactly this bundle, about the head commit.
    let records = crate::common::split_records(&note);
    assert_eq!(records.len(), 1);
    let statement: Value = serde_json::from_str(&records[0].0).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["subject"], json!([{"digest": {"gitCommit": head}}]));
    assert_eq!(statement["predicate"], b);

    // A readable summary names files, numbers, badges and violations.
    let text = repo.proof(&["show", &run_id]).ok().stdout;
    for needle in [
        "src/old_name.rs -> src/new_name.rs",
        "binary",
        "[passed]",
        "[FAILED]",
        "[pending] config.toml",
    ] {
        assert!(text.contains(needle), "show lacks {needle:?}:\n{text}");
    }
    let log = repo.proof(&["log", "--json"]).ok().json();
    assert_eq!(log[0]["run_id"], run_id.as_str());
    assert_eq!(log[0]["proof"]["commit"], head.as_str());
}

#[test]
fn a_run_without_commits_is_proven_on_its_base() {
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    let run_id = repo.start(&[]);
    repo.proof(&["finish"]).ok();
    let b = repo.bundle(&run_id);
    assert_eq!(b["base_sha"], base.as_str());
    assert_eq!(b["head_sha"], base.as_str());
    assert_eq!(b["changed_files"], json!([]));
    assert_eq!(
        b["diff_stat"],
        json!({"files": 0, "insertions": 0, "deletions": 0, "entries": []})
    );
    assert_eq!(b["dod_results"], json!([]));
    assert_eq!(b["scope_snapshot"], json!({"allow": [], "deny": [], "source": null}));
    let types = crate::common::event_types(&b);
    assert_eq!(types, ["run.started", "run.completed"]);
    repo.verify(&["HEAD"]).ok();
}

#[test]
fn run_wraps_a_command_and_exits_with_its_code() {
    let repo = TestRepo::new();
    let out = repo
        .proof(&[
            "run",
            "--scope",
            "src/**",
            "--",
            "sh",
            "-c",
            "echo made > src.txt && git add src.txt && git commit -qm agent && exit 7",
        ])
        .expect_code(7);
    assert!(out.stderr.contains("started"), "{}", out.stderr);
    let head = repo.git(&["rev-parse", "HEAD"]);
    let b = repo.bundle("HEAD");
    assert_eq!(b["head_sha"], head.as_str());
    assert_eq!(b["exit_code"], 7);
    assert_eq!(b["run_status"], "failed");
    assert_eq!(b["evidence"]["run_status"], "failed");
    assert_eq!(b["changed_files"], json!(["src.txt"]));
    assert_eq!(b["scope_violations"][0]["path"], "src.txt");
    let last = b["evidence"]["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event_type"], "run.failed");
    // The command saw its run id, as hooks inside it would.
    let out = repo
        .proof(&["run", "--", "sh", "-c", "test -n \"$GIT_PROOF_RUN\""])
        .ok();
    assert!(out.stderr.contains("written"), "{}", out.stderr);
}

#[test]
fn events_appended_between_start_and_finish_are_in_the_manifest() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    repo.proof(&[
        "event",
        "toolcall.requested",
        "--data",
        r#"{"toolcall_id":"t1","tool":"Bash"}"#,
    ])
    .ok();
    repo.proof(&[
        "event",
        "toolcall.completed",
        "--data",
        r#"{"toolcall_id":"t1","exit_code":0}"#,
    ])
    .ok();
    repo.proof(&[
        "event",
        "artifact.created",
        "--id",
        "art-1",
        "--data",
        r#"{"artifact_id":"a1","path":"x"}"#,
    ])
    .ok();
    repo.proof(&["event", "toolcall.requested", "--data", r#"{"toolcall_id":"t2"}"#])
        .ok();
    repo.proof(&["finish"]).ok();
    let ev = repo.bundle(&run_id)["evidence"].clone();
    assert_eq!(ev["toolcall_ids"], json!(["t1", "t2"]));
    assert_eq!(ev["artifact_ids"], json!(["a1"]));
    assert_eq!(ev["completeness"]["all_toolcalls_terminal"], false);
    assert_eq!(ev["completeness"]["artifact_count"], 1);
    assert_eq!(ev["events"][3]["event_id"], "art-1");
    assert_eq!(ev["event_count"], 6);
    // The stream is closed once the run ends.
    let out = repo.proof(&["event", "--run", &run_id, "step.started"]).expect_code(2);
    assert!(out.one_error_line().contains("ended"), "{}", out.stderr);
}

/// With `core.untrackedCache` or `core.fsmonitor` configured, the uncommitted changes are listed
/// by git itself (gix reads neither): the same list as `git status`, and the fsmonitor hook is
/// asked.
#[test]
fn dirty_files_with_the_untracked_cache_or_an_fsmonitor_hook_are_what_git_status_lists() {
    let repo = TestRepo::new();
    repo.write("src/a.rs", "a\n");
    repo.write("docs/b.md", "b\n");
    repo.commit_all("files");
    let marker = repo.tmp.path().join("fsmonitor-called");
    let hook = repo.tmp.path().join("fsmonitor-hook");
    // Protocol version 2: print a token, then the paths changed since it ("/": everything).
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nprintf 'token\\0/\\0'\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (key, value) in [
        ("core.untrackedCache", "true"),
        ("core.fsmonitor", hook.to_str().unwrap()),
    ] {
        repo.git(&["config", key, value]);
        repo.git(&["status", "--porcelain"]);
        let run_id = repo.start(&[]);
        repo.write("src/a.rs", "a changed\n");
        repo.write("untracked dir/new file.txt", "new\n");
        repo.write("docs/b.md", "b, staged\n");
        repo.git(&["add", "docs/b.md"]);
        let _ = std::fs::remove_file(&marker);
        repo.proof(&["finish", "-q"]).ok();
        if key == "core.fsmonitor" {
            // Asked by finish itself: nothing else ran git status since the marker went.
            let asked = std::fs::read_to_string(&marker).unwrap_or_default();
            assert!(!asked.is_empty(), "finish did not ask the fsmonitor hook");
        }
        let bundle = repo.bundle(&run_id);
        let listed: Vec<String> = bundle["dirty_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let porcelain = repo.git(&["status", "--porcelain", "-z", "--untracked-files=all"]);
        let mut expected: Vec<String> = porcelain
            .split('\0')
            .filter(|l| l.len() > 3)
            .map(|l| l[3..].to_owned())
            .collect();
        expected.sort();
        assert_eq!(listed, expected, "with {key}");
        assert!(listed.contains(&"untracked dir/new file.txt".to_owned()), "{listed:?}");
        repo.git(&["config", "--unset", key]);
        repo.git(&["checkout", "-q", "--", "."]);
        repo.git(&["reset", "-q", "--hard"]);
        repo.git(&["clean", "-qfd"]);
    }
}
