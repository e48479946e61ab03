//! Rebuilding the index from the notes alone: in a fresh clone after fetching
//! `refs/notes/proof`, or after the index file was lost or corrupted. Runs, their checks,
//! scope violations (with the decisions in force), manifests and proof references come back;
//! event contents do not (a note holds only their hashes).
//!
//! The index never places a proof where `verify` would reject it: a bundle is imported on a
//! commit where it counts under the trust in force ([`crate::view`]) and its facts hold there
//! (verify's own checks). Without any trust source a bundle on its own commit is imported as
//! unverified (and shown so), unless another bundle claims the same run: nothing can tell
//! which is genuine, so neither is placed. A run an earlier rebuild imported is placed anew
//! when, under today's trust, another proof of it counts and the recorded one does not.

use std::collections::HashMap;

use gix::ObjectId;

use crate::model::Bundle;
use crate::notes::{self, NotesReader};
use crate::run;
use crate::store::{BundleRef, Ended, Ending, Imported, Index, RunRecord, RunState};
use crate::trust::Trust;
use crate::verify::{self, Policy};
use crate::view::{BundleView, NoteView, Placement, SignatureCheck};

/// What a rebuild found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reindexed {
    /// Notes read.
    pub notes: usize,
    /// Runs added to the index.
    pub imported: usize,
    /// Runs the index already had.
    pub known: usize,
    /// Of the imported runs, those no trust source could verify.
    pub unverified: usize,
    /// Bundle records that count nowhere they were found (untrusted, not about their commit, or
    /// their facts do not hold).
    pub ignored: usize,
    /// Runs claimed by several bundles none of which can be verified (no trust source).
    pub ambiguous: usize,
    /// Runs an earlier rebuild had placed on a proof that does not count, placed anew.
    pub replaced: usize,
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
    let mut unverified_digests: HashMap<String, String> = HashMap::new();
    let mut ambiguous: std::collections::HashSet<String> = Default::default();
    for (commit, _) in notes::list_notes(repo)? {
        let Some(note) = reader.note(commit)? else { continue };
        found.notes += 1;
        let view = NoteView::build(commit, &note, trust);
        if view.records.is_empty() {
            found.unreadable += 1;
            continue;
        }
        // A proof on a commit this clone lacks (its branch left after it landed) is indexed on
        // its signature alone: its facts can only be checked where the commit is.
        let records = match crate::git::is_commit(repo, commit) {
            true => verify::check_view(repo, &view, &Policy::default())?.records,
            false => None,
        };
        for b in &view.bundles {
            let holds = records
                .as_ref()
                .is_none_or(|records| records.get(b.record).is_some_and(|r| r.problems.is_empty()));
            let Some(candidate) = importable(&view, b, trust).filter(|_| holds) else {
                found.ignored += 1;
                continue;
            };
            let run_id = candidate.bundle.run_id.clone();
            if !candidate.verified {
                // Two different records claiming one run, and nothing to tell them apart.
                let first = unverified_digests
                    .entry(run_id.clone())
                    .or_insert_with(|| candidate.digest.clone());
                if *first != candidate.digest {
                    ambiguous.insert(run_id.clone());
                }
            }
            let keep = best
                .get(&run_id)
                .is_none_or(|kept| (candidate.verified, candidate.depth) > (kept.verified, kept.depth));
            if keep {
                best.insert(run_id, candidate);
            }
        }
    }
    for (run_id, place) in best {
        if !place.verified && ambiguous.contains(&run_id) {
            found.ambiguous += 1;
            continue;
        }
        if import(index, &place)? {
            found.imported += 1;
            found.unverified += usize::from(!place.verified);
        } else if place.verified && replace_if_not_counting(index, &place)? {
            found.replaced += 1;
        } else {
            found.known += 1;
        }
        if place.depth > 0 {
            index.set_bundle_commit(&run_id, &place.commit.to_string())?;
        }
    }
    Ok(found)
}

/// Replaces an imported run's record by `place` when it names another bundle record.
fn replace_if_not_counting(index: &mut Index, place: &Found) -> Result<bool, run::Error> {
    let recorded = index.bundle_ref(&place.bundle.run_id)?;
    if recorded.is_none_or(|r| r.bundle_digest == place.digest) {
        return Ok(false);
    }
    let (run, reference) = records_of(place);
    Ok(index.replace_import(&imported(&run, &place.bundle, &reference))?)
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
        bundle: if verified { b.folded() } else { b.undecided() },
        commit: view.commit,
        digest: record.digest().to_owned(),
        depth,
        verified,
    })
}

fn import(index: &mut Index, found: &Found) -> Result<bool, run::Error> {
    let (run, reference) = records_of(found);
    Ok(index.import_proof(&imported(&run, &found.bundle, &reference))?)
}

fn imported<'a>(run: &'a RunRecord, bundle: &'a Bundle, reference: &'a BundleRef) -> Imported<'a> {
    Imported {
        run,
        checks: &bundle.dod_results,
        violations: &bundle.scope_violations,
        manifest: &bundle.evidence,
        reference,
    }
}

/// How a run known from its proof alone ended: a proof whose manifest has no terminal event
/// was sealed (its end never reported); an abandoned run has no proof.
fn ending_of(bundle: &crate::model::Bundle) -> Ending {
    if bundle.evidence.completeness.terminal_event_present {
        Ending::Exited
    } else {
        Ending::Sealed {
            reason: "its end was never reported".into(),
        }
    }
}

/// The index's records of a run known from its proof alone.
fn records_of(found: &Found) -> (RunRecord, BundleRef) {
    let bundle = &found.bundle;
    let run = RunRecord {
        run_id: bundle.run_id.clone(),
        worktree: String::new(),
        // The bundle records when it was generated; a run id git-proof made says when the run
        // started, to the millisecond.
        started_at: bundle
            .generated_at
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|generated| run::started_by_id(&bundle.run_id, generated))
            .map_or_else(|| bundle.generated_at.clone(), run::format_time),
        state: RunState::Ended(Ended {
            ended_at: bundle.generated_at.clone(),
            head_sha: bundle.head_sha.clone(),
            exit_code: bundle.exit_code,
            how: ending_of(bundle),
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
    (run, reference)
}
