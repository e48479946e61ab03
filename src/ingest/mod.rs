//! Agent hook payloads mapped to run events (`git proof ingest`).
//!
//! Each agent's payload (the shapes are in tests/fixtures/, with their sources) is normalized into a few [`Action`]s:
//! a turn starts (its prompt digested, never stored), tool calls are requested and end,
//! files are written, a turn ends. Text from the agent (prompts, tool input and output) only
//! ever appears as a `sha256:` digest and a byte count. Parsing is lenient: unknown fields are
//! ignored, and only what an action needs is required.
//!
//! `agents` reads each agent's payloads, `tool` what they say of tool calls, and `apply` puts
//! the result into the worktree's runs.

mod agents;
mod apply;
mod tool;

use std::path::PathBuf;

use serde_json::Value;

use crate::evidence::EventType;

pub use apply::{Applied, apply, record_rejection};

use agents::{cline, codex_notify, copilot, cursor, gemini, generic, hooks_claude_like};

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

    /// Recognises the agent from a payload's shape (the fixtures show each agent's).
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
    /// A session ends, for an agent that reports each turn's end: a run of this session still
    /// open had its turn cut short, and is sealed.
    SessionEnd { reason: String },
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
    if n.session_id.as_ref().is_some_and(|id| id.len() > MAX_SESSION_ID) {
        return Err(Rejected(format!(
            "the session id is longer than {MAX_SESSION_ID} bytes"
        )));
    }
    Ok(n)
}

/// Session ids are UUIDs and the like; a longer one is not a session id (and would be copied
/// into every proof of the session).
const MAX_SESSION_ID: usize = 256;

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

#[cfg(test)]
mod tests {
    use super::tool::{exit_code_in, written_paths};
    use super::*;
    use crate::evidence::EventType;
    use serde_json::json;

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
        use super::tool::ExitLine::{First, Header, Last};
        for (text, at, code) in [
            ("Exit code 101\nerror: could not compile", First, Some(101)),
            ("Command exited with non-zero status code 1", First, Some(1)),
            ("Exit code: 0\nWall time: 0 seconds\nOutput:\n", Header, Some(0)),
            ("Process exited with code 2\nOutput:\nexit code 0", Header, Some(2)),
            ("Wall time: 1s\nOutput:\nExit code: 0\n", Header, None),
            (
                "<untrusted_context>\nOutput: x\nExit Code: 127\nProcess Group PGID: 9\n",
                Last,
                Some(127),
            ),
            ("Output: (exit code: 0 expected)\nExit Code: 101\n", Last, Some(101)),
            ("Exit code: -1", First, Some(-1)),
            ("HTTP status code 404", First, None),
            ("all tests passed", First, None),
            ("exit code: none", First, None),
        ] {
            assert_eq!(exit_code_in(text, at), code, "{text:?}");
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
