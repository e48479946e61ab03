//! Run events and the evidence manifest built from them (docs/format.md section 4).
//!
//! An event is hashed as stored (`sha256(JCS(event))`); the manifest lists those hashes in
//! stream order, roots them in an RFC 6962 tree and hashes itself without its own hash.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canon::{self, hex};
use crate::merkle;
use crate::model::{Completeness, EventPointer, Manifest, RunStatus};

/// The event types of docs/format.md section 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    RunStarted,
    StepStarted,
    StepCompleted,
    ToolcallRequested,
    ToolcallCompleted,
    ToolcallFailed,
    ArtifactCreated,
    CommitRecorded,
    RunCompleted,
    RunFailed,
    EvidenceManifestCreated,
    ScopeViolationDecided,
    /// A hook payload that could not be mapped (its digest, never its text).
    IngestRejected,
    /// The run was ended by git-proof because its end was never reported (its agent's next
    /// session or turn began); not a terminal event.
    RunSealed,
}

impl EventType {
    /// Every type: docs/format.md's, in its order, then `ingest.rejected` and `run.sealed`.
    pub const ALL: [EventType; 14] = [
        Self::RunStarted,
        Self::StepStarted,
        Self::StepCompleted,
        Self::ToolcallRequested,
        Self::ToolcallCompleted,
        Self::ToolcallFailed,
        Self::ArtifactCreated,
        Self::CommitRecorded,
        Self::RunCompleted,
        Self::RunFailed,
        Self::EvidenceManifestCreated,
        Self::ScopeViolationDecided,
        Self::IngestRejected,
        Self::RunSealed,
    ];

    /// The dotted name, e.g. `run.started`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunStarted => "run.started",
            Self::StepStarted => "step.started",
            Self::StepCompleted => "step.completed",
            Self::ToolcallRequested => "toolcall.requested",
            Self::ToolcallCompleted => "toolcall.completed",
            Self::ToolcallFailed => "toolcall.failed",
            Self::ArtifactCreated => "artifact.created",
            Self::CommitRecorded => "commit.recorded",
            Self::RunCompleted => "run.completed",
            Self::RunFailed => "run.failed",
            Self::EvidenceManifestCreated => "evidence.manifest.created",
            Self::ScopeViolationDecided => "scope.violation.decided",
            Self::IngestRejected => "ingest.rejected",
            Self::RunSealed => "run.sealed",
        }
    }

    /// Inverse of [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// `run.completed` and `run.failed` end a run.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::RunCompleted | Self::RunFailed)
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown event type '{name}'")))
    }
}

/// One stored event, exactly the object that is hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub run_id: String,
    pub stream_seq: u64,
    pub event_type: EventType,
    pub occurred_at: String,
    /// Pointers only: ids, digests, sizes, paths, exit codes.
    pub data: Value,
}

impl Event {
    /// `sha256:<hex>` of `JCS(self)`.
    pub fn hash(&self) -> Result<String, canon::Error> {
        canon::jcs_digest(self)
    }

    /// The id of the step, tool call or artifact the event is about (`step_id`,
    /// `toolcall_id` or `artifact_id` in its data), if any.
    pub fn subject_id(&self) -> Option<&str> {
        let key = match self.event_type {
            EventType::StepStarted | EventType::StepCompleted => "step_id",
            EventType::ToolcallRequested | EventType::ToolcallCompleted | EventType::ToolcallFailed => "toolcall_id",
            EventType::ArtifactCreated => "artifact_id",
            _ => return None,
        };
        self.data.get(key).and_then(Value::as_str)
    }
}

/// Longest string event data may hold: an id, a digest or a path fits, a tool's output does not.
pub const MAX_POINTER_LEN: usize = 1024;

/// Checks that event data holds pointers only ("pointers, not payloads"): a JSON
/// object whose strings are short enough to be ids, digests or paths, never text.
pub fn check_pointers(data: &Value) -> Result<(), String> {
    fn walk(value: &Value, at: &str) -> Result<(), String> {
        match value {
            Value::String(s) if s.len() > MAX_POINTER_LEN => Err(format!(
                "{at} holds {} bytes of text; event data holds pointers only (ids, digests, sizes, paths, exit codes): record its sha256 digest and size instead",
                s.len()
            )),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| walk(v, &format!("{at}[{i}]"))),
            Value::Object(map) => map.iter().try_for_each(|(k, v)| walk(v, &format!("{at}.{k}"))),
            _ => Ok(()),
        }
    }
    if !data.is_object() {
        return Err("event data must be a JSON object".into());
    }
    walk(data, "data")
}

/// What the manifest needs of one stored event: its pointer and the id it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub pointer: EventPointer,
    /// [`Event::subject_id`].
    pub subject_id: Option<String>,
}

impl EventSummary {
    /// Summarizes an event, hashing it.
    pub fn of(event: &Event) -> Result<Self, canon::Error> {
        Ok(Self {
            pointer: EventPointer {
                event_id: event.event_id.clone(),
                stream_seq: event.stream_seq,
                event_hash: event.hash()?,
                event_type: event.event_type.as_str().to_owned(),
            },
            subject_id: event.subject_id().map(str::to_owned),
        })
    }
}

/// Facts about the run that the stream itself does not hold.
#[derive(Debug, Clone)]
pub struct ManifestIdentity {
    pub run_id: String,
    pub run_status: RunStatus,
    pub correlation_id: Option<String>,
    pub workspace_id: Option<String>,
    pub thread_id: Option<String>,
}

/// Builds the manifest of `events` (already in stream order), excluding any
/// `evidence.manifest.created` event: the manifest cannot contain its own creation.
pub fn build_manifest(
    identity: ManifestIdentity,
    events: impl IntoIterator<Item = EventSummary>,
) -> Result<Manifest, canon::Error> {
    let mut pointers = Vec::new();
    let (mut steps, mut toolcalls, mut artifacts) = (Vec::new(), Vec::new(), Vec::new());
    let mut open_toolcalls = std::collections::BTreeSet::new();
    let mut terminal = false;
    for event in events {
        let kind = EventType::parse(&event.pointer.event_type);
        if kind == Some(EventType::EvidenceManifestCreated) {
            continue;
        }
        let id = event.subject_id;
        match kind {
            Some(EventType::StepStarted | EventType::StepCompleted) => steps.extend(id),
            Some(EventType::ToolcallRequested) => {
                if let Some(id) = id {
                    open_toolcalls.insert(id.clone());
                    toolcalls.push(id);
                }
            }
            Some(EventType::ToolcallCompleted | EventType::ToolcallFailed) => {
                if let Some(id) = id {
                    open_toolcalls.remove(&id);
                    toolcalls.push(id);
                }
            }
            Some(EventType::ArtifactCreated) => artifacts.extend(id),
            Some(t) if t.is_terminal() => terminal = true,
            _ => {}
        }
        pointers.push(event.pointer);
    }
    for ids in [&mut steps, &mut toolcalls, &mut artifacts] {
        ids.sort();
        ids.dedup();
    }
    let artifact_count = artifacts.len() as u64;
    let mut manifest = Manifest {
        run_id: identity.run_id.clone(),
        run_status: identity.run_status,
        correlation_id: identity.correlation_id,
        workspace_id: identity.workspace_id,
        thread_id: identity.thread_id,
        step_ids: steps,
        toolcall_ids: toolcalls,
        artifact_ids: artifacts,
        stream_type: "run".into(),
        stream_id: identity.run_id,
        from_seq: pointers.first().map_or(0, |p| p.stream_seq),
        to_seq: pointers.last().map_or(0, |p| p.stream_seq),
        event_count: pointers.len() as u64,
        event_hash_root: String::new(),
        completeness: Completeness {
            terminal_event_present: terminal,
            all_toolcalls_terminal: open_toolcalls.is_empty(),
            artifact_count,
        },
        events: pointers,
        manifest_hash: String::new(),
    };
    manifest.event_hash_root = event_hash_root(&manifest.events).unwrap_or_default();
    manifest.manifest_hash = manifest_hash(&manifest)?;
    Ok(manifest)
}

/// The RFC 6962 root over the pointers' event hashes; `None` if one is not `sha256:<hex>`.
pub fn event_hash_root(events: &[EventPointer]) -> Option<String> {
    let leaves = events
        .iter()
        .map(|e| canon::parse_prefixed_sha256(&e.event_hash))
        .collect::<Option<Vec<_>>>()?;
    Some(format!("sha256:{}", hex(&merkle::root(&leaves))))
}

/// `sha256(JCS(manifest without manifest_hash))`.
///
/// `verify` computes this for every proven commit, and the general RFC 8785 serializer costs
/// about ten times plain serde_json here (it buffers and re-parses every key). So the manifest
/// is written as structs whose fields are declared in RFC 8785 order, and serde_json's output
/// of them is already canonical: its string escapes are RFC 8785's, and so are integers below
/// 2^53. A larger number (only a crafted manifest has one) goes through `serde_jcs`.
/// `canonical_manifest_is_the_jcs_bytes` checks the two agree.
pub fn manifest_hash(manifest: &Manifest) -> Result<String, canon::Error> {
    let bytes = manifest_jcs(manifest)?;
    Ok(canon::prefixed_sha256(&bytes))
}

fn manifest_jcs(manifest: &Manifest) -> Result<Vec<u8>, canon::Error> {
    // Keys sorted by UTF-16 code units (all ASCII, so byte order), as RFC 8785 section 3.2.3.
    #[derive(Serialize)]
    struct SortedManifest<'a> {
        artifact_ids: &'a [String],
        completeness: SortedCompleteness,
        correlation_id: &'a Option<String>,
        event_count: u64,
        event_hash_root: &'a str,
        events: Vec<SortedPointer<'a>>,
        from_seq: u64,
        run_id: &'a str,
        run_status: RunStatus,
        step_ids: &'a [String],
        stream_id: &'a str,
        stream_type: &'a str,
        thread_id: &'a Option<String>,
        to_seq: u64,
        toolcall_ids: &'a [String],
        workspace_id: &'a Option<String>,
    }
    #[derive(Serialize)]
    struct SortedCompleteness {
        all_toolcalls_terminal: bool,
        artifact_count: u64,
        terminal_event_present: bool,
    }
    #[derive(Serialize)]
    struct SortedPointer<'a> {
        event_hash: &'a str,
        event_id: &'a str,
        event_type: &'a str,
        stream_seq: u64,
    }
    // Destructured so that a new manifest field fails to compile here instead of silently
    // escaping the hash.
    let Manifest {
        run_id,
        run_status,
        correlation_id,
        workspace_id,
        thread_id,
        step_ids,
        toolcall_ids,
        artifact_ids,
        stream_type,
        stream_id,
        from_seq,
        to_seq,
        event_count,
        events,
        event_hash_root,
        completeness:
            Completeness {
                terminal_event_present,
                all_toolcalls_terminal,
                artifact_count,
            },
        manifest_hash: _,
    } = manifest;
    let sorted = SortedManifest {
        artifact_ids,
        completeness: SortedCompleteness {
            all_toolcalls_terminal: *all_toolcalls_terminal,
            artifact_count: *artifact_count,
            terminal_event_present: *terminal_event_present,
        },
        correlation_id,
        event_count: *event_count,
        event_hash_root,
        events: events
            .iter()
            .map(|e| SortedPointer {
                event_hash: &e.event_hash,
                event_id: &e.event_id,
                event_type: &e.event_type,
                stream_seq: e.stream_seq,
            })
            .collect(),
        from_seq: *from_seq,
        run_id,
        run_status: *run_status,
        step_ids,
        stream_id,
        stream_type,
        thread_id,
        to_seq: *to_seq,
        toolcall_ids,
        workspace_id,
    };
    const EXACT: u64 = 1 << 53;
    let numbers_exact = [*from_seq, *to_seq, *event_count, *artifact_count]
        .into_iter()
        .chain(events.iter().map(|e| e.stream_seq))
        .all(|n| n < EXACT);
    if numbers_exact {
        serde_json::to_vec(&sorted).map_err(canon::Error)
    } else {
        canon::to_jcs_vec(&sorted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, kind: EventType, data: Value) -> Event {
        Event {
            event_id: format!("e{seq}"),
            run_id: "r".into(),
            stream_seq: seq,
            event_type: kind,
            occurred_at: "2026-11-23T10:00:00Z".into(),
            data,
        }
    }

    fn identity() -> ManifestIdentity {
        ManifestIdentity {
            run_id: "r".into(),
            run_status: RunStatus::Succeeded,
            correlation_id: None,
            workspace_id: None,
            thread_id: None,
        }
    }

    #[test]
    fn open_toolcall_makes_the_manifest_incomplete() {
        let events = [
            event(1, EventType::RunStarted, Value::Null),
            event(
                2,
                EventType::ToolcallRequested,
                serde_json::json!({"toolcall_id": "t1"}),
            ),
            event(3, EventType::RunCompleted, serde_json::json!({"exit_code": 0})),
        ];
        let m = build_manifest(identity(), events.iter().map(|e| EventSummary::of(e).unwrap())).unwrap();
        assert!(!m.completeness.all_toolcalls_terminal);
        assert!(m.completeness.terminal_event_present);
        assert_eq!(m.toolcall_ids, ["t1"]);
        assert_eq!((m.from_seq, m.to_seq, m.event_count), (1, 3, 3));
        assert_eq!(manifest_hash(&m).unwrap(), m.manifest_hash);
    }

    #[test]
    fn manifest_hash_is_over_every_field_but_itself() {
        let events = [event(1, EventType::RunStarted, Value::Null)];
        let m = build_manifest(identity(), events.iter().map(|e| EventSummary::of(e).unwrap())).unwrap();
        let mut value = serde_json::to_value(&m).unwrap();
        value.as_object_mut().unwrap().remove("manifest_hash");
        assert_eq!(m.manifest_hash, canon::jcs_digest(&value).unwrap());
    }

    mod canonical_manifest {
        use super::*;
        use proptest::prelude::*;

        // Any text: control characters (escaped), quotes, non-ASCII and astral characters.
        fn text() -> impl Strategy<Value = String> {
            proptest::string::string_regex("(.|[\\x00-\\x1f\"\\\\\\x7f\u{e9}\u{2028}\u{1f600}])*")
                .expect("a valid regex")
        }

        // Small integers, and around and far past 2^53 where RFC 8785 prints doubles.
        fn number() -> impl Strategy<Value = u64> {
            prop_oneof![0..1000u64, (1u64 << 53) - 2..(1u64 << 53) + 3, any::<u64>()]
        }

        prop_compose! {
            fn manifest()(
                run_id in text(), failed in any::<bool>(),
                ids in proptest::collection::vec(proptest::option::of(text()), 3),
                lists in proptest::collection::vec(proptest::collection::vec(text(), 0..3), 3),
                stream in (text(), text()), seqs in (number(), number(), number(), number()),
                events in proptest::collection::vec((text(), number(), text(), text()), 0..4),
                root in text(), flags in (any::<bool>(), any::<bool>()),
            ) -> Manifest {
                Manifest {
                    run_id,
                    run_status: if failed { RunStatus::Failed } else { RunStatus::Succeeded },
                    correlation_id: ids[0].clone(),
                    workspace_id: ids[1].clone(),
                    thread_id: ids[2].clone(),
                    step_ids: lists[0].clone(),
                    toolcall_ids: lists[1].clone(),
                    artifact_ids: lists[2].clone(),
                    stream_type: stream.0,
                    stream_id: stream.1,
                    from_seq: seqs.0,
                    to_seq: seqs.1,
                    event_count: seqs.2,
                    events: events
                        .into_iter()
                        .map(|(event_id, stream_seq, event_hash, event_type)| EventPointer {
                            event_id,
                            stream_seq,
                            event_hash,
                            event_type,
                        })
                        .collect(),
                    event_hash_root: root,
                    completeness: Completeness {
                        terminal_event_present: flags.0,
                        all_toolcalls_terminal: flags.1,
                        artifact_count: seqs.3,
                    },
                    manifest_hash: "ignored".into(),
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// The fast path of [`manifest_hash`] against the RFC 8785 crate, which sorts the
            /// keys of the manifest's JSON tree itself.
            #[test]
            fn canonical_manifest_is_the_jcs_bytes(m in manifest()) {
                let mut tree = serde_json::to_value(&m).unwrap();
                tree.as_object_mut().unwrap().remove("manifest_hash");
                prop_assert_eq!(
                    String::from_utf8(manifest_jcs(&m).unwrap()).unwrap(),
                    String::from_utf8(canon::to_jcs_vec(&tree).unwrap()).unwrap()
                );
            }
        }
    }

    #[test]
    fn manifest_creation_event_is_not_in_its_own_manifest() {
        let events = [
            event(1, EventType::RunStarted, Value::Null),
            event(2, EventType::RunFailed, serde_json::json!({"exit_code": 3})),
            event(3, EventType::EvidenceManifestCreated, Value::Null),
        ];
        let m = build_manifest(identity(), events.iter().map(|e| EventSummary::of(e).unwrap())).unwrap();
        assert_eq!(m.event_count, 2);
        assert_eq!(m.to_seq, 2);
    }
}
