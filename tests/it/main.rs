//! End-to-end tests: the real `git-proof` binary against real temporary git repositories,
//! checked with stock `git` and `ssh-keygen` and with published test vectors.

mod common;

mod approval;
mod bad_input;
mod ci_examples;
mod cli_surface;
mod concurrency;
mod diff_oracle;
mod dsse;
mod evidence;
mod full_run;
mod fuzz;
mod hooks;
mod ingest;
mod install_agent;
mod interop;
mod keys;
mod landing;
mod packs;
mod partial_clone;
mod read_model;
mod reindex;
mod scope_dod;
mod serve;
mod steering;
mod tamper;
mod team;
mod trust_rule;
mod upgrade;
mod vectors;
mod verify_range;
