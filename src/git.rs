//! Everything git-proof asks of git, in-process through gix: HEAD, trees, the diff between two
//! commits with the numbers `git diff --numstat -M` prints, uncommitted changes, history walks.

use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::diff::blob::{Algorithm, Diff, InternedInput, sources::byte_lines};
use gix::object::tree::diff::ChangeDetached;
use gix::objs::tree::EntryKind;
use gix::prelude::ObjectIdExt;

use crate::model::{DiffEntry, DiffStat};

/// What went wrong talking to the repository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No repository at or above the directory.
    #[error("not a git repository: {}", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: gix::Error,
    },
    /// The repository has no commit to attach a proof to.
    #[error("the repository has no commits yet")]
    NoCommits,
    /// A bare repository has no worktree to run in.
    #[error("the repository has no worktree (it is bare)")]
    Bare,
    /// A revision that does not name a commit here.
    #[error("'{spec}' does not name a commit in this repository")]
    UnknownRevision {
        spec: String,
        #[source]
        source: Option<gix::Error>,
    },
    /// A range form we do not take.
    #[error("'{0}': symmetric ranges (A...B) are not supported; use A..B")]
    UnsupportedRange(String),
    /// Any other failure reading or writing objects and references.
    #[error("git: could not {action}")]
    Git {
        action: String,
        #[source]
        source: gix::Error,
    },
}

/// Attaches what we were doing to a gix error.
pub(crate) trait GitContext<T> {
    fn doing(self, action: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T, E: Into<gix::Error>> GitContext<T> for Result<T, E> {
    fn doing(self, action: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::Git {
            action: action(),
            source: e.into(),
        })
    }
}

/// Opens the repository containing `dir`, honouring `GIT_DIR` and friends as git does.
pub fn discover(dir: &Path) -> Result<gix::Repository, Error> {
    let mut repo = gix::discover_with_environment_overrides(dir).map_err(|source| Error::NotARepository {
        path: dir.to_owned(),
        source,
    })?;
    // git compares file times to the nanosecond (its USE_NSEC build default); gix only does so
    // when asked, and otherwise re-hashes every file touched in the second the index was
    // written, which after a commit is most of what the agent just changed.
    if repo.config_snapshot().boolean("gitoxide.core.useNsec").is_none() {
        let mut config = repo.config_snapshot_mut();
        config
            .append_config(["gitoxide.core.useNsec=true"], gix::config::Source::Api)
            .doing(|| "configure nanosecond file times".into())?;
        config.commit().doing(|| "configure nanosecond file times".into())?;
    }
    Ok(repo)
}

/// The worktree root, or [`Error::Bare`].
pub fn workdir(repo: &gix::Repository) -> Result<PathBuf, Error> {
    let dir = repo.workdir().ok_or(Error::Bare)?;
    Ok(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()))
}

/// The commit HEAD points to (attached or detached), or [`Error::NoCommits`].
pub fn head_commit(repo: &gix::Repository) -> Result<ObjectId, Error> {
    let head = repo.head().doing(|| "read HEAD".into())?;
    if head.is_unborn() {
        return Err(Error::NoCommits);
    }
    repo.head_id().map(|id| id.detach()).doing(|| "resolve HEAD".into())
}

/// Resolves a revision (`HEAD~2`, a full or short sha, a ref) to a commit id.
pub fn resolve_commit(repo: &gix::Repository, spec: &str) -> Result<ObjectId, Error> {
    let id = repo
        .rev_parse_single(spec.as_bytes().as_bstr())
        .map_err(|source| Error::UnknownRevision {
            spec: spec.into(),
            source: Some(source),
        })?;
    let object = id.object().doing(|| format!("read object {id}"))?;
    let commit = object.peel_to_commit().map_err(|source| Error::UnknownRevision {
        spec: spec.into(),
        source: Some(source),
    })?;
    Ok(commit.id)
}

/// The commits a `verify` argument names: one revision, or `A..B` (reachable from B, not A),
/// oldest first.
pub fn resolve_commits(repo: &gix::Repository, spec: &str) -> Result<Vec<ObjectId>, Error> {
    if spec.contains("...") {
        return Err(Error::UnsupportedRange(spec.to_owned()));
    }
    match spec.split_once("..") {
        Some((from, to)) => {
            let from = resolve_commit(repo, if from.is_empty() { "HEAD" } else { from })?;
            let to = resolve_commit(repo, if to.is_empty() { "HEAD" } else { to })?;
            commits_between(repo, from, to)
        }
        None => Ok(vec![resolve_commit(repo, spec)?]),
    }
}

/// The id of `commit`'s tree.
pub fn tree_of(repo: &gix::Repository, commit: ObjectId) -> Result<ObjectId, Error> {
    let commit = repo.find_commit(commit).doing(|| format!("read commit {commit}"))?;
    commit
        .tree_id()
        .map(|id| id.detach())
        .doing(|| format!("read the tree of {}", commit.id))
}

/// Whether `commit` is an object of this repository that is a commit.
pub fn is_commit(repo: &gix::Repository, commit: ObjectId) -> bool {
    repo.find_commit(commit).is_ok()
}

/// The root commit reached from `commit` by first parents: the same in every full clone, so it
/// names the repository. `None` in a shallow clone whose history stops before the root.
pub fn workspace_id(repo: &gix::Repository, commit: ObjectId) -> Result<Option<String>, Error> {
    let mut current = commit;
    loop {
        let Ok(object) = repo.find_commit(current) else {
            return Ok(None);
        };
        let first_parent = object.parent_ids().next().map(|id| id.detach());
        match first_parent {
            Some(parent) => current = parent,
            None => {
                // A shallow boundary commit looks like a root but is not one.
                let shallow = repo.shallow_commits().doing(|| "read the shallow file".into())?;
                if shallow.is_some_and(|list| list.contains(&current)) {
                    return Ok(None);
                }
                return Ok(Some(current.to_string()));
            }
        }
    }
}

/// Commits reachable from `head` but not from `base`, oldest first.
pub fn commits_between(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<Vec<ObjectId>, Error> {
    if base == head {
        return Ok(Vec::new());
    }
    let walk = repo
        .rev_walk([head])
        .with_hidden([base])
        .all()
        .doing(|| format!("walk {base}..{head}"))?;
    let mut ids = Vec::new();
    for info in walk {
        ids.push(info.doing(|| format!("walk {base}..{head}"))?.id);
    }
    ids.reverse();
    Ok(ids)
}

/// Changed paths and numbers between two commits, as `git diff --numstat -M base head`.
pub fn diff_stat(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<DiffStat, Error> {
    if base == head {
        return Ok(DiffStat::default());
    }
    let old_tree = repo
        .find_commit(base)
        .and_then(|c| c.tree())
        .doing(|| format!("read the tree of {base}"))?;
    let new_tree = repo
        .find_commit(head)
        .and_then(|c| c.tree())
        .doing(|| format!("read the tree of {head}"))?;
    // git diff -M: 50% similarity, renames only, no copies, rename limit 1000.
    let rewrites = gix::diff::Rewrites {
        copies: None,
        percentage: Some(0.5),
        limit: 1000,
        track_empty: false,
    };
    let options = gix::diff::Options::default().with_rewrites(Some(rewrites));
    let changes = repo
        .diff_tree_to_tree(&old_tree, &new_tree, options)
        .doing(|| format!("diff {base} {head}"))?;

    let mut entries = Vec::new();
    for change in changes {
        if let Some(entry) = diff_entry(repo, change)? {
            entries.push(entry);
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

/// The sorted changed paths of a diff stat (for a rename, the new path).
pub fn changed_files(stat: &DiffStat) -> Vec<String> {
    stat.entries.iter().map(|e| e.path.clone()).collect()
}

/// What one side of a change holds, for counting.
enum Side {
    Absent,
    Blob(Vec<u8>),
}

fn diff_entry(repo: &gix::Repository, change: ChangeDetached) -> Result<Option<DiffEntry>, Error> {
    let (path, old_path, status, old, new) = match change {
        ChangeDetached::Addition {
            location,
            entry_mode,
            id,
            ..
        } => {
            if entry_mode.is_tree() {
                return Ok(None);
            }
            (location, None, "A", Side::Absent, side(repo, entry_mode.kind(), id)?)
        }
        ChangeDetached::Deletion {
            location,
            entry_mode,
            id,
            ..
        } => {
            if entry_mode.is_tree() {
                return Ok(None);
            }
            (location, None, "D", side(repo, entry_mode.kind(), id)?, Side::Absent)
        }
        ChangeDetached::Modification {
            location,
            previous_entry_mode,
            previous_id,
            entry_mode,
            id,
        } => {
            if entry_mode.is_tree() && previous_entry_mode.is_tree() {
                return Ok(None);
            }
            let status = if type_class(previous_entry_mode.kind()) == type_class(entry_mode.kind()) {
                "M"
            } else {
                "T"
            };
            let old = side(repo, previous_entry_mode.kind(), previous_id)?;
            let new = side(repo, entry_mode.kind(), id)?;
            (location, None, status, old, new)
        }
        ChangeDetached::Rewrite {
            source_location,
            source_entry_mode,
            source_id,
            entry_mode,
            id,
            location,
            copy,
            ..
        } => {
            let old = side(repo, source_entry_mode.kind(), source_id)?;
            let new = side(repo, entry_mode.kind(), id)?;
            let status = if copy { "C" } else { "R" };
            (location, Some(source_location), status, old, new)
        }
    };
    let binary = [&old, &new].iter().any(|s| matches!(s, Side::Blob(b) if is_binary(b)));
    let (insertions, deletions) = if binary { (0, 0) } else { count_lines(&old, &new) };
    Ok(Some(DiffEntry {
        path: path.to_str_lossy().into_owned(),
        old_path: old_path.map(|p| p.to_str_lossy().into_owned()),
        status: status.into(),
        insertions,
        deletions,
        binary,
    }))
}

/// Inserted and deleted lines by Myers over interned lines, which is what git counts (a last
/// line without its newline differs from the same line with one).
fn count_lines(old: &Side, new: &Side) -> (u64, u64) {
    fn bytes(side: &Side) -> &[u8] {
        match side {
            Side::Absent => &[],
            Side::Blob(b) => b,
        }
    }
    let input = InternedInput::new(byte_lines(bytes(old)), byte_lines(bytes(new)));
    let diff = Diff::compute(Algorithm::Myers, &input);
    (u64::from(diff.count_additions()), u64::from(diff.count_removals()))
}

/// Regular files (any mode) compare as one class; links and submodules as others: a change
/// between classes is git's `T` (typechange).
fn type_class(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Blob | EntryKind::BlobExecutable => 0,
        EntryKind::Link => 1,
        EntryKind::Commit => 2,
        EntryKind::Tree => 3,
    }
}

fn side(repo: &gix::Repository, kind: EntryKind, id: ObjectId) -> Result<Side, Error> {
    Ok(match kind {
        // git diffs a submodule as the one line "Subproject commit <sha>".
        EntryKind::Commit => Side::Blob(format!("Subproject commit {id}\n").into_bytes()),
        EntryKind::Tree => Side::Absent,
        EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
            let blob = id.attach(repo).object().doing(|| format!("read blob {id}"))?;
            Side::Blob(blob.detach().data)
        }
    })
}

/// git's `buffer_is_binary`: a NUL byte in the first 8000 bytes.
fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}

/// [`dirty_files`] on another thread, so the worktree scan overlaps the diff.
pub fn dirty_files_in_background(repo: &gix::Repository) -> std::thread::JoinHandle<Result<Vec<String>, Error>> {
    let repo = repo.clone().into_sync();
    std::thread::spawn(move || dirty_files(&repo.to_thread_local()))
}

/// Paths with uncommitted changes (staged, unstaged or untracked), sorted, as `git status`
/// would list them with untracked files shown one by one.
pub fn dirty_files(repo: &gix::Repository) -> Result<Vec<String>, Error> {
    let status = repo
        .status(gix::progress::Discard)
        .doing(|| "read the worktree status".into())?
        .untracked_files(gix::status::UntrackedFiles::Files);
    let iter = status
        .into_iter(Vec::<gix::bstr::BString>::new())
        .doing(|| "read the worktree status".into())?;
    let mut paths = Vec::new();
    for item in iter {
        let item = item.doing(|| "read the worktree status".into())?;
        paths.push(item.location().to_str_lossy().into_owned());
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}
