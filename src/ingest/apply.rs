//! A normalized payload applied to the worktree's runs.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{Action, Agent, CallIds, Normalized};
use crate::canon;
use crate::evidence::EventType;
use crate::run::{self, Proof, StartOptions, Workspace};
use crate::signing::SigningKey;
use crate::store::{Index, NewEvent};

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
    log_rejection(ws, data, now)
}

/// Appends a rejection to `<common dir>/proof/logs/ingest-rejected.log`.
fn log_rejection(ws: &Workspace, data: Value, now: jiff::Timestamp) -> Result<(), run::Error> {
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
    /// Runs ended without a proof, for want of a signing key.
    pub unsigned: Vec<String>,
}

impl Applied {
    fn ended(&mut self, run_id: &str, proof: Option<Proof>) {
        match proof {
            Some(proof) => self.finished.push(proof),
            None => self.unsigned.push(run_id.to_owned()),
        }
    }
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
        // A generic payload names its run; one of another worktree is not this one's to feed.
        Some(id) => index
            .run(id)
            .ok()
            .filter(|r| !r.is_active() || r.worktree == ws.worktree_key())
            .map(|r| r.run_id),
        None => index.active_run(&ws.worktree_key())?,
    };
    // Without a key a run still ends when its turn does (the next turn must not fall into it);
    // its proof waits for `git proof finish --run ID`.
    let finish = |index: &mut Index, run_id: &str, exit_code: i32| -> Result<Option<Proof>, run::Error> {
        run::end_and_prove(ws, index, run_id, exit_code, key, now)
    };
    // A run whose turn never reported its end, ended honestly: failed, no terminal event.
    let seal_for = |index: &mut Index,
                    stale: &crate::store::RunRecord,
                    reason: String|
     -> Result<Option<Proof>, run::Error> { run::seal(ws, index, &stale.run_id, &reason, key, now) };
    let seal = |index: &mut Index,
                stale: &crate::store::RunRecord,
                next: Option<&str>|
     -> Result<Option<Proof>, run::Error> {
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
        seal_for(index, stale, reason)
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
                        applied.ended(&run.run_id, seal(index, &run, n.session_id.as_deref())?);
                        current = None;
                    }
                }
            }
            Action::SessionEnd { reason } => {
                if let Some(active) = &current {
                    let run = index.run(active)?;
                    if run.is_active() && run.correlation_id.is_some() && run.correlation_id == n.session_id {
                        let why = format!("the session ended ({reason}) before this turn reported its end");
                        applied.ended(&run.run_id, seal_for(index, &run, why)?);
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
                        applied.ended(&run.run_id, seal(index, &run, n.session_id.as_deref())?);
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
                // Pointers only, and only the events a payload may bring (git-proof records
                // a run's start, end, sealing and manifest itself).
                let refused = match event_type {
                    EventType::RunSealed | EventType::EvidenceManifestCreated | EventType::IngestRejected => {
                        Some(format!("'{}' is recorded by git proof itself", event_type.as_str()))
                    }
                    _ => crate::evidence::check_pointers(data).err(),
                };
                if let Some(reason) = refused {
                    let data = json!({"agent": n.agent.name(), "event_type": event_type.as_str(), "reason": reason});
                    log_rejection(ws, data, now)?;
                    continue;
                }
                if let Some(active) = &current
                    && let Some(owner) = other_sessions_run(index, active, n)?
                {
                    // Two sessions in one worktree: this one's work is not the other's.
                    let data = json!({
                        "agent": n.agent.name(),
                        "event_type": event_type.as_str(),
                        "session_id": n.session_id,
                        "reason": format!("run {active} of session {owner} is active in this worktree; give each agent session its own worktree"),
                    });
                    log_rejection(ws, data, now)?;
                    continue;
                }
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
                    // A run someone started by hand is theirs to finish, not this agent's
                    // turn's; a payload that names no session owns no run.
                    let run = index.run(&run_id)?;
                    let ours =
                        n.agent == Agent::Generic || run.correlation_id.is_some() && run.correlation_id == n.session_id;
                    if ours {
                        applied.ended(&run_id, finish(index, &run_id, *exit_code)?);
                    }
                }
            }
        }
    }
    Ok(applied)
}

/// The session whose run `active` is, when that is another session than the payload's (both
/// named). Copilot's subagents send their tool hooks under their own session ids, so for it
/// the run's events are its own whatever session they name.
fn other_sessions_run(index: &Index, active: &str, n: &Normalized) -> Result<Option<String>, run::Error> {
    if matches!(n.agent, Agent::Copilot | Agent::Generic) || n.session_id.is_none() {
        return Ok(None);
    }
    let run = index.run(active)?;
    Ok(match run.correlation_id {
        Some(owner) if run.is_active() && Some(&owner) != n.session_id.as_ref() => Some(owner),
        _ => None,
    })
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
