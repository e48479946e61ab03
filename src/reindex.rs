//! Rebuilding the index from the notes alone: in a fresh clone after fetching
//! `refs/notes/proof`, or after the index file was lost or corrupted. Runs, their checks,
//! scope violations (with the decisions recorded in the note), manifests and proof references
//! come back; event contents do not (a note holds only their hashes).

use gix::ObjectId;

use crate::model::Bundle;
use crate::notes::{self, NotesReader};
use crate::run::{self, record_digest};
use crate::store::{BundleRef, Index, RunRecord};

/// What a rebuild found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reindexed {
    /// Notes read.
    pub notes: usize,
    /// Runs added to the index.
    pub imported: usize,
    /// Runs the index already had.
    pub known: usize,
    /// Notes that are not signed records (left for `verify` to report).
    pub unreadable: usize,
}

/// Adds every run proven in `refs/notes/proof` that the index does not know.
pub fn reindex(repo: &gix::Repository, index: &mut Index) -> Result<Reindexed, run::Error> {
    let mut found = Reindexed::default();
    let mut reader = NotesReader::new(repo)?;
    for (commit, _) in notes::list_notes(repo)? {
        let Some(note) = reader.note(commit)? else { continue };
        found.notes += 1;
        let Ok(records) = notes::parse_records(&note) else {
            found.unreadable += 1;
            continue;
        };
        let commit_hex = commit.to_string();
        for record in &records {
            let Some(mut bundle) = crate::verify::bundle_of(record) else {
                continue;
            };
            // A bundle copied onto another commit proves nothing here.
            if bundle.head_sha != commit_hex {
                continue;
            }
            crate::approval::fold(&mut bundle, record, &records);
            let imported = import(index, &bundle, commit, &record_digest(record))?;
            if imported {
                found.imported += 1;
            } else {
                found.known += 1;
            }
        }
    }
    Ok(found)
}

fn import(index: &mut Index, bundle: &Bundle, commit: ObjectId, digest: &str) -> Result<bool, run::Error> {
    let run = RunRecord {
        run_id: bundle.run_id.clone(),
        worktree: String::new(),
        active: false,
        // The bundle records when it was generated, not when the run started.
        started_at: bundle.generated_at.clone(),
        ended_at: Some(bundle.generated_at.clone()),
        base_sha: bundle.base_sha.clone(),
        head_sha: Some(bundle.head_sha.clone()),
        exit_code: Some(bundle.exit_code),
        prompt_hash: bundle.prompt_hash.clone(),
        scope: bundle.scope_snapshot.clone(),
        dod: bundle.dod_snapshot.clone(),
        correlation_id: bundle.evidence.correlation_id.clone(),
        thread_id: bundle.evidence.thread_id.clone(),
    };
    let reference = BundleRef {
        run_id: bundle.run_id.clone(),
        commit_sha: commit.to_string(),
        bundle_digest: digest.to_owned(),
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
