//! `git proof verify [REV|RANGE]...`: check the proofs on commits, for people and CI.

use git_proof::notes::NotesReader;
use git_proof::verify::{self, CommitReport, Verdict};

use super::Ctx;

/// Check the proofs of commits: signatures against the allowed signers, subjects against the
/// commits, manifests against their hashes. Exit 0 all valid, 1 any invalid (or missing with
/// --require), 2 bad input.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Commits or ranges (A..B) to check [default: HEAD].
    #[arg(value_name = "REV|RANGE")]
    revs: Vec<String>,
    #[command(flatten)]
    trust: super::TrustArgs,
    /// Fail commits that carry no proof.
    #[arg(long)]
    require: bool,
    /// Policy: fail unless every scope violation is approved (by a trusted approval record).
    #[arg(long)]
    deny_pending: bool,
    /// Policy: fail unless every DoD check passed.
    #[arg(long)]
    require_dod: bool,
    /// Print a JSON array, one object per commit.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        revs,
        trust,
        require,
        deny_pending,
        require_dod,
        json,
    } = args;
    let policy = verify::Policy {
        deny_pending,
        require_dod,
    };
    let repo = git_proof::git::discover(&ctx.dir)?;
    let revs = if revs.is_empty() { vec!["HEAD".to_owned()] } else { revs };
    let mut commits = Vec::new();
    for rev in &revs {
        for commit in git_proof::git::resolve_commits(&repo, rev)? {
            if !commits.contains(&commit) {
                commits.push(commit);
            }
        }
    }
    let signers = verify::load_trust(&repo, &trust.options())?;
    let mut reader = NotesReader::new(&repo)?;
    let now = ctx.now.as_second();
    let mut reports = Vec::with_capacity(commits.len());
    for commit in commits {
        reports.push(verify::verify_commit(
            &repo,
            &mut reader,
            commit,
            &signers,
            now,
            policy,
        )?);
    }
    let failed = reports.iter().any(|r| match r.verdict() {
        Verdict::Valid => false,
        Verdict::Invalid => true,
        Verdict::Missing => require,
    });
    if json {
        let items: Vec<_> = reports.iter().map(|r| report_json(r, require)).collect();
        super::print_json(&items)?;
    } else {
        for r in &reports {
            println!("{}", report_line(r, require));
        }
    }
    Ok(if failed { super::EXIT_INVALID } else { super::EXIT_OK })
}

fn verdict_word(r: &CommitReport, require: bool) -> &'static str {
    match r.verdict() {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Missing if require => "missing",
        Verdict::Missing => "none",
    }
}

fn report_line(r: &CommitReport, require: bool) -> String {
    let sha = r.commit.to_string();
    let mut line = format!("{}  {}", &sha[..10], verdict_word(r, require));
    for record in r
        .records
        .iter()
        .flatten()
        .filter(|r| r.kind == verify::RecordKind::Bundle)
    {
        if let Some(run) = &record.run_id {
            line.push_str(&format!("  run {run}"));
        }
        if let Some(signer) = &record.signer {
            line.push_str(&format!(" signed by {}", signer.principals));
        }
    }
    let unchecked: Vec<&String> = r.records.iter().flatten().flat_map(|rec| &rec.unchecked).collect();
    if !unchecked.is_empty() {
        line.push_str(&format!(
            "  [not checked: {}]",
            unchecked.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
        ));
    }
    let reasons = r.reasons();
    if !reasons.is_empty() {
        line.push_str(&format!("  ({})", reasons.join("; ")));
    } else if r.verdict() == Verdict::Missing {
        line.push_str("  (no proof note)");
    }
    line
}

fn report_json(r: &CommitReport, require: bool) -> serde_json::Value {
    serde_json::json!({
        "commit": r.commit.to_string(),
        "verdict": verdict_word(r, require),
        "records": r.records.iter().flatten().map(|rec| serde_json::json!({
            "kind": match rec.kind {
                verify::RecordKind::Bundle => "bundle",
                verify::RecordKind::Approval => "approval",
                verify::RecordKind::Unknown => "unknown",
            },
            "run_id": rec.run_id,
            "signer": rec.signer.as_ref().map(|s| serde_json::json!({"principals": s.principals, "fingerprint": s.fingerprint})),
            "problems": rec.problems,
            "unchecked": rec.unchecked,
        })).collect::<Vec<_>>(),
        "reasons": r.reasons(),
    })
}
