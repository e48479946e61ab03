//! Proofs that follow their commits through `git commit --amend` and `git rebase`.
//!
//! git's post-rewrite hook names each rewritten commit and its replacement. For each proof on
//! an old commit, the new commit's note gets every record of the old one (what
//! `notes.rewriteRef` does by itself, done here too so the hook works without that config),
//! plus a signed rewrite record naming the bundle, both commits, the base the run's change is
//! measured from on each side, and the verbatim patch-id of that change on each side. The read
//! model accepts a bundle whose `head_sha` is not the commit only through a chain of trusted
//! rewrite records from `head_sha` to the commit with equal patch-ids; `verify` then compares
//! the patches byte for byte.

use std::collections::HashMap;

use gix::ObjectId;

use crate::error::{Classify, ErrorKind};
use crate::git::{self, GitContext};
use crate::model::{Generator, REWRITE_VERSION, RewriteRecord, Statement};
use crate::notes::{self, NotesReader};
use crate::patch_id;
use crate::record;
use crate::run::{self, format_time};
use crate::signing::SigningKey;
use crate::store::Index;
use crate::trust::Trust;
use crate::view::{NoteView, Placement};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("post-rewrite input line {line} is not '<old-sha> <new-sha>': '{text}'")]
    BadInput { line: usize, text: String },
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Run(#[from] run::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Signing(#[from] crate::signing::Error),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::BadInput { .. } => ErrorKind::BadInput,
            Self::Git(e) => e.kind(),
            Self::Run(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Signing(e) => e.kind(),
        }
    }
}

/// Reads git's post-rewrite input: one `<old-sha> <new-sha> [<extra>]` per line.
pub fn parse_rewrite_list(text: &str) -> Result<Vec<(ObjectId, ObjectId)>, Error> {
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        let parse = |field: Option<&str>| field.and_then(|f| ObjectId::from_hex(f.as_bytes()).ok());
        match (parse(fields.next()), parse(fields.next())) {
            (Some(old), Some(new)) => pairs.push((old, new)),
            _ => {
                return Err(Error::BadInput {
                    line: n + 1,
                    text: line.to_owned(),
                });
            }
        }
    }
    Ok(pairs)
}

/// One proof carried to a rewritten commit.
#[derive(Debug, Clone)]
pub struct Carried {
    pub run_id: String,
    pub old: ObjectId,
    pub new: ObjectId,
    /// Whether the run's change is the same on both sides (equal patch-ids).
    pub same_change: bool,
    /// Whether a signed rewrite record was written (it needs a key).
    pub signed: bool,
}

/// Carries every proof on the rewritten commits to their replacements (one notes commit for
/// the whole rewrite). `trust` finds the proofs already carried to a rewritten commit (the
/// writer's own key among them). Without a key, the records are copied but no rewrite record is
/// signed, and `verify` will say the proof is for another commit.
pub fn carry_proofs(
    repo: &gix::Repository,
    index: Option<&mut Index>,
    rewrites: &[(ObjectId, ObjectId)],
    operation: &str,
    key: Option<&SigningKey>,
    trust: &Trust,
    now: jiff::Timestamp,
) -> Result<Vec<Carried>, Error> {
    let mapping: HashMap<ObjectId, ObjectId> = rewrites.iter().copied().collect();
    let mut reader = NotesReader::new(repo)?;
    let mut additions = Vec::new();
    let mut carried = Vec::new();
    for &(old, new) in rewrites {
        let Some(note) = reader.note(old)? else { continue };
        let view = NoteView::build(old, &note, trust);
        let mut text = note;
        for b in &view.bundles {
            let bundle = b.bundle();
            let old_base_hex = match &b.placement {
                Placement::Own => bundle.base_sha.clone(),
                Placement::Carried(links) => links
                    .last()
                    .map_or(bundle.base_sha.clone(), |l| l.step.to().1.to_owned()),
                Placement::Elsewhere(_) => continue,
            };
            let Ok(old_base) = ObjectId::from_hex(old_base_hex.as_bytes()) else {
                continue;
            };
            let new_base = new_base(repo, &mapping, old_base, old)?;
            let old_patch_id = patch_id::verbatim(repo, old_base, old)?;
            let new_patch_id = patch_id::verbatim(repo, new_base, new)?;
            let same_change = old_patch_id == new_patch_id;
            let signed = if let Some(key) = key {
                let rewrite = RewriteRecord {
                    version: REWRITE_VERSION.into(),
                    kind: "rewrite".into(),
                    run_id: bundle.run_id.clone(),
                    bundle_digest: view.record_of(b).digest().to_owned(),
                    operation: operation.to_owned(),
                    old_sha: old.to_string(),
                    new_sha: new.to_string(),
                    old_base_sha: old_base.to_string(),
                    new_base_sha: new_base.to_string(),
                    old_patch_id,
                    new_patch_id,
                    rewritten_at: format_time(now),
                    generator: Generator::current(),
                };
                let record = record::sign(&Statement::for_rewrite(rewrite), key)?;
                notes::append_text(&mut text, record.to_text().as_bytes());
                true
            } else {
                false
            };
            carried.push(Carried {
                run_id: bundle.run_id.clone(),
                old,
                new,
                same_change,
                signed,
            });
        }
        additions.push((new, text));
    }
    notes::add_to_notes(repo, &additions, "Notes carried by 'git proof' to rewritten commits\n")?;
    if let Some(index) = index {
        for c in carried.iter().filter(|c| c.same_change && c.signed) {
            index.move_bundle_ref(&c.run_id, &c.old.to_string(), &c.new.to_string())?;
        }
    }
    Ok(carried)
}

/// The base of the run's change after the rewrite. When its first commit was rewritten, the
/// parent of its replacement (a rebase onto a new upstream); when its base was rewritten, the
/// base's replacement; otherwise the base did not move (an amend of the head).
fn new_base(
    repo: &gix::Repository,
    mapping: &HashMap<ObjectId, ObjectId>,
    old_base: ObjectId,
    old_head: ObjectId,
) -> Result<ObjectId, Error> {
    if let Some(&moved) = mapping.get(&old_base) {
        return Ok(moved);
    }
    let first = git::commits_between(repo, old_base, old_head)?.into_iter().find(|c| {
        repo.find_commit(*c)
            .is_ok_and(|c| c.parent_ids().next().map(|p| p.detach()) == Some(old_base))
    });
    let Some(replacement) = first.and_then(|c| mapping.get(&c)) else {
        return Ok(old_base);
    };
    let commit = repo
        .find_commit(*replacement)
        .doing(|| format!("read commit {replacement}"))?;
    Ok(commit.parent_ids().next().map_or(old_base, |p| p.detach()))
}
