//! The JSON API README documents.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::{App, Failure, PAGE_SIZE, authorized, blocking, json_response, run_id_of};
use crate::error::{Classify, ErrorKind};
use crate::proofs::{self, RunSummary};
use crate::run::{self, Finalized};
use crate::trust::Trust;
use crate::{signing, store};

/// `?page=N&per_page=M`, both optional; over the team database also the filters
/// `repo=NAME|WORKSPACE_ID`, `status=succeeded|failed`, `failed_checks=true`, `pending=true` and
/// `verdict=valid|unchecked|invalid`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    page: Option<u64>,
    per_page: Option<u32>,
    pub repo: Option<String>,
    pub status: Option<String>,
    pub failed_checks: Option<bool>,
    pub pending: Option<bool>,
    pub verdict: Option<String>,
}

/// `?repo=NAME|WORKSPACE_ID`: which repository's run, over the team database.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RepoQuery {
    pub repo: Option<String>,
}

/// One page of runs, newest first, and where the next is.
#[derive(Debug, serde::Serialize)]
pub(super) struct RunsPage {
    pub runs: Vec<RunSummary>,
    pub page: u64,
    pub per_page: u32,
    pub total: u64,
    /// The next page's path, `null` on the last.
    pub next: Option<String>,
    /// The filters of this page as a query string (`repo=app&status=failed&`), kept by the
    /// page links.
    #[serde(skip)]
    pub query: String,
    /// Whether the runs are the team database's (a Repository column, links naming it).
    #[serde(skip)]
    pub team: bool,
}

impl PageQuery {
    /// The page asked for (from 1) and its size (1 to 200), or why they make no sense.
    pub(super) fn checked(&self) -> Result<(u64, u32), Failure> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(PAGE_SIZE);
        if page == 0 || !(1..=200).contains(&per_page) {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "bad_page",
                "page counts from 1 and per_page is 1 to 200",
            ));
        }
        Ok((page, per_page))
    }

    /// Whether any filter is asked for (only the team database serves them).
    pub(super) fn filters(&self) -> bool {
        self.repo.is_some()
            || self.status.is_some()
            || self.failed_checks.is_some()
            || self.pending.is_some()
            || self.verdict.is_some()
    }

    /// A clone's list has no filters: saying so beats ignoring them.
    pub(super) fn no_filters(&self) -> Result<(), Failure> {
        if self.filters() {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "bad_filter",
                "filters (repo, status, failed_checks, pending, verdict) are served over the team database: git proof serve --index postgres://URL",
            ));
        }
        Ok(())
    }
}

/// Reads one page of run summaries; shared by the API and the index page.
pub(super) fn runs_page(session: &mut super::Session, page: u64, per_page: u32) -> Result<RunsPage, Failure> {
    let index = &session.index;
    let total = index.run_count().map_err(Failure::from_error)?;
    let offset = (page - 1).saturating_mul(u64::from(per_page));
    let runs = index.runs_page(per_page, offset).map_err(Failure::from_error)?;
    let runs = proofs::summarize(&session.ws.repo, index, runs, session.trust()?).map_err(Failure::from_error)?;
    let next =
        (offset + u64::from(per_page) < total).then(|| format!("/api/runs?page={}&per_page={per_page}", page + 1));
    Ok(RunsPage {
        runs,
        page,
        per_page,
        total,
        next,
        query: String::new(),
        team: false,
    })
}

/// `GET /api/runs`
pub(super) async fn runs(
    State(app): State<Arc<App>>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Query(query) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "bad_page", e.body_text()))?;
        if app.clone_source().is_none() {
            return Ok(json_body(StatusCode::OK, &super::team::runs_page(&app, query).await?));
        }
        query.no_filters()?;
        let (page, per_page) = query.checked()?;
        let listed = blocking(&app, move |session| runs_page(session, page, per_page)).await?;
        Ok(json_body(StatusCode::OK, &listed))
    };
    result.await.unwrap_or_else(|e: Failure| e.json())
}

/// `GET /api/runs/{run_id}/proof`: exactly the bytes `git proof show --json RUN_ID` prints.
pub(super) async fn proof(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(which): Query<RepoQuery>,
) -> Response {
    let result = async {
        let run_id = run_id_of(&raw)?;
        let file_name = format!("attachment; filename=\"{run_id}.proof.json\"");
        let json = if app.clone_source().is_none() {
            super::team::bundle_json(&app, run_id, which.repo).await?
        } else {
            clone_bundle_json(&app, run_id).await?
        };
        let mut response = json_response(StatusCode::OK, json);
        // The Proof view's link downloads it; tools reading the body are not affected.
        if let Ok(value) = HeaderValue::from_str(&file_name) {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
        }
        Ok(response)
    };
    result.await.unwrap_or_else(|e: Failure| e.json())
}

/// The bundle JSON of a run of the served clone.
async fn clone_bundle_json(app: &Arc<App>, run_id: String) -> Result<String, Failure> {
    blocking(app, move |session| {
        let trust = session.trust()?;
        let shown = proofs::of_run(&session.ws.repo, &session.index, &run_id, trust).map_err(Failure::from_error)?;
        let shown = proofs::vouched(vec![shown], trust).map_err(Failure::from_error)?;
        proofs::bundle_json(&shown[0].bundle).map_err(|e| Failure::internal(e.to_string()))
    })
    .await
}

/// `GET /v1/runs/{run_id}/evidence`: the manifest the index holds, else the one in the notes.
pub(super) async fn evidence(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(which): Query<RepoQuery>,
) -> Response {
    let result = async {
        let run_id = run_id_of(&raw)?;
        if app.clone_source().is_none() {
            let manifest = super::team::manifest(&app, run_id, which.repo).await?;
            return Ok(json_body(StatusCode::OK, &manifest));
        }
        let manifest = blocking(&app, move |session| {
            if let Some(manifest) = session.index.manifest(&run_id).map_err(Failure::from_error)? {
                return Ok(manifest);
            }
            // The manifest is served as the notes hold it; its signature is the Proof view's.
            let trust = Trust::none(session.now.as_second());
            let shown = proofs::of_run(&session.ws.repo, &session.index, &run_id, &trust).map_err(|e| {
                if e.kind() == ErrorKind::NotFound && session.index.run(&run_id).is_ok() {
                    Failure::new(
                        StatusCode::NOT_FOUND,
                        "no_manifest",
                        format!("run '{run_id}' has no evidence manifest yet (it is built when the run ends)"),
                    )
                } else {
                    Failure::from_error(e)
                }
            })?;
            Ok(shown.bundle.evidence)
        })
        .await?;
        Ok(json_body(StatusCode::OK, &manifest))
    };
    result.await.unwrap_or_else(|e: Failure| e.json())
}

/// `POST /v1/runs/{run_id}/evidence/finalize`: 201 with the new manifest, 200 with the one the
/// run already has, 409 while the run is active, 404 for an unknown run.
pub(super) async fn finalize(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    _body: Bytes,
) -> Response {
    let result = async {
        if !authorized(&headers, &app.token) {
            let mut response = Failure::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "POST needs the header 'Authorization: Bearer <token>' with the token `git proof serve` printed",
            )
            .json();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Ok(response);
        }
        let run_id = run_id_of(&raw)?;
        let Some(clone) = app.clone_source() else {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                "read_only",
                "the team database is read-only here: finalize in the run's clone (git proof serve there), then git proof publish",
            ));
        };
        let explicit_key = clone.key.clone();
        let finalized = blocking(&app, move |session| {
            let repo = &session.ws.repo;
            let key = || {
                let source =
                    signing::resolve_key_source(explicit_key.as_deref(), |name| std::env::var(name).ok(), Some(repo))?;
                signing::SigningKey::load(&source)
            };
            if let Err(store::Error::UnknownRun(_)) = session.index.run(&run_id) {
                // A clone whose index is not rebuilt yet: the proof in the notes carries the
                // manifest, if there is one.
                let trust = Trust::none(session.now.as_second());
                let shown = proofs::of_run(repo, &session.index, &run_id, &trust).map_err(Failure::from_error)?;
                return Ok(Finalized::Existing(shown.bundle.evidence));
            }
            run::finalize_evidence(&session.ws, &mut session.index, &run_id, key, session.now)
                .map_err(Failure::from_error)
        })
        .await?;
        Ok(match finalized {
            Finalized::Created(manifest) => json_body(StatusCode::CREATED, &manifest),
            Finalized::Existing(manifest) => json_body(StatusCode::OK, &manifest),
        })
    };
    result.await.unwrap_or_else(|e: Failure| e.json())
}

/// Pretty JSON with a final newline, as the CLI prints it.
pub(super) fn json_body(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_string_pretty(value) {
        Ok(mut text) => {
            text.push('\n');
            json_response(status, text)
        }
        Err(e) => Failure::internal(e.to_string()).json(),
    }
}
