//! `git proof reject RUN_ID PATH...`: decide scope violations against.

use git_proof::model::Decision;

use super::Ctx;

/// Reject scope violations of a run (the same as approve, deciding against).
pub fn run(args: super::approve::Args, ctx: &Ctx) -> anyhow::Result<u8> {
    super::approve::decide(args, ctx, Decision::Rejected)
}
