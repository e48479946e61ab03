//! `git proof log`: the runs in the index.

use git_proof::model::RunStatus;
use git_proof::store::{Ending, RunRecord, RunState};
use git_proof::summary::Style;

use super::{BadInput, Ctx};

/// List the runs in the index, newest first, one line each.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show at most N runs.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    max_count: Option<usize>,
    /// Only runs started since DATE: a date (2026-11-30), an RFC 3339 time, today, yesterday,
    /// or a span back from now ("2 weeks ago", "3 days").
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only runs in this state.
    #[arg(long, value_enum, value_name = "STATUS")]
    status: Option<Status>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

/// Where a run stands, as `log` names it.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Succeeded,
    Failed,
    Sealed,
    Abandoned,
}

impl Status {
    fn of(run: &RunRecord) -> Self {
        match &run.state {
            RunState::Active => Self::Active,
            RunState::Ended(end) => match end.how {
                Ending::Sealed { .. } => Self::Sealed,
                Ending::Abandoned { .. } => Self::Abandoned,
                Ending::Exited if end.exit_code == 0 => Self::Succeeded,
                Ending::Exited => Self::Failed,
            },
        }
    }
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        max_count,
        since,
        status,
        json,
    } = args;
    let since = since.map(|text| parse_since(&text, ctx.now)).transpose()?;
    let ws = ctx.workspace()?;
    let index = super::open_index(&ws, ctx)?;
    let runs = index.runs()?;
    let total = runs.len();
    let mut rows = Vec::new();
    for run in runs {
        if status.is_some_and(|s| s != Status::of(&run)) {
            continue;
        }
        if let Some(since) = since
            && run.started_at.parse::<jiff::Timestamp>().is_ok_and(|t| t < since)
        {
            // Newest first: every later run started earlier still.
            break;
        }
        if max_count.is_some_and(|n| rows.len() >= n) {
            break;
        }
        let proof = index.bundle_ref(&run.run_id)?;
        rows.push((run, proof));
    }
    if json {
        let items: Vec<_> = rows
            .iter()
            .map(|(run, proof)| {
                let end = run.ended();
                serde_json::json!({
                    "run_id": run.run_id,
                    "state": if run.is_active() { "active" } else { "ended" },
                    "run_status": end.map(|e| RunStatus::from_exit_code(e.exit_code).as_str()),
                    "exit_code": end.map(|e| e.exit_code),
                    "ending": end.map(|e| e.how.as_str()),
                    "end_reason": end.and_then(|e| e.how.reason()),
                    "started_at": run.started_at,
                    "ended_at": end.map(|e| &e.ended_at),
                    "base_sha": run.base_sha,
                    "head_sha": end.map(|e| &e.head_sha),
                    // A run known from its proof alone (reindex) has no worktree here.
                    "worktree": (!run.worktree.is_empty()).then_some(&run.worktree),
                    "proof": proof.as_ref().map(|p| serde_json::json!({
                        "commit": p.commit_sha,
                        "bundle_digest": p.bundle_digest,
                    })),
                })
            })
            .collect();
        super::print_json(&items)?;
        return Ok(super::EXIT_OK);
    }
    if total == 0 {
        // A fresh clone has proofs in its notes and none in its index yet.
        let ref_name = git_proof::notes::NOTES_REF;
        if ws.repo.find_reference(ref_name).is_ok() {
            eprintln!("no runs in this clone's index, but {ref_name} holds proofs: `git proof reindex` reads them in");
        } else {
            eprintln!("no runs yet (start one with `git proof start` or `git proof run -- CMD`)");
        }
    }
    let style = ctx.page();
    for (run, proof) in &rows {
        let proof = match proof {
            Some(p) => format!("proof on {}", git_proof::model::short_sha(&p.commit_sha)),
            None if run.is_active() => String::new(),
            None => "no proof".to_owned(),
        };
        let line = format!(
            "{}  {}  {}  {proof}",
            run.run_id,
            local_time(&run.started_at),
            status_word(run, style)
        );
        outln!("{}", line.trim_end())?;
    }
    Ok(super::EXIT_OK)
}

/// `succeeded`, `failed(N)`, `active`, `sealed` or `abandoned`, coloured and padded to line up.
fn status_word(run: &RunRecord, style: Style) -> String {
    let word = match (Status::of(run), &run.state) {
        (Status::Failed, RunState::Ended(end)) => format!("failed({})", end.exit_code),
        (Status::Active, _) => "active".to_owned(),
        (Status::Succeeded, _) => "succeeded".to_owned(),
        (Status::Failed, _) => "failed".to_owned(),
        (Status::Sealed, _) => "sealed".to_owned(),
        (Status::Abandoned, _) => "abandoned".to_owned(),
    };
    let pad = " ".repeat(11usize.saturating_sub(word.len()));
    format!("{}{pad}", style.status(&word))
}

/// A stored UTC time as local time with its offset (`2026-12-01 21:03 +01:00`), as git shows
/// dates; the stored text when it does not parse.
fn local_time(stored: &str) -> String {
    stored
        .parse::<jiff::Timestamp>()
        .map_or_else(|_| stored.to_owned(), git_proof::summary::local_time)
}

/// `--since`: an RFC 3339 time, a date (its midnight, local time), `today`, `yesterday`, or a
/// span before `now` ("2 weeks ago", "3 days", "1h").
fn parse_since(text: &str, now: jiff::Timestamp) -> anyhow::Result<jiff::Timestamp> {
    let tz = jiff::tz::TimeZone::system();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if text.trim() == "now" {
        return Ok(now);
    }
    // A date and time without an offset is local time, to the second given (git's reading).
    if let Ok(datetime) = text.trim().replacen(' ', "T", 1).parse::<jiff::civil::DateTime>()
        && text.trim().len() > 10
        && let Ok(zoned) = datetime.to_zoned(tz.clone())
    {
        return Ok(zoned.timestamp());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned(tz.clone())
    {
        return Ok(zoned.timestamp());
    }
    let today = now.to_zoned(tz.clone()).date();
    let day = match text.trim() {
        "today" => Some(today),
        "yesterday" => today.yesterday().ok(),
        _ => None,
    };
    if let Some(zoned) = day.and_then(|d| d.to_zoned(tz.clone()).ok()) {
        return Ok(zoned.timestamp());
    }
    let span_text = text.trim().strip_suffix("ago").unwrap_or(text).trim();
    if let Ok(span) = span_text.parse::<jiff::Span>()
        && let Ok(then) = now.to_zoned(tz).checked_sub(span.abs())
    {
        return Ok(then.timestamp());
    }
    Err(BadInput(format!(
        "--since '{text}' is not a date (2026-11-30), a time (RFC 3339) or a span (\"2 weeks ago\")"
    )))?
}
