//! The pages and the API over the team database (`git proof serve --index postgres://URL`):
//! every repository published there, with filters. What is shown is what the publisher's
//! checks found: only proofs that counted under its trust were published.

use std::sync::Arc;

use axum::http::StatusCode;
use maud::{Markup, html};

use super::api::{PageQuery, RunsPage};
use super::pages::{self, ProofPage};
use super::{App, Failure, blocking_team};
use crate::model::{Manifest, RunStatus};
use crate::proofs::{self, DodCounts, Phase, ProofSummary, PublishedView, RunSummary, ShownProof};
use crate::teamdb::{Filter, ListedRun, TeamDb, Verdict};

/// `GET /api/runs` over the team database.
pub(super) async fn runs_page(app: &Arc<App>, query: PageQuery) -> Result<RunsPage, Failure> {
    let (page, per_page) = query.checked()?;
    let filter = filter_of(&query)?;
    blocking_team(app, move |db| list(db, &filter, page, per_page)).await
}

/// The index page's body over the team database: filter links, then the runs.
pub(super) async fn index_body(app: &Arc<App>, query: PageQuery) -> Result<Markup, Failure> {
    let (page, per_page) = query.checked()?;
    let filter = filter_of(&query)?;
    let asked = filter.clone();
    let (listed, repositories) = blocking_team(app, move |db| {
        let listed = list(db, &asked, page, per_page)?;
        Ok((listed, db.repository_names().map_err(Failure::from_error)?))
    })
    .await?;
    Ok(pages::run_list(&listed, filter_bar(&filter, &repositories)))
}

/// `GET /runs/{run_id}?repo=` over the team database.
pub(super) async fn proof_page(app: &Arc<App>, run_id: String, repo: Option<String>) -> Result<ProofPage, Failure> {
    let id = run_id.clone();
    let found = blocking_team(app, move |db| {
        let found = db.published_run(&id, repo.as_deref()).map_err(Failure::from_error)?;
        only_one(found, |r| &r.repository, &id, repo.as_deref())
    })
    .await?;
    let malformed = || Failure::internal(format!("the team database holds a malformed proof of run '{run_id}'"));
    let view: PublishedView = serde_json::from_value(found.reader_view).map_err(|_| malformed())?;
    let shown = ShownProof::from_published(found.bundle, view).ok_or_else(malformed)?;
    Ok(ProofPage {
        run_id,
        run: None,
        proof: Ok(shown),
        subject: found.head_subject,
        common_dir: None,
        repository: Some((found.repository, found.workspace_id)),
    })
}

/// `GET /api/runs/{run_id}/proof?repo=` over the team database: the bundle as published.
pub(super) async fn bundle_json(app: &Arc<App>, run_id: String, repo: Option<String>) -> Result<String, Failure> {
    blocking_team(app, move |db| {
        let found = db
            .published_run(&run_id, repo.as_deref())
            .map_err(Failure::from_error)?;
        let found = only_one(found, |r| &r.repository, &run_id, repo.as_deref())?;
        proofs::bundle_json(&found.bundle).map_err(|e| Failure::internal(e.to_string()))
    })
    .await
}

/// `GET /v1/runs/{run_id}/evidence?repo=` over the team database: the projection's manifest.
pub(super) async fn manifest(app: &Arc<App>, run_id: String, repo: Option<String>) -> Result<Manifest, Failure> {
    blocking_team(app, move |db| {
        let found = db.manifests(&run_id, repo.as_deref()).map_err(Failure::from_error)?;
        Ok(only_one(found, |(name, _)| name, &run_id, repo.as_deref())?.1)
    })
    .await
}

/// The one run a request names: none is a 404, several (the same run id in two repositories,
/// no `repo` given) a 409 that names them.
fn only_one<T>(
    mut found: Vec<T>,
    name: impl Fn(&T) -> &String,
    run_id: &str,
    repo: Option<&str>,
) -> Result<T, Failure> {
    match found.len() {
        0 => Err(Failure::new(
            StatusCode::NOT_FOUND,
            "unknown_run",
            match repo {
                Some(repo) => format!("no published run '{run_id}' in repository '{repo}'"),
                None => format!("no published run '{run_id}'"),
            },
        )),
        1 => Ok(found.remove(0)),
        n => {
            let names: Vec<&str> = found.iter().map(|f| name(f).as_str()).collect();
            Err(Failure::new(
                StatusCode::CONFLICT,
                "ambiguous_run",
                format!(
                    "run '{run_id}' was published from {n} repositories ({}): name one with ?repo=NAME",
                    names.join(", ")
                ),
            ))
        }
    }
}

fn list(db: &mut TeamDb, filter: &Filter, page: u64, per_page: u32) -> Result<RunsPage, Failure> {
    let offset = (page - 1).saturating_mul(u64::from(per_page));
    let found = db.runs_page(filter, per_page, offset).map_err(Failure::from_error)?;
    let query = query_of(filter);
    let next = (offset + u64::from(per_page) < found.total)
        .then(|| format!("/api/runs?{query}page={}&per_page={per_page}", page + 1));
    Ok(RunsPage {
        runs: found.runs.into_iter().map(summary_of).collect(),
        page,
        per_page,
        total: found.total,
        next,
        query,
        team: true,
    })
}

/// A published run as the list shows runs: the verdict in the signature's place.
fn summary_of(run: ListedRun) -> RunSummary {
    let [passed, failed, error, timeout, pending] = run.checks;
    RunSummary {
        state: Phase::Ended,
        run_status: Some(run.run_status),
        exit_code: Some(run.exit_code),
        ending: None,
        started_at: run.started_at,
        ended_at: Some(run.ended_at),
        base_sha: run.base_sha,
        head_subject: run.head_subject,
        proof: Some(ProofSummary {
            commit: run.commit_sha,
            files_changed: run.files_changed,
            insertions: run.insertions,
            deletions: run.deletions,
            dod: DodCounts {
                passed,
                failed,
                error,
                timeout,
                pending,
            },
            violations_pending: run.violations_pending,
            signature: run.verdict.as_str(),
            signed_by: Some(run.signed_by),
            problem: run.reasons.into_iter().next(),
        }),
        head_sha: Some(run.head_sha),
        run_id: run.run_id,
        repository: Some(run.repository),
        workspace_id: Some(run.workspace_id),
    }
}

/// The filters of a request, checked.
fn filter_of(query: &PageQuery) -> Result<Filter, Failure> {
    let bad = |what: &str, value: &str, expected: &str| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_filter",
            format!("{what}={value} is not one of {expected}"),
        )
    };
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some("succeeded") => Some(RunStatus::Succeeded),
        Some("failed") => Some(RunStatus::Failed),
        Some(other) => return Err(bad("status", other, "succeeded, failed")),
    };
    let verdict = match query.verdict.as_deref() {
        None | Some("") => None,
        Some(v) => Some(Verdict::parse(v).ok_or_else(|| bad("verdict", v, "valid, unchecked, invalid"))?),
    };
    Ok(Filter {
        repository: query.repo.clone().filter(|r| !r.is_empty()),
        status,
        failed_checks: query.failed_checks.unwrap_or(false),
        pending_violations: query.pending.unwrap_or(false),
        verdict,
    })
}

/// The filter as a query string, each part followed by `&`.
fn query_of(filter: &Filter) -> String {
    let mut query = String::new();
    if let Some(repo) = &filter.repository {
        query.push_str(&format!("repo={}&", percent_encode(repo)));
    }
    if let Some(status) = filter.status {
        query.push_str(&format!("status={}&", status.as_str()));
    }
    if filter.failed_checks {
        query.push_str("failed_checks=true&");
    }
    if filter.pending_violations {
        query.push_str("pending=true&");
    }
    if let Some(verdict) = filter.verdict {
        query.push_str(&format!("verdict={}&", verdict.as_str()));
    }
    query
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Links that filter the list (links, not a form: the pages allow no form submission).
fn filter_bar(filter: &Filter, repositories: &[String]) -> Markup {
    let href = |f: &Filter| format!("/?{}", query_of(f));
    let same_repo = Filter {
        repository: filter.repository.clone(),
        ..Filter::default()
    };
    let choices = [
        ("All runs", same_repo.clone()),
        (
            "Failed",
            Filter {
                status: Some(RunStatus::Failed),
                ..same_repo.clone()
            },
        ),
        (
            "Failed checks",
            Filter {
                failed_checks: true,
                ..same_repo.clone()
            },
        ),
        (
            "Pending violations",
            Filter {
                pending_violations: true,
                ..same_repo.clone()
            },
        ),
        (
            "Not valid",
            Filter {
                verdict: Some(Verdict::Invalid),
                ..same_repo.clone()
            },
        ),
    ];
    html! {
        nav.filters aria-label="Filter runs" {
            @for (label, f) in &choices {
                a href=(href(f)) aria-current=[(f == filter).then_some("page")] { (label) }
            }
        }
        @if repositories.len() > 1 || filter.repository.is_some() {
            nav.filters aria-label="Repository" {
                @let all = Filter { repository: None, ..filter.clone() };
                a href=(href(&all)) aria-current=[filter.repository.is_none().then_some("page")] { "All repositories" }
                @for name in repositories {
                    @let one = Filter { repository: Some(name.clone()), ..filter.clone() };
                    a href=(href(&one)) aria-current=[(filter.repository.as_ref() == Some(name)).then_some("page")] { (name) }
                }
            }
        }
    }
}
