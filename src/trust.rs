//! The trust in force: who may sign records (an OpenSSH `allowed_signers` file), and the team
//! policy that says who may decide scope violations and how `verify --policy` judges, both read
//! from one place so that a change cannot pick its own judges.
//!
//! Sources, in the order README gives (Keys and trust): `--trust-ref REF` (both files from that ref's tree only),
//! else `--allowed-signers FILE`, git config `proof.allowedSignersFile`,
//! `gpg.ssh.allowedSignersFile`, then `.proof/allowed_signers` in the worktree (in HEAD's tree
//! for a bare repository). The policy comes from the trust ref's tree, else the worktree (HEAD's
//! tree when bare).

use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::bstr::ByteSlice;

use crate::error::{Classify, ErrorKind};
use crate::git::{self, GitContext};
use crate::policy::{self, POLICY_PATH, TeamPolicy};
use crate::signing::{self, AllowedSigners};

/// Where `allowed_signers` is read from inside a repository.
pub const ALLOWED_SIGNERS_PATH: &str = ".proof/allowed_signers";

/// Why the trust in force could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no allowed signers: pass --allowed-signers FILE, set `git config proof.allowedSignersFile FILE`, or commit {ALLOWED_SIGNERS_PATH}"
    )]
    NoTrustSource,
    #[error("{ALLOWED_SIGNERS_PATH} is not in the tree of '{0}'")]
    NotInTrustRef(String),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Signing(#[from] signing::Error),
    #[error(transparent)]
    Policy(#[from] policy::Error),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NoTrustSource | Self::NotInTrustRef(_) => ErrorKind::Unavailable,
            Self::Git(e) => e.kind(),
            Self::Signing(e) => e.kind(),
            Self::Policy(e) => e.kind(),
        }
    }
}

/// Where trust comes from, as the command line says.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// `--allowed-signers FILE`.
    pub allowed_signers: Option<PathBuf>,
    /// `--trust-ref REF`: read `.proof/allowed_signers` and `.proof/policy.toml` from that ref's
    /// tree only.
    pub trust_ref: Option<String>,
}

/// What every reader of records judges them by.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Who may sign; `None` when no trust source exists, and then nothing verifies.
    pub signers: Option<AllowedSigners>,
    /// The trusted team policy (its `[verify] approvers` decide whose decisions count).
    pub policy: TeamPolicy,
    /// Unix time signatures are checked at (allowed_signers validity windows).
    pub now: i64,
}

impl Trust {
    /// Trust in nothing: every record is unverified.
    pub fn none(now: i64) -> Self {
        Self {
            signers: None,
            policy: TeamPolicy::default(),
            now,
        }
    }

    /// Trust in exactly these signers, with no team policy.
    pub fn signers(signers: AllowedSigners, now: i64) -> Self {
        Self {
            signers: Some(signers),
            policy: TeamPolicy::default(),
            now,
        }
    }

    /// The signers, or the error that says how to configure them (for `verify`, which cannot
    /// do without).
    pub fn require_signers(&self) -> Result<&AllowedSigners, Error> {
        self.signers.as_ref().ok_or(Error::NoTrustSource)
    }

    /// This trust with `extra` trusted too: a writer also trusts the key it signs with.
    pub fn and_signers(mut self, extra: AllowedSigners) -> Self {
        self.signers = Some(match self.signers.take() {
            Some(signers) => signers.and(extra),
            None => extra,
        });
        self
    }
}

/// Loads the trust in force. No trust source is not an error (`signers` is `None`); a trust
/// file that cannot be read or does not parse is.
pub fn load(repo: &gix::Repository, opts: &TrustOptions, now: i64) -> Result<Trust, Error> {
    Ok(Trust {
        signers: load_signers(repo, opts)?,
        policy: load_policy(repo, opts.trust_ref.as_deref())?,
        now,
    })
}

/// The allowed signers, if any source names them.
pub fn load_signers(repo: &gix::Repository, opts: &TrustOptions) -> Result<Option<AllowedSigners>, Error> {
    if let Some(reference) = &opts.trust_ref {
        let commit = git::resolve_commit(repo, reference)?;
        let text = file_at_commit(repo, commit, ALLOWED_SIGNERS_PATH)?
            .ok_or_else(|| Error::NotInTrustRef(reference.clone()))?;
        let origin = format!("{reference}:{ALLOWED_SIGNERS_PATH}");
        return Ok(Some(AllowedSigners::parse(&origin, &text)?));
    }
    if let Some(path) = &opts.allowed_signers {
        return Ok(Some(AllowedSigners::read(path)?));
    }
    let config = repo.config_snapshot();
    for key in ["proof.allowedSignersFile", "gpg.ssh.allowedSignersFile"] {
        if let Ok(Some(path)) = config.trusted_path(key) {
            return Ok(Some(AllowedSigners::read(&relative_to(repo, &path))?));
        }
    }
    if let Some(workdir) = repo.workdir() {
        let path = workdir.join(ALLOWED_SIGNERS_PATH);
        if path.is_file() {
            return Ok(Some(AllowedSigners::read(&path)?));
        }
    } else if let Ok(head) = git::head_commit(repo)
        && let Some(text) = file_at_commit(repo, head, ALLOWED_SIGNERS_PATH)?
    {
        return Ok(Some(AllowedSigners::parse(
            &format!("HEAD:{ALLOWED_SIGNERS_PATH}"),
            &text,
        )?));
    }
    Ok(None)
}

/// The team policy: from `trust_ref`'s tree when given (a change cannot relax the policy it is
/// judged by), else the worktree's, else HEAD's tree in a bare repository.
pub fn load_policy(repo: &gix::Repository, trust_ref: Option<&str>) -> Result<TeamPolicy, Error> {
    let from_commit = |commit: ObjectId, name: &str| -> Result<TeamPolicy, Error> {
        match file_at_commit(repo, commit, POLICY_PATH)? {
            Some(text) => Ok(TeamPolicy::parse(Path::new(&format!("{name}:{POLICY_PATH}")), &text)?),
            None => Ok(TeamPolicy::default()),
        }
    };
    match (trust_ref, repo.workdir()) {
        (Some(reference), _) => from_commit(git::resolve_commit(repo, reference)?, reference),
        (None, Some(workdir)) => Ok(TeamPolicy::of_worktree(workdir)?),
        (None, None) => match git::head_commit(repo) {
            Ok(head) => from_commit(head, "HEAD"),
            Err(_) => Ok(TeamPolicy::default()),
        },
    }
}

/// A relative path in git config is relative to the worktree (as git resolves it for hooks).
fn relative_to(repo: &gix::Repository, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    repo.workdir().unwrap_or_else(|| repo.git_dir()).join(path)
}

fn file_at_commit(repo: &gix::Repository, commit: ObjectId, path: &str) -> Result<Option<String>, git::Error> {
    let tree = git::tree_of(repo, commit)?;
    git::ensure_objects(repo, [tree])?;
    let tree = repo.find_tree(tree).doing(|| format!("read the tree of {commit}"))?;
    let Some(entry) = tree
        .lookup_entry_by_path(path)
        .doing(|| format!("look up {path} in {commit}"))?
    else {
        return Ok(None);
    };
    git::ensure_objects(repo, [entry.object_id()])?;
    let blob = entry.object().doing(|| format!("read {path} in {commit}"))?;
    Ok(Some(blob.data.to_str_lossy().into_owned()))
}
