//! Everything git-proof asks of git, in-process through gix: HEAD, trees, the diff between two
//! commits with the numbers `git diff --numstat -M` prints, uncommitted changes, history walks.

use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::bstr::ByteSlice;

/// What went wrong talking to the repository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No repository at or above the directory. gix's own words ("Could not find a git
    /// repository ... NotFound") say no more than this, so they are kept for `{:?}` only.
    #[error("not a git repository (or any of its parents): {}; run this inside one, or pass -C <path>", path.display())]
    NotARepository { path: PathBuf, detail: Box<gix::Error> },
    /// The repository has no commit to attach a proof to.
    #[error("the repository has no commits yet")]
    NoCommits,
    /// A bare repository has no worktree to run in.
    #[error("the repository has no worktree (it is bare)")]
    Bare,
    /// A revision that does not name a commit here. gix's words (`couldn't parse revision,
    /// input=...: NotFound`) are kept for `{:?}` only: the line says it all.
    #[error("'{spec}' does not name a commit in this repository (see `git rev-parse {spec}`)")]
    UnknownRevision {
        spec: String,
        detail: Option<Box<gix::Error>>,
    },
    /// A range form we do not take.
    #[error("'{0}': symmetric ranges (A...B) are not supported; use A..B")]
    UnsupportedRange(String),
    /// A git command git-proof runs (where gix does not do the job) failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    /// Objects this needs are not here: a partial clone left them on a promisor remote that
    /// could not give them now (`remote` names it), or, without one, the repository is damaged.
    #[error("{}", missing_message(*.count, .first, .remote.as_deref(), .why.as_deref()))]
    Missing {
        count: usize,
        first: ObjectId,
        remote: Option<String>,
        why: Option<String>,
    },
    /// Any other failure reading or writing objects and references.
    #[error("git: could not {action}")]
    Git {
        action: String,
        #[source]
        source: gix::Error,
    },
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::UnknownRevision { .. } => ErrorKind::NotFound,
            Self::NotARepository { .. } | Self::NoCommits | Self::Bare | Self::UnsupportedRange(_) => {
                ErrorKind::BadInput
            }
            Self::Missing { .. } => ErrorKind::Unavailable,
            Self::Git { .. } | Self::Command { .. } => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::UnknownRevision { .. } => "unknown_revision",
            Self::NotARepository { .. } => "not_a_repository",
            Self::Missing { .. } => "missing_objects",
            other => other.kind().code(),
        }
    }
}

fn missing_message(count: usize, first: &ObjectId, remote: Option<&str>, why: Option<&str>) -> String {
    let what = match count {
        1 => format!("object {first} is"),
        n => format!("{n} objects (the first {first}) are"),
    };
    match (remote, why) {
        (Some(remote), why) => format!(
            "{what} not in this partial clone and could not be fetched from its promisor remote '{remote}'{}: \
             run this where '{remote}' can be reached, or in a clone made without --filter",
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        ),
        (None, _) => format!(
            "{what} missing, and this is not a partial clone that could fetch it: \
             the repository is damaged (`git fsck` tells how)"
        ),
    }
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
    gix::discover_with_environment_overrides(dir).map_err(|detail| Error::NotARepository {
        path: dir.to_owned(),
        detail: Box::new(detail),
    })
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
        .map_err(|detail| Error::UnknownRevision {
            spec: spec.into(),
            detail: Some(Box::new(detail)),
        })?;
    let object = id.object().doing(|| format!("read object {id}"))?;
    let commit = object.peel_to_commit().map_err(|detail| Error::UnknownRevision {
        spec: spec.into(),
        detail: Some(Box::new(detail)),
    })?;
    Ok(commit.id)
}

/// The commits a `verify` argument names: one revision, or `A..B` (reachable from B, not A),
/// newest first, as the walk finds them: a caller can work on the first while the walk goes
/// on. The revisions are resolved before this returns, so a bad one fails here.
pub fn commits_newest_first<'r>(
    repo: &'r gix::Repository,
    spec: &str,
) -> Result<Box<dyn Iterator<Item = Result<ObjectId, Error>> + 'r>, Error> {
    if spec.contains("...") {
        return Err(Error::UnsupportedRange(spec.to_owned()));
    }
    let Some((from, to)) = spec.split_once("..") else {
        return Ok(Box::new(std::iter::once(resolve_commit(repo, spec))));
    };
    let from = resolve_commit(repo, if from.is_empty() { "HEAD" } else { from })?;
    let to = resolve_commit(repo, if to.is_empty() { "HEAD" } else { to })?;
    Ok(Box::new(walk_between(repo, from, to, Graph::IfPresent)?))
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

/// The first line of a commit's message, if the commit is here (a shallow or partial clone may
/// lack it) and its message is text.
pub fn subject(repo: &gix::Repository, commit: &str) -> Option<String> {
    let id = ObjectId::from_hex(commit.as_bytes()).ok()?;
    let commit = repo.find_commit(id).ok()?;
    let summary = commit.message().ok()?.summary();
    Some(String::from_utf8_lossy(summary.as_ref()).into_owned())
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

/// Commits reachable from `head` but not from `base`, oldest first: the commits of one run or
/// one merge, a short walk.
pub fn commits_between(repo: &gix::Repository, base: ObjectId, head: ObjectId) -> Result<Vec<ObjectId>, Error> {
    let mut ids = walk_between(repo, base, head, Graph::Ignore)?.collect::<Result<Vec<_>, _>>()?;
    ids.reverse();
    Ok(ids)
}

/// Whether a walk uses the commit-graph file. Looking for it costs a few system calls per walk,
/// which a walk of a handful of commits (one per note when coverage searches) does not win back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Graph {
    IfPresent,
    Ignore,
}

/// Commits reachable from `head` but not from `base`, newest first, as the walk finds them.
fn walk_between(
    repo: &gix::Repository,
    base: ObjectId,
    head: ObjectId,
    graph: Graph,
) -> Result<impl Iterator<Item = Result<ObjectId, Error>> + '_, Error> {
    let walk = if base == head {
        None
    } else {
        let walk = repo
            .rev_walk([head])
            .with_hidden([base])
            .use_commit_graph(graph == Graph::IfPresent)
            .all()
            .doing(|| format!("walk {base}..{head}"))?;
        Some(walk.map(move |info| info.map(|info| info.id).doing(|| format!("walk {base}..{head}"))))
    };
    Ok(walk.into_iter().flatten())
}

/// The tree `git merge-tree --write-tree ours theirs` makes, `None` when the merge conflicts.
///
/// git's own merge is the definition `git proof land` and `verify` hold a landed commit to (the
/// merge a server's "Squash and merge" makes), so it is run, not reimplemented.
pub fn merge_tree(repo: &gix::Repository, ours: ObjectId, theirs: ObjectId) -> Result<Option<ObjectId>, Error> {
    let output = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.git_dir())
        .args(["merge-tree", "--write-tree", "--no-messages"])
        .arg(ours.to_string())
        .arg(theirs.to_string())
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| Error::Command {
            command: "git merge-tree".into(),
            message: e.to_string(),
        })?;
    let tree = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .and_then(|line| ObjectId::from_hex(line.trim().as_bytes()).ok());
    match (output.status.code(), tree) {
        (Some(0), Some(tree)) => Ok(Some(tree)),
        (Some(1), _) => Ok(None),
        _ => Err(Error::Command {
            command: "git merge-tree".into(),
            message: String::from_utf8_lossy(&output.stderr).trim().replace('\n', " "),
        }),
    }
}

/// The remote a partial clone (`git clone --filter=...`) fetches the objects it left out
/// from: `extensions.partialClone`, else the first remote with `promisor = true`.
pub fn promisor_remote(repo: &gix::Repository) -> Option<String> {
    let config = repo.config_snapshot();
    if let Some(name) = config.string("extensions.partialClone") {
        return Some(name.to_str_lossy().into_owned());
    }
    repo.remote_names()
        .into_iter()
        .find(|name| config.boolean(&format!("remote.{name}.promisor")) == Some(true))
        .map(|name| name.to_str_lossy().into_owned())
}

/// Makes sure every object of `ids` is here. A partial clone's missing ones are fetched from
/// its promisor remote in one request, the one git's own lazy fetch makes
/// (`promisor-remote.c`): gix reads partial clones but does not fetch what they left out, so
/// git does. Costs one object lookup per id when nothing is missing.
pub fn ensure_objects(repo: &gix::Repository, ids: impl IntoIterator<Item = ObjectId>) -> Result<(), Error> {
    let mut missing: Vec<ObjectId> = ids.into_iter().filter(|id| !repo.has_object(id)).collect();
    let Some(&first) = missing.first() else {
        return Ok(());
    };
    missing.sort_unstable();
    missing.dedup();
    let missing_error = |remote: Option<String>, why: Option<String>, count: usize| Error::Missing {
        count,
        first,
        remote,
        why,
    };
    let Some(remote) = promisor_remote(repo) else {
        return Err(missing_error(None, None, missing.len()));
    };
    if let Err(why) = fetch_from_promisor(repo, &remote, &missing) {
        return Err(missing_error(Some(remote), Some(why), missing.len()));
    }
    let still = missing.iter().filter(|id| !repo.has_object(*id)).count();
    match still {
        0 => Ok(()),
        n => Err(missing_error(
            Some(remote),
            Some("the remote did not send them".into()),
            n,
        )),
    }
}

/// `git fetch` of exact object ids, as git's lazy fetch asks for them: no negotiation (the
/// remote sends what was asked, not a history), no tags, no FETCH_HEAD, no submodules, and
/// still no blobs beyond those asked for. Returns git's last line of complaint on failure.
fn fetch_from_promisor(repo: &gix::Repository, remote: &str, ids: &[ObjectId]) -> Result<(), String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.git_dir())
        .args(["-c", "fetch.negotiationAlgorithm=noop", "fetch", remote])
        .args(["--no-tags", "--no-write-fetch-head", "--recurse-submodules=no"])
        .args(["--filter=blob:none", "--stdin", "--quiet"])
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("git could not be started: {e}"))?;
    let mut input = String::with_capacity(ids.len() * 41);
    for id in ids {
        input.push_str(&id.to_string());
        input.push('\n');
    }
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().map_err(|e| format!("git fetch: {e}"))?;
    if output.status.success() && !matches!(written, Some(Err(_))) {
        return Ok(());
    }
    // git's own reason is its "fatal:" line; what follows is advice for a human at a terminal.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let fatal = stderr.lines().find_map(|line| line.trim().strip_prefix("fatal: "));
    Err(fatal.map_or_else(|| format!("git fetch exited with {}", output.status), str::to_owned))
}

/// [`dirty_files`] on another thread, so the worktree scan overlaps the diff.
pub fn dirty_files_in_background(repo: &gix::Repository) -> std::thread::JoinHandle<Result<Vec<String>, Error>> {
    let repo = repo.clone().into_sync();
    std::thread::spawn(move || dirty_files(&repo.to_thread_local()))
}

/// Paths with uncommitted changes (staged, unstaged or untracked), sorted, as
/// `git status --porcelain --untracked-files=all` lists them.
pub fn dirty_files(repo: &gix::Repository) -> Result<Vec<String>, Error> {
    if uses_git_status_caches(repo) {
        return dirty_files_by_git(repo);
    }
    let mut repo = repo.clone();
    // git verifies the index checksum only in fsck; gix verifies it on every read unless
    // index.skipHash is set (it only ever reads the index here, never writes it). And git
    // compares file times to the nanosecond (its USE_NSEC build default), where gix otherwise
    // re-hashes every file touched in the second the index was written, which after a commit
    // is most of what the agent just changed.
    {
        let mut overrides = vec!["index.skipHash=true"];
        if repo.config_snapshot().boolean("gitoxide.core.useNsec").is_none() {
            overrides.push("gitoxide.core.useNsec=true");
        }
        let mut config = repo.config_snapshot_mut();
        config
            .append_config(overrides, gix::config::Source::Api)
            .doing(|| "configure index reading".into())?;
        config.commit().doing(|| "configure index reading".into())?;
    }
    let staged_unchanged = index_matches_head(&repo)?;
    let status = repo
        .status(gix::progress::Discard)
        .doing(|| "read the worktree status".into())?
        .untracked_files(gix::status::UntrackedFiles::Files);
    const ACTION: &str = "read the worktree status";
    let no_patterns = Vec::<gix::bstr::BString>::new();
    let mut paths = if staged_unchanged {
        // The index's cached root tree is HEAD's tree: nothing is staged, so only the worktree
        // needs comparing with the index (git's cache-tree shortcut).
        let items = status.into_index_worktree_iter(no_patterns).doing(|| ACTION.into())?;
        collect_paths(items, |item| item.rela_path())?
    } else {
        let items = status.into_iter(no_patterns).doing(|| ACTION.into())?;
        collect_paths(items, |item| item.location())?
    };
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// Whether the repository asks git to list changes through its untracked cache or a file
/// system monitor (`core.untrackedCache`, `core.fsmonitor`). gix reads neither (it decodes the
/// index extensions but its status walks every directory), so then git's own status lists them,
/// the way the user configured it to be fast.
fn uses_git_status_caches(repo: &gix::Repository) -> bool {
    let config = repo.config_snapshot();
    let untracked_cache = config.string("core.untrackedCache").is_some_and(|v| {
        matches!(
            v.to_str_lossy().to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1" | "keep"
        )
    });
    let fsmonitor = config.string("core.fsmonitor").is_some_and(|v| {
        !matches!(
            v.to_str_lossy().to_ascii_lowercase().as_str(),
            "" | "false" | "no" | "off" | "0"
        )
    });
    untracked_cache || fsmonitor
}

/// [`dirty_files`] through `git status`, which uses the untracked cache and the fsmonitor hook
/// or daemon. `--no-optional-locks`: it must not take the index lock the agent's own git may be
/// holding, nor rewrite the index under it.
fn dirty_files_by_git(repo: &gix::Repository) -> Result<Vec<String>, Error> {
    let dir = repo.workdir().unwrap_or_else(|| repo.git_dir());
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
        ])
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| Error::Command {
            command: "git status".into(),
            message: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: "git status".into(),
            message: String::from_utf8_lossy(&output.stderr).trim().replace('\n', " "),
        });
    }
    let mut paths: Vec<String> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|entry| entry.len() > 3)
        .map(|entry| crate::model::path_text(&entry[3..]))
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

fn collect_paths<T, E: Into<gix::Error>>(
    items: impl Iterator<Item = Result<T, E>>,
    path: impl Fn(&T) -> &gix::bstr::BStr,
) -> Result<Vec<String>, Error> {
    items
        .map(|item| {
            let item = item.doing(|| "read the worktree status".into())?;
            Ok(crate::model::path_text(path(&item)))
        })
        .collect()
}

/// Whether the index's cache-tree extension says its content is exactly HEAD's tree.
fn index_matches_head(repo: &gix::Repository) -> Result<bool, Error> {
    let Ok(head) = head_commit(repo) else {
        return Ok(false);
    };
    let head_tree = tree_of(repo, head)?;
    let index = repo.index_or_empty().doing(|| "read the index".into())?;
    Ok(index
        .tree()
        .is_some_and(|root| root.num_entries.is_some() && root.id == head_tree))
}

/// Configuration values as git reads them from `dir`, one per key: the repository's
/// configuration when `dir` is in one, else the user's and the system's (`~/.gitconfig`, XDG,
/// `/etc/gitconfig`), so that a command run outside any repository still sees `user.email` or
/// `core.pager`. The configuration is read once for all of `keys`.
pub fn config_strings<const N: usize>(dir: &Path, keys: [&str; N]) -> [Option<String>; N] {
    match discover(dir) {
        Ok(repo) => {
            let config = repo.config_snapshot();
            keys.map(|key| config.string(key).map(|v| v.to_str_lossy().into_owned()))
        }
        Err(_) => match gix::config::File::from_globals() {
            Ok(globals) => keys.map(|key| globals.string(key).map(|v| v.to_str_lossy().into_owned())),
            Err(_) => keys.map(|_| None),
        },
    }
}
