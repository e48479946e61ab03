//! `git proof land COMMIT --from REV`: for CI after a server-side squash or rebase merge whose
//! content the bundle alone cannot settle (the base branch changed the run's files meanwhile).
//!
//! It checks that COMMIT's tree is exactly the merge of the proven head REV into the commit it
//! landed onto (COMMIT's parent, or `--onto` for the first commit of a rebase merge), as
//! `git merge-tree --write-tree` computes it, and refuses otherwise. Then it copies REV's
//! records to COMMIT's note and appends a signed landing record per proof that counts on REV,
//! stating the check it made. `verify` counts a landing record under the same trust rule as
//! every record: a landing signed by a key nobody trusts carries nothing.

use gix::ObjectId;

use crate::error::{Classify, ErrorKind};
use crate::git::{self, GitContext};
use crate::model::{Generator, LANDING_VERSION, LandingRecord, Statement};
use crate::notes::{self, NotesReader};
use crate::record;
use crate::run::format_time;
use crate::signing::{self, SigningKey};
use crate::trust::Trust;
use crate::view::{NoteView, Placement};

/// Why nothing was landed (nothing is written in every case).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{}'s tree {} is not the merge of {} into {} ({}): the landed commit is not the proven change",
        .0.commit, .0.tree, .0.from, .0.onto, .0.merged
    )]
    NotTheMerge(Box<NotTheMerge>),
    #[error("{from} does not merge into {onto} without conflicts, so {commit} is not its merge")]
    Conflicts {
        commit: ObjectId,
        from: ObjectId,
        onto: ObjectId,
    },
    #[error("{0} has no parent; pass --onto REV, the commit the change landed onto")]
    NoParent(ObjectId),
    #[error("{from} holds no proof that counts under the trust in force{}", why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    NothingToCarry { from: ObjectId, why: Option<String> },
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Signing(#[from] signing::Error),
}

/// A landed commit that is not the merge it should be.
#[derive(Debug)]
pub struct NotTheMerge {
    pub commit: ObjectId,
    pub tree: ObjectId,
    pub from: ObjectId,
    pub onto: ObjectId,
    /// The tree the merge gives.
    pub merged: ObjectId,
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotTheMerge(_) | Self::Conflicts { .. } => ErrorKind::Invalid,
            Self::NoParent(_) => ErrorKind::BadInput,
            Self::NothingToCarry { .. } => ErrorKind::NotFound,
            Self::Git(e) => e.kind(),
            Self::Signing(e) => e.kind(),
        }
    }
}

/// One proof carried to the landed commit.
#[derive(Debug, Clone)]
pub struct Landed {
    pub run_id: String,
    pub bundle_digest: String,
    pub onto: ObjectId,
}

/// Checks that `commit` is the merge of `from` into `onto` (default: `commit`'s first parent)
/// and carries every proof that counts on `from` to it, in one notes commit.
pub fn land(
    repo: &gix::Repository,
    commit: ObjectId,
    from: ObjectId,
    onto: Option<ObjectId>,
    key: &SigningKey,
    trust: &Trust,
    now: jiff::Timestamp,
) -> Result<Vec<Landed>, Error> {
    let onto = match onto {
        Some(onto) => onto,
        None => first_parent(repo, commit)?.ok_or(Error::NoParent(commit))?,
    };
    let tree = git::tree_of(repo, commit)?;
    let merged = git::merge_tree(repo, onto, from)?.ok_or(Error::Conflicts { commit, from, onto })?;
    if merged != tree {
        return Err(Error::NotTheMerge(Box::new(NotTheMerge {
            commit,
            tree,
            from,
            onto,
            merged,
        })));
    }
    let note = NotesReader::new(repo)?
        .note(from)?
        .ok_or(Error::NothingToCarry { from, why: None })?;
    let view = NoteView::build(from, &note, trust);
    let mut text = note.clone();
    let mut landed = Vec::new();
    for b in view.counting_bundles() {
        let bundle = b.bundle();
        let from_base = match &b.placement {
            Placement::Carried(links) => links
                .last()
                .map_or(bundle.base_sha.clone(), |l| l.step.to().1.to_owned()),
            _ => bundle.base_sha.clone(),
        };
        let digest = view.record_of(b).digest().to_owned();
        let landing = LandingRecord {
            version: LANDING_VERSION.into(),
            kind: "landing".into(),
            run_id: bundle.run_id.clone(),
            bundle_digest: digest.clone(),
            from_sha: from.to_string(),
            from_base_sha: from_base,
            onto_sha: onto.to_string(),
            commit_sha: commit.to_string(),
            tree: tree.to_string(),
            check: format!("git merge-tree --write-tree {onto} {from} gives {tree}"),
            landed_at: format_time(now),
            generator: Generator::current(),
        };
        let record = record::sign(&Statement::for_landing(landing), key)?;
        notes::append_text(&mut text, record.to_text().as_bytes());
        landed.push(Landed {
            run_id: bundle.run_id.clone(),
            bundle_digest: digest,
            onto,
        });
    }
    if landed.is_empty() {
        let why = view.records.iter().find_map(|r| r.ignored.clone());
        return Err(Error::NothingToCarry { from, why });
    }
    notes::add_to_notes(
        repo,
        &[(commit, text)],
        &format!("Notes landed by 'git proof land' on {commit}\n"),
    )?;
    Ok(landed)
}

fn first_parent(repo: &gix::Repository, commit: ObjectId) -> Result<Option<ObjectId>, git::Error> {
    let object = repo.find_commit(commit).doing(|| format!("read commit {commit}"))?;
    Ok(object.parent_ids().next().map(|id| id.detach()))
}
