//! `git proof publish --to postgres://URL`: this repository's proofs into the team database.

use std::io::IsTerminal;
use std::sync::Mutex;

use git_proof::notes::Merged;
use git_proof::publish::{self, NotPublished, Stage, Unpublishable};
use git_proof::teamdb::{self, Access, TeamDb};
use git_proof::{summary, sync};

use super::{Ctx, TrustArgs};

/// Fetch the remote's proofs, check every one under the trust in force, and upsert the runs of
/// this repository whose proofs count (run, evidence manifest, DoD results, scope violations
/// and decisions, verdict) into a PostgreSQL database that many repositories publish into.
/// Publishing again, or from several clones at once, leaves one row per run.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The team database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (a Unix socket
    /// directory percent-encoded as the host, or ?host=/path).
    #[arg(long, value_name = "URL")]
    to: String,
    /// The remote whose proofs are fetched and merged first [default: the branch's push remote,
    /// else origin, if there is one].
    #[arg(long, value_name = "NAME")]
    remote: Option<String>,
    /// Publish this clone's proofs without fetching.
    #[arg(long, conflicts_with = "remote")]
    no_fetch: bool,
    /// The repository's name in the team database [default: the last part of the remote's URL,
    /// else the worktree's directory].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Print what was published as JSON.
    #[arg(long)]
    json: bool,
    /// Say nothing unless something went wrong.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let ws = ctx.workspace()?;
    // Everything that can be refused without the database is, before it is reached: a refused
    // publish leaves even an empty database as it was.
    teamdb::parse_url(&args.to)?;
    let trust = args.trust.load(&ws.repo, ctx)?;
    let remote = match (args.no_fetch, args.remote) {
        (true, _) => None,
        (false, Some(remote)) => Some(remote),
        (false, None) => sync::default_remote(&ws.repo),
    };
    let options = publish::Options {
        remote,
        name: args.name,
    };
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let shown = Mutex::new(false);
    let progress = |stage: Stage, done: u64, total: u64| {
        if !show_progress || total < 500 {
            return;
        }
        let what = match stage {
            Stage::Reading => "checked notes",
            Stage::Writing => "published runs",
        };
        eprint!("\rgit-proof: {what} {done}/{total}\x1b[K");
        if let Ok(mut shown) = shown.lock() {
            *shown = true;
        }
    };
    let end_progress = || {
        if shown.lock().is_ok_and(|mut shown| std::mem::take(&mut *shown)) {
            eprintln!();
        }
    };
    let prepared = publish::prepare(&ws.repo, &trust, &options, &progress);
    end_progress();
    let prepared = prepared?;
    let mut db = TeamDb::connect(&args.to, Access::Publish)?;
    let report = publish::write(prepared, &mut db, &progress);
    end_progress();
    let report = report?;
    let merged = report.merged.as_ref().map(|m| match m {
        Merged::UpToDate => "up to date",
        Merged::FastForward => "fast-forward",
        Merged::Merge(_) => "merged",
    });
    let w = &report.written;
    if args.json {
        let not_published: Vec<serde_json::Value> = report
            .not_published
            .iter()
            .map(|n| {
                let mut entry = serde_json::json!({
                    "run_id": n.run_id,
                    "commit": n.commit,
                    "reason": n.why.code(),
                    "message": n.to_string(),
                });
                if let Unpublishable::OtherRepository { workspace_id } = &n.why {
                    entry["workspace_id"] = workspace_id.as_str().into();
                }
                entry
            })
            .collect();
        super::print_json(&serde_json::json!({
            "database": db.target(),
            "repository": {
                "name": report.repository.name,
                "workspace_id": (!report.repository.workspace_id.is_empty()).then_some(&report.repository.workspace_id),
                "url": report.repository.url,
            },
            "remote": options.remote,
            "fetched": merged,
            "notes": report.notes,
            "runs": report.runs,
            "inserted": w.inserted,
            "updated": w.updated,
            "unchanged": w.unchanged,
            "manifests_created": w.manifests_created,
            "manifest_conflicts": w.manifest_conflicts,
            "manifests_elsewhere": w.manifests_elsewhere,
            "not_counted": report.not_counted,
            "not_published": not_published,
        }))?;
        return Ok(super::EXIT_OK);
    }
    for run in &w.manifest_conflicts {
        eprintln!(
            "git-proof: warning: run {} already has another evidence manifest in the team database; the first one is kept",
            summary::quoted(run)
        );
    }
    for run in &w.manifests_elsewhere {
        eprintln!(
            "git-proof: warning: run {}'s evidence manifest was not stored: its proof has no workspace id (a shallow clone made it), and the same run id of another repository holds that evidence id",
            summary::quoted(run)
        );
    }
    warn_not_published(&report.not_published);
    if args.quiet {
        return Ok(super::EXIT_OK);
    }
    let fetched = match (&options.remote, merged) {
        (Some(remote), Some(how)) => format!(" (fetched from {remote}: {how})"),
        (Some(remote), None) => format!(" ({remote} has no proofs yet)"),
        (None, _) => " (this clone's proofs; nothing fetched)".to_owned(),
    };
    eprintln!(
        "git-proof: published {} runs of {} to {}{fetched}: {} new, {} updated, {} unchanged",
        report.runs,
        summary::quoted(&report.repository.name),
        db.target(),
        w.inserted,
        w.updated,
        w.unchanged
    );
    if !report.not_counted.is_empty() {
        eprintln!(
            "git-proof: {} records do not count under the trust in force and were not published:",
            report.not_counted.len()
        );
        for line in report.not_counted.iter().take(10) {
            eprintln!("  {}", summary::quoted(line));
        }
        if report.not_counted.len() > 10 {
            eprintln!("  and {} more (see --json)", report.not_counted.len() - 10);
        }
    }
    Ok(super::EXIT_OK)
}

/// Runs whose proofs count but were not published, by why: a count, then the first few.
fn warn_not_published(not_published: &[NotPublished]) {
    const SHOWN: usize = 5;
    /// Why, said of one run and of several.
    fn said(why: &Unpublishable) -> (&'static str, &'static str) {
        match why {
            Unpublishable::OtherRepository { .. } => (
                "its proof names another repository",
                "their proofs name another repository",
            ),
            Unpublishable::UnknownRepository => (
                "this clone cannot tell which repository it is",
                "this clone cannot tell which repository it is",
            ),
            Unpublishable::BadTime { .. } => (
                "a time in its proof does not parse",
                "a time in their proofs does not parse",
            ),
        }
    }
    let mut by_why: Vec<(std::mem::Discriminant<Unpublishable>, Vec<&NotPublished>)> = Vec::new();
    for n in not_published {
        let why = std::mem::discriminant(&n.why);
        match by_why.iter_mut().find(|(w, _)| *w == why) {
            Some((_, runs)) => runs.push(n),
            None => by_why.push((why, vec![n])),
        }
    }
    for (_, runs) in by_why {
        let (one, many) = said(&runs[0].why);
        match runs.len() {
            1 => eprintln!("git-proof: warning: 1 run not published: {one}:"),
            n => eprintln!("git-proof: warning: {n} runs not published: {many}:"),
        }
        for n in runs.iter().take(SHOWN) {
            eprintln!("  {n}");
        }
        if runs.len() > SHOWN {
            eprintln!("  and {} more (see --json)", runs.len() - SHOWN);
        }
    }
}
