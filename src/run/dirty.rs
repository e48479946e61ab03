//! Uncommitted changes a run found when it started: recorded in `run.started` with what each
//! path held, so that finish blames the run only for what it changed.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use super::{Error, Workspace};
use crate::{canon, git};

/// The key of the snapshot in `run.started`'s data.
const KEY: &str = "dirty_at_start";

/// Every path with uncommitted changes now, with what it holds (`null`: nothing, it is deleted).
pub(super) fn snapshot(ws: &Workspace) -> Result<Vec<Value>, Error> {
    Ok(git::dirty_files(&ws.repo)?
        .into_iter()
        .map(|path| {
            let held = state(&ws.workdir.join(crate::model::path_buf(&path)));
            json!({ "path": path, "sha256": held })
        })
        .collect())
}

/// Adds a snapshot to `run.started`'s data, when there is anything in it.
pub(super) fn record(data: &mut Value, snapshot: Vec<Value>) {
    if !snapshot.is_empty() {
        data[KEY] = Value::Array(snapshot);
    }
}

/// Splits the paths dirty at finish into the run's and those it found dirty and left as they
/// were (by the snapshot in `started`, the data of `run.started`).
pub(super) fn split(workdir: &Path, started: Option<&Value>, dirty: Vec<String>) -> (Vec<String>, Vec<String>) {
    let Some(at_start) = started.and_then(|d| d.get(KEY)).and_then(Value::as_array) else {
        return (dirty, Vec::new());
    };
    // Path to what it held then; `None` inside: it was deleted.
    let held_then: HashMap<&str, Option<&str>> = at_start
        .iter()
        .filter_map(|e| Some((e.get("path")?.as_str()?, e.get("sha256").and_then(Value::as_str))))
        .collect();
    dirty.into_iter().partition(|path| {
        held_then
            .get(path.as_str())
            .is_none_or(|then| then.map(str::to_owned) != state(&workdir.join(crate::model::path_buf(path))))
    })
}

/// What a worktree path holds, as a digest: a file's bytes, a symbolic link's target (prefixed
/// `link:`), `dir` for a directory; `None` when there is nothing there.
fn state(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).ok()?;
        return Some(format!(
            "link:{}",
            canon::prefixed_sha256(target.as_os_str().as_encoded_bytes())
        ));
    }
    if meta.is_dir() {
        return Some("dir".into());
    }
    let file = std::fs::File::open(path).ok()?;
    match canon::sha256_of_reader(file) {
        Ok((digest, _)) => Some(digest),
        // Unreadable now: it cannot be shown unchanged.
        Err(_) => Some("unreadable".into()),
    }
}
