//! Agent hook payloads mapped to run events (`git proof ingest`).
//!
//! Each agent's payload (see `shared/agent-hooks.md`) is normalized into a few [`Action`]s:
//! a turn starts (its prompt digested, never stored), tool calls are requested and end,
//! files are written, a turn ends. Text from the agent (prompts, tool input and output) only
//! ever appears as a `sha256:` digest and a byte count. Parsing is lenient: unknown fields are
//! ignored, and only what an action needs is required.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::canon;
use crate::evidence::EventType;
use crate::run::{self, FinishOptions, Proof, StartOptions, Workspace};
use crate::signing::SigningKey;
use crate::store::{Index, NewEvent};

/// The agents `ingest` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    ClaudeCode,
    Codex,
    Cursor,
    Gemini,
    Copilot,
    Cline,
    /// One JSON object `{run_id?, type, id?, data?}` per line.
    Generic,
}

impl Agent {
    /// Every agent, by its `--agent` name.
    pub const ALL: [(&'static str, Agent); 7] = [
        ("claude-code", Agent::ClaudeCode),
        ("codex", Agent::Codex),
        ("cursor", Agent::Cursor),
        ("gemini", Agent::Gemini),
        ("copilot", Agent::Copilot),
        ("cline", Agent::Cline),
        ("generic", Agent::Generic),
    ];

    /// Parses an `--agent` name.
    pub fn parse(name: &str) -> Option<Agent> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// The `--agent` name.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, a)| *a == self).map_or("generic", |(n, _)| n)
    }

    /// What the agent expects on stdout from a hook, whatever happened.
    pub fn hook_reply(self) -> &'static str {
        match self {
            Agent::Cursor => "{}",
            Agent::Cline => r#"{"cancel":false}"#,
            _ => "",
        }
    }

    /// Recognises the agent from a payload's shape (agent-hooks.md, "Agent detection").
    pub fn detect(payload: &Value) -> Agent {
        let has = |key: &str| payload.get(key).is_some();
        let transcript = payload.get("transcript_path");
        if has("clineVersion") || has("hookName") && has("taskId") {
            Agent::Cline
        } else if payload.get("type").and_then(Value::as_str) == Some("agent-turn-complete") {
            Agent::Codex
        } else if has("conversation_id") {
            Agent::Cursor
        } else if has("toolName") || has("sessionId") || payload.get("timestamp").is_some_and(Value::is_number) {
            Agent::Copilot
        } else if payload.get("timestamp").is_some_and(Value::is_string) {
            Agent::Gemini
        } else if has("turn_id")
            || transcript.is_some_and(Value::is_null)
            || transcript
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains("/.codex/"))
            || payload.get("hook_event_name").and_then(Value::as_str) == Some("Interrupt")
        {
            // Claude Code never sends turn_id, and its transcripts live under ~/.claude/.
            Agent::Codex
        } else if has("hook_event_name") {
            Agent::ClaudeCode
        } else {
            Agent::Generic
        }
    }

    /// The agent whose hook runs this process, as its environment tells: Copilot CLI also runs
    /// the hooks of `.claude/settings.json`, with `COPILOT_CLI=1`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Option<Agent> {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        if env("COPILOT_CLI").as_deref() == Some("1") {
            Some(Agent::Copilot)
        } else if set("GEMINI_SESSION_ID") || set("GEMINI_PROJECT_DIR") {
            Some(Agent::Gemini)
        } else if set("CURSOR_VERSION") || set("CURSOR_PROJECT_DIR") {
            Some(Agent::Cursor)
        } else {
            None
        }
    }

    /// The environment variables the agent sets to its project's root for hooks: the
    /// repository to record in, whatever directory the agent's shell has moved to.
    pub fn project_dir_vars(self) -> &'static [&'static str] {
        match self {
            Agent::ClaudeCode => &["CLAUDE_PROJECT_DIR"],
            Agent::Cursor => &["CURSOR_PROJECT_DIR", "CLAUDE_PROJECT_DIR"],
            Agent::Gemini => &["GEMINI_PROJECT_DIR"],
            Agent::Copilot => &["COPILOT_PROJECT_DIR", "CLAUDE_PROJECT_DIR"],
            Agent::Codex | Agent::Cline | Agent::Generic => &[],
        }
    }

    /// Whether the agent shows a hook's stderr to the user when its stdout is empty (Gemini
    /// does): then problems are recorded, never printed.
    pub fn shows_stderr(self) -> bool {
        self == Agent::Gemini
    }
}

/// What one payload means for the worktree's run.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A session begins: a run another session left open is sealed (its end never came).
    SessionStart,
    /// A turn begins: start a run (sealing a stale one first).
    TurnStart { prompt: Option<Vec<u8>> },
    /// An event for the current run.
    Event { event_type: EventType, data: Value },
    /// The turn is over: finish the run with this exit code.
    TurnEnd { exit_code: i32, reason: Option<String> },
    /// A named run starts (generic agent).
    StartRun { run_id: Option<String> },
    /// An event with the id its sender chose (generic agent).
    GenericEvent {
        event_type: EventType,
        event_id: Option<String>,
        data: Value,
    },
}

/// A payload, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub agent: Agent,
    /// The agent's session (conversation, task) id: the run's correlation and thread id.
    pub session_id: Option<String>,
    /// The directory the agent works in, when the payload says: its workspace root when it
    /// names one (Cursor, Cline), else its `cwd`.
    pub cwd: Option<PathBuf>,
    /// For the generic agent: the run the lines name.
    pub run_id: Option<String>,
    /// How tool calls are told apart.
    pub call_ids: CallIds,
    pub actions: Vec<Action>,
}

/// How a payload's tool calls are identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallIds {
    /// The agent names each call (Claude's `tool_use_id`, Codex's, Cursor's, the Cline CLI's).
    #[default]
    Given,
    /// The agent gives no id (Gemini, Copilot, the Cline extension): a call is known by its
    /// tool and input, and identical calls in one run are numbered in the order they come.
    ByContent,
}

/// Why a payload cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

/// Parses and normalizes one hook payload.
pub fn normalize(agent: Option<Agent>, payload: &[u8]) -> Result<Normalized, Rejected> {
    normalize_event(agent, None, payload)
}

/// [`normalize`], for a payload whose event its hook's command names (`ingest --event`):
/// Copilot's camelCase payloads do not name their own.
pub fn normalize_event(agent: Option<Agent>, event: Option<&str>, payload: &[u8]) -> Result<Normalized, Rejected> {
    let text = std::str::from_utf8(payload).map_err(|_| Rejected("the payload is not UTF-8".into()))?;
    // Windows agents may send a byte-order mark before the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if agent == Some(Agent::Generic) || agent.is_none() && looks_like_lines(text) {
        return generic(text);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| Rejected(format!("the payload is not JSON ({e})")))?;
    if !value.is_object() {
        return Err(Rejected("the payload is not a JSON object".into()));
    }
    let agent = agent.unwrap_or_else(|| Agent::detect(&value));
    let mut n = Normalized {
        agent,
        session_id: None,
        cwd: None,
        run_id: None,
        call_ids: CallIds::Given,
        actions: Vec::new(),
    };
    match agent {
        Agent::ClaudeCode | Agent::Codex if value.get("type").is_none() => hooks_claude_like(&value, &mut n),
        Agent::Codex => codex_notify(&value, &mut n),
        Agent::Cursor => cursor(&value, &mut n),
        Agent::Gemini => gemini(&value, &mut n),
        Agent::Copilot => copilot(&value, &mut n, event),
        Agent::Cline => cline(&value, &mut n),
        Agent::ClaudeCode => hooks_claude_like(&value, &mut n),
        // Handled above; a generic payload never reaches this match.
        Agent::Generic => return generic(text),
    }
    Ok(n)
}

fn looks_like_lines(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next();
    lines.next().is_some()
        || first.is_some_and(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v.get("type").is_some() && v.get("hook_event_name").is_none())
                && !l.contains("agent-turn-complete")
        })
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `sha256:` digest and size of a value: a string's bytes, or JSON's canonical bytes.
fn digest_of(v: &Value) -> (String, u64) {
    let bytes = match v {
        Value::String(s) => s.as_bytes().to_vec(),
        other => canon::to_jcs_vec(other).unwrap_or_default(),
    };
    (canon::prefixed_sha256(&bytes), bytes.len() as u64)
}

/// A stable id for a tool call from agents that give none: the same for its request and its
/// result, since both carry the same tool name and input.
fn synthetic_call_id(tool: &str, input: &Value) -> String {
    let (digest, _) = digest_of(&json!([tool, input]));
    format!("call-{}", &digest["sha256:".len().."sha256:".len() + 16])
}

/// The data of a toolcall event: ids, names, digests and sizes only.
fn toolcall_data(call_id: &str, tool: &str, input: Option<&Value>, output: Option<&Value>) -> Value {
    let mut data = Map::new();
    data.insert("toolcall_id".into(), call_id.into());
    data.insert("tool".into(), tool.into());
    for (name, value) in [("input", input), ("output", output)] {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            let (digest, size) = digest_of(value);
            data.insert(format!("{name}_digest"), digest.into());
            data.insert(format!("{name}_size"), size.into());
        }
    }
    Value::Object(data)
}

fn artifact(path: &str, tool_call: &str) -> Action {
    Action::Event {
        event_type: EventType::ArtifactCreated,
        data: json!({"artifact_id": path, "path": path, "toolcall_id": tool_call}),
    }
}

/// Paths a file-writing tool call wrote, from its input.
fn written_paths(tool: &str, input: &Value) -> Vec<String> {
    let lower = tool.to_ascii_lowercase();
    let path_keys = ["file_path", "path", "filePath", "target_file"];
    let writes = [
        "write",
        "edit",
        "multiedit",
        "notebookedit",
        "write_file",
        "replace",
        "create",
        "write_to_file",
        "replace_in_file",
        "str_replace",
        "create_file",
    ];
    if lower == "apply_patch" {
        // Codex: "*** Add File: p", "*** Update File: p", "*** Delete File: p".
        let text = input
            .get("command")
            .or(input.get("input"))
            .and_then(Value::as_str)
            .or(input.as_str());
        return text
            .map(|t| {
                t.lines()
                    .filter_map(|l| {
                        [
                            "*** Add File: ",
                            "*** Update File: ",
                            "*** Delete File: ",
                            "*** Move to: ",
                        ]
                        .iter()
                        .find_map(|p| l.strip_prefix(p))
                    })
                    .map(|p| p.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
    }
    if !writes.contains(&lower.as_str()) {
        return Vec::new();
    }
    path_keys
        .iter()
        .filter_map(|k| input.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .take(1)
        .collect()
}

/// One tool call as an agent's hook describes it.
struct ToolCall<'a> {
    id: String,
    tool: &'a str,
    /// The input as the agent sent it (digested, never kept).
    input: Option<&'a Value>,
    /// Files the call writes, read from its input.
    writes: Vec<String>,
    /// The subagent that made the call, when the agent says.
    subagent: Option<&'a str>,
}

impl<'a> ToolCall<'a> {
    /// `id`: the agent's call id, or `None` for agents that give none.
    fn new(id: Option<&str>, tool: Option<&'a str>, input: Option<&'a Value>, parsed_input: &Value) -> Self {
        let tool = tool.unwrap_or("tool");
        Self {
            id: id
                .map(str::to_owned)
                .unwrap_or_else(|| synthetic_call_id(tool, input.unwrap_or(&Value::Null))),
            tool,
            input,
            writes: written_paths(tool, parsed_input),
            subagent: None,
        }
    }

    fn data(&self, output: Option<&Value>) -> Value {
        let mut data = toolcall_data(&self.id, self.tool, self.input, output);
        if let Some(subagent) = self.subagent {
            data["subagent_id"] = subagent.into();
        }
        data
    }

    fn requested(&self) -> Action {
        Action::Event {
            event_type: EventType::ToolcallRequested,
            data: self.data(None),
        }
    }

    /// The call's end: completed (with an artifact per file it wrote) or failed. `extra` adds
    /// pointer fields (exit codes, durations) to the event.
    fn ended(&self, ok: bool, output: Option<&Value>, extra: &[(&str, Value)]) -> Vec<Action> {
        let mut data = self.data(output);
        for (key, value) in extra.iter().filter(|(_, v)| !v.is_null()) {
            data[*key] = value.clone();
        }
        let event_type = if ok {
            EventType::ToolcallCompleted
        } else {
            EventType::ToolcallFailed
        };
        let mut actions = vec![Action::Event { event_type, data }];
        if ok {
            actions.extend(self.writes.iter().map(|path| artifact(path, &self.id)));
        }
        actions
    }
}

fn turn_start(prompt: Option<&str>) -> Action {
    Action::TurnStart {
        prompt: prompt.map(|p| p.as_bytes().to_vec()),
    }
}

fn turn_end(exit_code: i32, reason: Option<String>) -> Action {
    Action::TurnEnd { exit_code, reason }
}

/// The exit code a tool's text reports, in the forms the agents print it: Claude's `error`
/// ("Exit code 1", "Command exited with non-zero status code 1"), Codex's output header
/// ("Exit code: 1", "Process exited with code 1"), Gemini's `llmContent` ("Exit Code: 1").
fn exit_code_in(text: &str) -> Option<i32> {
    let lower = text.to_ascii_lowercase();
    ["exit code", "status code", "exited with code"]
        .iter()
        .find_map(|marker| {
            let at = lower.find(marker)? + marker.len();
            let rest = lower[at..].trim_start_matches([' ', ':']);
            let end = rest
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || i == 0 && c == '-'))
                .map_or(rest.len(), |(i, _)| i);
            rest[..end].parse().ok()
        })
}

/// Tools that run a command: for them an unknown exit code is said to be unknown.
fn is_shell(tool: &str) -> bool {
    matches!(
        tool.to_ascii_lowercase().as_str(),
        "bash"
            | "shell"
            | "exec_command"
            | "run_shell_command"
            | "execute_command"
            | "run_commands"
            | "run_terminal_cmd"
    )
}

/// How a shell call ended, from what its agent reported: its exit code when the text gives one.
fn shell_outcome(call: &ToolCall<'_>, exit_code: Option<i32>) -> (bool, Vec<(&'static str, Value)>) {
    match exit_code {
        Some(code) => (code == 0, vec![("exit_code", code.into())]),
        None if is_shell(call.tool) => (true, vec![("exit_code_known", false.into())]),
        None => (true, Vec::new()),
    }
}

/// A directory named in a payload, if it names one (Cursor sends `"cwd": ""` on tool hooks).
fn dir_at(v: &Value, key: &str) -> Option<PathBuf> {
    str_at(v, key).filter(|s| !s.is_empty()).map(PathBuf::from)
}

fn first_root(v: &Value, key: &str) -> Option<PathBuf> {
    v.get(key)
        .and_then(|r| r.get(0))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// Claude Code, and Codex's hooks (the same shape).
fn hooks_claude_like(v: &Value, n: &mut Normalized) {
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
                Some(Value::String(text)) => shell_outcome(&call, exit_code_in(text)),
                // Claude: a Bash call that exits non-zero comes as PostToolUseFailure instead.
                _ => (true, Vec::new()),
            };
            extra.push(("duration_ms", v.get("duration_ms").cloned().unwrap_or(Value::Null)));
            n.actions.extend(call.ended(ok, response, &extra));
        }
        "PostToolUseFailure" => {
            let interrupted = v.get("is_interrupt").and_then(Value::as_bool).unwrap_or(false);
            let exit_code = str_at(v, "error").and_then(exit_code_in);
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
        "SessionEnd" => n.actions.push(turn_end(
            0,
            Some(format!("session ended ({})", str_at(v, "reason").unwrap_or("other"))),
        )),
        _ => {}
    }
}

/// Codex's legacy `notify`: one payload per finished turn, prompt included.
fn codex_notify(v: &Value, n: &mut Normalized) {
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

fn cursor(v: &Value, n: &mut Normalized) {
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

fn gemini(v: &Value, n: &mut Normalized) {
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
                .and_then(exit_code_in);
            let (ok, extra) = match exit_code {
                Some(code) => (code == 0, vec![("exit_code", code.into())]),
                None if is_shell(call.tool) && !failed => (true, vec![("exit_code", 0.into())]),
                None => (true, Vec::new()),
            };
            n.actions.extend(call.ended(ok && !failed, response, &extra));
        }
        "AfterAgent" => n.actions.push(turn_end(0, None)),
        "SessionEnd" => n.actions.push(turn_end(
            0,
            Some(format!("session ended ({})", str_at(v, "reason").unwrap_or("other"))),
        )),
        _ => {}
    }
}

/// Which Copilot CLI event a payload is: named by `--event` (camelCase payloads do not name
/// themselves), by `hookName`/`hook_event_name`, else guessed from its shape.
fn copilot_event<'a>(v: &'a Value, named: Option<&'a str>) -> &'a str {
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

fn copilot(v: &Value, n: &mut Normalized, named: Option<&str>) {
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
fn cline(v: &Value, n: &mut Normalized) {
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
fn generic(text: &str) -> Result<Normalized, Rejected> {
    let mut n = Normalized {
        agent: Agent::Generic,
        session_id: None,
        cwd: None,
        run_id: None,
        call_ids: CallIds::Given,
        actions: Vec::new(),
    };
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).map_err(|e| Rejected(format!("line {}: not a JSON object ({e})", i + 1)))?;
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

/// Records a payload that could not be used: an `ingest.rejected` event (digest and size,
/// never the text) in the worktree's active run, else a line in
/// `<common dir>/proof/logs/ingest-rejected.log`, so nothing is dropped silently.
pub fn record_rejection(
    ws: &Workspace,
    index: &mut Index,
    agent: Option<Agent>,
    payload: &[u8],
    reason: &str,
    now: jiff::Timestamp,
) -> Result<(), run::Error> {
    let data = json!({
        "agent": agent.map(Agent::name),
        "payload_digest": canon::prefixed_sha256(payload),
        "payload_size": payload.len(),
        "reason": reason,
    });
    if let Some(run_id) = index.active_run(&ws.worktree_key())? {
        index.append_event(
            &run_id,
            NewEvent {
                event_type: EventType::IngestRejected,
                event_id: None,
                occurred_at: run::format_time(now),
                data,
                idempotency_key: None,
            },
        )?;
        return Ok(());
    }
    let dir = crate::dod::logs_dir(&ws.common_dir);
    let line = json!({"at": run::format_time(now), "rejected": data}).to_string() + "\n";
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&dir)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("ingest-rejected.log"))?;
        file.write_all(line.as_bytes())
    };
    write().map_err(|source| run::Error::Lock {
        path: dir.join("ingest-rejected.log"),
        source,
    })
}

/// What applying a payload did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Runs started.
    pub started: Vec<String>,
    /// Proofs written (or found) by turn ends.
    pub finished: Vec<Proof>,
}

/// Applies a normalized payload to the worktree's runs: starts a run per turn, records events
/// into the active run (starting one if the agent is working without a turn start we saw),
/// and finishes the run at the turn's end (DoD checks recorded as pending: a hook must return
/// quickly). A stale run of the same session is finished as failed when the next turn starts.
pub fn apply(
    ws: &Workspace,
    index: &mut Index,
    n: &Normalized,
    key: Option<&SigningKey>,
    now: jiff::Timestamp,
) -> Result<Applied, run::Error> {
    let mut applied = Applied::default();
    let mut current = match &n.run_id {
        Some(id) => index.run(id).ok().map(|r| r.run_id),
        None => index.active_run(&ws.worktree_key())?,
    };
    let finish = |index: &mut Index, run_id: &str, exit_code: i32| -> Result<Proof, run::Error> {
        let key = key.ok_or(run::Error::Signing(crate::signing::Error::NoKey))?;
        run::finish(
            ws,
            index,
            run_id,
            FinishOptions {
                exit_code: Some(exit_code),
                run_dod: false,
                key,
            },
            now,
        )
    };
    // A run whose turn never reported its end, ended honestly: failed, no terminal event.
    let seal = |index: &mut Index, stale: &crate::store::RunRecord, next: Option<&str>| -> Result<Proof, run::Error> {
        let key = key.ok_or(run::Error::Signing(crate::signing::Error::NoKey))?;
        let was = stale.correlation_id.as_deref().unwrap_or("?");
        let reason = match next {
            Some(next) if next == was => {
                format!("the next turn of session {was} began before this turn reported its end")
            }
            Some(next) => {
                format!("session {next} began while this run of session {was} was open; its end was never reported")
            }
            None => format!("a new turn began while this run of session {was} was open; its end was never reported"),
        };
        run::seal(ws, index, &stale.run_id, &reason, key, now)
    };
    // Every run a payload starts is filed under the agent's session.
    let start = |index: &mut Index, run_id: Option<String>, prompt: Option<Vec<u8>>| -> Result<String, run::Error> {
        let options = StartOptions {
            run_id,
            prompt,
            correlation_id: n.session_id.clone(),
            thread_id: n.session_id.clone(),
            ..StartOptions::default()
        };
        Ok(run::start(ws, index, options, now)?.run_id)
    };
    // Calls known by content: the id each got in this payload, for the artifacts they wrote.
    let mut numbered: HashMap<String, String> = HashMap::new();
    for action in &n.actions {
        match action {
            Action::SessionStart => {
                if let Some(active) = &current {
                    let run = index.run(active)?;
                    if run.is_active() && run.correlation_id.is_some() && run.correlation_id != n.session_id {
                        // Another session's run, left open: that session is over.
                        applied.finished.push(seal(index, &run, n.session_id.as_deref())?);
                        current = None;
                    }
                }
            }
            Action::TurnStart { prompt } => {
                if let Some(active) = current.take() {
                    let run = index.run(&active)?;
                    if run.is_active() && run.correlation_id.is_none() {
                        // A run a person started (`git proof start`, `git proof run -- agent`):
                        // this turn's events belong to it, and it is theirs to end.
                        current = Some(active);
                        continue;
                    }
                    if run.is_active() && is_same_turn(index, &run, n, prompt.as_deref())? {
                        // The same prompt announced twice (Cline's TaskStart and
                        // UserPromptSubmit, Copilot's sessionStart and userPromptSubmitted).
                        current = Some(active);
                        continue;
                    }
                    if run.is_active() {
                        applied.finished.push(seal(index, &run, n.session_id.as_deref())?);
                    }
                }
                let run_id = start(index, None, prompt.clone())?;
                applied.started.push(run_id.clone());
                current = Some(run_id);
            }
            Action::StartRun { run_id } => {
                if run_id.as_ref().is_some_and(|id| index.run(id).is_ok()) {
                    current = run_id.clone();
                    continue;
                }
                let run_id = start(index, run_id.clone(), None)?;
                applied.started.push(run_id.clone());
                current = Some(run_id);
            }
            Action::Event { event_type, data } | Action::GenericEvent { event_type, data, .. } => {
                let run_id = match &current {
                    Some(id) => id.clone(),
                    None => {
                        // Hooks installed mid-turn, or an agent that announces no turn (Cursor's
                        // headless mode): the agent is working, so there is a run.
                        let run_id = start(index, None, None)?;
                        applied.started.push(run_id.clone());
                        current = Some(run_id.clone());
                        run_id
                    }
                };
                let event_id = match action {
                    Action::GenericEvent { event_id, .. } => event_id.clone(),
                    _ => None,
                };
                let mut data = data.clone();
                if n.call_ids == CallIds::ByContent {
                    number_call(index, &run_id, *event_type, &mut data, &mut numbered)?;
                }
                // A hook retried by its agent must not record the same tool call twice.
                let idempotency_key = data
                    .get("toolcall_id")
                    .and_then(Value::as_str)
                    .filter(|_| event_type.as_str().starts_with("toolcall."))
                    .map(|call| call_key(&run_id, *event_type, call));
                if *event_type == EventType::ArtifactCreated {
                    relativize_artifact(&mut data, &ws.workdir);
                }
                index.append_event(
                    &run_id,
                    NewEvent {
                        event_type: *event_type,
                        event_id,
                        occurred_at: run::format_time(now),
                        data,
                        idempotency_key,
                    },
                )?;
            }
            Action::TurnEnd { exit_code, .. } => {
                if let Some(run_id) = current.take() {
                    // A run someone started by hand is theirs to finish, not this agent's turn's.
                    let ours = n.agent == Agent::Generic || index.run(&run_id)?.correlation_id == n.session_id;
                    if ours {
                        applied.finished.push(finish(index, &run_id, *exit_code)?);
                    }
                }
            }
        }
    }
    Ok(applied)
}

/// The idempotency key of one tool-call event.
fn call_key(run_id: &str, event_type: EventType, call: &str) -> String {
    format!("{run_id}:{}:{call}", event_type.as_str())
}

/// Whether a turn start repeats the prompt that started the session's open run, before any of
/// its work was recorded.
fn is_same_turn(
    index: &Index,
    run: &crate::store::RunRecord,
    n: &Normalized,
    prompt: Option<&[u8]>,
) -> Result<bool, run::Error> {
    let same_session = run.correlation_id.is_some() && run.correlation_id == n.session_id;
    let same_prompt = match (prompt, &run.prompt_hash) {
        (Some(p), Some(hash)) => canon::prefixed_sha256(p) == *hash,
        (None, _) => true,
        (Some(_), None) => false,
    };
    Ok(same_session && same_prompt && index.event_count(&run.run_id)? == 1)
}

/// Numbers a call known only by its content (`call-<digest>`): the n-th identical request of a
/// run is `call-<digest>.n`, and a result ends the oldest identical request still open. Its
/// artifacts take the number its result got.
fn number_call(
    index: &Index,
    run_id: &str,
    event_type: EventType,
    data: &mut Value,
    numbered: &mut HashMap<String, String>,
) -> Result<(), run::Error> {
    let Some(base) = data.get("toolcall_id").and_then(Value::as_str).map(str::to_owned) else {
        return Ok(());
    };
    let has = |kind: EventType, id: &str| index.has_event_key(&call_key(run_id, kind, id));
    let id = match event_type {
        EventType::ArtifactCreated => match numbered.get(&base) {
            Some(id) => id.clone(),
            None => return Ok(()),
        },
        EventType::ToolcallRequested => {
            let mut k = 1;
            while has(EventType::ToolcallRequested, &format!("{base}.{k}"))? {
                k += 1;
            }
            format!("{base}.{k}")
        }
        EventType::ToolcallCompleted | EventType::ToolcallFailed => {
            // Requests are numbered from 1 in order, so the first number not yet ended is the
            // oldest open request (or, with none open, a result whose request was not seen).
            let mut k = 1;
            loop {
                let id = format!("{base}.{k}");
                if !(has(EventType::ToolcallCompleted, &id)? || has(EventType::ToolcallFailed, &id)?) {
                    break id;
                }
                k += 1;
            }
        }
        _ => return Ok(()),
    };
    numbered.insert(base, id.clone());
    data["toolcall_id"] = id.into();
    Ok(())
}

/// Agents name files by absolute path; the proof names them as git does, relative to the
/// worktree (paths outside it stay as they are).
fn relativize_artifact(data: &mut Value, workdir: &std::path::Path) {
    for key in ["path", "artifact_id"] {
        if let Some(path) = data.get(key).and_then(Value::as_str)
            && let Ok(relative) = std::path::Path::new(path).strip_prefix(workdir)
        {
            data[key] = relative.to_string_lossy().into_owned().into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_agents_by_shape() {
        let cases = [
            (r#"{"clineVersion":"3","hookName":"PostToolUse"}"#, Agent::Cline),
            (r#"{"type":"agent-turn-complete","thread-id":"t"}"#, Agent::Codex),
            (r#"{"conversation_id":"c","hook_event_name":"stop"}"#, Agent::Cursor),
            (r#"{"timestamp":1704614700000,"toolName":"bash"}"#, Agent::Copilot),
            (
                r#"{"timestamp":"2025-12-01T10:30:00Z","hook_event_name":"BeforeTool"}"#,
                Agent::Gemini,
            ),
            (
                r#"{"turn_id":"1","model":"gpt","hook_event_name":"Stop"}"#,
                Agent::Codex,
            ),
            (r#"{"session_id":"s","hook_event_name":"Stop"}"#, Agent::ClaudeCode),
            // Codex's SessionStart has no turn_id, its SessionEnd no model either.
            (
                r#"{"session_id":"s","transcript_path":"/h/.codex/sessions/r.jsonl","hook_event_name":"SessionStart"}"#,
                Agent::Codex,
            ),
            (
                r#"{"session_id":"s","transcript_path":null,"hook_event_name":"SessionEnd"}"#,
                Agent::Codex,
            ),
            (r#"{"session_id":"s","hook_event_name":"Interrupt"}"#, Agent::Codex),
            (
                r#"{"session_id":"s","transcript_path":"/h/.claude/projects/x.jsonl","hook_event_name":"SessionStart"}"#,
                Agent::ClaudeCode,
            ),
            (
                r#"{"sessionId":"s","timestamp":1,"stopReason":"end_turn"}"#,
                Agent::Copilot,
            ),
            (r#"{"sessionId":"s","cwd":"/r","reason":"user_exit"}"#, Agent::Copilot),
        ];
        for (payload, agent) in cases {
            assert_eq!(
                Agent::detect(&serde_json::from_str(payload).unwrap()),
                agent,
                "{payload}"
            );
        }
    }

    #[test]
    fn text_is_digested_never_kept() {
        let payload = br#"{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"t1","tool_input":{"command":"cat secret.txt"},"tool_response":{"stdout":"hunter2","exit_code":0}}"#;
        let n = normalize(Some(Agent::ClaudeCode), payload).unwrap();
        let text = format!("{:?}", n.actions);
        assert!(!text.contains("hunter2") && !text.contains("secret.txt"), "{text}");
        let Action::Event { event_type, data } = &n.actions[0] else {
            panic!()
        };
        assert_eq!(*event_type, EventType::ToolcallCompleted);
        assert_eq!(data["toolcall_id"], "t1");
        assert!(data["output_digest"].as_str().unwrap().starts_with("sha256:"));
    }

    #[test]
    fn codex_patch_paths_become_artifacts() {
        let input =
            json!({"command": "*** Begin Patch\n*** Update File: src/a.rs\n@@\n*** Add File: b.txt\n*** End Patch"});
        assert_eq!(written_paths("apply_patch", &input), ["src/a.rs", "b.txt"]);
        assert_eq!(written_paths("Write", &json!({"file_path": "x"})), ["x"]);
        assert!(written_paths("Read", &json!({"file_path": "x"})).is_empty());
    }

    #[test]
    fn exit_codes_in_the_agents_own_words() {
        for (text, code) in [
            ("Exit code 101\nerror: could not compile", Some(101)),
            ("Command exited with non-zero status code 1", Some(1)),
            ("Exit code: 0\nWall time: 0 seconds\nOutput:\n", Some(0)),
            ("Process exited with code 2", Some(2)),
            (
                "<untrusted_context>\nOutput: x\nExit Code: 127\nProcess Group PGID: 9\n",
                Some(127),
            ),
            ("Exit code: -1", Some(-1)),
            ("all tests passed", None),
            ("exit code: none", None),
        ] {
            assert_eq!(exit_code_in(text), code, "{text:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_payload() {
        let n = normalize(
            None,
            "\u{feff}{\"session_id\":\"s\",\"hook_event_name\":\"Stop\"}".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            n.actions,
            [Action::TurnEnd {
                exit_code: 0,
                reason: None
            }]
        );
    }

    #[test]
    fn bad_payloads_are_rejected_with_a_reason() {
        assert!(normalize(None, b"{\"truncated\": ").is_err());
        assert!(normalize(None, &[0xff, 0xfe]).is_err());
        assert!(normalize(Some(Agent::ClaudeCode), b"[1,2]").is_err());
        assert!(normalize(Some(Agent::Generic), b"{\"type\":\"nope\"}").is_err());
    }
}
