//! The `refs/notes/proof` ref: reading and appending signed records, in-process with gix.
//!
//! A note is a sequence of signed records ([`crate::record`]); this module stores and merges
//! them and never decides what one means. Appending is a
//! compare-and-swap on the ref: a writer that loses the race re-reads and tries again, so
//! parallel finishes in other worktrees never drop each other's notes.

use std::time::Duration;

use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::refs::transaction::PreviousValue;

use crate::git::{Error, GitContext};
use crate::packs::PackReader;
use crate::record::{self, Record};

/// The notes ref every proof lives under.
pub const NOTES_REF: &str = "refs/notes/proof";
const MAX_ATTEMPTS: u32 = 50;

/// Where a remote's proof notes are fetched to, next to ours and never over them.
pub fn remote_notes_ref(remote: &str) -> String {
    format!("refs/notes/remotes/{remote}/proof")
}

/// The state of the notes ref: its commit and tree (both absent before the first note).
struct NotesTip {
    commit: Option<ObjectId>,
    tree: ObjectId,
}

fn notes_tip(repo: &gix::Repository) -> Result<NotesTip, Error> {
    let reference = repo
        .try_find_reference(NOTES_REF)
        .doing(|| format!("read {NOTES_REF}"))?;
    match reference {
        None => Ok(NotesTip {
            commit: None,
            tree: ObjectId::empty_tree(repo.object_hash()),
        }),
        Some(mut reference) => {
            let commit = reference
                .peel_to_id()
                .doing(|| format!("resolve {NOTES_REF}"))?
                .detach();
            let tree = notes_tree(repo, commit)?;
            Ok(NotesTip {
                commit: Some(commit),
                tree,
            })
        }
    }
}

/// The tree of a notes commit, here with every tree below it (a treeless clone fetches them).
fn notes_tree(repo: &gix::Repository, notes_commit: ObjectId) -> Result<ObjectId, Error> {
    let tree = crate::git::tree_of(repo, notes_commit)?;
    crate::git::ensure_objects(repo, [tree])?;
    Ok(tree)
}

/// Reads notes for many commits from one snapshot of the notes tree.
pub struct NotesReader<'repo> {
    repo: &'repo gix::Repository,
    state: Option<gix::note::plumbing::State>,
    /// The notes tree, for fetching every note blob a partial clone lacks at the first miss.
    tree: ObjectId,
    fetched: bool,
    /// Notes read so far; past [`MANY`], they are read through [`PackReader`].
    reads: usize,
    packs: Option<PackReader>,
}

/// Notes a reader reads through the object database before it opens the packs itself: a
/// command that reads a note or two never pays for opening them.
const MANY: usize = 32;

impl<'repo> NotesReader<'repo> {
    /// A reader over the current tip of `refs/notes/proof`.
    pub fn new(repo: &'repo gix::Repository) -> Result<Self, Error> {
        let tip = notes_tip(repo)?;
        let state = match tip.commit {
            None => None,
            Some(_) => {
                Some(gix::note::plumbing::State::new(tip.tree, repo).doing(|| format!("read the {NOTES_REF} tree"))?)
            }
        };
        Ok(Self {
            repo,
            state,
            tree: tip.tree,
            fetched: false,
            reads: 0,
            packs: None,
        })
    }

    /// A reader over the notes commit `notes_commit` instead of the ref: what a push is about
    /// to make the ref (a pre-receive hook sees the new value before the ref moves).
    pub fn at(repo: &'repo gix::Repository, notes_commit: ObjectId) -> Result<Self, Error> {
        let tree = notes_tree(repo, notes_commit)?;
        let state =
            gix::note::plumbing::State::new(tree, repo).doing(|| format!("read the notes tree of {notes_commit}"))?;
        Ok(Self {
            repo,
            state: Some(state),
            tree,
            fetched: false,
            reads: 0,
            packs: None,
        })
    }

    /// The repository it reads.
    pub fn repo(&self) -> &'repo gix::Repository {
        self.repo
    }

    /// The note attached to `commit`, if any.
    pub fn note(&mut self, commit: ObjectId) -> Result<Option<Vec<u8>>, Error> {
        let Some(state) = &mut self.state else {
            return Ok(None);
        };
        let Some(blob) = state
            .get(&commit, self.repo)
            .doing(|| format!("look up the note of {commit}"))?
        else {
            return Ok(None);
        };
        if !self.fetched && !self.repo.has_object(blob) {
            // A partial clone fetched the notes without their blobs: get them all at once
            // rather than one request per note.
            self.fetched = true;
            let mut notes = Vec::new();
            collect_notes(self.repo, self.tree, &mut String::new(), &mut notes)?;
            crate::git::ensure_objects(self.repo, notes.into_iter().map(|(_, blob)| blob))?;
        }
        self.reads += 1;
        if self.reads > MANY {
            let packs = self.packs.get_or_insert_with(|| PackReader::open(self.repo));
            if let Some((gix::object::Kind::Blob, data)) = packs.read(&blob) {
                return Ok(Some(data));
            }
        }
        Ok(Some(read_blob(self.repo, blob)?))
    }
}

/// The note attached to `commit`, if any.
pub fn read_note(repo: &gix::Repository, commit: ObjectId) -> Result<Option<Vec<u8>>, Error> {
    NotesReader::new(repo)?.note(commit)
}

/// What [`append_record`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The record was added; the new notes commit.
    Written(ObjectId),
    /// The note already held an equivalent record, which is returned; nothing was written.
    AlreadyPresent(Record),
}

/// Appends `record` to the note of `commit`, unless `equivalent` finds a record in the existing
/// note that already stands for it. Other records are kept byte for byte.
pub fn append_record(
    repo: &gix::Repository,
    commit: ObjectId,
    record: &Record,
    equivalent: impl Fn(&Record) -> bool,
) -> Result<Appended, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tip = notes_tip(repo)?;
        let mut state =
            gix::note::plumbing::State::new(tip.tree, repo).doing(|| format!("read the {NOTES_REF} tree"))?;
        let existing = note_in(repo, &mut state, commit)?;
        // Text that is not a record is kept as it is: appending after it loses nothing, and
        // `verify` reports it.
        if let Some(found) = record::split(&existing).records.into_iter().find(|r| equivalent(r)) {
            return Ok(Appended::AlreadyPresent(found));
        }
        let mut text = existing;
        append_text(&mut text, record.to_text().as_bytes());
        let blob = repo.write_blob(&text).doing(|| "write the note blob".into())?.detach();
        let edit = state
            .replace(commit, blob, repo)
            .doing(|| format!("add the note of {commit} to the notes tree"))?;
        let message = format!("Notes added by 'git proof' for {commit}\n");
        let notes_commit = write_commit(repo, edit.tree, tip.commit.into_iter().collect(), &message)?;
        if move_ref(repo, tip.commit, notes_commit, &message, attempt)? {
            return Ok(Appended::Written(notes_commit));
        }
    }
}

fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parents: Vec<ObjectId>,
    message: &str,
) -> Result<ObjectId, Error> {
    let signature = notes_committer(repo);
    let commit = gix::objs::Commit {
        tree,
        parents: parents.into(),
        author: signature.clone(),
        committer: signature,
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    Ok(repo
        .write_object(&commit)
        .doing(|| "write the notes commit".into())?
        .detach())
}

/// The configured committer, or a fixed identity: a proof must not fail for want of `user.name`.
fn notes_committer(repo: &gix::Repository) -> gix::actor::Signature {
    if let Some(Ok(sig)) = repo.committer()
        && let Ok(owned) = sig.to_owned()
    {
        return owned;
    }
    gix::actor::Signature {
        name: "git-proof".into(),
        email: "git-proof@localhost".into(),
        time: gix::date::Time::now_utc(),
    }
}

/// All commits that carry a note under `refs/notes/proof`, with the note blob ids.
pub fn list_notes(repo: &gix::Repository) -> Result<Vec<(ObjectId, ObjectId)>, Error> {
    let tip = notes_tip(repo)?;
    if tip.commit.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    collect_notes(repo, tip.tree, &mut String::new(), &mut out)?;
    Ok(out)
}

/// All commits with a note in the notes commit `notes_commit`, with the note blob ids.
pub fn list_notes_at(repo: &gix::Repository, notes_commit: ObjectId) -> Result<Vec<(ObjectId, ObjectId)>, Error> {
    let tree = notes_tree(repo, notes_commit)?;
    let mut out = Vec::new();
    collect_notes(repo, tree, &mut String::new(), &mut out)?;
    Ok(out)
}

/// The union of two notes: every record of `ours` in its order, then each record of `theirs`
/// that `ours` does not hold; `None` when `ours` holds them all. A note that is not a sequence
/// of records is never dropped: the two texts are joined whole.
pub fn union_note(ours: &[u8], theirs: &[u8]) -> Option<Vec<u8>> {
    if theirs.is_empty() || ours == theirs {
        return None;
    }
    if ours.is_empty() {
        return Some(theirs.to_vec());
    }
    let joined = || {
        let mut text = ours.to_vec();
        append_text(&mut text, theirs);
        text
    };
    let (mine, other) = (record::split(ours), record::split(theirs));
    if !mine.junk.is_empty() || !other.junk.is_empty() {
        // memmem, linear in the note (a windowed compare was quadratic).
        if ours.find(theirs).is_some() {
            return None;
        }
        return Some(joined());
    }
    let key = |r: &Record| (r.payload.clone(), r.signature.trim_end().to_owned());
    let known: std::collections::HashSet<_> = mine.records.iter().map(key).collect();
    let missing: Vec<&Record> = other.records.iter().filter(|r| !known.contains(&key(r))).collect();
    if missing.is_empty() {
        return None;
    }
    let mut text = ours.to_vec();
    for record in missing {
        append_text(&mut text, record.to_text().as_bytes());
    }
    Some(text)
}

/// Appends `more` to a note's text, on a line of its own.
pub fn append_text(note: &mut Vec<u8>, more: &[u8]) {
    if !note.is_empty() && !note.ends_with(b"\n") {
        note.push(b'\n');
    }
    note.extend_from_slice(more);
}

/// Adds records to the notes of many commits in one notes commit: each note becomes the union
/// of what it holds and the given text ([`union_note`]). Returns the notes commit, or `None`
/// when every note already held everything.
pub fn add_to_notes(
    repo: &gix::Repository,
    additions: &[(ObjectId, Vec<u8>)],
    message: &str,
) -> Result<Option<ObjectId>, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tip = notes_tip(repo)?;
        let mut state =
            gix::note::plumbing::State::new(tip.tree, repo).doing(|| format!("read the {NOTES_REF} tree"))?;
        let mut changed = false;
        for (commit, text) in additions {
            let existing = note_in(repo, &mut state, *commit)?;
            if let Some(merged) = union_note(&existing, text) {
                let blob = repo.write_blob(&merged).doing(|| "write a note blob".into())?.detach();
                state
                    .edit(*commit, Some(blob), repo)
                    .doing(|| format!("add the note of {commit} to the notes tree"))?;
                changed = true;
            }
        }
        if !changed {
            return Ok(None);
        }
        let tree = state.write(repo).doing(|| "write the notes tree".into())?;
        let notes_commit = write_commit(repo, tree, tip.commit.into_iter().collect(), message)?;
        if move_ref(repo, tip.commit, notes_commit, message, attempt)? {
            return Ok(Some(notes_commit));
        }
    }
}

/// What [`merge_notes`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// Ours already held theirs.
    UpToDate,
    /// Ours had nothing theirs lacks: the ref now points at theirs.
    FastForward,
    /// A notes commit with both as parents, holding the union of every note.
    Merge(ObjectId),
}

/// Merges the notes commit `theirs` (e.g. fetched from a remote) into `refs/notes/proof`: each
/// note becomes the union of both sides' records, so no record of either side is ever lost.
/// Ancestry is no evidence: a remote whose notes descend from ours may have removed records
/// (someone rewrote a note and pushed), so the ref fast-forwards only when theirs holds every
/// record ours does. Compare-and-swap on the ref, redone when another writer moves it meanwhile.
pub fn merge_notes(repo: &gix::Repository, theirs: ObjectId) -> Result<Merged, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tip = notes_tip(repo)?;
        let Some(ours) = tip.commit else {
            if move_ref(repo, None, theirs, "git-proof: notes from a remote", attempt)? {
                return Ok(Merged::FastForward);
            }
            continue;
        };
        let base = repo.merge_base(ours, theirs).ok().flatten().map(gix::Id::detach);
        if ours == theirs || base == Some(theirs) {
            return Ok(Merged::UpToDate);
        }
        if base == Some(ours) && holds_every_record(repo, theirs, ours)? {
            if move_ref(
                repo,
                Some(ours),
                theirs,
                "git-proof: notes from a remote (fast-forward)",
                attempt,
            )? {
                return Ok(Merged::FastForward);
            }
            continue;
        }
        let mut state =
            gix::note::plumbing::State::new(tip.tree, repo).doing(|| format!("read the {NOTES_REF} tree"))?;
        for (commit, existing_blob, blob) in differing_notes(repo, &mut state, theirs)? {
            let existing = existing_blob.map_or_else(|| Ok(Vec::new()), |b| read_blob(repo, b))?;
            let incoming = read_blob(repo, blob)?;
            if let Some(merged) = union_note(&existing, &incoming) {
                let merged_blob = repo.write_blob(&merged).doing(|| "write a note blob".into())?.detach();
                state
                    .edit(commit, Some(merged_blob), repo)
                    .doing(|| format!("merge the note of {commit}"))?;
            }
        }
        let tree = state.write(repo).doing(|| "write the notes tree".into())?;
        let message = format!("Notes merged by 'git proof sync' from {theirs}\n");
        let notes_commit = write_commit(repo, tree, vec![ours, theirs], &message)?;
        if move_ref(repo, Some(ours), notes_commit, "git-proof: merge notes", attempt)? {
            return Ok(Merged::Merge(notes_commit));
        }
    }
}

/// Whether the notes of `theirs` hold every record the notes of `ours` hold.
fn holds_every_record(repo: &gix::Repository, theirs: ObjectId, ours: ObjectId) -> Result<bool, Error> {
    let tree = notes_tree(repo, theirs)?;
    let mut state = gix::note::plumbing::State::new(tree, repo).doing(|| format!("read the notes tree of {theirs}"))?;
    for (_, their_blob, blob) in differing_notes(repo, &mut state, ours)? {
        let their_note = their_blob.map_or_else(|| Ok(Vec::new()), |b| read_blob(repo, b))?;
        if union_note(&their_note, &read_blob(repo, blob)?).is_some() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The notes of `other` whose blob differs from the one `state` has for the same commit:
/// (commit, the blob in `state` if any, the blob in `other`). Both blobs of every pair are
/// here when this returns: a partial clone fetches the ones it lacks in one request.
fn differing_notes(
    repo: &gix::Repository,
    state: &mut gix::note::plumbing::State,
    other: ObjectId,
) -> Result<Vec<(ObjectId, Option<ObjectId>, ObjectId)>, Error> {
    let mut differing = Vec::new();
    for (commit, blob) in list_notes_at(repo, other)? {
        let in_state = state
            .get(&commit, repo)
            .doing(|| format!("look up the note of {commit}"))?;
        if in_state != Some(blob) {
            differing.push((commit, in_state, blob));
        }
    }
    crate::git::ensure_objects(
        repo,
        differing.iter().flat_map(|(_, a, b)| a.iter().copied().chain([*b])),
    )?;
    Ok(differing)
}

fn read_blob(repo: &gix::Repository, blob: ObjectId) -> Result<Vec<u8>, Error> {
    crate::git::ensure_objects(repo, [blob])?;
    Ok(repo
        .find_blob(blob)
        .doing(|| format!("read note blob {blob}"))?
        .detach()
        .data)
}

fn note_in(repo: &gix::Repository, state: &mut gix::note::plumbing::State, commit: ObjectId) -> Result<Vec<u8>, Error> {
    match state
        .get(&commit, repo)
        .doing(|| format!("look up the note of {commit}"))?
    {
        Some(blob) => read_blob(repo, blob),
        None => Ok(Vec::new()),
    }
}

/// Moves `refs/notes/proof` from `expected` to `new`; `false` when another writer got there
/// first (the caller redoes its edit on the new tip), an error after too many lost races.
fn move_ref(
    repo: &gix::Repository,
    expected: Option<ObjectId>,
    new: ObjectId,
    message: &str,
    attempt: u32,
) -> Result<bool, Error> {
    let previous = match expected {
        None => PreviousValue::MustNotExist,
        Some(old) => PreviousValue::MustExistAndMatch(gix::refs::Target::Object(old)),
    };
    // The reflog entry needs a committer; a CI runner often has none configured, and a proof
    // must not fail for want of `user.name` (the notes commit itself falls back the same way).
    let with_identity;
    let repo = if repo.committer().is_some() {
        repo
    } else {
        with_identity = fallback_identity(repo)?;
        &with_identity
    };
    match repo.reference(NOTES_REF, new, previous, message.trim_end().to_owned()) {
        Ok(_) => Ok(true),
        // Only a ref that moved meanwhile is a lost race; anything else is an error now.
        Err(source) if notes_tip(repo)?.commit == expected => Err(Error::Git {
            action: format!("update {NOTES_REF}"),
            source,
        }),
        Err(source) if attempt >= MAX_ATTEMPTS => Err(Error::Git {
            action: format!("update {NOTES_REF} (lost the race {attempt} times)"),
            source,
        }),
        Err(_) => {
            std::thread::sleep(Duration::from_millis(u64::from(attempt.min(10)) * 5));
            Ok(false)
        }
    }
}

/// `repo` with git-proof's identity as the committer of last resort.
fn fallback_identity(repo: &gix::Repository) -> Result<gix::Repository, Error> {
    let mut repo = repo.clone();
    let mut config = repo.config_snapshot_mut();
    config
        .append_config(
            [
                "gitoxide.committer.nameFallback=git-proof",
                "gitoxide.committer.emailFallback=git-proof@localhost",
            ],
            gix::config::Source::Api,
        )
        .doing(|| "set a fallback committer".into())?;
    config.commit().doing(|| "set a fallback committer".into())?;
    Ok(repo)
}

fn collect_notes(
    repo: &gix::Repository,
    tree: ObjectId,
    prefix: &mut String,
    out: &mut Vec<(ObjectId, ObjectId)>,
) -> Result<(), Error> {
    let hex_len = repo.object_hash().len_in_hex();
    let tree = repo.find_tree(tree).doing(|| format!("read notes tree {tree}"))?;
    for entry in tree.decode().doing(|| "decode a notes tree".into())?.entries.iter() {
        let name = entry.filename.to_str_lossy();
        let start = prefix.len();
        prefix.push_str(&name);
        if entry.mode.is_tree() && prefix.len() < hex_len {
            collect_notes(repo, entry.oid.to_owned(), prefix, out)?;
        } else if entry.mode.is_blob()
            && prefix.len() == hex_len
            && let Ok(annotated) = ObjectId::from_hex(prefix.as_bytes())
        {
            out.push((annotated, entry.oid.to_owned()));
        }
        prefix.truncate(start);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n";

    #[test]
    fn union_keeps_every_record_once() {
        let a = format!("{{\"a\": 1}}\n{SIG}");
        let b = format!("{{\"b\": 2}}\n{SIG}");
        let both = format!("{a}{b}");
        assert_eq!(union_note(a.as_bytes(), a.as_bytes()), None);
        assert_eq!(union_note(both.as_bytes(), b.as_bytes()), None);
        assert_eq!(
            union_note(a.as_bytes(), both.as_bytes()),
            Some(both.clone().into_bytes())
        );
        assert_eq!(union_note(b"", a.as_bytes()), Some(a.clone().into_bytes()));
        // Text that is not records is never dropped.
        assert_eq!(
            union_note(b"junk\n", a.as_bytes()),
            Some(format!("junk\n{a}").into_bytes())
        );
    }
}
