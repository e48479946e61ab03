//! `git proof sync [REMOTE]`: make a remote's `refs/notes/proof` and ours hold the same records.
//!
//! Fetch the remote's notes next to ours (never over them), merge them in as a union of
//! records ([`notes::merge_notes`]), and push the result with a lease on the value fetched. A
//! clone that loses the race to another one pushing at the same moment is refused by the
//! lease, fetches again and retries, so neither side's records are ever lost.
//!
//! Fetch and push run `git`: gix has no push, and the user's transport setup (ssh config,
//! credential helpers, `insteadOf` rules) is git's to apply. The merge itself is in-process.

use std::process::Command;

use gix::ObjectId;

use crate::notes::{self, Merged, NOTES_REF, remote_notes_ref};

/// How long a sync keeps retrying while other clones push first. Contention is normal for a
/// team of agents: retries back off exponentially with full jitter, and stop only after this.
const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(120);
/// The longest single wait between two rounds.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{0}' is neither a configured remote nor a URL or path")]
    UnknownRemote(String),
    #[error("`git {args}` failed: {message}")]
    GitCommand { args: String, message: String },
    #[error(
        "the push to {remote} lost the race {attempts} times in {seconds} s; the proofs are kept in this clone's refs/notes/proof: run `git proof sync {remote}` again"
    )]
    Contended {
        remote: String,
        attempts: u32,
        seconds: u64,
    },
    #[error(transparent)]
    Git(#[from] crate::git::Error),
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::UnknownRemote(_) => ErrorKind::BadInput,
            Self::GitCommand { .. } | Self::Contended { .. } => ErrorKind::Unavailable,
            Self::Git(e) => e.kind(),
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone)]
pub struct Synced {
    /// How the remote's notes came in.
    pub merged: Merged,
    /// Whether our notes were pushed (false when the remote already had them all).
    pub pushed: bool,
    /// Fetch-merge-push rounds, more than one when another clone pushed meanwhile.
    pub attempts: u32,
}

/// The remote named on the command line, else the branch's upstream remote, else `origin`.
pub fn default_remote(repo: &gix::Repository) -> Option<String> {
    let from_branch = repo.head_name().ok().flatten().and_then(|name| {
        repo.branch_remote_name(name.shorten(), gix::remote::Direction::Push)
            .map(|n| n.as_bstr().to_string())
    });
    from_branch.or_else(|| {
        let names: Vec<String> = repo.remote_names().iter().map(ToString::to_string).collect();
        names.iter().find(|n| *n == "origin").or(names.first()).cloned()
    })
}

fn is_configured_remote(repo: &gix::Repository, name: &str) -> bool {
    repo.remote_names().iter().any(|n| n.as_slice() == name.as_bytes())
}

/// Where this remote's notes are kept locally: under its name when it is a configured remote,
/// else under a digest of the URL, so two URLs never share a tracking ref.
fn tracking_ref(repo: &gix::Repository, remote: &str) -> String {
    if is_configured_remote(repo, remote) {
        remote_notes_ref(remote)
    } else {
        let digest = crate::canon::prefixed_sha256(remote.as_bytes());
        let hex = digest.trim_start_matches("sha256:");
        remote_notes_ref(&format!("url-{}", &hex[..16]))
    }
}

/// Fetches, merges and pushes the notes, retrying when another clone pushes first.
pub fn sync(repo: &gix::Repository, remote: &str) -> Result<Synced, Error> {
    if !is_configured_remote(repo, remote) && !remote.contains(['/', ':']) {
        return Err(Error::UnknownRemote(remote.to_owned()));
    }
    let tracking = tracking_ref(repo, remote);
    let started = std::time::Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let theirs = fetch(repo, remote, &tracking)?;
        let merged = match theirs {
            Some(theirs) => notes::merge_notes(repo, theirs)?,
            None => Merged::UpToDate,
        };
        // Nothing of ours, or nothing the remote lacks: done without a push.
        let ours = ref_target(repo, NOTES_REF).filter(|ours| Some(*ours) != theirs);
        let pushed = match ours {
            None => false,
            Some(ours) => push(repo, remote, ours, theirs)?,
        };
        if ours.is_none() || pushed {
            return Ok(Synced {
                merged,
                pushed,
                attempts: attempt,
            });
        }
        if started.elapsed() >= GIVE_UP_AFTER {
            return Err(Error::Contended {
                remote: remote.to_owned(),
                attempts: attempt,
                seconds: started.elapsed().as_secs(),
            });
        }
        std::thread::sleep(backoff(attempt));
    }
}

/// Fetches the remote's notes and merges them into ours (a union of records), without pushing:
/// what `publish` reads first. `None` when the remote has no notes yet.
pub fn fetch_and_merge(repo: &gix::Repository, remote: &str) -> Result<Option<Merged>, Error> {
    if !is_configured_remote(repo, remote) && !remote.contains(['/', ':']) {
        return Err(Error::UnknownRemote(remote.to_owned()));
    }
    match fetch(repo, remote, &tracking_ref(repo, remote))? {
        Some(theirs) => Ok(Some(notes::merge_notes(repo, theirs)?)),
        None => Ok(None),
    }
}

/// Exponential backoff with full jitter (a random wait up to 25 ms · 2^attempt, at most
/// [`MAX_BACKOFF`]), so clones that lost the same race do not retry in lockstep.
fn backoff(attempt: u32) -> std::time::Duration {
    use ssh_key::rand_core::RngCore;
    let ceiling = std::time::Duration::from_millis(25)
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    let fraction = f64::from(ssh_key::rand_core::OsRng.next_u32()) / f64::from(u32::MAX);
    ceiling.mul_f64(fraction)
}

fn git(repo: &gix::Repository) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("--git-dir").arg(repo.git_dir()).env("LC_ALL", "C");
    cmd
}

/// Fetches the remote's notes ref into `tracking`; `None` when the remote has none yet.
fn fetch(repo: &gix::Repository, remote: &str, tracking: &str) -> Result<Option<ObjectId>, Error> {
    let refspec = format!("+{NOTES_REF}:{tracking}");
    let output = git(repo)
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            remote,
            &refspec,
        ])
        .output()
        .map_err(|e| Error::GitCommand {
            args: format!("fetch {remote}"),
            message: e.to_string(),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("couldn't find remote ref") {
            return Ok(None);
        }
        return Err(Error::GitCommand {
            args: format!("fetch {remote} {refspec}"),
            message: stderr.trim().replace('\n', " "),
        });
    }
    Ok(ref_target(repo, tracking))
}

/// The object a ref points at, if it exists.
fn ref_target(repo: &gix::Repository, name: &str) -> Option<ObjectId> {
    repo.try_find_reference(name)
        .ok()
        .flatten()
        .and_then(|mut r| r.peel_to_id().ok())
        .map(|id| id.detach())
}

/// Pushes `ours` to the remote's notes ref if it still is `theirs`; `false` when it moved.
fn push(repo: &gix::Repository, remote: &str, ours: ObjectId, theirs: Option<ObjectId>) -> Result<bool, Error> {
    let lease = format!(
        "--force-with-lease={NOTES_REF}:{}",
        theirs.map(|t| t.to_string()).unwrap_or_default()
    );
    // --no-verify: this push runs from our own pre-push hook too, and must not run it again.
    let output = git(repo)
        .args(["push", "--quiet", "--no-verify", &lease, remote])
        .arg(format!("{ours}:{NOTES_REF}"))
        .output()
        .map_err(|e| Error::GitCommand {
            args: format!("push {remote}"),
            message: e.to_string(),
        })?;
    if output.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // A lease that no longer holds, or another push creating or moving the ref at this moment.
    let lost_race = [
        "stale info",
        "fetch first",
        "non-fast-forward",
        "cannot lock ref",
        "failed to update ref",
    ];
    if lost_race.iter().any(|m| stderr.contains(m)) {
        return Ok(false);
    }
    Err(Error::GitCommand {
        args: format!("push {remote} {NOTES_REF}"),
        message: stderr.trim().replace('\n', " "),
    })
}
