//! Rebuilding the index from the notes alone: in a fresh clone after fetching
//! `refs/notes/proof`, or after the index file was lost or corrupted. Runs, their checks,
//! scope violations (with the decisions recorded in the note), manifests and proof references
//! come back; event contents do not (a note holds only their hashes).

use std::collections::HashMap;

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
    let mut carried: HashMap<String, (Bundle, ObjectId, usize, String)> = HashMap::new();
    for (commit, _) in notes::list_notes(repo)? {
        let Some(note) = reader.note(commit)? else { continue };
        found.notes += 1;
        let Ok(records) = notes::parse_records(&note) else {
            found.unreadable += 1;
            continue;
        };
        let commit_hex = commit.to_string();
        let rewrite_records: Vec<_> = records.iter().filter_map(crate::rewrite::rewrite_of).collect();
        let rewrites: Vec<_> = rewrite_records.iter().collect();
        for record in &records {
            let Some(mut bundle) = crate::verify::bundle_of(record) else {
                continue;
            };
            // A bundle copied onto another commit proves nothing here, unless rewrites that
            // kept its change carried it (the index then points at the newest such commit).
            if bundle.head_sha != commit_hex {
                if let Some(links) = crate::rewrite::chain_to(&bundle, &record_digest(record), &rewrites, &commit_hex)
                    && links.iter().all(|l| l.old_patch_id == l.new_patch_id)
                    && crate::git::is_commit(repo, commit)
                {
                    let newest = carried.get(&bundle.run_id).is_none_or(|(_, _, n, _)| *n < links.len());
                    if newest {
                        crate::approval::fold(&mut bundle, record, &records);
                        carried.insert(
                            bundle.run_id.clone(),
                            (bundle, commit, links.len(), record_digest(record)),
                        );
                    }
                }
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
    for (run_id, (bundle, commit, _, digest)) in carried {
        if import(index, &bundle, commit, &digest)? {
            found.imported += 1;
        }
        index.set_bundle_commit(&run_id, &commit.to_string())?;
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
