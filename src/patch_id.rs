//! `git diff --no-renames --full-index BASE HEAD | git patch-id --verbatim` (or `--stable`),
//! in-process.
//!
//! A patch-id names a change independently of where it sits: the same edits give the same id
//! after a rebase or an amend that only rewords the message. A proof carried to a rewritten
//! commit names both ids, and `verify` recomputes the new one. Carry-over compares patches byte
//! for byte, so new records use `--verbatim` ids, where whitespace counts (`--stable` ignores
//! it: an amend that only re-indents a Python line would keep a `--stable` id).
//!
//! The diff text is produced as git prints it (no renames, three lines of context, Myers with
//! git's indent heuristic), then hashed by a port of git's `get_one_patchid` state machine
//! rather than a shortcut over the hunks, so that its quirks (headers of hunk-less changes
//! hashed with the next file, binary changes hashed by blob id) come out as git's do.

use gix::ObjectId;
use gix::bstr::{BString, ByteSlice};
use gix::diff::blob::{Algorithm, Diff, InternedInput, sources::byte_lines};

use crate::diffstat::{RawChange, changes_with_content, entry_data, is_binary, type_class};
use crate::git::Error;

/// Lines of context git prints around a change.
const CONTEXT: u32 = 3;

/// The verbatim patch-id (`git patch-id --verbatim`) of the diff from `base` to `head`, or
/// `None` when the trees are equal.
pub fn verbatim(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<Option<String>, Error> {
    patch_id(repo, base, head, Whitespace::Counts)
}

/// The stable patch-id (`git patch-id --stable`), which ignores whitespace: what rewrite records
/// of version 1.0 hold.
pub fn stable(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<Option<String>, Error> {
    patch_id(repo, base, head, Whitespace::Ignored)
}

/// Whether whitespace is part of the hashed patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whitespace {
    Counts,
    Ignored,
}

fn patch_id(
    repo: &gix::Repository,
    base: ObjectId,
    head: ObjectId,
    whitespace: Whitespace,
) -> Result<Option<String>, Error> {
    let mut changes = changes_with_content(repo, base, head)?;
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    let hash = repo.object_hash();
    let mut text = Vec::new();
    for change in &changes {
        write_file_diff(repo, change, hash, &mut text)?;
    }
    Ok(hash_patch(&text, hash, whitespace))
}

fn write_file_diff(
    repo: &gix::Repository,
    change: &RawChange,
    hash: gix::hash::Kind,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    // A change between a file and a link or submodule is printed as a deletion and an addition.
    if let (Some(old), Some(new)) = (change.old, change.new)
        && type_class(old.0.kind()) != type_class(new.0.kind())
    {
        let deletion = RawChange {
            path: change.path.clone(),
            old: Some(old),
            new: None,
        };
        let addition = RawChange {
            path: change.path.clone(),
            old: None,
            new: Some(new),
        };
        write_file_diff(repo, &deletion, hash, out)?;
        return write_file_diff(repo, &addition, hash, out);
    }
    let a = quote_path(b"a/", &change.path);
    let b = quote_path(b"b/", &change.path);
    push_line(out, &[b"diff --git ", &a[..], b" ", &b[..]]);
    let null = ObjectId::null(hash);
    let (old_id, new_id) = (change.old.map_or(null, |o| o.1), change.new.map_or(null, |n| n.1));
    match (change.old, change.new) {
        (None, Some((mode, _))) => push_line(out, &[format!("new file mode {:06o}", mode.value()).as_bytes()]),
        (Some((mode, _)), None) => push_line(out, &[format!("deleted file mode {:06o}", mode.value()).as_bytes()]),
        (Some((old_mode, _)), Some((new_mode, _))) if old_mode != new_mode => {
            push_line(out, &[format!("old mode {:06o}", old_mode.value()).as_bytes()]);
            push_line(out, &[format!("new mode {:06o}", new_mode.value()).as_bytes()]);
        }
        _ => {}
    }
    let old = match change.old {
        Some((mode, id)) => entry_data(repo, mode.kind(), id)?,
        None => Vec::new(),
    };
    let new = match change.new {
        Some((mode, id)) => entry_data(repo, mode.kind(), id)?,
        None => Vec::new(),
    };
    if old_id == new_id {
        // A mode change alone: no index line, no hunks.
        return Ok(());
    }
    let same_mode = match (change.old, change.new) {
        (Some((o, _)), Some((n, _))) if o == n => format!(" {:06o}", o.value()),
        _ => String::new(),
    };
    push_line(out, &[format!("index {old_id}..{new_id}{same_mode}").as_bytes()]);
    let minus = if change.old.is_some() {
        a.clone()
    } else {
        b"/dev/null".to_vec()
    };
    let plus = if change.new.is_some() {
        b.clone()
    } else {
        b"/dev/null".to_vec()
    };
    if is_binary(&old) || is_binary(&new) {
        push_line(out, &[b"Binary files ", &minus[..], b" and ", &plus[..], b" differ"]);
        return Ok(());
    }
    if old.is_empty() && new.is_empty() {
        return Ok(());
    }
    push_line(out, &[b"--- ", &minus[..]]);
    push_line(out, &[b"+++ ", &plus[..]]);
    write_hunks(&old, &new, out);
    Ok(())
}

fn push_line(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
    out.push(b'\n');
}

/// git's `quote_c_style` of `prefix` + `path`, as `core.quotePath=true` (the default) prints it.
fn quote_path(prefix: &[u8], path: &BString) -> Vec<u8> {
    let name: Vec<u8> = prefix.iter().chain(path.iter()).copied().collect();
    let needs_quoting = |c: u8| c < 0x20 || c == b'"' || c == b'\\' || c >= 0x7f;
    if !name.iter().any(|&c| needs_quoting(c)) {
        return name;
    }
    let mut out = vec![b'"'];
    for c in name {
        match c {
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0b => out.extend_from_slice(b"\\v"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            c if needs_quoting(c) => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
    out
}

/// The hunks of a unified diff with three lines of context, grouped as git's `xdl_get_hunk`
/// groups changes (at most six unchanged lines between two changes of one hunk).
fn write_hunks(old: &[u8], new: &[u8], out: &mut Vec<u8>) {
    let input = InternedInput::new(byte_lines(old), byte_lines(new));
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);
    let mut changes: Vec<(std::ops::Range<u32>, std::ops::Range<u32>)> = Vec::new();
    for hunk in diff.hunks() {
        match changes.last_mut() {
            Some(last) if last.0.end == hunk.before.start && last.1.end == hunk.after.start => {
                last.0.end = hunk.before.end;
                last.1.end = hunk.after.end;
            }
            _ => changes.push((hunk.before, hunk.after)),
        }
    }
    let token = |t: gix::diff::blob::Token| -> &[u8] { input.interner[t] };
    let line = |out: &mut Vec<u8>, sign: u8, text: &[u8]| {
        out.push(sign);
        match text.strip_suffix(b"\n") {
            Some(text) => {
                out.extend_from_slice(text);
                out.push(b'\n');
            }
            None => {
                out.extend_from_slice(text);
                out.extend_from_slice(b"\n\\ No newline at end of file\n");
            }
        }
    };
    let old_len = input.before.len() as u32;
    let mut i = 0;
    while i < changes.len() {
        let mut j = i;
        while j + 1 < changes.len() && changes[j + 1].0.start - changes[j].0.end <= 2 * CONTEXT {
            j += 1;
        }
        let first = &changes[i];
        let last = &changes[j];
        let lead = first.0.start.min(CONTEXT);
        let trail = (old_len - last.0.end).min(CONTEXT);
        let before_len = last.0.end + trail - (first.0.start - lead);
        let after_len = last.1.end + trail - (first.1.start - lead);
        out.extend_from_slice(
            format!(
                "@@ -{},{} +{},{} @@\n",
                first.0.start - lead + 1,
                before_len,
                first.1.start - lead + 1,
                after_len
            )
            .as_bytes(),
        );
        for t in &input.before[(first.0.start - lead) as usize..first.0.start as usize] {
            line(out, b' ', token(*t));
        }
        for k in i..=j {
            let (removed, added) = &changes[k];
            for t in &input.before[removed.start as usize..removed.end as usize] {
                line(out, b'-', token(*t));
            }
            for t in &input.after[added.start as usize..added.end as usize] {
                line(out, b'+', token(*t));
            }
            let common_end = if k < j {
                changes[k + 1].0.start
            } else {
                removed.end + trail
            };
            for t in &input.before[removed.end as usize..common_end as usize] {
                line(out, b' ', token(*t));
            }
        }
        i = j + 1;
    }
}

/// git's `get_one_patchid` with `--stable` or `--verbatim`, over one diff: per-file hashes
/// summed with carry.
fn hash_patch(text: &[u8], kind: gix::hash::Kind, whitespace: Whitespace) -> Option<String> {
    let mut result = vec![0u8; kind.len_in_bytes()];
    let mut ctx = Hasher::new(kind);
    let (mut before, mut after) = (-1i64, -1i64);
    let mut patch_len = 0usize;
    let mut binary = false;
    let (mut pre_oid, mut post_oid) = (Vec::new(), Vec::new());
    for raw in text.split_inclusive(|&b| b == b'\n') {
        // C string functions see a line up to its first NUL.
        let line = raw.split(|&b| b == 0).next().unwrap_or(raw);
        if line.starts_with(b"\\ ") && line.len() > 12 {
            // "\ No newline at end of file": part of a verbatim patch, not of a stable one.
            if whitespace == Whitespace::Counts {
                ctx.update(line);
            }
            continue;
        }
        if patch_len == 0 && !line.starts_with(b"diff ") {
            continue;
        }
        if before == -1 {
            if line.starts_with(b"GIT binary patch") || line.starts_with(b"Binary files") {
                binary = true;
                before = 0;
                ctx.update(&pre_oid);
                ctx.update(&post_oid);
                ctx.flush_into(&mut result);
                continue;
            } else if let Some(rest) = line.strip_prefix(b"index ") {
                if let Some(dots) = rest.find(b"..") {
                    let post = &rest[dots + 2..];
                    let post_end = post.find_byte(b' ').unwrap_or(post.len().saturating_sub(1));
                    pre_oid = rest[..dots].to_vec();
                    post_oid = post[..post_end].to_vec();
                }
                continue;
            } else if line.starts_with(b"--- ") {
                before = 1;
                after = 1;
            } else if !line.first().is_some_and(u8::is_ascii_alphabetic) {
                break;
            }
        }
        if binary {
            if line.starts_with(b"diff ") {
                binary = false;
                before = -1;
            }
            continue;
        }
        if before == 0 && after == 0 {
            if line.starts_with(b"@@ -") {
                (before, after) = scan_hunk_header(line);
                continue;
            }
            if !line.starts_with(b"diff ") {
                break;
            }
            ctx.flush_into(&mut result);
            before = -1;
            after = -1;
        }
        match line.first() {
            Some(b'-') => before -= 1,
            Some(b'+') => after -= 1,
            Some(b' ') => {
                before -= 1;
                after -= 1;
            }
            _ => {}
        }
        if whitespace == Whitespace::Counts {
            patch_len += line.len();
            ctx.update(line);
        } else {
            let stripped: Vec<u8> = line
                .iter()
                .copied()
                .filter(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
                .collect();
            patch_len += stripped.len();
            ctx.update(&stripped);
        }
    }
    ctx.flush_into(&mut result);
    (patch_len > 0).then(|| result.iter().map(|b| format!("{b:02x}")).collect())
}

/// The line counts of `@@ -a,b +c,d @@` (a missing count is 1).
fn scan_hunk_header(line: &[u8]) -> (i64, i64) {
    let text = String::from_utf8_lossy(line);
    let mut counts = text
        .trim_start_matches("@@ ")
        .split(' ')
        .take(2)
        .map(|range| range[1..].split_once(',').map_or(1, |(_, n)| n.parse().unwrap_or(0)));
    (counts.next().unwrap_or(0), counts.next().unwrap_or(0))
}

/// The repository's hash function, as `git patch-id` uses it.
struct Hasher {
    kind: gix::hash::Kind,
    inner: gix::hash::Hasher,
}

impl Hasher {
    fn new(kind: gix::hash::Kind) -> Self {
        Self {
            kind,
            inner: gix::hash::hasher(kind),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// git's `flush_one_hunk`: adds this hash to `result` as a little-endian number with carry,
    /// and starts a new one.
    fn flush_into(&mut self, result: &mut [u8]) {
        let done = std::mem::replace(&mut self.inner, gix::hash::hasher(self.kind));
        // A detected SHA-1 collision attack leaves the sum unchanged; the id then differs from
        // every honest one, which is what a verifier needs.
        let Ok(digest) = done.try_finalize() else { return };
        let mut carry = 0u16;
        for (r, d) in result.iter_mut().zip(digest.as_bytes()) {
            carry += u16::from(*r) + u16::from(*d);
            *r = carry as u8;
            carry >>= 8;
        }
    }
}
