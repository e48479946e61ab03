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
//! - verification and lifecycle: [`verify`], [`coverage`], [`run`], [`approval`], [`rewrite`], [`reindex`],
//!   [`land`], [`proofs`] (reading proofs back), [`sync`], [`ingest`], [`dod`], [`hooks`],
//!   [`agent_config`], [`summary`];
//! - front end: [`serve`] (the CLI lives in the binary).
//!
//! Imports go down this list, never up. Errors say their [`error::ErrorKind`] once; the crate
//! root, which knows every module, finds it for an error held as a trait object
//! ([`classify`]).

pub mod agent_config;
pub mod approval;
pub mod bounded;
pub mod canon;
pub mod certificate;
pub mod coverage;
pub mod diffstat;
pub mod dod;
pub mod dsse;
pub mod error;
pub mod evidence;
pub mod git;
pub mod hooks;
pub mod inclusion;
pub mod ingest;
pub mod land;
pub mod merkle;
pub mod model;
pub mod notes;
pub mod packs;
pub mod patch_id;
pub mod policy;
pub mod proofs;
pub mod publish;
pub mod record;
pub mod reindex;
pub mod rewrite;
pub mod run;
pub mod serve;
pub mod signing;
pub mod store;
pub mod summary;
pub mod sync;
pub mod teamdb;
pub mod trust;
pub mod verify;
pub mod view;

/// The kind of the outermost library error in `error`'s chain of sources, if any is one, and
/// its machine-readable code (the `error` field of JSON errors).
///
/// Front ends that hold errors as trait objects (the CLI's `anyhow` chain) call this; the
/// library's own error types are listed here once.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> Option<(error::ErrorKind, &'static str)> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = kind_of(e) {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn kind_of(e: &(dyn std::error::Error + 'static)) -> Option<(error::ErrorKind, &'static str)> {
    use error::Classify;
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {
            $(if let Some(e) = e.downcast_ref::<$t>() {
                return Some((e.kind(), e.code()));
            })*
        };
    }
    try_types!(
        approval::Error,
        proofs::Error,
        publish::Error,
        rewrite::Error,
        run::Error,
        trust::Error,
        sync::Error,
        store::Error,
        teamdb::Error,
        signing::Error,
        policy::Error,
        git::Error,
        hooks::Error,
        inclusion::Error,
        land::Error,
        serve::Error,
        agent_config::Error,
    );
    None
}
