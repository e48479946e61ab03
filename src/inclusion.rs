//! Proving one event part of a run without the rest of its log: an RFC 6962 audit path from
//! the event's hash to the `event_hash_root` of the signed manifest in the note.

use serde::{Deserialize, Serialize};

use crate::canon::{self, hex};
use crate::evidence::Event;
use crate::merkle;
use crate::model::Bundle;

/// Format of [`EventProof`] documents.
pub const PROOF_FORMAT: &str = "git-proof/event-inclusion/v1";

/// Everything an auditor needs to check that one event is part of a proven run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventProof {
    pub format: String,
    pub run_id: String,
    /// The commit whose note holds the signed manifest.
    pub commit: String,
    pub event_id: String,
    pub stream_seq: u64,
    pub event_type: String,
    /// `sha256(JCS(event))`, the leaf.
    pub event_hash: String,
    /// The event as stored, when the prover had it, so the auditor can recompute its hash.
    pub event: Option<Event>,
    /// 0-based position of the event among the manifest's events.
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Sibling hashes from the leaf upward, each `sha256:<hex>`.
    pub audit_path: Vec<String>,
    /// The root the path leads to; must equal the signed manifest's `event_hash_root`.
    pub event_hash_root: String,
    /// The signed record of the run's bundle, as the note holds it (statement and SSHSIG
    /// armor): with it the proof is checked anywhere, without the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_record: Option<String>,
}

/// Why a proof cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("run '{run_id}' has no event '{event_id}' in its signed manifest")]
    UnknownEvent { run_id: String, event_id: String },
    #[error("the manifest of run '{0}' lists an event hash that is not sha256:<hex>")]
    MalformedManifest(String),
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::UnknownEvent { .. } => crate::error::ErrorKind::NotFound,
            Self::MalformedManifest(_) => crate::error::ErrorKind::BadInput,
        }
    }
}

/// The proof that `event_id` is part of `bundle`'s manifest.
pub fn prove(
    bundle: &Bundle,
    commit: &str,
    event_id: &str,
    event: Option<Event>,
    signed_record: Option<String>,
) -> Result<EventProof, Error> {
    let manifest = &bundle.evidence;
    let leaf_index = manifest
        .events
        .iter()
        .position(|e| e.event_id == event_id)
        .ok_or_else(|| Error::UnknownEvent {
            run_id: bundle.run_id.clone(),
            event_id: event_id.to_owned(),
        })?;
    let leaves = manifest
        .events
        .iter()
        .map(|e| canon::parse_prefixed_sha256(&e.event_hash))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::MalformedManifest(bundle.run_id.clone()))?;
    let path = merkle::inclusion_proof(&leaves, leaf_index).ok_or_else(|| Error::UnknownEvent {
        run_id: bundle.run_id.clone(),
        event_id: event_id.to_owned(),
    })?;
    let pointer = &manifest.events[leaf_index];
    Ok(EventProof {
        format: PROOF_FORMAT.into(),
        run_id: bundle.run_id.clone(),
        commit: commit.to_owned(),
        event_id: pointer.event_id.clone(),
        stream_seq: pointer.stream_seq,
        event_type: pointer.event_type.clone(),
        event_hash: pointer.event_hash.clone(),
        event: event.filter(|e| e.event_id == pointer.event_id),
        leaf_index: leaf_index as u64,
        tree_size: leaves.len() as u64,
        audit_path: path.iter().map(|h| format!("sha256:{}", hex(h))).collect(),
        event_hash_root: manifest.event_hash_root.clone(),
        signed_record,
    })
}

/// What is wrong with `proof` against the signed `bundle`; empty means it holds.
pub fn check(proof: &EventProof, bundle: &Bundle) -> Vec<String> {
    let mut problems = Vec::new();
    if proof.format != PROOF_FORMAT {
        problems.push(format!("unknown proof format '{}'", proof.format));
    }
    if proof.run_id != bundle.run_id {
        problems.push(format!(
            "the proof is for run '{}', the note for '{}'",
            proof.run_id, bundle.run_id
        ));
    }
    if proof.event_hash_root != bundle.evidence.event_hash_root {
        problems.push("the proof's root is not the event_hash_root signed in the note".into());
    }
    if proof.tree_size != bundle.evidence.events.len() as u64 {
        problems.push(format!(
            "the proof is for {} events, the signed manifest lists {}",
            proof.tree_size,
            bundle.evidence.events.len()
        ));
    }
    match bundle.evidence.events.get(proof.leaf_index as usize) {
        Some(p)
            if p.event_id == proof.event_id && p.event_hash == proof.event_hash && p.event_type == proof.event_type => {
        }
        _ => problems.push(format!(
            "the signed manifest does not list event '{}' with this hash at position {}",
            proof.event_id, proof.leaf_index
        )),
    }
    if let Some(event) = &proof.event {
        match event.hash() {
            Ok(hash) if hash == proof.event_hash => {}
            _ => problems.push("the event's content does not hash to event_hash (it was altered)".into()),
        }
        if event.event_id != proof.event_id || event.stream_seq != proof.stream_seq {
            problems.push("the event's id or sequence number differs from the proof's".into());
        }
    }
    let leaf = canon::parse_prefixed_sha256(&proof.event_hash);
    let path: Option<Vec<merkle::Hash>> = proof
        .audit_path
        .iter()
        .map(|h| canon::parse_prefixed_sha256(h))
        .collect();
    let root = canon::parse_prefixed_sha256(&bundle.evidence.event_hash_root);
    match (leaf, path, root) {
        (Some(leaf), Some(path), Some(root)) => {
            if !merkle::verify_inclusion(&leaf, proof.leaf_index, proof.tree_size, &path, &root) {
                problems.push("the audit path does not lead from the event hash to the signed root".into());
            }
        }
        _ => problems.push("a hash in the proof is not sha256:<hex>".into()),
    }
    problems
}
