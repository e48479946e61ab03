//! `git proof install --agent NAME`: the agent's hook configuration for this repository,
//! merged into what is there (other hooks and settings are kept, key order included), so the
//! agent calls `git proof ingest` at every turn and tool call.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::ingest::Agent;

/// What installing did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub action: Action,
}

/// The fate of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    /// Already configured.
    Unchanged,
    /// Left alone, with the reason (a file of the user's that is not ours).
    Skipped(String),
}

/// Why the configuration could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid JSON ({reason}); fix or move it, nothing was changed", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the generic agent has no configuration to install; send payloads to `git proof ingest --agent generic`")]
    Generic,
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Malformed { .. } | Self::Generic => ErrorKind::BadInput,
            Self::Read { .. } | Self::Write { .. } => ErrorKind::Internal,
        }
    }
}

fn command(agent: Agent) -> String {
    format!("git proof ingest --agent {}", agent.name())
}

/// Writes (or, with `dry_run`, only reports) the hook configuration of `agent` under `root`.
pub fn install(agent: Agent, root: &Path, dry_run: bool) -> Result<Vec<Change>, Error> {
    let cmd = command(agent);
    match agent {
        Agent::ClaudeCode => merge_json(&root.join(".claude/settings.json"), dry_run, |config| {
            let events = [
                "SessionStart",
                "UserPromptSubmit",
                "PreToolUse",
                "PostToolUse",
                "PostToolUseFailure",
                "Stop",
                "StopFailure",
                "SessionEnd",
            ];
            add_matcher_hooks(
                config,
                &events,
                json!({"type": "command", "command": cmd, "timeout": 30}),
                &cmd,
            )
        }),
        Agent::Codex => merge_json(&root.join(".codex/hooks.json"), dry_run, |config| {
            let events = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop"];
            let hook = json!({"type": "command", "command": cmd, "timeout": 30});
            let changed = add_matcher_hooks(config, &events, hook, &cmd);
            // Codex gives these 1 s unless told, and at most 3 s.
            let hook = json!({"type": "command", "command": cmd, "timeout": 3});
            add_matcher_hooks(config, &["Interrupt", "SessionEnd"], hook, &cmd) || changed
        }),
        Agent::Gemini => merge_json(&root.join(".gemini/settings.json"), dry_run, |config| {
            let events = [
                "SessionStart",
                "BeforeAgent",
                "BeforeTool",
                "AfterTool",
                "AfterAgent",
                "SessionEnd",
            ];
            let hook = json!({"name": "git-proof", "type": "command", "command": cmd, "timeout": 30000});
            add_matcher_hooks(config, &events, hook, &cmd)
        }),
        Agent::Cursor => merge_json(&root.join(".cursor/hooks.json"), dry_run, |config| {
            let events = [
                "sessionStart",
                "beforeSubmitPrompt",
                "preToolUse",
                "postToolUse",
                "postToolUseFailure",
                "afterFileEdit",
                "stop",
                "sessionEnd",
            ];
            let mut changed = false;
            for event in events {
                changed |= add_flat_hook(config, event, json!({"command": cmd}), "command", &cmd);
            }
            changed
        }),
        Agent::Copilot => merge_json(&root.join(".github/hooks/git-proof.json"), dry_run, |config| {
            // Copilot's camelCase payloads do not name their event: each hook's command does.
            let events = [
                "sessionStart",
                "userPromptSubmitted",
                "preToolUse",
                "postToolUse",
                "postToolUseFailure",
                "agentStop",
                "sessionEnd",
            ];
            let mut changed = false;
            for event in events {
                let cmd = format!("{cmd} --event {event}");
                let hook = json!({"type": "command", "bash": cmd, "cwd": ".", "timeoutSec": 30});
                changed |= add_flat_hook(config, event, hook, "bash", &cmd);
            }
            // Earlier installs named no event; their entries would record every payload twice.
            remove_flat_hooks(config, "bash", &command(Agent::Copilot)) || changed
        }),
        Agent::Cline => {
            let events = [
                "TaskStart",
                "UserPromptSubmit",
                "PreToolUse",
                "PostToolUse",
                "TaskComplete",
                "TaskCancel",
            ];
            let script = format!("#!/bin/sh\n# git-proof: record this Cline hook\nexec {cmd}\n");
            events
                .iter()
                .map(|event| write_script(&root.join(".clinerules/hooks").join(event), &script, dry_run))
                .collect()
        }
        Agent::Generic => Err(Error::Generic),
    }
}

/// Adds `{"matcher": "*", "hooks": [hook]}` under each event (Claude's, Codex's and Gemini's
/// shape) unless a hook with our command is already there. Returns whether anything changed.
fn add_matcher_hooks(config: &mut Map<String, Value>, events: &[&str], hook: Value, cmd: &str) -> bool {
    let mut changed = false;
    let hooks = object_at(config, "hooks");
    for event in events {
        let groups = array_at(hooks, event);
        let present = groups.iter().any(|group| {
            group
                .get("hooks")
                .and_then(Value::as_array)
                .is_some_and(|hs| hs.iter().any(|h| h.get("command").and_then(Value::as_str) == Some(cmd)))
        });
        if !present {
            groups.push(json!({"matcher": "*", "hooks": [hook.clone()]}));
            changed = true;
        }
    }
    changed
}

/// Adds `hook` to the event's list (Cursor's and Copilot's versioned shape) unless a hook
/// whose `command_key` is `cmd` is already there. Returns whether anything changed.
fn add_flat_hook(config: &mut Map<String, Value>, event: &str, hook: Value, command_key: &str, cmd: &str) -> bool {
    config.entry("version").or_insert(json!(1));
    let list = array_at(object_at(config, "hooks"), event);
    if list
        .iter()
        .any(|h| h.get(command_key).and_then(Value::as_str) == Some(cmd))
    {
        return false;
    }
    list.push(hook);
    true
}

/// Removes every hook whose `command_key` is exactly `cmd`. Returns whether any was there.
fn remove_flat_hooks(config: &mut Map<String, Value>, command_key: &str, cmd: &str) -> bool {
    let Some(hooks) = config.get_mut("hooks").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut removed = false;
    for list in hooks.values_mut().filter_map(Value::as_array_mut) {
        let before = list.len();
        list.retain(|h| h.get(command_key).and_then(Value::as_str) != Some(cmd));
        removed |= list.len() != before;
    }
    removed
}

fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

fn array_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(vec![slot.take()]);
    }
    slot.as_array_mut().expect("just made an array")
}

fn merge_json(
    path: &Path,
    dry_run: bool,
    edit: impl FnOnce(&mut Map<String, Value>) -> bool,
) -> Result<Vec<Change>, Error> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut config = match &existing {
        None => Map::new(),
        Some(text) if text.trim().is_empty() => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(Error::Malformed {
                    path: path.to_owned(),
                    reason: "not a JSON object".into(),
                });
            }
            Err(e) => {
                return Err(Error::Malformed {
                    path: path.to_owned(),
                    reason: e.to_string(),
                });
            }
        },
    };
    let changed = edit(&mut config);
    if !changed && existing.is_some() {
        return Ok(vec![Change {
            path: path.to_owned(),
            action: Action::Unchanged,
        }]);
    }
    let action = if existing.is_some() {
        Action::Updated
    } else {
        Action::Created
    };
    if !dry_run {
        let text = serde_json::to_string_pretty(&Value::Object(config)).unwrap_or_default() + "\n";
        write_file(path, text.as_bytes(), false)?;
    }
    Ok(vec![Change {
        path: path.to_owned(),
        action,
    }])
}

fn write_script(path: &Path, script: &str, dry_run: bool) -> Result<Change, Error> {
    let change = |action| Change {
        path: path.to_owned(),
        action,
    };
    match std::fs::read_to_string(path) {
        Ok(text) if text == script => return Ok(change(Action::Unchanged)),
        Ok(_) => {
            return Ok(change(Action::Skipped(
                "a hook of yours is there; add `git proof ingest --agent cline` to it".into(),
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    }
    if !dry_run {
        write_file(path, script.as_bytes(), true)?;
    }
    Ok(change(Action::Created))
}

/// Writes through a temporary file and a rename, so an interrupted install never leaves half a
/// settings file behind.
fn write_file(path: &Path, bytes: &[u8], executable: bool) -> Result<(), Error> {
    let fail = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("git-proof-tmp");
    std::fs::write(&tmp, bytes).map_err(fail)?;
    // Keep the permissions of the file being replaced (a settings file may be private).
    let permissions = match std::fs::metadata(path) {
        Ok(meta) => Some(meta.permissions()),
        #[cfg(unix)]
        Err(_) if executable => {
            use std::os::unix::fs::PermissionsExt;
            Some(std::fs::Permissions::from_mode(0o755))
        }
        Err(_) => None,
    };
    if let Some(permissions) = permissions {
        std::fs::set_permissions(&tmp, permissions).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}
