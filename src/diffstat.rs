//! `git diff --numstat -M base head`, in-process: the tree diff from gix, then git's own rename
//! detection (diffcore-rename), then line counts by Myers over interned lines.
//!
//! Rename detection follows git rather than gix's tracker so that the pairs, and therefore
//! every number in the bundle, are the ones `git diff -M` prints: exact matches first
//! (preferring an unused source with the same basename), then unique-basename pairs at 75%
//! similarity, then the best-scoring pairs at 50%, with similarity estimated as git does from
//! hashed chunks of at most 64 bytes or one line ("spanhash"). It is also far cheaper than
//! diffing every candidate pair in full.

use std::collections::HashMap;

use gix::ObjectId;
use gix::bstr::{BString, ByteSlice};
use gix::diff::blob::{Algorithm, Diff, InternedInput, sources::byte_lines};
use gix::objs::tree::{EntryKind, EntryMode};

use crate::git::{Error, GitContext};
use crate::model::{DiffEntry, DiffStat};

/// git's similarity scale: 100% is `MAX_SCORE`.
const MAX_SCORE: u64 = 60_000;
/// `-M` without a number: 50%.
const MINIMUM_SCORE: u64 = 30_000;
/// Unique basenames pair up at halfway between the minimum and 100%: 75%.
const BASENAME_SCORE: u64 = MINIMUM_SCORE + (MAX_SCORE - MINIMUM_SCORE) / 2;
/// `diff.renameLimit`'s default: above limit² candidate pairs git skips inexact detection.
const RENAME_LIMIT: usize = 1000;
/// git keeps this many best sources per destination.
const CANDIDATES_PER_DST: usize = 4;
/// git's `HASHBASE` for spanhash values.
const HASHBASE: u32 = 107_927;

/// One side of a change: what a path held.
struct Side {
    path: BString,
    mode: EntryMode,
    id: ObjectId,
    data: Vec<u8>,
}

impl Side {
    fn is_regular(&self) -> bool {
        matches!(self.mode.kind(), EntryKind::Blob | EntryKind::BlobExecutable)
    }

    fn basename(&self) -> &[u8] {
        let path: &[u8] = self.path.as_ref();
        path.rfind_byte(b'/').map_or(path, |i| &path[i + 1..])
    }
}

/// One path that differs between two trees, without rename detection: what it held before
/// and after (mode and object), `None` where it did not exist. Trees are never entries: a path
/// that turns from file into directory is a deletion plus additions below it.
#[derive(Debug, Clone)]
pub struct RawChange {
    pub path: BString,
    pub old: Option<(EntryMode, ObjectId)>,
    pub new: Option<(EntryMode, ObjectId)>,
}

/// The non-tree entries that differ between the trees of two commits.
pub fn tree_changes(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<Vec<RawChange>, Error> {
    let (old_id, new_id) = (crate::git::tree_of(repo, base)?, crate::git::tree_of(repo, head)?);
    // A treeless clone (`--filter=tree:0`) fetches a root tree with every tree below it.
    crate::git::ensure_objects(repo, [old_id, new_id])?;
    let tree_data = |id: ObjectId| -> Result<Vec<u8>, Error> {
        Ok(repo.find_tree(id).doing(|| format!("read tree {id}"))?.detach().data)
    };
    let (old_tree, new_tree) = (tree_data(old_id)?, tree_data(new_id)?);
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(&old_tree, repo.object_hash()),
        gix::objs::TreeRefIter::from_bytes(&new_tree, repo.object_hash()),
        &mut gix::diff::tree::State::default(),
        &repo.objects,
        &mut recorder,
    )
    .map_err(gix::Error::from_error)
    .doing(|| format!("diff {base} {head}"))?;
    let mut changes = Vec::new();
    for change in recorder.records {
        use gix::diff::tree::recorder::Change;
        let (path, old, new) = match change {
            Change::Addition {
                entry_mode, oid, path, ..
            } => (path, None, Some((entry_mode, oid))),
            Change::Deletion {
                entry_mode, oid, path, ..
            } => (path, Some((entry_mode, oid)), None),
            Change::Modification {
                previous_entry_mode,
                previous_oid,
                entry_mode,
                oid,
                path,
            } => (path, Some((previous_entry_mode, previous_oid)), Some((entry_mode, oid))),
        };
        let old = old.filter(|(mode, _)| !mode.is_tree());
        let new = new.filter(|(mode, _)| !mode.is_tree());
        if old.is_some() || new.is_some() {
            changes.push(RawChange { path, old, new });
        }
    }
    Ok(changes)
}

/// [`tree_changes`] with the content of every changed file here: a partial clone fetches the
/// blobs it lacks, all in one request.
pub fn changes_with_content(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<Vec<RawChange>, Error> {
    let changes = tree_changes(repo, base, head)?;
    let blobs = changes
        .iter()
        .flat_map(|c| [c.old, c.new])
        .flatten()
        .filter(|(mode, _)| mode.kind() != EntryKind::Commit)
        .map(|(_, id)| id);
    crate::git::ensure_objects(repo, blobs)?;
    Ok(changes)
}

/// Changed paths and numbers between two commits, as `git diff --numstat -M base head`.
pub fn diff_stat(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<DiffStat, Error> {
    if base == head {
        return Ok(DiffStat::default());
    }
    let (mut sources, mut dests, mut modified) = (Vec::new(), Vec::new(), Vec::new());
    for change in changes_with_content(repo, base, head)? {
        match (change.old, change.new) {
            (Some((old_mode, old_id)), Some((new_mode, new_id))) => {
                modified.push((old_mode, old_id, new_mode, new_id, change.path));
            }
            (Some((mode, id)), None) => sources.push(side(repo, change.path, mode, id)?),
            (None, Some((mode, id))) => dests.push(side(repo, change.path, mode, id)?),
            (None, None) => {}
        }
    }
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    dests.sort_by(|a, b| a.path.cmp(&b.path));
    let renames = detect_renames(&sources, &dests);

    let mut entries = Vec::with_capacity(modified.len() + sources.len() + dests.len());
    for (old_mode, old_id, new_mode, new_id, path) in modified {
        let old = side(repo, path.clone(), old_mode, old_id)?;
        let new = side(repo, path, new_mode, new_id)?;
        let status = if type_class(old_mode.kind()) == type_class(new_mode.kind()) {
            "M"
        } else {
            "T"
        };
        entries.push(entry(&new.path, None, status, Some(&old), Some(&new)));
    }
    let mut used_sources = vec![false; sources.len()];
    for (d, dest) in dests.iter().enumerate() {
        match renames[d] {
            Some(s) => {
                used_sources[s] = true;
                let src = &sources[s];
                entries.push(entry(&dest.path, Some(&src.path), "R", Some(src), Some(dest)));
            }
            None => entries.push(entry(&dest.path, None, "A", None, Some(dest))),
        }
    }
    for (source, used) in sources.iter().zip(used_sources) {
        if !used {
            entries.push(entry(&source.path, None, "D", Some(source), None));
        }
    }
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(DiffStat {
        files: entries.len() as u64,
        insertions: entries.iter().map(|e| e.insertions).sum(),
        deletions: entries.iter().map(|e| e.deletions).sum(),
        entries,
    })
}

fn side(repo: &gix::Repository, path: BString, mode: EntryMode, id: ObjectId) -> Result<Side, Error> {
    let data = entry_data(repo, mode.kind(), id)?;
    Ok(Side { path, mode, id, data })
}

/// What git diffs for a tree entry: a blob's or link's bytes, a submodule as the one line
/// "Subproject commit <sha>".
pub(crate) fn entry_data(repo: &gix::Repository, kind: EntryKind, id: ObjectId) -> Result<Vec<u8>, Error> {
    Ok(match kind {
        EntryKind::Commit => format!("Subproject commit {id}\n").into_bytes(),
        EntryKind::Tree => Vec::new(),
        EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
            repo.find_blob(id).doing(|| format!("read blob {id}"))?.detach().data
        }
    })
}

fn entry(
    path: &BString,
    old_path: Option<&BString>,
    status: &str,
    old: Option<&Side>,
    new: Option<&Side>,
) -> DiffEntry {
    let (old_data, new_data) = (data_of(old), data_of(new));
    let binary = is_binary(old_data) || is_binary(new_data);
    let (insertions, deletions) = if binary {
        (0, 0)
    } else {
        count_lines(old_data, new_data)
    };
    let mode = |side: Option<&Side>| side.map(|s| format!("{:06o}", s.mode.value()));
    let blob = |side: Option<&Side>| side.map(|s| s.id.to_string());
    DiffEntry {
        path: crate::model::path_text(path),
        old_path: old_path.map(|p| crate::model::path_text(p)),
        status: status.into(),
        insertions,
        deletions,
        binary,
        old_mode: mode(old),
        old_blob: blob(old),
        mode: mode(new),
        blob: blob(new),
    }
}

fn data_of(side: Option<&Side>) -> &[u8] {
    side.map_or(&[][..], |s| s.data.as_slice())
}

/// Regular files (any mode) are one class; links and submodules are others: a change between
/// classes at one path is git's `T` (typechange).
pub(crate) fn type_class(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Blob | EntryKind::BlobExecutable => 0,
        EntryKind::Link => 1,
        EntryKind::Commit => 2,
        EntryKind::Tree => 3,
    }
}

/// git's `buffer_is_binary`: a NUL byte in the first 8000 bytes.
pub(crate) fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}

/// Inserted and deleted lines by Myers over interned lines, which is what git counts (a last
/// line without its newline differs from the same line with one).
fn count_lines(old: &[u8], new: &[u8]) -> (u64, u64) {
    let input = InternedInput::new(byte_lines(old), byte_lines(new));
    let diff = Diff::compute(Algorithm::Myers, &input);
    (u64::from(diff.count_additions()), u64::from(diff.count_removals()))
}

/// For each destination (in order), the index of the source it was renamed from.
fn detect_renames(sources: &[Side], dests: &[Side]) -> Vec<Option<usize>> {
    let mut dst_source: Vec<Option<usize>> = vec![None; dests.len()];
    if sources.is_empty() || dests.is_empty() {
        return dst_source;
    }
    let mut src_used = vec![false; sources.len()];

    // 1. Exact renames: same object (and same mode unless both are regular files).
    let mut by_id: HashMap<ObjectId, Vec<usize>> = HashMap::new();
    for (i, s) in sources.iter().enumerate() {
        by_id.entry(s.id).or_default().push(i);
    }
    for (d, dest) in dests.iter().enumerate() {
        let Some(candidates) = by_id.get(&dest.id) else {
            continue;
        };
        let mut best: Option<(usize, u8)> = None;
        // git looks at no more than 100 usable identical sources.
        let mut budget = 100;
        for &s in candidates {
            let source = &sources[s];
            if (!source.is_regular() || !dest.is_regular()) && source.mode != dest.mode {
                continue;
            }
            if src_used[s] {
                continue;
            }
            let score = 1 + u8::from(source.basename() == dest.basename());
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((s, score));
                if score == 2 {
                    break;
                }
            }
            budget -= 1;
            if budget == 0 {
                break;
            }
        }
        if let Some((s, _)) = best {
            dst_source[d] = Some(s);
            src_used[s] = true;
        }
    }

    // 2. Unique basenames among what is left pair up when at least 75% similar.
    let mut spans = SpanCache {
        sources: std::iter::repeat_with(|| None).take(sources.len()).collect(),
        dests: std::iter::repeat_with(|| None).take(dests.len()).collect(),
    };
    let mut source_base: HashMap<&[u8], Option<usize>> = HashMap::new();
    for (s, source) in sources.iter().enumerate().filter(|(s, _)| !src_used[*s]) {
        source_base
            .entry(source.basename())
            .and_modify(|v| *v = None)
            .or_insert(Some(s));
    }
    let mut dest_base: HashMap<&[u8], Option<usize>> = HashMap::new();
    for (d, dest) in dests.iter().enumerate().filter(|(d, _)| dst_source[*d].is_none()) {
        dest_base
            .entry(dest.basename())
            .and_modify(|v| *v = None)
            .or_insert(Some(d));
    }
    for (s, source) in sources.iter().enumerate() {
        if src_used[s] {
            continue;
        }
        let (Some(Some(unique_s)), Some(Some(d))) =
            (source_base.get(source.basename()), dest_base.get(source.basename()))
        else {
            continue;
        };
        debug_assert_eq!(*unique_s, s);
        if dst_source[*d].is_some() {
            continue;
        }
        let score = similarity(&mut spans, sources, dests, s, *d);
        if score >= BASENAME_SCORE {
            dst_source[*d] = Some(s);
            src_used[s] = true;
        }
    }

    // 3. The best remaining pairs at 50% or more, unless there are too many to compare.
    let open_dests: Vec<usize> = (0..dests.len()).filter(|d| dst_source[*d].is_none()).collect();
    let open_sources: Vec<usize> = (0..sources.len()).filter(|s| !src_used[*s]).collect();
    let too_many = (open_dests.len() > RENAME_LIMIT && open_sources.len() > RENAME_LIMIT)
        || open_dests.len().saturating_mul(open_sources.len()) > RENAME_LIMIT * RENAME_LIMIT;
    if open_dests.is_empty() || open_sources.is_empty() || too_many {
        return dst_source;
    }
    let mut matrix: Vec<Candidate> = Vec::with_capacity(open_dests.len() * CANDIDATES_PER_DST);
    for &d in &open_dests {
        let mut best: [Option<Candidate>; CANDIDATES_PER_DST] = [None; CANDIDATES_PER_DST];
        for &s in &open_sources {
            let candidate = Candidate {
                score: similarity(&mut spans, sources, dests, s, d),
                name_score: u8::from(sources[s].basename() == dests[d].basename()),
                dst: d,
                src: s,
            };
            record_if_better(&mut best, candidate);
        }
        matrix.extend(best.into_iter().flatten());
    }
    // Stable, as git's STABLE_QSORT: most similar first, same basename first among equals.
    matrix.sort_by(|a, b| b.score.cmp(&a.score).then(b.name_score.cmp(&a.name_score)));
    for c in matrix {
        if c.score < MINIMUM_SCORE {
            break;
        }
        if dst_source[c.dst].is_some() || src_used[c.src] {
            continue;
        }
        dst_source[c.dst] = Some(c.src);
        src_used[c.src] = true;
    }
    dst_source
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    score: u64,
    name_score: u8,
    dst: usize,
    src: usize,
}

/// git's `record_if_better`: replace the worst kept candidate when the new one is better.
fn record_if_better(kept: &mut [Option<Candidate>; CANDIDATES_PER_DST], candidate: Candidate) {
    let rank = |c: &Option<Candidate>| c.map_or((0, 0, false), |c| (c.score, c.name_score, true));
    let worst = (0..CANDIDATES_PER_DST)
        .min_by(|&a, &b| {
            let (ra, rb) = (rank(&kept[a]), rank(&kept[b]));
            // Empty slots are the worst of all; then lowest score, then different basename.
            (ra.2, ra.0, ra.1).cmp(&(rb.2, rb.0, rb.1))
        })
        .unwrap_or(0);
    let better = match kept[worst] {
        None => true,
        Some(w) => (candidate.score, candidate.name_score) > (w.score, w.name_score),
    };
    if better {
        kept[worst] = Some(candidate);
    }
}

/// Each side's span hashes, computed once.
struct SpanCache {
    sources: Vec<Option<SpanHash>>,
    dests: Vec<Option<SpanHash>>,
}

/// git's `estimate_similarity` for renames: 0 unless both are regular files of comparable size;
/// otherwise the bytes of `dst` found in `src`, over the larger size, on a 0..60000 scale.
fn similarity(spans: &mut SpanCache, sources: &[Side], dests: &[Side], s: usize, d: usize) -> u64 {
    let (src, dst) = (&sources[s], &dests[d]);
    if !src.is_regular() || !dst.is_regular() {
        return 0;
    }
    let (src_size, dst_size) = (src.data.len() as u64, dst.data.len() as u64);
    let max_size = src_size.max(dst_size);
    let delta_size = max_size - src_size.min(dst_size);
    if max_size * (MAX_SCORE - MINIMUM_SCORE) < delta_size * MAX_SCORE {
        return 0;
    }
    if dst_size == 0 {
        return 0;
    }
    let src_spans = spans.sources[s].get_or_insert_with(|| SpanHash::of(&src.data));
    let dst_spans = spans.dests[d].get_or_insert_with(|| SpanHash::of(&dst.data));
    src_spans.copied_into(dst_spans) * MAX_SCORE / max_size
}

/// git's `hash_chars`: byte counts per hash of chunks that end at a newline or after 64 bytes,
/// sorted by hash.
struct SpanHash(Vec<(u32, u64)>);

impl SpanHash {
    fn of(data: &[u8]) -> Self {
        let is_text = !is_binary(data);
        let mut counts: HashMap<u32, u64> = HashMap::new();
        let (mut accum1, mut accum2, mut n) = (0u32, 0u32, 0u64);
        let mut i = 0;
        while i < data.len() {
            let c = u32::from(data[i]);
            i += 1;
            // CR of a CRLF pair is ignored in text.
            if is_text && c == u32::from(b'\r') && data.get(i) == Some(&b'\n') {
                continue;
            }
            let old_1 = accum1;
            accum1 = (accum1 << 7) ^ (accum2 >> 25);
            accum2 = (accum2 << 7) ^ (old_1 >> 25);
            accum1 = accum1.wrapping_add(c);
            n += 1;
            if n < 64 && c != u32::from(b'\n') {
                continue;
            }
            *counts
                .entry(accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE)
                .or_default() += n;
            (accum1, accum2, n) = (0, 0, 0);
        }
        if n > 0 {
            *counts
                .entry(accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE)
                .or_default() += n;
        }
        let mut spans: Vec<(u32, u64)> = counts.into_iter().collect();
        spans.sort_unstable();
        Self(spans)
    }

    /// git's `src_copied`: for each hash, the bytes both sides share.
    fn copied_into(&self, dst: &SpanHash) -> u64 {
        let (mut i, mut j, mut copied) = (0, 0, 0);
        while i < self.0.len() && j < dst.0.len() {
            let ((sh, sc), (dh, dc)) = (self.0[i], dst.0[j]);
            match sh.cmp(&dh) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    copied += sc.min(dc);
                    i += 1;
                    j += 1;
                }
            }
        }
        copied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_content_is_fully_similar() {
        let a = SpanHash::of(b"one\ntwo\nthree\n");
        assert_eq!(a.copied_into(&a), 14);
        let b = SpanHash::of(b"one\ntwo\nfour\n");
        assert_eq!(a.copied_into(&b), 8);
    }

    #[test]
    fn long_lines_are_cut_into_64_byte_chunks() {
        let line = vec![b'x'; 130];
        let spans = SpanHash::of(&line);
        let total: u64 = spans.0.iter().map(|(_, c)| c).sum();
        assert_eq!(total, 130);
        // Two identical 64-byte chunks share one hash; the 2-byte tail has its own.
        assert_eq!(spans.0.len(), 2);
    }
}
