//! Rebuilding the index from the notes alone: in a fresh clone after fetching
//! `refs/notes/proof`, or after the index file was lost or corrupted. Runs, their checks,
//! scope violations (with the decisions in force), manifests and proof references come back;
//! event contents do not (a note holds only their hashes).
//!
//! The index never places a proof where `verify` would reject it: a bundle is imported on a
//! commit where it counts under the trust in force ([`crate::view`]). Without any trust source
//! a bundle on its own commit is imported as unverified (and shown so); nothing is carried.

use std::collections::HashMap;

use gix::ObjectId;

use crate::model::Bundle;
use crate::notes::{self, NotesReader};
use crate::run;
use crate::store::{BundleRef, Ended, Index, RunRecord, RunState};
use crate::trust::Trust;
use crate::view::{BundleView, NoteView, Placement, SignatureCheck};

/// What a rebuild found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reindexed {
    /// Notes read.
    pub notes: usize,
    /// Runs added to the index.
    pub imported: usize,
    /// Runs the index already had.
    pub known: usize,
    /// Of the imported runs, those no trust source could verify.
    pub unverified: usize,
    /// Bundle records that count nowhere they were found (untrusted, or not about their commit).
    pub ignored: usize,
    /// Notes that hold no signed record at all (left for `verify` to report).
    pub unreadable: usize,
}

/// A bundle to import, and where.
struct Found {
    bundle: Bundle,
    commit: ObjectId,
    digest: String,
    /// Rewrites that carried it there: the index points at the newest place.
    depth: usize,
    verified: bool,
}

/// Adds every run proven in `refs/notes/proof` that the index does not know.
pub fn reindex(repo: &gix::Repository, index: &mut Index, trust: &Trust) -> Result<Reindexed, run::Error> {
    let mut found = Reindexed::default();
    let mut reader = NotesReader::new(repo)?;
    let mut best: HashMap<String, Found> = HashMap::new();
    for (commit, _) in notes::list_notes(repo)? {
        let Some(note) = reader.note(commit)? else { continue };
        found.notes += 1;
        let view = NoteView::build(commit, &note, trust);
        if view.records.is_empty() {
            found.unreadable += 1;
            continue;
        }
        for b in &view.bundles {
            let Some(candidate) = importable(&view, b, trust) else {
                found.ignored += 1;
                continue;
            };
            let keep = best
                .get(&candidate.bundle.run_id)
                .is_none_or(|kept| (candidate.verified, candidate.depth) > (kept.verified, kept.depth));
            if keep {
                best.insert(candidate.bundle.run_id.clone(), candidate);
            }
        }
    }
    for (run_id, place) in best {
        if import(index, &place)? {
            found.imported += 1;
            found.unverified += usize::from(!place.verified);
        } else {
            found.known += 1;
        }
        if place.depth > 0 {
            index.set_bundle_commit(&run_id, &place.commit.to_string())?;
        }
    }
    Ok(found)
}

/// What of `b` the index may hold: a counting bundle with the decisions in force, or without
/// any trust source an unverified bundle on its own commit.
fn importable(view: &NoteView, b: &BundleView, trust: &Trust) -> Option<Found> {
    let record = view.record_of(b);
    let depth = match &b.placement {
        Placement::Own => 0,
        Placement::Carried(links) => links.len(),
        Placement::Elsewhere(_) => return None,
    };
    let verified = view.counts(b.record);
    let unverified_own = trust.signers.is_none() && record.signature == SignatureCheck::Unverified && depth == 0;
    if !verified && !unverified_own {
        return None;
    }
    Some(Found {
        bundle: if verified { b.folded() } else { b.bundle().clone() },
        commit: view.commit,
        digest: record.digest().to_owned(),
        depth,
        verified,
    })
}

fn import(index: &mut Index, found: &Found) -> Result<bool, run::Error> {
    let bundle = &found.bundle;
    let run = RunRecord {
        run_id: bundle.run_id.clone(),
        worktree: String::new(),
        // The bundle records when it was generated, not when the run started.
        started_at: bundle.generated_at.clone(),
        state: RunState::Ended(Ended {
            ended_at: bundle.generated_at.clone(),
            head_sha: bundle.head_sha.clone(),
            exit_code: bundle.exit_code,
        }),
        base_sha: bundle.base_sha.clone(),
        prompt_hash: bundle.prompt_hash.clone(),
        scope: bundle.scope_snapshot.clone(),
        dod: bundle.dod_snapshot.clone(),
        correlation_id: bundle.evidence.correlation_id.clone(),
        thread_id: bundle.evidence.thread_id.clone(),
    };
    let reference = BundleRef {
        run_id: bundle.run_id.clone(),
        commit_sha: found.commit.to_string(),
        bundle_digest: found.digest.clone(),
        recorded_at: bundle.generated_at.clone(),
    };
    Ok(index.import_proof(
        &run,
        &bundle.dod_results,
        &bundle.scope_violations,
        &bundle.evidence,
        &reference,
    )?)
}
