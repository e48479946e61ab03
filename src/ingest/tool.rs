//! What the agents' payloads say of tool calls: ids, digests, the files a call writes, how it
//! ended.

use serde_json::{Map, Value, json};

use super::Action;
use crate::canon;
use crate::evidence::EventType;

pub(super) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `sha256:` digest and size of a value: a string's bytes, or JSON's canonical bytes.
pub(super) fn digest_of(v: &Value) -> (String, u64) {
    let bytes = match v {
        Value::String(s) => s.as_bytes().to_vec(),
        other => canon::to_jcs_vec(other).unwrap_or_default(),
    };
    (canon::prefixed_sha256(&bytes), bytes.len() as u64)
}

/// A stable id for a tool call from agents that give none: the same for its request and its
/// result, since both carry the same tool name and input.
pub(super) fn synthetic_call_id(tool: &str, input: &Value) -> String {
    let (digest, _) = digest_of(&json!([tool, input]));
    format!("call-{}", &digest["sha256:".len().."sha256:".len() + 16])
}

/// The data of a toolcall event: ids, names, digests and sizes only.
pub(super) fn toolcall_data(call_id: &str, tool: &str, input: Option<&Value>, output: Option<&Value>) -> Value {
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

pub(super) fn artifact(path: &str, tool_call: &str) -> Action {
    Action::Event {
        event_type: EventType::ArtifactCreated,
        data: json!({"artifact_id": path, "path": path, "toolcall_id": tool_call}),
    }
}

/// Paths a file-writing tool call wrote, from its input.
pub(super) fn written_paths(tool: &str, input: &Value) -> Vec<String> {
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
pub(super) struct ToolCall<'a> {
    pub(super) id: String,
    pub(super) tool: &'a str,
    /// The input as the agent sent it (digested, never kept).
    pub(super) input: Option<&'a Value>,
    /// Files the call writes, read from its input.
    pub(super) writes: Vec<String>,
    /// The subagent that made the call, when the agent says.
    pub(super) subagent: Option<&'a str>,
}

impl<'a> ToolCall<'a> {
    /// `id`: the agent's call id, or `None` for agents that give none.
    pub(super) fn new(id: Option<&str>, tool: Option<&'a str>, input: Option<&'a Value>, parsed_input: &Value) -> Self {
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

    pub(super) fn requested(&self) -> Action {
        Action::Event {
            event_type: EventType::ToolcallRequested,
            data: self.data(None),
        }
    }

    /// The call's end: completed (with an artifact per file it wrote) or failed. `extra` adds
    /// pointer fields (exit codes, durations) to the event.
    pub(super) fn ended(&self, ok: bool, output: Option<&Value>, extra: &[(&str, Value)]) -> Vec<Action> {
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

/// Where in a tool's text its agent writes the exit code, so that output which merely mentions
/// one ("expected exit code: 0") cannot stand for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExitLine {
    /// Claude Code's `error`: its first line ("Exit code 101",
    /// "Command exited with non-zero status code 1").
    First,
    /// Codex's output header, the lines before "Output:" ("Exit code: 1",
    /// "Process exited with code 1").
    Header,
    /// Gemini's `llmContent`: the last "Exit Code: N" line, after the command's output.
    Last,
}

/// The exit code a tool's text reports, read only where its agent writes it.
pub(super) fn exit_code_in(text: &str, at: ExitLine) -> Option<i32> {
    let text = text.trim_start_matches("<untrusted_context>").trim_start();
    let lines: Vec<&str> = match at {
        ExitLine::First => text.lines().take(1).collect(),
        ExitLine::Header => text.lines().take_while(|l| l.trim() != "Output:").collect(),
        ExitLine::Last => text.lines().rev().collect(),
    };
    lines.into_iter().find_map(exit_code_of_line)
}

/// "Exit code 1", "Exit code: 1", "Exit Code: 1", "Process exited with code 1", "Command exited
/// with non-zero status code 1": the line must start so and hold nothing after the number.
fn exit_code_of_line(line: &str) -> Option<i32> {
    let lower = line.trim().to_ascii_lowercase();
    let rest = [
        "exit code",
        "process exited with code",
        "command exited with non-zero status code",
    ]
    .iter()
    .find_map(|marker| lower.strip_prefix(marker))?;
    rest.trim_start_matches([' ', ':']).parse().ok()
}

/// Tools that run a command: for them an unknown exit code is said to be unknown.
pub(super) fn is_shell(tool: &str) -> bool {
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
pub(super) fn shell_outcome(call: &ToolCall<'_>, exit_code: Option<i32>) -> (bool, Vec<(&'static str, Value)>) {
    match exit_code {
        Some(code) => (code == 0, vec![("exit_code", code.into())]),
        None if is_shell(call.tool) => (true, vec![("exit_code_known", false.into())]),
        None => (true, Vec::new()),
    }
}
