//! Event streams: one append-only stream per run, each event hashed as stored.

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{Error, Index, NewEvent, Result, begin, sql_error};
use crate::evidence::{Event, EventSummary, EventType};
use crate::model::EventPointer;

impl Index {
    /// Appends one event to an active run's stream (or, for `after_end` types such as
    /// `evidence.manifest.created`, to an ended one).
    pub fn append_event(&mut self, run_id: &str, event: NewEvent) -> Result<Event> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let state: Option<String> = tx
            .query_row("SELECT state FROM runs WHERE run_id = ?1", params![run_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_error(&path, "read a run"))?;
        let allowed_after_end = matches!(
            event.event_type,
            EventType::EvidenceManifestCreated | EventType::ScopeViolationDecided
        );
        match state.as_deref() {
            None => return Err(Error::UnknownRun(run_id.to_owned())),
            Some("ended") if !allowed_after_end => return Err(Error::RunEnded(run_id.to_owned())),
            _ => {}
        }
        let stored = insert_event(&tx, run_id, event).map_err(|e| e.into_error(&path))?;
        tx.commit().map_err(sql_error(&path, "commit"))?;
        Ok(stored)
    }

    /// The run's events in stream order.
    /// How many events the run's stream holds.
    pub fn event_count(&self, run_id: &str) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM events WHERE run_id = ?1", params![run_id], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.err("count events"))
    }

    /// The data of the run's first event, `run.started`.
    pub fn started_data(&self, run_id: &str) -> Result<Option<serde_json::Value>> {
        let data: Option<String> = self
            .conn
            .query_row(
                "SELECT data_json FROM events WHERE run_id = ?1 AND stream_seq = 1",
                params![run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read the run's start"))?;
        data.map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|_| Error::Malformed {
                what: "run.started event",
                run_id: run_id.to_owned(),
            })
    }

    pub fn events(&self, run_id: &str) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT event_id, stream_seq, event_type, occurred_at, data_json FROM events
                 WHERE run_id = ?1 ORDER BY stream_seq",
            )
            .map_err(self.err("read events"))?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.err("read events"))?;
        let mut events = Vec::new();
        for row in rows {
            let (event_id, seq, event_type, occurred_at, data) = row.map_err(self.err("read events"))?;
            let malformed = || Error::Malformed {
                what: "event",
                run_id: run_id.to_owned(),
            };
            let data = serde_json::from_str(&data).map_err(|_| malformed())?;
            let event_type = EventType::parse(&event_type).ok_or_else(malformed)?;
            events.push(Event {
                event_id,
                run_id: run_id.to_owned(),
                stream_seq: seq as u64,
                event_type,
                occurred_at,
                data,
            });
        }
        Ok(events)
    }

    /// The pointers of the run's events in stream order, with the hash stored when each was
    /// appended (computed then from exactly the stored event) and the step, tool call or
    /// artifact id each is about; the events themselves are not loaded.
    pub fn event_summaries(&self, run_id: &str) -> Result<Vec<EventSummary>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT event_id, stream_seq, event_type, event_hash,
                        CASE
                          WHEN event_type IN ('step.started', 'step.completed') THEN json_extract(data_json, '$.step_id')
                          WHEN event_type LIKE 'toolcall.%' THEN json_extract(data_json, '$.toolcall_id')
                          WHEN event_type = 'artifact.created' THEN json_extract(data_json, '$.artifact_id')
                        END
                 FROM events WHERE run_id = ?1 ORDER BY stream_seq",
            )
            .map_err(self.err("read events"))?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                // A non-text id (a number) is not an id the manifest lists, as in Event::subject_id.
                let subject = match r.get_ref(4)? {
                    rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    _ => None,
                };
                Ok(EventSummary {
                    pointer: EventPointer {
                        event_id: r.get(0)?,
                        stream_seq: r.get::<_, i64>(1)? as u64,
                        event_type: r.get(2)?,
                        event_hash: r.get(3)?,
                    },
                    subject_id: subject,
                })
            })
            .map_err(self.err("read events"))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read events"))
    }

    /// Whether the event stream of the run already holds an event with this idempotency key.
    pub fn has_event_key(&self, key: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM events WHERE idempotency_key = ?1)",
                params![key],
                |r| r.get(0),
            )
            .map_err(self.err("look up an event"))
    }
}

/// The idempotency key of a run's `commit.recorded` event for `commit`: a commit recorded by
/// the post-commit hook is not recorded again when the run ends.
/// Whether a caller may give an event this id: a well-formed id that does not have the shape
/// of the ids the index gives (`<run id>.<stream seq>`), which no caller could otherwise take
/// ahead of time to stop a run's later events.
fn is_callers_event_id(id: &str) -> bool {
    let generated = id
        .rsplit_once('.')
        .is_some_and(|(_, seq)| !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()));
    !generated
        && !id.is_empty()
        && id.len() <= 128
        && !id.starts_with(['.', '-'])
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub fn commit_recorded_key(run_id: &str, commit: &str) -> String {
    format!("commit.recorded:{run_id}:{commit}")
}

/// A failure inside a transaction, before the index path is attached.
pub(super) enum InsertError {
    Sqlite(&'static str, rusqlite::Error),
    DuplicateEvent(String),
    ReservedEventId(String),
}

impl InsertError {
    pub(super) fn into_error(self, path: &Path) -> Error {
        match self {
            Self::Sqlite(action, source) => Error::Sqlite {
                path: path.to_owned(),
                action,
                source,
            },
            Self::DuplicateEvent(id) => Error::DuplicateEvent(id),
            Self::ReservedEventId(id) => Error::ReservedEventId(id),
        }
    }
}

pub(super) fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    event: NewEvent,
) -> std::result::Result<Event, InsertError> {
    let sql = |action| move |e| InsertError::Sqlite(action, e);
    if let Some(key) = &event.idempotency_key
        && let Some((event_id, seq, occurred_at, data)) = tx
            .query_row(
                "SELECT event_id, stream_seq, occurred_at, data_json FROM events WHERE idempotency_key = ?1",
                params![key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(sql("look up an event"))?
    {
        return Ok(Event {
            event_id,
            run_id: run_id.to_owned(),
            stream_seq: seq as u64,
            event_type: event.event_type,
            occurred_at,
            data: serde_json::from_str(&data).unwrap_or(Value::Null),
        });
    }
    let seq: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(stream_seq), 0) + 1 FROM events WHERE run_id = ?1",
            params![run_id],
            |r| r.get(0),
        )
        .map_err(sql("number the event"))?;
    if let Some(id) = &event.event_id
        && !is_callers_event_id(id)
    {
        return Err(InsertError::ReservedEventId(id.clone()));
    }
    let event_id = event.event_id.unwrap_or_else(|| format!("{run_id}.{seq}"));
    let taken: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = ?1)",
            params![event_id],
            |r| r.get(0),
        )
        .map_err(sql("look up an event"))?;
    if taken {
        return Err(InsertError::DuplicateEvent(event_id));
    }
    let stored = Event {
        event_id,
        run_id: run_id.to_owned(),
        stream_seq: seq as u64,
        event_type: event.event_type,
        occurred_at: event.occurred_at,
        data: event.data,
    };
    // The hash is of the event exactly as stored, so it can be recomputed from the row.
    let hash = stored.hash().unwrap_or_default();
    tx.execute(
        "INSERT INTO events (run_id, stream_seq, event_id, event_type, occurred_at, data_json, event_hash, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            run_id,
            seq,
            stored.event_id,
            stored.event_type.as_str(),
            stored.occurred_at,
            stored.data.to_string(),
            hash,
            event.idempotency_key
        ],
    )
    .map_err(sql("append the event"))?;
    Ok(stored)
}
