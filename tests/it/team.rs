//! The team database against a real PostgreSQL (tests/it/common/postgres.rs): publishing from
//! several repositories and clones at once, the one-row-per-run rule under concurrent
//! publishers, what never reaches it, bad input, and `serve --index` over it.

use std::process::{Command, Stdio};

use crate::common::postgres::{Cluster, PASSWORD};
use crate::common::server::Served;
use crate::common::{TestRepo, bin, pin_env};

/// A repository with two proven runs: one passes; one fails a check and writes outside its
/// scope, and the violation is approved after the proof. Returns their ids.
fn two_runs(repo: &TestRepo, failing_id: Option<&str>) -> (String, String) {
    repo.trust_our_key();
    let passed = repo.start(&["--scope", "src/**", "--dod", "test=true"]);
    repo.write("src/lib.rs", "pub fn f() {}\n");
    repo.commit_all("passing work");
    repo.proof(&["finish", "-q"]).ok();
    let mut args = vec!["--scope", "src/**", "--dod", "lint=false", "--dod", "test=true"];
    if let Some(id) = failing_id {
        args.extend(["--run-id", id]);
    }
    let failed = repo.start(&args);
    repo.write("src/lib.rs", "pub fn f() -> u8 { 1 }\n");
    repo.write("README.md", "# outside the scope\n");
    repo.commit_all("failing work");
    repo.proof(&["finish", "-q", "--exit-code", "1"]).ok();
    repo.proof(&["approve", &failed, "README.md", "--reason", "docs"]).ok();
    (passed, failed)
}

/// A repository with a history of its own (every `TestRepo::new()` starts from the same root
/// commit, so all of them are one repository to git-proof).
fn another_repository() -> TestRepo {
    let repo = TestRepo::empty();
    repo.write("OTHER.md", "another history\n");
    repo.commit_all("another root");
    repo
}

fn publish(repo: &TestRepo, dir: &std::path::Path, url: &str, extra: &[&str]) -> crate::common::Run {
    let mut args = vec!["publish", "--to", url, "--json"];
    args.extend_from_slice(extra);
    repo.proof_in(dir, &args)
}

fn count(pg: &Cluster, db: &str, sql: &str) -> i64 {
    pg.psql(db, sql)
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {sql}"))
}

#[test]
fn publishing_from_two_repositories_and_two_clones_at_once_leaves_one_row_per_run() {
    let Some(pg) = Cluster::start("publishing_from_two_repositories_and_two_clones_at_once") else {
        return;
    };
    let url = pg.create_database("team");
    let app = TestRepo::new();
    let (passed, failed) = two_runs(&app, None);
    let remote = app.bare_clone();
    app.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    app.proof(&["sync", "-q"]).ok();
    // A second clone of the same repository, with the proofs fetched.
    let second = app.tmp.path().join("second");
    app.git_in(
        app.tmp.path(),
        &["clone", "-q", remote.to_str().unwrap(), second.to_str().unwrap()],
    );
    app.git_in(
        &second,
        &[
            "config",
            "proof.allowedSignersFile",
            app.allowed_signers.to_str().unwrap(),
        ],
    );
    // Another repository, whose failing run has the same id as one of the first's.
    let other = another_repository();
    let (_, other_failed) = two_runs(&other, Some(&failed));
    assert_eq!(other_failed, failed);

    let spawn = |repo: &TestRepo, dir: &std::path::Path| {
        let mut cmd = repo.proof_cmd_in(dir, &["publish", "--to", &url, "--json"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().unwrap()
    };
    let running = [spawn(&app, &app.root), spawn(&app, &second), spawn(&other, &other.root)];
    for child in running {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["runs"], 2, "{report}");
        assert_eq!(report["not_counted"], serde_json::json!([]), "{report}");
    }

    assert_eq!(count(&pg, "team", "SELECT count(*) FROM repositories"), 2);
    // Both clones name the repository after the remote they share.
    assert_eq!(
        pg.psql("team", "SELECT string_agg(name, ',' ORDER BY name) FROM repositories"),
        "remote,repo"
    );
    assert_eq!(count(&pg, "team", "SELECT count(*) FROM runs"), 4);
    assert_eq!(count(&pg, "team", "SELECT count(*) FROM proj_evidence_manifests"), 4);
    assert_eq!(
        count(
            &pg,
            "team",
            &format!("SELECT count(*) FROM runs WHERE run_id = '{failed}'")
        ),
        2,
        "the same run id in two repositories is two runs"
    );
    // The projection's columns say what the manifest says.
    let local = app.bundle(&passed)["evidence"].clone();
    let row = pg.psql(
        "team",
        &format!(
            "SELECT evidence_id || '|' || run_status || '|' || event_hash_root || '|' || manifest_hash || '|' ||
                    event_count || '|' || stream_id || '|' || idempotency_key || '|' || (manifest = '{}'::jsonb)
             FROM proj_evidence_manifests WHERE run_id = '{passed}'",
            local.to_string().replace('\'', "''")
        ),
    );
    let fields: Vec<&str> = row.split('|').collect();
    assert_eq!(fields[0].len(), 64);
    assert_eq!(fields[1], "succeeded");
    assert_eq!(fields[2], local["event_hash_root"].as_str().unwrap());
    assert_eq!(fields[3], local["manifest_hash"].as_str().unwrap());
    assert_eq!(fields[4], local["event_count"].to_string());
    assert_eq!(fields[5], passed);
    assert_eq!(fields[6], format!("evidence_manifest:{passed}"));
    assert_eq!(fields[7], "true", "the manifest is stored as the proof holds it");
    // DoD results, the violation as the approval left it, the decision and its record.
    assert_eq!(
        pg.psql(
            "team",
            &format!(
                "SELECT string_agg(d.name || '=' || d.status, ',' ORDER BY d.position) FROM dod_results d
                 JOIN repositories p USING (workspace_id) WHERE run_id = '{failed}' AND p.name = 'remote'"
            )
        ),
        "lint=failed,test=passed"
    );
    assert_eq!(
        pg.psql(
            "team",
            &format!("SELECT DISTINCT path || ':' || state FROM scope_violations WHERE run_id = '{failed}'")
        ),
        "README.md:approved"
    );
    assert_eq!(
        count(
            &pg,
            "team",
            &format!(
                "SELECT count(*) FROM scope_decisions WHERE run_id = '{failed}' AND decision = 'approved' AND reason = 'docs'"
            )
        ),
        2
    );
    assert_eq!(
        pg.psql(
            "team",
            &format!("SELECT verdict || ',' || checks_failed || ',' || violations_pending FROM runs WHERE run_id = '{passed}'")
        ),
        "valid,0,0"
    );

    // Publishing again changes nothing: no new row, no manifest finalized twice.
    let before = pg.psql(
        "team",
        "SELECT string_agg(evidence_id || created_at, ',' ORDER BY evidence_id) FROM proj_evidence_manifests",
    );
    let again = publish(&app, &app.root, &url, &[]).ok().json();
    assert_eq!(
        (again["inserted"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(again["unchanged"], 2);
    assert_eq!(again["manifests_created"], 0);
    let after = pg.psql(
        "team",
        "SELECT string_agg(evidence_id || created_at, ',' ORDER BY evidence_id) FROM proj_evidence_manifests",
    );
    assert_eq!(before, after);
    assert_eq!(count(&pg, "team", "SELECT count(*) FROM runs"), 4);
    // The counts lists use for their totals, kept by each publish.
    assert_eq!(count(&pg, "team", "SELECT sum(run_count) FROM repositories"), 4);
}

#[test]
fn eight_concurrent_publishes_of_one_run_leave_one_row() {
    let Some(pg) = Cluster::start("eight_concurrent_publishes_of_one_run_leave_one_row") else {
        return;
    };
    // A fresh database: the eight also race to create the schema.
    let url = pg.create_database("race");
    let repo = TestRepo::new();
    repo.trust_our_key();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    repo.commit_all("work");
    repo.proof(&["finish", "-q"]).ok();
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut cmd = repo.proof_cmd(&["publish", "--to", &url, "--json"]);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut inserted = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        inserted += report["inserted"].as_u64().unwrap();
    }
    assert_eq!(inserted, 1, "exactly one publisher inserted the run");
    assert_eq!(
        count(
            &pg,
            "race",
            &format!("SELECT count(*) FROM runs WHERE run_id = '{run_id}'")
        ),
        1
    );
    assert_eq!(
        count(
            &pg,
            "race",
            &format!("SELECT count(*) FROM proj_evidence_manifests WHERE run_id = '{run_id}'")
        ),
        1
    );
    assert_eq!(count(&pg, "race", "SELECT count(*) FROM git_proof_schema"), 1);
    assert_eq!(count(&pg, "race", "SELECT run_count FROM repositories"), 1);
}

#[test]
fn records_nobody_trusted_never_reach_the_team_database() {
    let Some(pg) = Cluster::start("records_nobody_trusted_never_reach_the_team_database") else {
        return;
    };
    let url = pg.create_database("trusted");
    let repo = TestRepo::new();
    repo.trust_our_key();
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("work");
    repo.proof(&["finish", "-q"]).ok();
    // The note's text edited: the signature no longer holds.
    let note = repo.note(&head);
    repo.replace_note(&head, &note.replace("\"exit_code\": 0", "\"exit_code\": 7"));
    // A stranger's run, signed by a key nobody trusts.
    let stranger = crate::common::new_key(&repo, "stranger");
    repo.write("b.txt", "b\n");
    repo.commit_all("stranger's work");
    let stranger_run = repo.start(&[]);
    repo.proof(&["finish", "-q", "--key", stranger.to_str().unwrap()]).ok();

    let report = publish(&repo, &repo.root, &url, &[]).ok().json();
    assert_eq!(report["runs"], 0, "{report}");
    let not_counted = report["not_counted"].to_string();
    assert!(
        not_counted.contains(&run_id) && not_counted.contains(&stranger_run),
        "{report}"
    );
    assert_eq!(count(&pg, "trusted", "SELECT count(*) FROM runs"), 0);
    assert_eq!(count(&pg, "trusted", "SELECT count(*) FROM proj_evidence_manifests"), 0);

    // Without any trust source nothing is published at all.
    repo.git(&["config", "--unset", "proof.allowedSignersFile"]);
    let refused = repo.proof(&["publish", "--to", &url]).expect_code(2);
    assert!(
        refused.one_error_line().contains("needs allowed signers"),
        "{}",
        refused.stderr
    );
}

#[test]
fn bad_team_databases_get_one_line_and_exit_2_and_nothing_half_written() {
    let Some(pg) = Cluster::start("bad_team_databases_get_one_line_and_exit_2") else {
        return;
    };
    let url = pg.create_database("bad");
    let repo = TestRepo::new();
    repo.trust_our_key();
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    repo.commit_all("work");
    repo.proof(&["finish", "-q"]).ok();

    let unreachable = format!("postgres://postgres@127.0.0.1:{}/bad?connect_timeout=5", pg.port + 1);
    let wrong_password = pg.tcp_url("bad", "not-the-password");
    let no_database = pg.url("nosuchdb");
    let cases: [(&str, &str); 5] = [
        (
            &unreachable,
            "cannot reach the team database postgres://postgres@127.0.0.1",
        ),
        (
            &wrong_password,
            "refused the connection: password authentication failed",
        ),
        (
            &no_database,
            "refused the connection: database \"nosuchdb\" does not exist",
        ),
        ("postgres://u:hunter2@host:notaport/db", "is not a PostgreSQL URL"),
        ("postgres://u@localhost/db?sslmode=require", "asks for TLS"),
    ];
    for (target, expected) in cases {
        let run = repo.proof(&["publish", "--to", target]).expect_code(2);
        let line = run.one_error_line();
        assert!(line.contains(expected), "{target}: {line}");
        assert!(
            !line.contains("hunter2") && !line.contains("not-the-password"),
            "{line}"
        );
        let (code, _) = repo
            .proof(&["publish", "--to", target, "--json"])
            .expect_code(2)
            .json_error();
        assert!(["unavailable", "bad_input"].contains(&code.as_str()), "{code}");
    }
    assert_eq!(
        pg.psql("bad", "SELECT to_regclass('runs') IS NULL"),
        "t",
        "nothing was written"
    );

    // The right password over TCP works.
    publish(&repo, &repo.root, &pg.tcp_url("bad", PASSWORD), &[]).ok();
    assert_eq!(count(&pg, "bad", "SELECT count(*) FROM runs"), 1);

    // A schema from a newer git-proof: refused by publish and serve, nothing written.
    pg.psql(
        "bad",
        "UPDATE git_proof_schema SET version = 99; DELETE FROM proj_evidence_manifests; DELETE FROM runs",
    );
    let newer = repo.proof(&["publish", "--to", &url]).expect_code(2);
    assert!(newer.one_error_line().contains("newer git-proof"), "{}", newer.stderr);
    assert_eq!(count(&pg, "bad", "SELECT count(*) FROM runs"), 0);
    let served = repo
        .proof(&["serve", "--index", &url, "--addr", "127.0.0.1:0"])
        .expect_code(2);
    assert!(served.one_error_line().contains("newer git-proof"), "{}", served.stderr);
    // A database nobody published to yet.
    let empty = pg.create_database("empty");
    let served = repo
        .proof(&["serve", "--index", &empty, "--addr", "127.0.0.1:0"])
        .expect_code(2);
    assert!(
        served.one_error_line().contains("no published proofs yet"),
        "{}",
        served.stderr
    );
}

#[test]
fn serve_over_the_team_database_lists_filters_and_shows_every_repository() {
    let Some(pg) = Cluster::start("serve_over_the_team_database") else {
        return;
    };
    let url = pg.create_database("served");
    let app = TestRepo::new();
    let (passed, failed) = two_runs(&app, None);
    let other = another_repository();
    let (other_passed, _) = two_runs(&other, Some(&failed));
    publish(&app, &app.root, &url, &["--name", "app"]).ok();
    publish(&other, &other.root, &url, &["--name", "other"]).ok();

    // Served from outside any repository: the team database is all it reads.
    let outside = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    pin_env(&mut cmd, outside.path());
    cmd.current_dir(outside.path())
        .args(["serve", "--index", &url, "--addr", "127.0.0.1:0"]);
    let server = Served::spawn(cmd);

    let all = server.get("/api/runs").json();
    assert_eq!(all["total"], 4, "{all:#}");
    let repos: Vec<&str> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repository"].as_str().unwrap())
        .collect();
    assert_eq!(repos.iter().filter(|r| **r == "app").count(), 2);
    assert_eq!(repos.iter().filter(|r| **r == "other").count(), 2);

    let ids = |path: &str| -> Vec<String> {
        let page = server.get(path).json();
        page["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("/api/runs?repo=app").len(), 2);
    assert_eq!(server.get("/api/runs?repo=app").json()["total"], 2);
    assert_eq!(server.get("/api/runs?repo=other&failed_checks=true").json()["total"], 1);
    assert_eq!(ids("/api/runs?repo=other&status=succeeded"), vec![other_passed.clone()]);
    assert_eq!(ids("/api/runs?status=failed"), vec![failed.clone(), failed.clone()]);
    assert_eq!(ids("/api/runs?failed_checks=true&repo=app"), vec![failed.clone()]);
    assert_eq!(
        ids("/api/runs?pending=true"),
        Vec::<String>::new(),
        "the violations are approved"
    );
    assert_eq!(ids("/api/runs?verdict=valid").len(), 4);
    assert_eq!(ids("/api/runs?per_page=1&page=2").len(), 1);
    let paged = server.get("/api/runs?repo=app&per_page=1").json();
    assert_eq!(paged["next"], "/api/runs?repo=app&page=2&per_page=1");
    server.get("/api/runs?status=bogus").expect_error(400);

    // One run, by id; the id both repositories have needs the repository named.
    let bundle = server.get(&format!("/api/runs/{passed}/proof")).json();
    assert_eq!(bundle, app.bundle(&passed));
    let ambiguous = server.get(&format!("/api/runs/{failed}/proof"));
    assert_eq!(ambiguous.expect_error(409), "ambiguous_run");
    assert!(
        ambiguous.text().contains("from 2 repositories (app, other)"),
        "{}",
        ambiguous.text()
    );
    let theirs = server.get(&format!("/api/runs/{failed}/proof?repo=other")).json();
    assert_eq!(theirs, other.bundle(&failed));
    let evidence = server.get(&format!("/v1/runs/{failed}/evidence?repo=app")).json();
    assert_eq!(evidence, app.bundle(&failed)["evidence"]);
    server
        .get("/api/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/proof")
        .expect_error(404);
    let finalize = server.post_authorized(&format!("/v1/runs/{passed}/evidence/finalize"));
    assert_eq!(finalize.expect_error(409), "read_only");

    // The pages: every repository in the list, filter links, the Proof view of each.
    let index = server.get("/").text();
    assert!(index.contains(">app<") && index.contains(">other<"), "{index}");
    assert!(index.contains("href=\"/?status=failed&amp;\""), "{index}");
    let failing = server.get("/?failed_checks=true").text();
    assert_eq!(failing.matches("data-run=").count(), 2);
    let ws = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repository"] == "other")
        .unwrap()["workspace_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let view = server.get(&format!("/runs/{failed}?repo={ws}")).text();
    assert!(view.contains("data-check=\"lint\" data-status=\"failed\""), "{view}");
    assert!(
        view.contains("data-path=\"README.md\" data-state=\"approved\""),
        "{view}"
    );
    assert!(view.contains("signed by agent@example.com"), "{view}");
}
