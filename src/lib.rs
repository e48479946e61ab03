//! git-proof: every AI coding-agent run ends in a signed proof stored as a git note.
//!
//! The library holds all behaviour; the `git-proof` binary only parses arguments, opens the
//! repository and the index, and prints. Modules by what they are about:
//!
//! - format: [`model`] (bundle, manifest, statements), [`record`] (the signed record, parsed
//!   once), [`evidence`], [`canon`], [`merkle`], [`policy`], [`signing`], [`inclusion`];
//! - storage: [`git`] (the one gateway to gix), [`diffstat`], [`patch_id`], [`notes`] (the
//!   notes ref), [`store`] (the SQLite index), [`trust`] (where trust is read from);
//! - read model: [`view`], the one place that decides what a note's records count for;
//! - verification and lifecycle: [`verify`], [`run`], [`approval`], [`rewrite`], [`reindex`],
//!   [`proofs`] (reading proofs back), [`sync`], [`ingest`], [`dod`], [`hooks`],
//!   [`agent_config`], [`summary`];
//! - front end: [`serve`] (the CLI lives in the binary).
//!
//! Imports go down this list, never up. Errors say their [`error::ErrorKind`] once.

pub mod agent_config;
pub mod approval;
pub mod canon;
pub mod diffstat;
pub mod dod;
pub mod error;
pub mod evidence;
pub mod git;
pub mod hooks;
pub mod inclusion;
pub mod ingest;
pub mod merkle;
pub mod model;
pub mod notes;
pub mod patch_id;
pub mod policy;
pub mod proofs;
pub mod record;
pub mod reindex;
pub mod rewrite;
pub mod run;
pub mod serve;
pub mod signing;
pub mod store;
pub mod summary;
pub mod sync;
pub mod trust;
pub mod verify;
pub mod view;
