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

/// One fixture payload: `_event` is the event its hook's command names (Copilot's camelCase
/// hooks, as `install` writes them); with no agent named, the payload alone must do.
fn ingest_line(repo: &TestRepo, agent: Option<&str>, mut value: Value) -> Run {
    let event = value.as_object_mut().unwrap().remove("_event");
    let mut args = vec!["ingest"];
    if let Some(agent) = agent {
        args.extend(["--agent", agent]);
        if let Some(event) = event.as_ref().and_then(Value::as_str) {
            args.extend(["--event", event]);
        }
    }
    repo.proof_with_input(&args, value.to_string())
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
            None => replies.push(ingest_line(repo, agent, value)),
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

/// The data of one event of a proven run, as `prove-event` discloses it.
fn event_data(repo: &TestRepo, run_id: &str, event_id: &str) -> Value {
    repo.proof(&["prove-event", run_id, event_id]).ok().json()["event"]["data"].clone()
}

/// The tool-call events of a run: (type, toolcall id, data).
fn tool_events(repo: &TestRepo, run_id: &str) -> Vec<(String, String, Value)> {
    let m = manifest(repo, run_id);
    m["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"].as_str().unwrap().starts_with("toolcall."))
        .map(|e| {
            let data = event_data(repo, run_id, e["event_id"].as_str().unwrap());
            (
                e["event_type"].as_str().unwrap().to_owned(),
                data["toolcall_id"].as_str().unwrap().to_owned(),
                data,
            )
        })
        .collect()
}

/// The calls a run recorded as failed, with the exit code when one was known.
fn failed_calls(repo: &TestRepo, run_id: &str) -> Vec<(String, Option<i64>)> {
    tool_events(repo, run_id)
        .into_iter()
        .filter(|(kind, _, _)| kind == "toolcall.failed")
        .map(|(_, id, data)| (id, data["exit_code"].as_i64()))
        .collect()
}

fn prompt_hash(prompt: &str) -> String {
    crate::common::sha256_prefixed(prompt.as_bytes())
}

#[test]
fn claude_code_two_turns_a_subagent_and_a_cd() {
    let (repo, runs) = expect_session("claude-code", false, 4, &["docs/testing.md"], "");
    assert_eq!(runs.len(), 2, "one run per turn: {runs:#?}");
    assert!(
        runs.iter().all(|r| r["state"] == "ended" && r["proof"].is_object()),
        "{runs:#?}"
    );
    let first_id = runs[0]["run_id"].as_str().unwrap();
    let first = repo.bundle(first_id);
    assert_eq!(first["changed_files"], serde_json::json!(["docs/testing.md"]));
    assert_eq!(
        first["evidence"]["correlation_id"],
        "3f1c9b2e-7a4d-4e1b-9c55-2b8e6d0a9f17"
    );
    let prompt = "Add a section about testing to the docs.";
    assert_eq!(first["prompt_hash"], prompt_hash(prompt).as_str());
    let note = repo.note(runs[0]["proof"]["commit"].as_str().unwrap());
    assert!(
        !note.contains(prompt) && !note.contains("git commit -m docs"),
        "no text in a note"
    );
    // The subagent's call is the turn's, marked with the subagent; the `cd docs` moved the
    // payload's cwd, not the run's repository.
    let calls = tool_events(&repo, first_id);
    let sub: Vec<_> = calls.iter().filter(|(_, id, _)| id == "toolu_SUB1").collect();
    assert_eq!(sub.len(), 2, "{calls:#?}");
    assert!(sub.iter().all(|(_, _, d)| d["subagent_id"] == "a4f29c1e0b7d"));
    assert_eq!(
        first["evidence"]["toolcall_ids"],
        serde_json::json!(["toolu_01", "toolu_02", "toolu_03", "toolu_SUB1"])
    );

    // The second turn's Bash call failed with exit code 101; the turn itself ended normally.
    let second_id = runs[1]["run_id"].as_str().unwrap();
    let second = repo.bundle(second_id);
    assert_eq!(second["prompt_hash"], prompt_hash("Now run the tests.").as_str());
    assert_eq!(
        crate::common::event_types(&second),
        ["run.started", "toolcall.requested", "toolcall.failed", "run.completed"]
    );
    assert_eq!(failed_calls(&repo, second_id), [("toolu_04".to_owned(), Some(101))]);
    // The same session played with detection instead of --agent gives the same shape.
    expect_session("claude-code", true, 4, &["docs/testing.md"], "");
}

#[test]
fn codex_outcomes_subagents_and_an_interrupted_turn() {
    let (repo, runs) = expect_session("codex", false, 3, &["README.md"], "");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let first = runs[0]["run_id"].as_str().unwrap();
    // Codex's Bash output says nothing of its exit code: recorded as not known, not failed.
    let calls = tool_events(&repo, first);
    let grep = calls
        .iter()
        .find(|(kind, id, _)| id == "call_2" && kind == "toolcall.completed")
        .expect("call_2 ended");
    assert_eq!(grep.2["exit_code_known"], false, "{grep:#?}");
    let patch = calls
        .iter()
        .find(|(kind, id, _)| id == "call_1" && kind != "toolcall.requested")
        .unwrap();
    assert_eq!(patch.2["exit_code"], 0);
    assert!(
        calls
            .iter()
            .any(|(_, id, d)| id == "call_9" && d["subagent_id"].is_string())
    );
    // The second turn: its Bash call's header says exit code 101; the user interrupted it.
    let second = runs[1]["run_id"].as_str().unwrap();
    assert_eq!(failed_calls(&repo, second), [("call_3".to_owned(), Some(101))]);
    let b = repo.bundle(second);
    assert_eq!(b["run_status"], "failed");
    assert_eq!(b["exit_code"], 130);
    expect_session("codex", true, 3, &["README.md"], "");
}

#[test]
fn codex_legacy_notify() {
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
    assert_eq!(b["prompt_hash"], prompt_hash(prompt).as_str());
    assert_eq!(b["evidence"]["correlation_id"], "b5f6c1c2-1111-2222-3333-444455556666");
}

#[test]
fn cursor_turns_exit_codes_and_its_two_line_call_ids() {
    for detect in [false, true] {
        let (repo, runs) = expect_session("cursor", detect, 2, &["src/new_test.rs"], "{}");
        assert_eq!(runs.len(), 2, "{runs:#?}");
        let first = runs[0]["run_id"].as_str().unwrap();
        // The Shell call's output says exit code 101; the ids' newline is not kept.
        assert_eq!(
            failed_calls(&repo, first),
            [("call_Pq56:ctc_Rs78".to_owned(), Some(101))]
        );
        let second = runs[1]["run_id"].as_str().unwrap();
        assert_eq!(failed_calls(&repo, second), [("call_Tu90:ctc_Vw12".to_owned(), None)]);
        let b = repo.bundle(second);
        assert_eq!(
            (b["run_status"].as_str(), b["exit_code"].as_i64()),
            (Some("failed"), Some(1))
        );
    }
}

#[test]
fn cursor_headless_runs_end_with_the_session() {
    // `agent -p` fires no prompt or stop hook: its tool calls make the run, its session's end
    // ends it.
    let repo = TestRepo::new();
    let session = fixture("cursor/session.jsonl");
    let headless: String = session
        .lines()
        .filter(|l| !l.contains("beforeSubmitPrompt") && !l.contains("\"stop\""))
        .map(|l| format!("{l}\n"))
        .collect();
    for r in play(&repo, Some("cursor"), &headless, None) {
        assert_eq!((r.code, r.stdout.trim(), r.stderr.as_str()), (0, "{}", ""));
    }
    let runs = runs_of(&repo);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["state"], "ended");
    let b = repo.bundle(runs[0]["run_id"].as_str().unwrap());
    assert_eq!(b["evidence"]["completeness"]["all_toolcalls_terminal"], true);
    assert_eq!(b["evidence"]["toolcall_ids"].as_array().unwrap().len(), 3);
}

#[test]
fn gemini_identical_calls_and_shell_exit_codes() {
    for detect in [false, true] {
        let (repo, runs) = expect_session("gemini", detect, 4, &["hello.txt"], "");
        assert_eq!(runs.len(), 2, "{runs:#?}");
        let first = runs[0]["run_id"].as_str().unwrap();
        // Two identical `ls` calls in one turn stay two calls.
        let ids = manifest(&repo, first)["toolcall_ids"].clone();
        let ls: Vec<&str> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .filter(|id| id.ends_with(".2"))
            .collect();
        assert_eq!(ls.len(), 1, "{ids:#}");
        // A shell exit sets no error in Gemini's response: its "Exit Code: 1" line does.
        let failed = failed_calls(&repo, first);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].1, Some(1));
        let second = runs[1]["run_id"].as_str().unwrap();
        assert_eq!(failed_calls(&repo, second).len(), 1, "the replace that failed");
    }
}

#[test]
fn copilot_events_named_by_the_hook_or_by_shape() {
    for detect in [false, true] {
        let (repo, runs) = expect_session("copilot", detect, 2, &["src/app.js"], "");
        assert_eq!(
            runs.len(),
            2,
            "one run per turn, the first prompt counted once: {runs:#?}"
        );
        let first = runs[0]["run_id"].as_str().unwrap();
        let b = repo.bundle(first);
        assert_eq!(b["changed_files"], serde_json::json!(["src/app.js"]));
        assert_eq!(b["prompt_hash"], prompt_hash("Make the tests pass").as_str());
        assert_eq!(b["run_status"], "succeeded", "agentStop ends the turn");
        assert_eq!(failed_calls(&repo, first).len(), 1, "postToolUseFailure");
        // toolArgs as an object (1.0.82 and later) is read for the paths it writes.
        assert_eq!(b["evidence"]["artifact_ids"], serde_json::json!(["src/app.js"]));
    }
}

#[test]
fn cline_extension_and_cli_sessions() {
    for detect in [false, true] {
        let (repo, runs) = expect_session("cline", detect, 2, &["notes.md"], r#"{"cancel":false}"#);
        assert_eq!(runs.len(), 2, "TaskStart and UserPromptSubmit are one turn: {runs:#?}");
        let first = runs[0]["run_id"].as_str().unwrap();
        assert_eq!(
            repo.bundle(first)["prompt_hash"],
            prompt_hash("Create notes.md with a todo").as_str()
        );
        // The extension omits `success` when it is false.
        assert_eq!(failed_calls(&repo, first).len(), 1);
    }
    // The Cline CLI sends its own event names to the same hook files.
    let repo = TestRepo::new();
    for r in play(&repo, Some("cline"), &fixture("cline/cli-session.jsonl"), None) {
        assert_eq!(
            (r.code, r.stdout.trim(), r.stderr.as_str()),
            (0, r#"{"cancel":false}"#, "")
        );
    }
    let runs = runs_of(&repo);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run_id = runs[0]["run_id"].as_str().unwrap();
    let b = repo.bundle(run_id);
    assert_eq!(b["prompt_hash"], prompt_hash("Write a plan").as_str());
    assert_eq!(
        b["evidence"]["toolcall_ids"],
        serde_json::json!(["toolu_01A", "toolu_01W"])
    );
    assert_eq!(b["evidence"]["artifact_ids"], serde_json::json!(["plan.md"]));
    assert_eq!(failed_calls(&repo, run_id), [("toolu_01A".to_owned(), None)]);
}

#[test]
fn generic_lines() {
    let (repo, runs) = expect_session("generic", false, 1, &["build/out.bin"], "");
    assert_eq!(runs[0]["run_id"], "generic-run-1");
    let m = manifest(&repo, "generic-run-1");
    assert_eq!(m["step_ids"], serde_json::json!(["plan"]));
    assert_eq!(m["events"][2]["event_id"], "evt-1");
}

/// Each agent's session killed after its first tool request, then the same session replayed
/// under a new session id: the dead session's run is sealed, the new one is proven as usual.
#[test]
fn a_killed_session_of_each_agent_is_sealed_by_the_next() {
    for (agent, session_id, request, reply) in [
        (
            "claude-code",
            "3f1c9b2e-7a4d-4e1b-9c55-2b8e6d0a9f17",
            "\"PreToolUse\"",
            "",
        ),
        ("codex", "019d036d-c7fa-72d2-b6fd-78878bfe34e4", "\"PreToolUse\"", ""),
        ("cursor", "3b1f0c9e-6a2d-4c1e-9f3a-0d2b7c8e4a11", "\"preToolUse\"", "{}"),
        ("gemini", "8f14e45f-ceea-467a-9575-4f1a7e0b1c2d", "\"BeforeTool\"", ""),
        ("copilot", "3f0c2a9e-7b1d-4c55-9a43-5d2e8f1b6c70", "\"preToolUse\"", ""),
        ("cline", "1767225599876", "\"PreToolUse\"", r#"{"cancel":false}"#),
    ] {
        let repo = TestRepo::new();
        let session = fixture(&format!("{agent}/session.jsonl"));
        let until = session.find(request).unwrap();
        let killed = &session[..session[until..].find('\n').unwrap() + until + 1];
        play(&repo, Some(agent), killed, None);
        let dead = runs_of(&repo);
        assert_eq!(dead.len(), 1, "{agent}");
        let dead = dead[0]["run_id"].as_str().unwrap().to_owned();
        let replies = play(&repo, Some(agent), &session.replace(session_id, "new-session"), None);
        for r in replies {
            assert_eq!((r.code, r.stdout.trim(), r.stderr.as_str()), (0, reply, ""), "{agent}");
        }
        let sealed = repo.bundle(&dead);
        assert_eq!(sealed["run_status"], "failed", "{agent}");
        assert_eq!(sealed["exit_code"], -1, "{agent}");
        assert_eq!(
            sealed["evidence"]["completeness"]["terminal_event_present"], false,
            "{agent}"
        );
        assert_eq!(
            sealed["evidence"]["completeness"]["all_toolcalls_terminal"], false,
            "{agent}"
        );
        let runs = runs_of(&repo);
        assert!(runs.len() >= 2, "{agent}: {runs:#?}");
        assert!(runs.iter().all(|r| r["state"] == "ended"), "{agent}: {runs:#?}");
        let next = repo.bundle(runs[1]["run_id"].as_str().unwrap());
        assert_eq!(next["evidence"]["correlation_id"], "new-session", "{agent}");
        assert_eq!(
            next["evidence"]["completeness"]["terminal_event_present"], true,
            "{agent}"
        );
    }
}

#[test]
fn claude_code_finds_its_project_when_the_shell_left_it() {
    // The shell `cd`'d out of the repository: the payload's cwd is elsewhere, as is the hook's
    // own working directory; CLAUDE_PROJECT_DIR still names the project.
    let repo = TestRepo::new();
    let elsewhere = repo.home().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let cwd = elsewhere.to_str().unwrap();
    for payload in [
        format!(r#"{{"session_id":"s","cwd":"{cwd}","hook_event_name":"UserPromptSubmit","prompt":"hi"}}"#),
        format!(r#"{{"session_id":"s","cwd":"{cwd}","hook_event_name":"Stop","stop_hook_active":false}}"#),
    ] {
        let mut cmd = repo.proof_cmd_in(&elsewhere, &["ingest", "--agent", "claude-code"]);
        cmd.env("CLAUDE_PROJECT_DIR", &repo.root);
        let out = crate::common::run_with_input(cmd, payload.as_bytes());
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    }
    let runs = runs_of(&repo);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["state"], "ended");
}

#[test]
fn a_missing_post_tool_event_leaves_the_manifest_incomplete() {
    for (agent, post) in [
        ("claude-code", "\"PostToolUse\",\"tool_name\":\"Write\""),
        ("codex", "\"tool_response\":\"\""),
        ("cursor", "\"postToolUse\""),
        ("gemini", "\"returnDisplay\":{\"fileDiff\""),
        ("copilot", "\"toolResult\""),
        ("cline", "\"hookName\":\"PostToolUse\",\"timestamp\":\"1767225605420\""),
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

#[test]
fn gemini_hears_nothing_from_a_hook_even_when_it_fails() {
    // Gemini CLI shows a hook's stderr when its stdout is empty: problems stay out of its UI.
    let repo = TestRepo::new();
    let nowhere = repo.home().join("not-a-repo");
    std::fs::create_dir_all(&nowhere).unwrap();
    let payload = format!(
        r#"{{"session_id":"g","cwd":"{}","hook_event_name":"BeforeAgent","timestamp":"2026-01-01T00:00:00Z","prompt":"x"}}"#,
        nowhere.display()
    );
    for agent in [Some("gemini"), None] {
        let mut args = vec!["ingest"];
        args.extend(agent.map(|a| ["--agent", a]).into_iter().flatten());
        let out = crate::common::run_with_input(repo.proof_cmd_in(&nowhere, &args), payload.as_bytes());
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{agent:?}"
        );
    }
    // Claude Code gets its one line.
    let out = crate::common::run_with_input(
        repo.proof_cmd_in(&nowhere, &["ingest", "--agent", "claude-code"]),
        br#"{"session_id":"c","hook_event_name":"Stop"}"#,
    );
    assert_eq!(out.code, 0);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn copilot_running_claude_code_hooks_is_read_as_copilot() {
    // Copilot CLI runs .claude/settings.json hooks too, with COPILOT_CLI=1 and its
    // Claude-compatible payloads (snake_case, tool_result).
    let repo = TestRepo::new();
    let cwd = repo.root.to_str().unwrap();
    let base = format!(r#""session_id":"cp","timestamp":"2026-01-01T00:00:00.000Z","cwd":"{cwd}""#);
    for payload in [
        format!(r#"{{"hook_event_name":"UserPromptSubmit",{base},"prompt":"go"}}"#),
        format!(r#"{{"hook_event_name":"PreToolUse",{base},"tool_name":"Bash","tool_input":{{"command":"ls"}}}}"#),
        format!(
            r#"{{"hook_event_name":"PostToolUse",{base},"tool_name":"Bash","tool_input":{{"command":"ls"}},"tool_result":{{"result_type":"failure","text_result_for_llm":"no"}}}}"#
        ),
        format!(r#"{{"hook_event_name":"Stop",{base},"stop_reason":"end_turn","stop_hook_active":false}}"#),
    ] {
        let mut cmd = repo.proof_cmd(&["ingest", "--agent", "claude-code"]);
        cmd.env("COPILOT_CLI", "1");
        let out = crate::common::run_with_input(cmd, payload.as_bytes());
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (0, "", ""));
    }
    let runs = runs_of(&repo);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run_id = runs[0]["run_id"].as_str().unwrap();
    assert_eq!(runs[0]["state"], "ended");
    assert_eq!(failed_calls(&repo, run_id).len(), 1, "tool_result.result_type failure");
}

#[test]
fn a_session_in_a_worktree_records_there_whatever_its_project_dir_says() {
    // `claude -w` works in a worktree of the project but keeps the main checkout as
    // CLAUDE_PROJECT_DIR: the payload's own worktree is the session's.
    let repo = TestRepo::new();
    let wt = repo.home().join("wt");
    repo.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "w1"]);
    let send = |session: &str, cwd: &std::path::Path, event: &str| {
        let payload = format!(
            r#"{{"session_id":"{session}","cwd":"{}","hook_event_name":"{event}","prompt":"p"}}"#,
            cwd.display()
        );
        let mut cmd = repo.proof_cmd_in(cwd, &["ingest", "--agent", "claude-code"]);
        cmd.env("CLAUDE_PROJECT_DIR", &repo.root);
        let out = crate::common::run_with_input(cmd, payload.as_bytes());
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    };
    send("main", &repo.root, "UserPromptSubmit");
    send("wt", &wt, "UserPromptSubmit");
    let here = repo.proof(&["status", "--json"]).ok().json();
    let there = repo.proof_in(&wt, &["status", "--json"]).ok().json();
    assert_eq!(
        here["active_run"]["session_id"], "main",
        "not sealed by the other worktree's session"
    );
    assert_eq!(there["active_run"]["session_id"], "wt");
}

#[test]
fn two_sessions_in_one_worktree_never_put_their_work_in_each_others_runs() {
    let repo = TestRepo::new();
    let cwd = repo.root.to_str().unwrap();
    let send = |session: &str, event: &str, id: &str| {
        let payload = format!(
            r#"{{"session_id":"{session}","cwd":"{cwd}","hook_event_name":"{event}","prompt":"x{session}","tool_name":"Bash","tool_input":{{}},"tool_use_id":"{id}","tool_response":{{}}}}"#
        );
        ingest(&repo, Some("claude-code"), payload).ok();
    };
    send("A", "UserPromptSubmit", "");
    send("B", "UserPromptSubmit", "");
    send("A", "PreToolUse", "A-t1");
    send("A", "PostToolUse", "A-t1");
    send("B", "Stop", "");
    let runs = runs_of(&repo);
    let b = runs
        .iter()
        .find(|r| r["proof"].is_object() && r["ending"] == "exited")
        .unwrap();
    let bundle = repo.bundle(b["run_id"].as_str().unwrap());
    assert_eq!(bundle["evidence"]["correlation_id"], "B");
    assert_eq!(
        bundle["evidence"]["toolcall_ids"],
        serde_json::json!([]),
        "A's call is not B's"
    );
    let log = std::fs::read_to_string(repo.path(".git/proof/logs/ingest-rejected.log")).unwrap();
    assert!(log.contains("give each agent session its own worktree"), "{log}");
}
