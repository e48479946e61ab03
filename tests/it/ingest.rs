//! Scripted agent sessions (tests/fixtures/<agent>/) fed through `git proof ingest`, as each
//! agent's hooks would: runs per turn, every tool call in the manifest, proofs at turn end.

use serde_json::Value;

use crate::common::{Run, TestRepo};

fn fixture(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Feeds one payload on stdin, as a hook is run.
fn ingest(repo: &TestRepo, agent: Option<&str>, payload: impl AsRef<[u8]>) -> Run {
    let mut args = vec!["ingest"];
    if let Some(agent) = agent {
        args.extend(["--agent", agent]);
    }
    repo.proof_with_input(&args, payload)
}

/// Plays a session file; `skip` drops payload lines that contain it. Returns the replies.
fn play(repo: &TestRepo, agent: Option<&str>, session: &str, skip: Option<&str>) -> Vec<Run> {
    let cwd = repo.root.to_str().unwrap();
    let mut replies = Vec::new();
    for line in session.lines().filter(|l| !l.trim().is_empty()) {
        let line = line.replace("{{CWD}}", cwd);
        let value: Value = serde_json::from_str(&line).unwrap();
        match value.get("_test").and_then(Value::as_str) {
            Some("write") => repo.write(value["path"].as_str().unwrap(), value["content"].as_str().unwrap()),
            Some("commit") => {
                repo.commit_all(value["message"].as_str().unwrap());
            }
            Some(other) => panic!("unknown fixture step {other}"),
            None if skip.is_some_and(|s| line.contains(s)) => {}
            None => replies.push(ingest(repo, agent, &line)),
        }
    }
    replies
}

fn runs_of(repo: &TestRepo) -> Vec<Value> {
    let mut runs = repo.proof(&["log", "--json"]).ok().json().as_array().unwrap().clone();
    runs.reverse();
    runs
}

fn manifest(repo: &TestRepo, run_id: &str) -> Value {
    repo.bundle(run_id)["evidence"].clone()
}

/// Every tool call id the session's payloads mention (as the manifest must list them).
fn expect_session(
    agent: &str,
    detect: bool,
    toolcalls: usize,
    artifacts: &[&str],
    reply: &str,
) -> (TestRepo, Vec<Value>) {
    let repo = TestRepo::new();
    let session = fixture(&format!("{agent}/session.jsonl"));
    let replies = play(&repo, (!detect).then_some(agent), &session, None);
    for r in &replies {
        assert_eq!(r.code, 0, "{agent}: {}", r.stderr);
        assert_eq!(r.stdout.trim(), reply, "{agent} expects {reply:?} on stdout");
        assert!(r.stderr.is_empty(), "{agent}: {}", r.stderr);
    }
    let runs = runs_of(&repo);
    assert!(!runs.is_empty(), "{agent}: no run");
    let first = runs[0]["run_id"].as_str().unwrap().to_owned();
    let m = manifest(&repo, &first);
    assert_eq!(m["toolcall_ids"].as_array().unwrap().len(), toolcalls, "{agent}: {m:#}");
    assert_eq!(m["completeness"]["all_toolcalls_terminal"], true, "{agent}");
    assert_eq!(m["completeness"]["terminal_event_present"], true, "{agent}");
    assert_eq!(
        m["artifact_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect::<Vec<_>>(),
        artifacts,
        "{agent}"
    );
    assert!(
        m["correlation_id"].is_string() || agent == "copilot" || agent == "generic",
        "{agent}: session id"
    );
    repo.verify(&[runs[0]["proof"]["commit"].as_str().unwrap()]).ok();
    (repo, runs)
}

#[test]
fn claude_code_two_turns_give_two_runs_and_two_proofs() {
    let (repo, runs) = expect_session("claude-code", false, 2, &["docs/testing.md"], "");
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r["state"] == "ended" && r["proof"].is_object()),
        "{runs:#?}"
    );
    let first = repo.bundle(runs[0]["run_id"].as_str().unwrap());
    assert_eq!(first["changed_files"], serde_json::json!(["docs/testing.md"]));
    assert_eq!(first["evidence"]["correlation_id"], "sess-claude-1");
    assert_eq!(first["evidence"]["thread_id"], "sess-claude-1");
    // The prompt is digested, never stored.
    let prompt = "Add a section about testing to the docs.";
    assert_eq!(
        first["prompt_hash"],
        crate::common::sha256_prefixed(prompt.as_bytes()).as_str()
    );
    let note = repo.note(runs[0]["proof"]["commit"].as_str().unwrap());
    assert!(
        !note.contains(prompt) && !note.contains("git commit -m docs"),
        "no text in a note"
    );
    // The second turn's tool call failed; the turn itself ended normally.
    let second = manifest(&repo, runs[1]["run_id"].as_str().unwrap());
    let types: Vec<&str> = second["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["run.started", "toolcall.requested", "toolcall.failed", "run.completed"]
    );
    // The same session played with detection instead of --agent gives the same shape.
    expect_session("claude-code", true, 2, &["docs/testing.md"], "");
}

#[test]
fn codex_hooks_and_legacy_notify() {
    let (repo, runs) = expect_session("codex", false, 2, &["README.md"], "");
    let m = manifest(&repo, runs[0]["run_id"].as_str().unwrap());
    let failed = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "toolcall.failed")
        .count();
    assert_eq!(failed, 1, "a Bash call that exits non-zero failed: {m:#}");
    expect_session("codex", true, 2, &["README.md"], "");

    // notify: the payload is the last argument and stdin is /dev/null; one call is one turn.
    let repo = TestRepo::new();
    let payload = fixture("codex/notify.json").replace("{{CWD}}", repo.root.to_str().unwrap());
    let out = repo.proof(&["ingest", payload.trim()]).ok();
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let runs = runs_of(&repo);
    assert_eq!(runs.len(), 1);
    let b = repo.bundle(runs[0]["run_id"].as_str().unwrap());
    let prompt = "Rename `foo` to `bar` and update the callsites.";
    assert_eq!(
        b["prompt_hash"],
        crate::common::sha256_prefixed(prompt.as_bytes()).as_str()
    );
    assert_eq!(b["evidence"]["correlation_id"], "b5f6c1c2-1111-2222-3333-444455556666");
}

#[test]
fn cursor_gemini_copilot_cline_and_generic_sessions() {
    expect_session("cursor", false, 1, &["src/new_test.rs"], "{}");
    expect_session("cursor", true, 1, &["src/new_test.rs"], "{}");
    expect_session("gemini", false, 2, &["hello.txt"], "");
    expect_session("gemini", true, 2, &["hello.txt"], "");
    let (repo, runs) = expect_session("copilot", false, 2, &["src/app.js"], "");
    assert_eq!(
        repo.bundle(runs[0]["run_id"].as_str().unwrap())["changed_files"],
        serde_json::json!(["src/app.js"])
    );
    expect_session("copilot", true, 2, &["src/app.js"], "");
    expect_session("cline", false, 2, &["notes.md"], r#"{"cancel":false}"#);
    expect_session("cline", true, 2, &["notes.md"], r#"{"cancel":false}"#);
    let (repo, runs) = expect_session("generic", false, 1, &["build/out.bin"], "");
    assert_eq!(runs[0]["run_id"], "generic-run-1");
    let m = manifest(&repo, "generic-run-1");
    assert_eq!(m["step_ids"], serde_json::json!(["plan"]));
    assert_eq!(m["events"][2]["event_id"], "evt-1");
}

#[test]
fn a_missing_post_tool_event_leaves_the_manifest_incomplete() {
    for (agent, post) in [
        ("claude-code", "\"PostToolUse\",\"tool_name\":\"Write\""),
        ("codex", "\"PostToolUse\",\"tool_name\":\"Bash\""),
        ("cursor", "\"postToolUse\""),
        ("gemini", "\"AfterTool\",\"tool_name\":\"write_file\""),
        (
            "cline",
            "\"hookName\":\"PostToolUse\",\"postToolUse\":{\"toolName\":\"write_to_file\"",
        ),
    ] {
        let repo = TestRepo::new();
        play(
            &repo,
            Some(agent),
            &fixture(&format!("{agent}/session.jsonl")),
            Some(post),
        );
        let first = runs_of(&repo)[0]["run_id"].as_str().unwrap().to_owned();
        let m = manifest(&repo, &first);
        assert_eq!(m["completeness"]["all_toolcalls_terminal"], false, "{agent}: {m:#}");
    }
}

#[test]
fn bad_payloads_never_break_the_agent_and_are_recorded() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    let huge = format!(
        "{{\"hook_event_name\":\"PreToolUse\",\"tool_input\":\"{}\"",
        "x".repeat(10 << 20)
    );
    let payloads: Vec<(Option<&str>, Vec<u8>)> = vec![
        (
            Some("claude-code"),
            b"{\"hook_event_name\": \"PreToolUse\", \"tool_".to_vec(),
        ),
        (Some("cline"), b"[1, 2, 3]".to_vec()),
        (None, vec![0xff, 0xfe, b'{']),
        (Some("cursor"), huge.into_bytes()),
        (Some("no-such-agent"), b"{}".to_vec()),
    ];
    for (agent, payload) in &payloads {
        let out = ingest(&repo, *agent, payload);
        assert_eq!(out.code, 0, "{agent:?}: a hook must never fail the agent");
        assert_eq!(out.stderr.lines().count(), 1, "{agent:?}: one line: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"));
        let expected = match agent {
            Some("cline") => r#"{"cancel":false}"#,
            Some("cursor") => "{}",
            _ => "",
        };
        assert_eq!(out.stdout.trim(), expected, "{agent:?}");
    }
    // Each rejection (but the unknown agent, which is a configuration error) is in the run,
    // by digest and size.
    repo.proof(&["finish"]).ok();
    let events = manifest(&repo, &run_id)["events"].clone();
    let rejected = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "ingest.rejected")
        .count();
    assert_eq!(rejected, 4, "{events:#}");
    // With no active run, rejections go to a log instead of being dropped.
    ingest(&repo, Some("claude-code"), "not json");
    let log = std::fs::read_to_string(repo.path(".git/proof/logs/ingest-rejected.log")).unwrap();
    assert!(log.contains("payload_digest") && !log.contains("not json"), "{log}");
}

#[test]
fn a_run_started_by_hand_collects_the_agents_events_and_stays_open() {
    let repo = TestRepo::new();
    let run_id = repo.start(&["--run-id", "manual-1"]);
    let cwd = repo.root.to_str().unwrap();
    let base = format!(r#""session_id":"s-9","cwd":"{cwd}","permission_mode":"default""#);
    for payload in [
        format!(r#"{{{base},"hook_event_name":"UserPromptSubmit","prompt":"hi"}}"#),
        format!(
            r#"{{{base},"hook_event_name":"PreToolUse","tool_name":"Bash","tool_use_id":"tu","tool_input":{{"command":"ls"}}}}"#
        ),
        format!(
            r#"{{{base},"hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"tu","tool_input":{{"command":"ls"}},"tool_response":{{}}}}"#
        ),
        format!(r#"{{{base},"hook_event_name":"Stop","stop_hook_active":false}}"#),
    ] {
        let out = ingest(&repo, Some("claude-code"), &payload);
        assert!(out.code == 0 && out.stderr.is_empty(), "{}", out.stderr);
    }
    let runs = runs_of(&repo);
    assert_eq!(runs.len(), 1, "no second run beside the manual one");
    assert_eq!(
        runs[0]["state"], "active",
        "the agent's turn end does not finish a run it did not start"
    );
    repo.proof(&["finish"]).ok();
    assert_eq!(manifest(&repo, &run_id)["toolcall_ids"], serde_json::json!(["tu"]));
}
