//! Each agent's payloads, read into [`Normalized`] actions.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::tool::{ExitLine, ToolCall, artifact, exit_code_in, is_shell, shell_outcome, str_at};
use super::{Action, Agent, CallIds, Normalized, Rejected};
use crate::evidence::EventType;

pub(super) fn turn_start(prompt: Option<&str>) -> Action {
    Action::TurnStart {
        prompt: prompt.map(|p| p.as_bytes().to_vec()),
    }
}

pub(super) fn turn_end(exit_code: i32, reason: Option<String>) -> Action {
    Action::TurnEnd { exit_code, reason }
}

fn session_end(v: &Value) -> Action {
    Action::SessionEnd {
        reason: str_at(v, "reason").unwrap_or("other").to_owned(),
    }
}

/// A directory named in a payload, if it names one (Cursor sends `"cwd": ""` on tool hooks).
pub(super) fn dir_at(v: &Value, key: &str) -> Option<PathBuf> {
    str_at(v, key).filter(|s| !s.is_empty()).map(PathBuf::from)
}

pub(super) fn first_root(v: &Value, key: &str) -> Option<PathBuf> {
    v.get(key)
        .and_then(|r| r.get(0))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// Claude Code, and Codex's hooks (the same shape).
pub(super) fn hooks_claude_like(v: &Value, n: &mut Normalized) {
    n.session_id = str_at(v, "session_id").map(str::to_owned);
    n.cwd = dir_at(v, "cwd");
    let input = v.get("tool_input");
    let mut call = ToolCall::new(
        str_at(v, "tool_use_id"),
        str_at(v, "tool_name"),
        input,
        input.unwrap_or(&Value::Null),
    );
    // A subagent's calls are the turn's, under the parent's session id.
    call.subagent = str_at(v, "agent_id");
    match str_at(v, "hook_event_name").unwrap_or_default() {
        "SessionStart" => n.actions.push(Action::SessionStart),
        "UserPromptSubmit" => n.actions.push(turn_start(str_at(v, "prompt"))),
        "PreToolUse" => n.actions.push(call.requested()),
        "PostToolUse" => {
            let response = v.get("tool_response");
            let (ok, mut extra) = match response {
                // Codex: the command's output as text, its exit code in a header when there is one.
                Some(Value::String(text)) => shell_outcome(&call, exit_code_in(text, ExitLine::Header)),
                // Claude: a Bash call that exits non-zero comes as PostToolUseFailure instead.
                _ => (true, Vec::new()),
            };
            extra.push(("duration_ms", v.get("duration_ms").cloned().unwrap_or(Value::Null)));
            n.actions.extend(call.ended(ok, response, &extra));
        }
        "PostToolUseFailure" => {
            let interrupted = v.get("is_interrupt").and_then(Value::as_bool).unwrap_or(false);
            let exit_code = str_at(v, "error")
                .filter(|_| is_shell(call.tool))
                .and_then(|e| exit_code_in(e, ExitLine::First));
            let extra = [
                ("interrupted", interrupted.into()),
                ("exit_code", exit_code.into()),
                ("duration_ms", v.get("duration_ms").cloned().unwrap_or(Value::Null)),
            ];
            n.actions.extend(call.ended(false, v.get("error"), &extra));
        }
        "Stop" => n.actions.push(turn_end(0, None)),
        "StopFailure" => n.actions.push(turn_end(
            1,
            Some(str_at(v, "error").unwrap_or("turn failed").to_owned()),
        )),
        // Codex: the user interrupted the turn; no Stop follows.
        "Interrupt" => n.actions.push(turn_end(130, Some("turn interrupted".into()))),
        "SessionEnd" => n.actions.push(session_end(v)),
        _ => {}
    }
}

/// Codex's legacy `notify`: one payload per finished turn, prompt included.
pub(super) fn codex_notify(v: &Value, n: &mut Normalized) {
    n.session_id = str_at(v, "thread-id").map(str::to_owned);
    n.cwd = dir_at(v, "cwd");
    if str_at(v, "type") != Some("agent-turn-complete") {
        return;
    }
    let prompt = v
        .get("input-messages")
        .and_then(Value::as_array)
        .map(|messages| messages.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"));
    n.actions.push(turn_start(prompt.as_deref()));
    n.actions.push(turn_end(0, None));
}

pub(super) fn cursor(v: &Value, n: &mut Normalized) {
    n.session_id = str_at(v, "conversation_id")
        .or(str_at(v, "session_id"))
        .map(str::to_owned);
    n.cwd = first_root(v, "workspace_roots").or_else(|| dir_at(v, "cwd"));
    let input = v.get("tool_input");
    // Cursor's call ids are two ids on two lines ("call_…\nctc_…").
    let id = str_at(v, "tool_use_id").map(|id| id.replace(['\n', '\r'], ":"));
    // Cursor reports file writes in afterFileEdit, not through its tool hooks.
    let call = ToolCall::new(id.as_deref(), str_at(v, "tool_name"), input, &Value::Null);
    match str_at(v, "hook_event_name").unwrap_or_default() {
        "sessionStart" => n.actions.push(Action::SessionStart),
        "beforeSubmitPrompt" => n.actions.push(turn_start(str_at(v, "prompt"))),
        "preToolUse" => n.actions.push(call.requested()),
        "postToolUse" => {
            // A shell call's output is a JSON string `{"output", "exitCode"}`.
            let exit_code = str_at(v, "tool_output")
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .and_then(|o| o.get("exitCode").and_then(Value::as_i64))
                .and_then(|c| i32::try_from(c).ok());
            let (ok, extra) = shell_outcome(&call, exit_code);
            n.actions.extend(call.ended(ok, v.get("tool_output"), &extra));
        }
        "postToolUseFailure" => n.actions.extend(call.ended(false, v.get("error_message"), &[])),
        "afterFileEdit" => {
            if let Some(path) = str_at(v, "file_path") {
                n.actions.push(artifact(path, "afterFileEdit"));
            }
        }
        "stop" => {
            let status = str_at(v, "status").unwrap_or("completed");
            let failed = status != "completed";
            n.actions.push(turn_end(
                i32::from(failed),
                failed.then(|| format!("stop status {status}")),
            ));
        }
        // Headless `agent -p` sends no prompt or stop hook: its session's end is the turn's.
        "sessionEnd" => {
            let status = str_at(v, "final_status").or(str_at(v, "reason")).unwrap_or("completed");
            let failed = !matches!(status, "completed" | "complete" | "user_close" | "");
            n.actions
                .push(turn_end(i32::from(failed), Some(format!("session ended ({status})"))));
        }
        _ => {}
    }
}

pub(super) fn gemini(v: &Value, n: &mut Normalized) {
    n.session_id = str_at(v, "session_id").map(str::to_owned);
    n.cwd = dir_at(v, "cwd");
    n.call_ids = CallIds::ByContent;
    let input = v.get("tool_input");
    let call = ToolCall::new(None, str_at(v, "tool_name"), input, input.unwrap_or(&Value::Null));
    match str_at(v, "hook_event_name").unwrap_or_default() {
        "SessionStart" => n.actions.push(Action::SessionStart),
        "BeforeAgent" => n.actions.push(turn_start(str_at(v, "prompt"))),
        "BeforeTool" => n.actions.push(call.requested()),
        "AfterTool" => {
            let response = v.get("tool_response");
            let failed = response.and_then(|r| r.get("error")).is_some_and(|e| !e.is_null());
            // A shell command that exits non-zero sets no error: its llmContent says "Exit Code: N".
            let exit_code = response
                .and_then(|r| str_at(r, "llmContent"))
                .filter(|_| is_shell(call.tool))
                .and_then(|t| exit_code_in(t, ExitLine::Last));
            let (ok, extra) = match exit_code {
                Some(code) => (code == 0, vec![("exit_code", code.into())]),
                None if is_shell(call.tool) && !failed => (true, vec![("exit_code", 0.into())]),
                None => (true, Vec::new()),
            };
            n.actions.extend(call.ended(ok && !failed, response, &extra));
        }
        "AfterAgent" => n.actions.push(turn_end(0, None)),
        "SessionEnd" => n.actions.push(session_end(v)),
        _ => {}
    }
}

/// Which Copilot CLI event a payload is: named by `--event` (camelCase payloads do not name
/// themselves), by `hookName`/`hook_event_name`, else guessed from its shape.
pub(super) fn copilot_event<'a>(v: &'a Value, named: Option<&'a str>) -> &'a str {
    if let Some(event) = named.or(str_at(v, "hookName")).or(str_at(v, "hook_event_name")) {
        return event;
    }
    let has = |key: &str| v.get(key).is_some();
    if has("toolResult") {
        "postToolUse"
    } else if has("toolName") && v.get("error").is_some_and(Value::is_string) {
        "postToolUseFailure"
    } else if has("toolInput") {
        "permissionRequest"
    } else if has("toolName") {
        "preToolUse"
    } else if has("stopReason") && has("agentName") {
        "subagentStop"
    } else if has("stopReason") {
        "agentStop"
    } else if has("source") {
        "sessionStart"
    } else if has("prompt") {
        "userPromptSubmitted"
    } else if has("reason") {
        "sessionEnd"
    } else {
        ""
    }
}

pub(super) fn copilot(v: &Value, n: &mut Normalized, named: Option<&str>) {
    n.session_id = str_at(v, "sessionId").or(str_at(v, "session_id")).map(str::to_owned);
    n.cwd = dir_at(v, "cwd");
    n.call_ids = CallIds::ByContent;
    // toolArgs: a JSON string up to 1.0.8x (raw text for freeform tools), an object since;
    // the PascalCase (Claude-compatible) payloads send tool_input.
    let args_sent = v.get("toolArgs").or(v.get("tool_input"));
    let args: Value = match args_sent {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    let tool = str_at(v, "toolName").or(str_at(v, "tool_name"));
    let call = ToolCall::new(None, tool, args_sent, &args);
    match copilot_event(v, named) {
        // The first prompt comes twice, here and in userPromptSubmitted: the turn starts there.
        "sessionStart" | "SessionStart" => n.actions.push(Action::SessionStart),
        "userPromptSubmitted" | "UserPromptSubmit" => n.actions.push(turn_start(str_at(v, "prompt"))),
        "preToolUse" | "PreToolUse" => n.actions.push(call.requested()),
        "postToolUse" | "PostToolUse" => {
            let result = v.get("toolResult").or(v.get("tool_result"));
            let kind = result
                .and_then(|r| str_at(r, "resultType").or(str_at(r, "result_type")))
                .unwrap_or("success");
            n.actions
                .extend(call.ended(kind == "success", result, &[("result_type", kind.into())]));
        }
        "postToolUseFailure" | "PostToolUseFailure" => n.actions.extend(call.ended(false, v.get("error"), &[])),
        // The end of every main-agent turn (stopReason "end_turn").
        "agentStop" | "Stop" => n.actions.push(turn_end(0, None)),
        // Once per session interactively, once per turn with -p: ends a turn agentStop did not.
        "sessionEnd" | "SessionEnd" => {
            let reason = str_at(v, "reason").unwrap_or("complete");
            let failed = !matches!(reason, "complete" | "user_exit");
            n.actions
                .push(turn_end(i32::from(failed), Some(format!("session ended ({reason})"))));
        }
        // permissionRequest asks before a call the preToolUse hook reports; subagents'
        // lifecycle, notifications and compaction are not tool calls.
        _ => {}
    }
}

/// Cline: the VS Code extension's PascalCase hooks, and the Cline CLI/SDK's snake_case events
/// sent to the same hook files.
pub(super) fn cline(v: &Value, n: &mut Normalized) {
    n.session_id = str_at(v, "taskId").map(str::to_owned);
    n.cwd = first_root(v, "workspaceRoots").or_else(|| v.get("workspaceInfo").and_then(|w| dir_at(w, "rootPath")));
    let hook = str_at(v, "hookName").unwrap_or_default();
    let cli_call = v.get("tool_call").or(v.get("tool_result"));
    if cli_call.is_none() {
        // The extension gives no call ids.
        n.call_ids = CallIds::ByContent;
    }
    // The extension's event object is named after it in camelCase (PostToolUse: postToolUse);
    // the CLI sends the extension's objects too, under the names of the files it runs.
    let body_key = match hook {
        "tool_call" => "preToolUse".to_owned(),
        "tool_result" => "postToolUse".to_owned(),
        "prompt_submit" => "userPromptSubmit".to_owned(),
        _ => {
            let mut chars = hook.chars();
            chars
                .next()
                .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    };
    let body = v.get(&body_key).unwrap_or(&Value::Null);
    // The CLI's raw call (id, name, input object) is better than the stringified parameters.
    let params = cli_call.and_then(|c| c.get("input")).or(body.get("parameters"));
    let tool = cli_call.and_then(|c| str_at(c, "name")).or(str_at(body, "toolName"));
    let id = cli_call.and_then(|c| str_at(c, "id"));
    let mut call = ToolCall::new(id, tool, params, params.unwrap_or(&Value::Null));
    call.subagent = str_at(v, "parent_agent_id").and(str_at(v, "agent_id"));
    match hook {
        // Both fire for a prompt (the first only, before 4.0; every one since): the turn
        // starts with the prompt, and a repeat of it is the same turn.
        "TaskStart" => n.actions.push(turn_start(
            body.get("taskMetadata")
                .and_then(|m| str_at(m, "initialTask"))
                .filter(|t| !t.is_empty()),
        )),
        "UserPromptSubmit" | "prompt_submit" => n.actions.push(turn_start(str_at(body, "prompt"))),
        "agent_start" | "agent_resume" => n.actions.push(Action::SessionStart),
        "PreToolUse" | "tool_call" => n.actions.push(call.requested()),
        "PostToolUse" | "tool_result" => {
            // The extension's JSON omits false values: no `success` is a failure.
            let ok = body.get("success").and_then(Value::as_bool).unwrap_or(false)
                && v.get("tool_result")
                    .and_then(|r| r.get("error"))
                    .is_none_or(Value::is_null);
            let duration = body.get("executionTimeMs").cloned().unwrap_or(Value::Null);
            n.actions
                .extend(call.ended(ok, body.get("result"), &[("duration_ms", duration)]));
        }
        "TaskComplete" | "agent_end" => n.actions.push(turn_end(0, None)),
        "TaskCancel" | "agent_abort" => n.actions.push(turn_end(1, Some("task cancelled".into()))),
        "agent_error" => n.actions.push(turn_end(1, Some("agent error".into()))),
        _ => {}
    }
}

/// `{run_id?, type, id?, data?}` per line: `run.started` starts, `run.completed`/`run.failed`
/// finish (`data.exit_code`), anything else is an event of that type.
pub(super) fn generic(text: &str) -> Result<Normalized, Rejected> {
    let mut n = Normalized {
        agent: Agent::Generic,
        session_id: None,
        cwd: None,
        run_id: None,
        call_ids: CallIds::Given,
        actions: Vec::new(),
    };
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = crate::canon::parse_i_json(line)
            .map_err(|e| Rejected(format!("line {}: not an I-JSON object ({e})", i + 1)))?;
        let kind = str_at(&v, "type").ok_or_else(|| Rejected(format!("line {}: no \"type\"", i + 1)))?;
        if let Some(run) = str_at(&v, "run_id") {
            match &n.run_id {
                Some(existing) if existing != run => {
                    return Err(Rejected(format!("line {}: a second run id in one payload", i + 1)));
                }
                _ => n.run_id = Some(run.to_owned()),
            }
        }
        let data = v.get("data").cloned().unwrap_or(Value::Object(Map::new()));
        crate::evidence::check_pointers(&data).map_err(|why| Rejected(format!("line {}: {why}", i + 1)))?;
        let event_id = str_at(&v, "id").map(str::to_owned);
        let event_type =
            EventType::parse(kind).ok_or_else(|| Rejected(format!("line {}: unknown event type '{kind}'", i + 1)))?;
        n.actions.push(match event_type {
            EventType::RunStarted => Action::StartRun {
                run_id: n.run_id.clone(),
            },
            EventType::RunCompleted | EventType::RunFailed => {
                let default = i64::from(event_type == EventType::RunFailed);
                let code = data.get("exit_code").and_then(Value::as_i64).unwrap_or(default);
                Action::TurnEnd {
                    exit_code: i32::try_from(code).unwrap_or(1),
                    reason: None,
                }
            }
            EventType::EvidenceManifestCreated => {
                return Err(Rejected(format!(
                    "line {}: '{kind}' is recorded by git proof itself",
                    i + 1
                )));
            }
            _ => Action::GenericEvent {
                event_type,
                event_id,
                data,
            },
        });
    }
    Ok(n)
}
