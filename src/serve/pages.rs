//! The pages for people: the run list and the Proof view. Server-rendered with maud, which
//! escapes every value it interpolates: paths, messages and names from the repository are
//! untrusted text and appear as text.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::api::{PageQuery, RepoQuery, RunsPage, runs_page};
use super::{App, Failure, blocking, run_id_of};
use crate::git;
use crate::model::{Bundle, DiffEntry, DodStatus};
use crate::proofs::{self, DodCounts, Phase, RunSummary, ShownProof, Signature};
use crate::store::{self, RunRecord};

/// Events listed on the Proof view before "and N more".
const EVENTS_SHOWN: usize = 200;

const STYLESHEET: &str = include_str!("style.css");

/// What the Pending column counts: `--deny-pending` refuses the same violations.
const PENDING_MEANS: &str = "Scope violations not approved by a decision the trust in force vouches for";

/// `GET /style.css`
pub(super) async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600")),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// `GET /`: the runs, newest first, a page at a time.
pub(super) async fn index(
    State(app): State<Arc<App>>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let repo_name = app.repo_name();
    let result = async {
        let Query(query) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "bad_page", e.body_text()))?;
        if app.clone_source().is_none() {
            return super::team::index_body(&app, query).await;
        }
        query.no_filters()?;
        let (page, per_page) = query.checked()?;
        let listed = blocking(&app, move |session| runs_page(session, page, per_page)).await?;
        Ok(run_list(&listed, html! {}))
    };
    match result.await {
        Ok(body) => page(StatusCode::OK, "Runs", &repo_name, body),
        Err(failure) => error_page(&failure),
    }
}

/// `GET /runs/{run_id}`: the Proof view.
pub(super) async fn proof_view(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(which): Query<RepoQuery>,
) -> Response {
    let repo_name = app.repo_name();
    let result = async {
        let run_id = run_id_of(&raw)?;
        if app.clone_source().is_none() {
            return super::team::proof_page(&app, run_id, which.repo).await;
        }
        blocking(&app, move |session| {
            let run = match session.index.run(&run_id) {
                Ok(run) => Some(run),
                Err(store::Error::UnknownRun(_)) => None,
                Err(e) => return Err(Failure::from_error(e)),
            };
            let proof = proofs::of_run(&session.ws.repo, &session.index, &run_id, session.trust()?);
            let proof = match proof {
                Ok(shown) => Ok(shown),
                // Without a run in the index there is nothing to show at all.
                Err(e) if run.is_none() => return Err(Failure::from_error(e)),
                Err(e) => Err(e.to_string()),
            };
            let head = match (&proof, &run) {
                (Ok(shown), _) => Some(shown.bundle.head_sha.clone()),
                (Err(_), Some(run)) => run.ended().map(|e| e.head_sha.clone()),
                _ => None,
            };
            Ok(ProofPage {
                subject: head.and_then(|h| git::subject(&session.ws.repo, &h)),
                common_dir: Some(session.ws.common_dir.clone()),
                run_id,
                run,
                proof,
                repository: None,
            })
        })
        .await
    };
    match result.await {
        Ok(view) => page(
            StatusCode::OK,
            &format!("Run {}", view.run_id),
            view.repository.as_ref().map_or(&repo_name, |(name, _)| name),
            proof_page(&view),
        ),
        Err(failure) => error_page(&failure),
    }
}

/// A failure as a page.
pub(super) fn error_page(failure: &Failure) -> Response {
    let reason = failure.status.canonical_reason().unwrap_or("Error");
    let body = html! {
        h1 { (failure.status.as_u16()) " " (reason) }
        p.error data-error=(failure.code) { (failure.message) }
        p { a href="/" { "All runs" } }
    };
    page(failure.status, reason, "", body)
}

pub(super) fn page(status: StatusCode, title: &str, repo_name: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · git-proof" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header.top {
                    a.brand href="/" { "git-proof" }
                    @if !repo_name.is_empty() { span.repo { (repo_name) } }
                }
                main { (body) }
            }
        }
    };
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        markup.into_string(),
    )
        .into_response()
}

fn short(sha: &str) -> &str {
    crate::model::short_sha(sha)
}

/// A recorded time as the server's local time with its offset (`TZ` if set, else the system's
/// zone), since a reader compares it with their clock; the exact UTC time stays in `datetime`
/// and in the tooltip. A time that does not parse is shown as recorded.
fn time(recorded: &str) -> Markup {
    let Ok(at) = recorded.parse::<jiff::Timestamp>() else {
        return html! { (recorded) };
    };
    let utc = at.to_string();
    html! { time datetime=(utc) title=(utc) { (crate::summary::local_time(at)) } }
}

/// `sha256:` and the first 12 hex digits.
fn short_hash(hash: &str) -> &str {
    hash.get(..19).unwrap_or(hash)
}

/// The list of runs, with `filters` (the team database's filter links) above it.
pub(super) fn run_list(listed: &RunsPage, filters: Markup) -> Markup {
    let last_page = listed.total.div_ceil(u64::from(listed.per_page)).max(1);
    let query = &listed.query;
    html! {
        h1 { "Runs " small { (listed.total) " in all" } }
        (filters)
        @if listed.runs.is_empty() {
            @if listed.team {
                p.empty { "No published runs match. Publish with " code { "git proof publish --to URL" } "." }
            } @else {
                p.empty { "No runs yet. Start one with " code { "git proof run -- CMD" } "." }
            }
        } @else {
            div.scroll {
                table.runs.cards {
                    // Status next to the run: it stays in view when a narrow screen scrolls the rest.
                    thead { tr {
                        th { "Run" } th { "Status" } @if listed.team { th { "Repository" } }
                        th { "Started" } th { "Head" } th.num { "Files" }
                        th.num title=(PENDING_MEANS) { "Pending" } th { "Definition of done" }
                        th { @if listed.team { "Verdict" } @else { "Signature" } }
                    } }
                    tbody {
                        @for run in &listed.runs { (run_row(run)) }
                    }
                }
            }
        }
        nav.pages {
            @if listed.page > 1 {
                a rel="prev" href={ "/?" (query) "page=" (listed.page - 1) "&per_page=" (listed.per_page) } { "← Newer" }
            }
            span { "Page " (listed.page) " of " (last_page) }
            @if listed.next.is_some() {
                a rel="next" href={ "/?" (query) "page=" (listed.page + 1) "&per_page=" (listed.per_page) } { "Older →" }
            }
        }
    }
}

fn run_row(run: &RunSummary) -> Markup {
    let status = match (run.state, run.run_status, run.ending) {
        (Phase::Active, _, _) => "active",
        (Phase::Ended, _, Some(ending @ ("sealed" | "abandoned"))) => ending,
        (Phase::Ended, Some(status), _) => status.as_str(),
        (Phase::Ended, None, _) => "ended",
    };
    let proof = run.proof.as_ref();
    // Over the team database a run id names a run of one repository.
    let which = run
        .workspace_id
        .as_ref()
        .map(|ws| format!("?repo={ws}"))
        .unwrap_or_default();
    html! {
        tr data-run=(run.run_id) {
            td data-label="Run" { a.mono.run-id href={ "/runs/" (run.run_id) (which) } title=(run.run_id) { (run.run_id) } }
            td data-label="Status" { span class={ "badge run-" (status) } { (status) } }
            @if let Some(repository) = &run.repository { td data-label="Repository" { (repository) } }
            td.time data-label="Started" { (time(&run.started_at)) }
            td data-label="Head" {
                @if let Some(head) = &run.head_sha { code { (short(head)) } " " }
                @if let Some(subject) = &run.head_subject { span.subject { (subject) } }
            }
            td.num data-label="Files" { @match proof { Some(p) => (p.files_changed), None => "–" } }
            td.num data-label="Pending" title=(PENDING_MEANS) {
                @match proof {
                    Some(p) if p.violations_pending > 0 => span.badge.approval-pending { (p.violations_pending) },
                    Some(p) => (p.violations_pending),
                    None => "–",
                }
            }
            td data-label="Definition of done" { @match proof { Some(p) => (dod_summary(&p.dod)), None => "–" } }
            td data-label="Signature" {
                @match proof {
                    Some(p) => span class={ "badge sig-" (p.signature) } title=[p.problem.as_deref()] { (p.signature) },
                    None => span.muted { "no proof yet" },
                }
            }
        }
    }
}

fn dod_summary(counts: &DodCounts) -> Markup {
    let parts = [
        (counts.passed, DodStatus::Passed),
        (counts.failed, DodStatus::Failed),
        (counts.error, DodStatus::Error),
        (counts.timeout, DodStatus::Timeout),
        (counts.pending, DodStatus::Pending),
    ];
    html! {
        @if counts.total() == 0 { span.muted { "no checks" } }
        @for (n, status) in parts {
            @if n > 0 { span class={ "badge dod-" (status.as_str()) } { (n) " " (status.as_str()) } " " }
        }
    }
}

/// What the Proof view shows.
pub(super) struct ProofPage {
    pub run_id: String,
    pub run: Option<RunRecord>,
    /// The proof, or why there is none to show.
    pub proof: Result<ShownProof, String>,
    pub subject: Option<String>,
    /// Where this clone keeps check logs (none over the team database).
    pub common_dir: Option<std::path::PathBuf>,
    /// Over the team database: the repository it is of (name, workspace id).
    pub repository: Option<(String, String)>,
}

pub(super) fn proof_page(view: &ProofPage) -> Markup {
    html! {
        h1 { "Run " span.mono { (view.run_id) } }
        @match &view.proof {
            Ok(shown) => {
                @let which = view.repository.as_ref().map(|(_, ws)| format!("?repo={ws}")).unwrap_or_default();
                (proof_body(shown, view.subject.as_deref(), view.common_dir.as_deref(), &which))
            }
            Err(why) => {
                @if let Some(run) = &view.run { (run_header(run, view.subject.as_deref())) }
                p.notice { (why) }
            }
        }
    }
}

fn run_header(run: &RunRecord, subject: Option<&str>) -> Markup {
    let state = if run.is_active() { "active" } else { "ended" };
    html! {
        p.meta {
            span class={ "badge run-" (state) } { (state) }
            // One flex item, so that the comma stays next to the time it follows.
            span { "started " (time(&run.started_at)) @if let Some(end) = run.ended() { ", ended " (time(&end.ended_at)) } }
            " · base " code { (short(&run.base_sha)) }
            @if let Some(end) = run.ended() { " → head " code { (short(&end.head_sha)) } }
            @if let Some(subject) = subject { " " span.subject { (subject) } }
        }
    }
}

/// `which` is the query that names the run's repository in links (over the team database).
fn proof_body(shown: &ShownProof, subject: Option<&str>, common_dir: Option<&std::path::Path>, which: &str) -> Markup {
    let b = &shown.bundle;
    let status = b.run_status.as_str();
    html! {
        p.meta {
            span class={ "badge run-" (status) } { (status) }
            " exit " (b.exit_code)
            " · base " code { (short(&b.base_sha)) }
            " → head " code title=(b.head_sha) { (short(&b.head_sha)) }
            @if let Some(subject) = subject { " " span.subject { (subject) } }
            " · " span { "generated " (time(&b.generated_at)) }
        }
        @if let Some(carried) = &shown.carried {
            p.notice { "This proof was " (carried) " to commit " code { (shown.commit) } "." }
        }
        @if let Some(why) = &shown.elsewhere {
            p.notice.error { "This proof does not count for commit " code { (shown.commit) } ": " (why) }
        }
        @for problem in &shown.problems {
            p.notice.error { "This proof does not hold: " (problem) }
        }
        @for unchecked in &shown.unchecked {
            p.notice { "Not checked here: " (unchecked) }
        }
        section #signature {
            h2 { "Signature" }
            p { span class={ "badge sig-" (shown.signature.state()) } { (shown.signature.state()) } " " (signature_text(&shown.signature)) }
            @if !shown.ignored.is_empty() {
                p.muted { "Records about this run that do not count:" }
                ul.ignored { @for why in &shown.ignored { li { (why) } } }
            }
        }
        (files_section(b))
        (dod_section(b, common_dir))
        (violations_section(shown))
        (scope_section(b))
        (evidence_section(b))
        p.download {
            a href={ "/api/runs/" (b.run_id) "/proof" (which) } download={ (b.run_id) ".proof.json" } { "Download bundle JSON" }
        }
    }
}

fn signature_text(signature: &Signature) -> String {
    match signature {
        Signature::Unverified => {
            "unverified: no allowed signers are configured, so neither the signature nor any decision is vouched for"
                .into()
        }
        Signature::Valid {
            principals,
            fingerprint,
        } => format!("signed by {principals} ({fingerprint})"),
        Signature::Invalid(why) => why.clone(),
    }
}

fn status_word(status: &str) -> &'static str {
    match status {
        "A" => "added",
        "M" => "modified",
        "D" => "deleted",
        "R" => "renamed",
        "T" => "type changed",
        _ => "changed",
    }
}

fn files_section(b: &Bundle) -> Markup {
    let s = &b.diff_stat;
    html! {
        section #files {
            h2 { "Changed files " small.totals { (s.files) " files, " span.plus { "+" (s.insertions) } " " span.minus { "−" (s.deletions) } } }
            @if s.entries.is_empty() {
                p.muted { "No files changed." }
            } @else {
                div.scroll {
                    table.files {
                        thead { tr { th { "Status" } th { "Path" } th.num { "+" } th.num { "−" } } }
                        tbody {
                            @for e in &s.entries { (file_row(e)) }
                        }
                    }
                }
            }
            @if !b.dirty_files.is_empty() {
                h3 { "Uncommitted at finish" }
                ul.paths { @for path in &b.dirty_files { li { code { (path) } } } }
            }
        }
    }
}

fn file_row(e: &DiffEntry) -> Markup {
    html! {
        tr data-path=(e.path) data-status=(e.status) {
            td { span class={ "badge file-" (e.status) } { (status_word(&e.status)) } }
            td.path {
                @if let Some(old) = &e.old_path { code { (old) } " → " }
                code { (e.path) }
            }
            @if e.binary {
                td.num colspan="2" { "binary" }
            } @else {
                td.num.plus { "+" (e.insertions) }
                td.num.minus { "−" (e.deletions) }
            }
        }
    }
}

fn dod_section(b: &Bundle, common_dir: Option<&std::path::Path>) -> Markup {
    html! {
        section #dod {
            h2 { "Definition of done" }
            @if b.dod_results.is_empty() {
                p.muted { "No checks were defined." }
            } @else {
                ul.checks {
                    @for r in &b.dod_results {
                        @let command = b.dod_snapshot.iter().find(|c| c.name == r.name).map(|c| c.command.as_str());
                        li data-check=(r.name) data-status=(r.status.as_str()) {
                            span class={ "badge dod-" (r.status.as_str()) } { (r.status.as_str()) }
                            " " strong { (r.name) }
                            @if let Some(command) = command { " " code { (command) } }
                            span.muted {
                                " " (r.duration_ms) " ms"
                                @if let Some(code) = r.exit_code { ", exit " (code) }
                            }
                            @if !matches!(r.status, DodStatus::Passed | DodStatus::Pending) {
                                @if let Some(digest) = &r.log_digest {
                                    br;
                                    span.muted.log { "output: " code { (crate::summary::log_location(common_dir, digest)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn violations_section(shown: &ShownProof) -> Markup {
    let b = &shown.bundle;
    html! {
        section #violations {
            h2 { "Scope violations" }
            @if b.scope_violations.is_empty() {
                p.muted { "None: every changed path is in scope." }
            } @else {
                div.scroll {
                    table.violations.cards {
                        thead { tr { th { "Path" } th { "Rule" } th { "Decision" } th { "By" } th { "Reason" } } }
                        tbody {
                            @for (v, standing) in b.scope_violations.iter().zip(&shown.standings) {
                                tr data-path=(v.path) data-state=(standing.word()) {
                                    td.path data-label="Path" { code { (v.path) } }
                                    td data-label="Rule" { code { (v.rule) } }
                                    td data-label="Decision" { span class={ "badge approval-" (standing.word()) } { (standing.word()) } }
                                    td data-label="By" { @if let Some(by) = &v.approval.decided_by { (by) } @if let Some(at) = &v.approval.decided_at { br; span.muted { (time(at)) } } }
                                    td data-label="Reason" { @if let Some(reason) = &v.approval.reason { (reason) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn scope_section(b: &Bundle) -> Markup {
    let scope = &b.scope_snapshot;
    html! {
        section #scope {
            h2 { "Scope " @if let Some(source) = &scope.source { small { "from " (source) } } }
            @if scope.allow.is_empty() && scope.deny.is_empty() {
                p.muted { "No scope rules: every path was allowed." }
            } @else {
                dl {
                    dt { "Allowed" }
                    dd { @if scope.allow.is_empty() { "everything not denied" } @for g in &scope.allow { code { (g) } " " } }
                    dt { "Denied" }
                    dd { @if scope.deny.is_empty() { "nothing" } @for g in &scope.deny { code { (g) } " " } }
                }
            }
        }
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

fn evidence_section(b: &Bundle) -> Markup {
    let m = &b.evidence;
    html! {
        section #evidence {
            h2 { "Evidence" }
            dl {
                dt { "Events" } dd { (m.event_count) " (sequence " (m.from_seq) "–" (m.to_seq) ")" }
                dt { "Terminal event present" } dd data-flag="terminal_event_present" { (yes_no(m.completeness.terminal_event_present)) }
                dt { "All tool calls ended" } dd data-flag="all_toolcalls_terminal" { (yes_no(m.completeness.all_toolcalls_terminal)) }
                dt { "Artifacts" } dd { (m.completeness.artifact_count) }
                dt { "Event hash root" } dd { code.hash { (m.event_hash_root) } }
                dt { "Manifest hash" } dd { code.hash { (m.manifest_hash) } }
            }
            details {
                summary { "Event log" }
                ol.events {
                    @for e in m.events.iter().take(EVENTS_SHOWN) {
                        li value=(e.stream_seq) { code { (e.event_type) } " " code.hash title=(e.event_hash) { (short_hash(&e.event_hash)) "…" } }
                    }
                }
                @if m.events.len() > EVENTS_SHOWN {
                    p.muted { "and " (m.events.len() - EVENTS_SHOWN) " more (the bundle JSON has them all)" }
                }
            }
        }
    }
}
