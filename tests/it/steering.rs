//! A run a person steers: `status`, `abandon`, a refused `start` that changes nothing, files
//! already dirty when a run starts, and a session that died before its turn ended.

use serde_json::{Value, json};

use crate::common::TestRepo;

fn status(repo: &TestRepo) -> Value {
    repo.proof(&["status", "--json"]).ok().json()["active_run"].clone()
}

fn log_entry(repo: &TestRepo, run_id: &str) -> Value {
    let log = repo.proof(&["log", "--json"]).ok().json();
    log.as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == run_id)
        .unwrap_or_else(|| panic!("{run_id} not in {log:#}"))
        .clone()
}

fn marker(repo: &TestRepo) -> Option<String> {
    std::fs::read_to_string(repo.path(".git/proof-active-run")).ok()
}

#[test]
fn status_shows_the_active_run_and_its_commits() {
    let repo = TestRepo::new();
    assert_eq!(status(&repo), Value::Null);
    let out = repo.proof(&["status"]).ok();
    assert!(out.stdout.contains("no active run"), "{}", out.stdout);

    let base = repo.git(&["rev-parse", "HEAD"]);
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let first = repo.commit_all("a");
    repo.write("b.txt", "b\n");
    let second = repo.commit_all("b");
    repo.proof(&["event", "step.started", "--id", "s1"]).ok();

    let active = status(&repo);
    assert_eq!(active["run_id"], run_id.as_str());
    assert_eq!(active["base_sha"], base.as_str());
    assert_eq!(active["head_sha"], second.as_str());
    assert_eq!(active["commits"], json!([first, second]));
    assert_eq!(active["events"], 2, "run.started and step.started: {active:#}");
    let text = repo.proof(&["status"]).ok().stdout;
    assert!(
        text.contains(&run_id) && text.contains("2 commits since") && text.contains("2 events"),
        "{text}"
    );
    repo.proof(&["finish", "--no-dod"]).ok();
    assert_eq!(status(&repo), Value::Null);
}

#[test]
fn abandon_ends_the_run_without_a_proof_and_frees_the_worktree() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    repo.write("half.txt", "half done\n");
    let head = repo.commit_all("half");
    let out = repo
        .proof(&["abandon", "--reason", "the agent went off track", "--json"])
        .ok()
        .json();
    assert_eq!(out["run_id"], run_id.as_str());
    assert_eq!(out["ending"], "abandoned");
    assert!(out["manifest_hash"].as_str().unwrap().starts_with("sha256:"));

    // Nothing was signed, nothing written to the notes.
    let notes = repo.git_run_in(&repo.root, &["notes", "--ref=proof", "list", &head]);
    assert_ne!(notes.code, 0, "no note on {head}: {}", notes.stdout);
    assert_eq!(marker(&repo), None, "the worktree is free");
    assert_eq!(status(&repo), Value::Null);
    let entry = log_entry(&repo, &run_id);
    assert_eq!(entry["ending"], "abandoned");
    assert_eq!(entry["end_reason"], "the agent went off track");
    assert_eq!(entry["run_status"], "failed", "never succeeded: {entry:#}");
    assert!(repo.proof(&["log"]).ok().stdout.contains("abandoned"));

    // Its stream is sealed; it never gets a proof; a second abandon is refused.
    let late = repo.proof(&["event", "--run", &run_id, "step.started"]).expect_code(2);
    assert!(late.one_error_line().contains("ended"), "{}", late.stderr);
    let finish = repo.proof(&["finish", "--run", &run_id]).expect_code(2);
    assert!(finish.one_error_line().contains("abandoned"), "{}", finish.stderr);
    let again = repo.proof(&["abandon", "--run", &run_id]).expect_code(2);
    assert!(again.one_error_line().contains("already ended"), "{}", again.stderr);
    assert_ne!(
        repo.git_run_in(&repo.root, &["notes", "--ref=proof", "list", &head])
            .code,
        0
    );
    // The next run starts.
    repo.start(&[]);
}

#[test]
fn a_refused_start_changes_nothing() {
    let repo = TestRepo::new();
    let first = repo.start(&["--run-id", "first-run"]);
    let before = marker(&repo);
    assert_eq!(before.as_deref(), Some("first-run\n"));
    let refused = repo.proof(&["start", "--run-id", "second-run"]).expect_code(2);
    assert!(refused.one_error_line().contains(&first), "{}", refused.stderr);
    assert_eq!(marker(&repo), before, "the marker still names the active run");
    assert_eq!(status(&repo)["run_id"], "first-run");
    repo.proof(&["finish", "--no-dod"]).ok();

    // An id that exists: refused, and no marker is left claiming a run is active.
    let refused = repo.proof(&["start", "--run-id", "first-run"]);
    assert_ne!(refused.code, 0);
    assert_eq!(marker(&repo), None);
    assert_eq!(status(&repo), Value::Null);
    assert_eq!(repo.proof(&["log", "--json"]).ok().json().as_array().unwrap().len(), 1);
}

#[test]
fn files_dirty_before_the_run_are_not_blamed_on_it() {
    let repo = TestRepo::new();
    repo.write("notes/todo.txt", "mine\n");
    repo.write("README.md", "# test\nedited by hand\n");
    repo.write("left.txt", "left alone\n");
    let run_id = repo.start(&["--scope", "src/**"]);
    // The run writes its own file, and goes on editing one the person had dirty.
    repo.write("src/lib.rs", "fn main() {}\n");
    repo.write("left.txt", "changed by the run\n");
    repo.proof(&["finish", "--no-dod"]).ok();
    let bundle = repo.bundle(&run_id);
    assert_eq!(bundle["dirty_at_start"], json!(["README.md", "notes/todo.txt"]));
    assert_eq!(bundle["dirty_files"], json!(["left.txt", "src/lib.rs"]));
    let violations: Vec<&str> = bundle["scope_violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(violations, ["left.txt"], "{bundle:#}");
    repo.verify(&[bundle["head_sha"].as_str().unwrap()]).ok();
}

fn claude(session: &str, event: &str, extra: Value, cwd: &str) -> String {
    let mut payload = json!({
        "session_id": session,
        "transcript_path": "/tmp/t.jsonl",
        "cwd": cwd,
        "permission_mode": "default",
        "hook_event_name": event,
    });
    for (k, v) in extra.as_object().unwrap() {
        payload[k] = v.clone();
    }
    payload.to_string()
}

#[test]
fn a_killed_session_is_sealed_when_the_next_one_starts() {
    let repo = TestRepo::new();
    let cwd = repo.root.to_str().unwrap().to_owned();
    let ingest = |payload: String| {
        let out = repo.proof_with_input(&["ingest", "--agent", "claude-code"], payload);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    };
    ingest(claude("dead", "UserPromptSubmit", json!({"prompt": "first"}), &cwd));
    ingest(claude(
        "dead",
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_use_id": "t1", "tool_input": {"command": "sleep 999"}}),
        &cwd,
    ));
    let dead = status(&repo)["run_id"].as_str().unwrap().to_owned();
    // The process was killed: no PostToolUse, no Stop. A new session begins.
    ingest(claude("alive", "SessionStart", json!({"source": "startup"}), &cwd));
    ingest(claude("alive", "UserPromptSubmit", json!({"prompt": "second"}), &cwd));
    repo.write("x.txt", "x\n");
    ingest(claude(
        "alive",
        "PostToolUse",
        json!({"tool_name": "Write", "tool_use_id": "t2",
               "tool_input": {"file_path": format!("{cwd}/x.txt"), "content": "x\n"},
               "tool_response": {"success": true}}),
        &cwd,
    ));
    repo.commit_all("x");
    ingest(claude("alive", "Stop", json!({"stop_hook_active": false}), &cwd));

    let sealed = repo.bundle(&dead);
    assert_eq!(sealed["run_status"], "failed");
    assert_eq!(sealed["exit_code"], -1);
    assert_eq!(sealed["evidence"]["correlation_id"], "dead");
    assert_eq!(sealed["evidence"]["completeness"]["terminal_event_present"], false);
    assert_eq!(sealed["evidence"]["completeness"]["all_toolcalls_terminal"], false);
    let types = crate::common::event_types(&sealed);
    assert_eq!(types, ["run.started", "toolcall.requested", "run.sealed"], "{sealed:#}");
    let entry = log_entry(&repo, &dead);
    assert_eq!(entry["ending"], "sealed");
    assert!(
        entry["end_reason"].as_str().unwrap().contains("session alive began"),
        "{entry:#}"
    );

    // The new session's turn got its own run and its own proof.
    let log = repo.proof(&["log", "--json"]).ok().json();
    let alive: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["run_id"] != dead.as_str())
        .collect();
    assert_eq!(alive.len(), 1, "{log:#}");
    let proof = repo.bundle(alive[0]["run_id"].as_str().unwrap());
    assert_eq!(proof["run_status"], "succeeded");
    assert_eq!(proof["evidence"]["correlation_id"], "alive");
    assert_eq!(proof["changed_files"], json!(["x.txt"]));
    assert_eq!(proof["prompt_hash"], crate::common::sha256_prefixed(b"second").as_str());
    assert_eq!(status(&repo), Value::Null);
}

#[test]
fn a_turn_that_never_ended_is_sealed_by_the_next_turn_of_its_session() {
    let repo = TestRepo::new();
    let cwd = repo.root.to_str().unwrap().to_owned();
    for payload in [
        claude("s", "UserPromptSubmit", json!({"prompt": "one"}), &cwd),
        claude("s", "UserPromptSubmit", json!({"prompt": "two"}), &cwd),
        claude("s", "Stop", json!({"stop_hook_active": false}), &cwd),
    ] {
        repo.proof_with_input(&["ingest", "--agent", "claude-code"], payload)
            .ok();
    }
    let log = repo.proof(&["log", "--json"]).ok().json();
    let runs = log.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{log:#}");
    let (second, first) = (&runs[0], &runs[1]);
    assert_eq!(first["ending"], "sealed");
    assert_eq!(second["ending"], "exited");
    assert_eq!(second["run_status"], "succeeded");
}

#[test]
fn finish_tells_the_bad_news() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[
        "--scope",
        "src/**",
        "--dod",
        "slow=sleep 1.2",
        "--dod",
        "test=echo boom; exit 3",
    ]);
    repo.write("outside.txt", "x\n");
    repo.commit_all("outside");
    let out = repo.proof(&["finish"]).ok();
    let err = &out.stderr;
    assert!(
        err.contains("DoD check slow is running..."),
        "progress after a second: {err}"
    );
    let failed = err
        .lines()
        .find(|l| l.contains("DoD check test failed"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(failed.contains("exit code 3"), "{failed}");
    let log = failed.split("its output: ").nth(1).expect("where the log is");
    assert_eq!(std::fs::read_to_string(log.trim()).unwrap(), "boom\n");
    assert!(err.contains("1 scope violation pending"), "{err}");
    assert!(
        err.contains(&format!("git proof approve|reject {run_id} PATH")),
        "{err}"
    );

    let json = repo.proof(&["finish", "--run", &run_id, "--json"]).ok().json();
    assert_eq!(json["dod"], json!({"passed": 1, "failed": 1, "pending": 0}));
    assert_eq!(json["scope_violations"], json!({"total": 1, "pending": 1}));
}

#[test]
fn no_event_id_can_take_the_id_of_a_later_event() {
    // `<run>.<n>` is the id the index gives the n-th event: taken ahead of time, it would stop
    // the run's later events, its end, and every run after it in the worktree.
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    for id in [format!("{run_id}.3"), "other.12".to_owned(), "../evil".to_owned()] {
        let out = repo
            .proof(&[
                "event",
                "toolcall.requested",
                "--id",
                &id,
                "--data",
                r#"{"toolcall_id":"x"}"#,
            ])
            .expect_code(2);
        assert!(out.one_error_line().contains("event id"), "{}", out.stderr);
    }
    let generic = format!(r#"{{"run_id":"{run_id}","type":"step.started","id":"{run_id}.4"}}"#);
    repo.proof_with_input(&["ingest", "--agent", "generic"], generic).ok();
    repo.proof(&["event", "step.started", "--id", "plan-1"]).ok();
    repo.proof(&["finish", "--no-dod"]).ok();
    repo.start(&[]);
}

#[test]
fn a_payload_without_a_session_never_ends_a_run_started_by_hand() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    let cwd = repo.root.to_str().unwrap();
    for (agent, event, payload) in [
        (
            "copilot",
            "agentStop",
            format!(r#"{{"timestamp":1,"cwd":"{cwd}","stopReason":"end_turn"}}"#),
        ),
        (
            "claude-code",
            "",
            format!(r#"{{"hook_event_name":"Stop","cwd":"{cwd}"}}"#),
        ),
        (
            "codex",
            "",
            format!(r#"{{"type":"agent-turn-complete","cwd":"{cwd}","input-messages":["x"]}}"#),
        ),
    ] {
        let mut args = vec!["ingest", "--agent", agent];
        if !event.is_empty() {
            args.extend(["--event", event]);
        }
        repo.proof_with_input(&args, &payload).ok();
        assert_eq!(status(&repo)["run_id"], run_id.as_str(), "{agent} ended the run");
    }
    repo.proof(&["finish", "--no-dod", "--exit-code", "3"]).ok();
    assert_eq!(repo.bundle(&run_id)["exit_code"], 3);
}

#[test]
fn a_session_that_ends_mid_turn_seals_the_turn() {
    let repo = TestRepo::new();
    let cwd = repo.root.to_str().unwrap().to_owned();
    for payload in [
        claude("s", "UserPromptSubmit", json!({"prompt": "one"}), &cwd),
        claude(
            "s",
            "PreToolUse",
            json!({"tool_name": "Bash", "tool_use_id": "t1", "tool_input": {"command": "sleep 9"}}),
            &cwd,
        ),
        claude("s", "SessionEnd", json!({"reason": "prompt_input_exit"}), &cwd),
    ] {
        repo.proof_with_input(&["ingest", "--agent", "claude-code"], payload)
            .ok();
    }
    let run = &repo.proof(&["log", "--json"]).ok().json()[0];
    assert_eq!(run["ending"], "sealed", "{run:#}");
    assert_eq!(run["run_status"], "failed");
    assert!(
        run["end_reason"]
            .as_str()
            .unwrap()
            .contains("session ended (prompt_input_exit)")
    );
}

#[test]
fn without_a_key_a_turn_still_ends_and_its_proof_waits() {
    let repo = TestRepo::new();
    let cwd = repo.root.to_str().unwrap().to_owned();
    let ingest = |payload: String| {
        let mut cmd = repo.proof_cmd(&["ingest", "--agent", "claude-code"]);
        cmd.env_remove("GIT_PROOF_KEY");
        crate::common::run_with_input(cmd, payload.as_bytes())
    };
    ingest(claude("s1", "UserPromptSubmit", json!({"prompt": "one"}), &cwd));
    let first = status(&repo)["run_id"].as_str().unwrap().to_owned();
    let out = ingest(claude("s1", "Stop", json!({"stop_hook_active": false}), &cwd));
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("no signing key") && out.stderr.contains(&first),
        "{}",
        out.stderr
    );
    assert_eq!(status(&repo), Value::Null, "the turn ended");
    // The next session's work gets its own run, not the old one.
    ingest(claude("s2", "UserPromptSubmit", json!({"prompt": "two"}), &cwd));
    assert_ne!(status(&repo)["run_id"], first.as_str());
    // With the key back, the waiting proof is written as the run ended.
    repo.proof(&["finish", "--run", &first]).ok();
    assert_eq!(repo.bundle(&first)["run_status"], "succeeded");
}
