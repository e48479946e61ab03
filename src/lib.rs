//! git-proof: every AI coding-agent run ends in a signed proof stored as a git note.
//!
//! The library holds all behaviour; the `git-proof` binary only parses arguments, opens the
//! repository and the index, and prints. Modules by what they are about:
//! - [`git`]: reading the repository (HEAD, diffs, status, history) through gix;
//! - [`notes`]: the `refs/notes/proof` ref and the signed records inside a note;
//! - [`signing`]: OpenSSH ed25519 keys, SSHSIG signatures and `allowed_signers` trust;
//! - [`store`]: the SQLite index of runs, events, checks and proof references;
//! - [`model`], [`evidence`], [`canon`], [`merkle`]: the bundle and manifest and their hashes;
//! - [`policy`], [`dod`]: scope rules and definition-of-done checks;
//! - [`run`]: the run lifecycle (start, events, finish) that ties the rest together;
//! - [`verify`]: checking the proofs attached to commits.

pub mod agent_config;
pub mod approval;
pub mod canon;
pub mod diffstat;
pub mod dod;
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
pub mod reindex;
pub mod rewrite;
pub mod run;
pub mod serve;
pub mod signing;
pub mod store;
pub mod summary;
pub mod sync;
pub mod verify;
