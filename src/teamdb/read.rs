//! What readers of the team database ask: a page of runs across repositories, filtered; one
//! run's published proof; one run's evidence manifest.

use postgres::types::ToSql;
use serde_json::Value;

use super::{Error, Result, TeamDb, Verdict};
use crate::model::{Bundle, Manifest, RunStatus};

/// Which runs a list shows; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A repository by name or workspace id.
    pub repository: Option<String>,
    pub status: Option<RunStatus>,
    /// Only runs with a DoD check that failed, errored or timed out.
    pub failed_checks: bool,
    /// Only runs with a scope violation no trusted decision approves.
    pub pending_violations: bool,
    pub verdict: Option<Verdict>,
}

/// One run of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRun {
    pub repository: String,
    pub workspace_id: String,
    pub run_id: String,
    pub commit_sha: String,
    pub base_sha: String,
    pub head_sha: String,
    pub head_subject: Option<String>,
    pub run_status: RunStatus,
    pub exit_code: i32,
    pub started_at: String,
    pub ended_at: String,
    pub files_changed: u64,
    pub insertions: u64,
    pub deletions: u64,
    /// DoD checks by status: passed, failed, error, timeout, pending.
    pub checks: [u64; 5],
    pub violations_pending: u64,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub signed_by: String,
}

/// A page of runs, and how many the filter matches in all.
#[derive(Debug, Clone)]
pub struct Page {
    pub runs: Vec<ListedRun>,
    pub total: u64,
}

/// One run's proof as published.
#[derive(Debug, Clone)]
pub struct PublishedRun {
    pub repository: String,
    pub workspace_id: String,
    pub head_subject: Option<String>,
    /// The bundle, with the decisions in force folded in.
    pub bundle: Bundle,
    /// What a reader is shown besides the bundle (the publisher's JSON).
    pub reader_view: Value,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// A time column as RFC 3339 UTC with second precision, as every time in a bundle.
macro_rules! utc {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    };
}

const LIST_COLUMNS: &str = concat!(
    "p.name, r.workspace_id, r.run_id, r.commit_sha, r.base_sha, r.head_sha, r.head_subject, r.run_status, ",
    "r.exit_code, ",
    utc!("r.started_at"),
    ", ",
    utc!("r.ended_at"),
    ", r.files_changed, r.insertions, r.deletions, r.checks_passed, r.checks_failed, r.checks_error, ",
    "r.checks_timeout, r.checks_pending, r.violations_pending, r.verdict, r.reasons, r.signed_by"
);

/// A WHERE clause and its parameters.
struct Conditions {
    text: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync>>,
}

impl Conditions {
    /// `workspaces`: the ids the filter's repository names, looked up first, so that the
    /// list is read through the index of one repository's runs.
    fn of(filter: &Filter, workspaces: Option<Vec<String>>) -> Self {
        let mut c = Self {
            text: Vec::new(),
            params: Vec::new(),
        };
        if let Some(workspaces) = workspaces {
            c.params.push(Box::new(workspaces));
            c.text.push(format!("r.workspace_id = ANY(${})", c.params.len()));
        }
        if let Some(status) = filter.status {
            c.params.push(Box::new(status.as_str()));
            c.text.push(format!("r.run_status = ${}", c.params.len()));
        }
        if filter.failed_checks {
            c.text
                .push("r.checks_failed + r.checks_error + r.checks_timeout > 0".into());
        }
        if filter.pending_violations {
            c.text.push("r.violations_pending > 0".into());
        }
        match filter.verdict {
            // Written out, so that the partial index over runs that are not valid serves it.
            Some(Verdict::Valid) => c.text.push("r.verdict = 'valid'".into()),
            Some(other) => {
                c.text.push("r.verdict <> 'valid'".into());
                c.params.push(Box::new(other.as_str()));
                c.text.push(format!("r.verdict = ${}", c.params.len()));
            }
            None => {}
        }
        c
    }

    fn clause(&self) -> String {
        if self.text.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.text.join(" AND "))
        }
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref()).collect()
    }
}

impl TeamDb {
    /// Runs the filter matches, newest first, `limit` from `offset`, and their number.
    pub fn runs_page(&mut self, filter: &Filter, limit: u32, offset: u64) -> Result<Page> {
        let workspaces = match &filter.repository {
            Some(repository) => Some(
                self.client
                    .query(
                        "SELECT workspace_id FROM repositories WHERE name = $1 OR workspace_id = $1",
                        &[repository],
                    )
                    .map_err(self.err("find the repository"))?
                    .iter()
                    .map(|r| r.get(0))
                    .collect(),
            ),
            None => None,
        };
        let c = Conditions::of(filter, workspaces);
        let clause = c.clause();
        let n = c.params.len();
        let list = format!(
            "SELECT {LIST_COLUMNS} FROM runs r JOIN repositories p USING (workspace_id) {clause}
             ORDER BY r.started_at DESC, r.workspace_id, r.run_id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let (limit, offset) = (i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX));
        let mut params = c.refs();
        params.push(&limit);
        params.push(&offset);
        let rows = self
            .client
            .query(list.as_str(), &params)
            .map_err(self.err("list the runs"))?;
        let runs = rows.iter().map(|r| self.listed(r)).collect::<Result<Vec<_>>>()?;
        let total: i64 = if filter.status.is_none()
            && !filter.failed_checks
            && !filter.pending_violations
            && filter.verdict.is_none()
        {
            // All runs, or one repository's: the counts publishing keeps (repositories is
            // `r` here, so that the same clause picks the repository).
            let count = "SELECT coalesce(sum(run_count), 0)::bigint FROM repositories r ".to_owned() + &clause;
            self.client
                .query_one(count.as_str(), &c.refs())
                .map_err(self.err("count the runs"))?
                .get(0)
        } else {
            let count = format!("SELECT count(*) FROM runs r {clause}");
            self.client
                .query_one(count.as_str(), &c.refs())
                .map_err(self.err("count the runs"))?
                .get(0)
        };
        Ok(Page {
            runs,
            total: total.max(0) as u64,
        })
    }

    fn listed(&self, r: &postgres::Row) -> Result<ListedRun> {
        let run_id: String = r.get(2);
        let malformed = |what| Error::Malformed {
            target: self.target.clone(),
            what,
            run_id: run_id.clone(),
        };
        let run_status = match r.get::<_, &str>(7) {
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            _ => return Err(malformed("run status")),
        };
        let verdict = Verdict::parse(r.get(20)).ok_or_else(|| malformed("verdict"))?;
        let reasons = serde_json::from_value(r.get(21)).map_err(|_| malformed("list of reasons"))?;
        let count = |i: usize| r.get::<_, i32>(i).max(0) as u64;
        let big = |i: usize| r.get::<_, i64>(i).max(0) as u64;
        Ok(ListedRun {
            repository: r.get(0),
            workspace_id: r.get(1),
            commit_sha: r.get(3),
            base_sha: r.get(4),
            head_sha: r.get(5),
            head_subject: r.get(6),
            run_status,
            exit_code: r.get(8),
            started_at: r.get(9),
            ended_at: r.get(10),
            files_changed: big(11),
            insertions: big(12),
            deletions: big(13),
            checks: [count(14), count(15), count(16), count(17), count(18)],
            violations_pending: count(19),
            verdict,
            reasons,
            signed_by: r.get(22),
            run_id,
        })
    }

    /// The published proof of `run_id`: one per repository that has the run, unless
    /// `repository` (a name or workspace id) picks one.
    pub fn published_run(&mut self, run_id: &str, repository: Option<&str>) -> Result<Vec<PublishedRun>> {
        let rows = self
            .client
            .query(
                "SELECT p.name, r.workspace_id, r.head_subject, r.bundle, r.reader_view, r.verdict, r.reasons
                 FROM runs r JOIN repositories p USING (workspace_id)
                 WHERE r.run_id = $1 AND ($2::text IS NULL OR p.name = $2 OR r.workspace_id = $2)
                 ORDER BY p.name, r.workspace_id",
                &[&run_id, &repository],
            )
            .map_err(self.err("read a run"))?;
        rows.iter()
            .map(|r| {
                let malformed = |what| Error::Malformed {
                    target: self.target.clone(),
                    what,
                    run_id: run_id.to_owned(),
                };
                Ok(PublishedRun {
                    repository: r.get(0),
                    workspace_id: r.get(1),
                    head_subject: r.get(2),
                    bundle: serde_json::from_value(r.get(3)).map_err(|_| malformed("bundle"))?,
                    reader_view: r.get(4),
                    verdict: Verdict::parse(r.get(5)).ok_or_else(|| malformed("verdict"))?,
                    reasons: serde_json::from_value(r.get(6)).map_err(|_| malformed("list of reasons"))?,
                })
            })
            .collect()
    }

    /// The evidence manifest of `run_id` in each repository that has it (or the one named).
    pub fn manifests(&mut self, run_id: &str, repository: Option<&str>) -> Result<Vec<(String, Manifest)>> {
        let rows = self
            .client
            .query(
                "SELECT p.name, m.manifest FROM proj_evidence_manifests m JOIN repositories p USING (workspace_id)
                 WHERE m.run_id = $1 AND ($2::text IS NULL OR p.name = $2 OR m.workspace_id = $2)
                 ORDER BY p.name, m.workspace_id",
                &[&run_id, &repository],
            )
            .map_err(self.err("read a manifest"))?;
        rows.iter()
            .map(|r| {
                let manifest = serde_json::from_value(r.get(1)).map_err(|_| Error::Malformed {
                    target: self.target.clone(),
                    what: "manifest",
                    run_id: run_id.to_owned(),
                })?;
                Ok((r.get(0), manifest))
            })
            .collect()
    }

    /// The names of the repositories published, for a filter to offer.
    pub fn repository_names(&mut self) -> Result<Vec<String>> {
        let rows = self
            .client
            .query("SELECT DISTINCT name FROM repositories ORDER BY name", &[])
            .map_err(self.err("list the repositories"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
