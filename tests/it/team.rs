//! The team database against a real PostgreSQL (tests/it/common/postgres.rs): publishing from
//! several repositories and clones at once, the one-row-per-run rule under concurrent
//! publishers, what never reaches it (records nobody trusts, another repository's runs, times
//! it cannot read), bad input and failures part-way, one evidence id with the local index, and
//! `serve --index` over it.

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

/// Two more runs: one leaves a scope violation pending (its checks pass, its verdict is
/// `valid`); the other's commit is then lost from the clone (its branch deleted and pruned), so
/// its facts cannot be checked where it is published: `unchecked`. Returns their ids.
fn pending_and_unchecked(repo: &TestRepo) -> (String, String) {
    let pending = repo.start(&["--scope", "src/**", "--dod", "test=true"]);
    repo.write("docs/notes.md", "outside the scope, never approved\n");
    repo.commit_all("pending work");
    repo.proof(&["finish", "-q"]).ok();
    repo.git(&["checkout", "-q", "-b", "lost"]);
    let unchecked = repo.start(&[]);
    repo.write("lost.txt", "lost\n");
    let lost = repo.commit_all("lost work");
    repo.proof(&["finish", "-q"]).ok();
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["branch", "-q", "-D", "lost"]);
    repo.git(&["reflog", "expire", "--expire=now", "--all"]);
    repo.git(&["gc", "-q", "--prune=now"]);
    assert_ne!(
        repo.git_run_in(&repo.root, &["cat-file", "-e", &lost]).code,
        0,
        "the run's commit is gone"
    );
    (pending, unchecked)
}

/// A run proven in a depth-1 clone of `remote` (a bare clone of `repo` with history before its
/// last commit), so its manifest has no workspace id. Returns the clone and the run id.
fn proven_in_a_shallow_clone(
    repo: &TestRepo,
    remote: &std::path::Path,
    start: &[&str],
) -> (std::path::PathBuf, String) {
    let shallow = repo.tmp.path().join("shallow");
    let remote_url = format!("file://{}", remote.display());
    repo.git_in(
        repo.tmp.path(),
        &["clone", "-q", "--depth", "1", &remote_url, shallow.to_str().unwrap()],
    );
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    repo.git_in(&shallow, &["config", "proof.allowedSignersFile", &signers]);
    let mut args = vec!["start"];
    args.extend_from_slice(start);
    let run_id = repo.proof_in(&shallow, &args).ok().stdout.trim().to_owned();
    std::fs::write(shallow.join("shallow.txt"), "shallow\n").unwrap();
    repo.git_in(&shallow, &["add", "-A"]);
    repo.git_in(&shallow, &["commit", "-qm", "shallow clone's work"]);
    repo.proof_in(&shallow, &["finish", "-q"]).ok();
    let bundle = repo.proof_in(&shallow, &["show", &run_id, "--json"]).ok().json();
    assert_eq!(bundle["evidence"]["workspace_id"], serde_json::Value::Null);
    (shallow, run_id)
}

/// Pushes the shallow clone's work and proofs to its remote, and fetches the work into `repo`
/// (whose `origin` that remote is), so that the proof checks there.
fn push_back(repo: &TestRepo, shallow: &std::path::Path) {
    repo.git_in(shallow, &["push", "-q", "origin", "HEAD:refs/heads/shallow-work"]);
    repo.proof_in(shallow, &["sync", "-q"]).ok();
    repo.git(&["fetch", "-q", "origin", "shallow-work"]);
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
    let (pending, unchecked) = pending_and_unchecked(&app);
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
    assert_eq!(all["total"], 6, "{all:#}");
    let repos: Vec<&str> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repository"].as_str().unwrap())
        .collect();
    assert_eq!(repos.iter().filter(|r| **r == "app").count(), 4);
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
    // Each filter keeps exactly its runs, named with their repository, and no other.
    let runs = |path: &str| -> Vec<String> {
        let page = server.get(path).json();
        let mut found: Vec<String> = page["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r["repository"].as_str().unwrap(),
                    r["run_id"].as_str().unwrap()
                )
            })
            .collect();
        found.sort();
        assert_eq!(page["total"], found.len(), "{path}: {page:#}");
        found
    };
    let expect = |names: &[(&str, &String)]| -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|(repo, id)| format!("{repo}/{id}")).collect();
        names.sort();
        names
    };
    assert_eq!(
        runs("/api/runs?repo=app"),
        expect(&[
            ("app", &passed),
            ("app", &failed),
            ("app", &pending),
            ("app", &unchecked)
        ])
    );
    assert_eq!(
        runs("/api/runs?pending=true"),
        expect(&[("app", &pending)]),
        "the approved violations are not pending"
    );
    assert_eq!(
        runs("/api/runs?failed_checks=true"),
        expect(&[("app", &failed), ("other", &failed)])
    );
    assert_eq!(
        runs("/api/runs?failed_checks=true&repo=app"),
        expect(&[("app", &failed)])
    );
    assert_eq!(
        runs("/api/runs?repo=other&failed_checks=true"),
        expect(&[("other", &failed)])
    );
    assert_eq!(
        runs("/api/runs?status=failed"),
        expect(&[("app", &failed), ("other", &failed)])
    );
    assert_eq!(
        runs("/api/runs?status=succeeded"),
        expect(&[
            ("app", &passed),
            ("app", &pending),
            ("app", &unchecked),
            ("other", &other_passed)
        ])
    );
    assert_eq!(
        runs("/api/runs?repo=other&status=succeeded"),
        expect(&[("other", &other_passed)])
    );
    assert_eq!(
        runs("/api/runs?verdict=valid"),
        expect(&[
            ("app", &passed),
            ("app", &failed),
            ("app", &pending),
            ("other", &other_passed),
            ("other", &failed)
        ])
    );
    assert_eq!(runs("/api/runs?verdict=unchecked"), expect(&[("app", &unchecked)]));
    assert_eq!(runs("/api/runs?verdict=invalid"), Vec::<String>::new());
    assert_eq!(runs("/api/runs?pending=true&verdict=unchecked"), Vec::<String>::new());
    let lost = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == unchecked.as_str())
        .unwrap();
    assert!(
        lost.to_string().contains("is not in the clone that published it"),
        "{lost}"
    );
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
    let waiting = server.get("/?pending=true").text();
    assert_eq!(waiting.matches("data-run=").count(), 1);
    assert!(waiting.contains(pending.as_str()), "{waiting}");
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

/// Trust is a repository's: a key trusted in one repository signs nothing that counts in
/// another. A proof whose signed manifest names another repository is reported and left out,
/// however well it checks, and that repository's row keeps its name.
#[test]
fn a_key_trusted_in_one_repository_never_writes_into_another() {
    let Some(pg) = Cluster::start("a_key_trusted_in_one_repository_never_writes_into_another") else {
        return;
    };
    let url = pg.create_database("repos");
    let bee = another_repository();
    two_runs(&bee, None);
    publish(&bee, &bee.root, &url, &["--name", "bee"]).ok();
    let bee_ws = pg.psql("repos", "SELECT workspace_id FROM repositories");
    assert_eq!(count(&pg, "repos", "SELECT count(*) FROM runs"), 2);

    // App's clone trusts its own key, which signs a run of its own and one in bee's history.
    let app = TestRepo::new();
    app.trust_our_key();
    let own = app.start(&[]);
    app.write("a.txt", "a\n");
    app.commit_all("app's work");
    app.proof(&["finish", "-q"]).ok();
    let smuggled = bee.start(&[]);
    bee.write("smuggled.txt", "signed with app's key\n");
    let smuggled_head = bee.commit_all("smuggled work");
    let key = app.key.to_str().unwrap().to_owned();
    bee.proof(&["finish", "-q", "--key", &key]).ok();
    // App fetches bee's history and proofs: the smuggled proof counts there, and checks.
    app.git(&["remote", "add", "bee", bee.root.to_str().unwrap()]);
    app.git(&["fetch", "-q", "bee", "main:refs/heads/bee-main"]);
    assert!(
        bee.note(&smuggled_head)
            .contains(&format!("\"workspace_id\": \"{bee_ws}\""))
    );

    let report = publish(&app, &app.root, &url, &["--remote", "bee", "--name", "app"])
        .ok()
        .json();
    assert_eq!(report["runs"], 1, "{report:#}");
    let refused = report["not_published"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{report:#}");
    assert_eq!(refused[0]["run_id"], smuggled.as_str());
    assert_eq!(refused[0]["reason"], "other_repository");
    assert_eq!(refused[0]["workspace_id"], bee_ws.as_str());

    assert_eq!(
        count(
            &pg,
            "repos",
            &format!("SELECT count(*) FROM runs WHERE run_id = '{smuggled}'")
        ),
        0
    );
    assert_eq!(
        count(
            &pg,
            "repos",
            &format!("SELECT count(*) FROM runs WHERE workspace_id = '{bee_ws}'")
        ),
        2,
        "bee's runs are bee's publisher's alone"
    );
    assert_eq!(
        pg.psql(
            "repos",
            &format!("SELECT name FROM repositories WHERE workspace_id = '{bee_ws}'")
        ),
        "bee",
        "another repository's row is never renamed"
    );
    assert_eq!(
        pg.psql(
            "repos",
            "SELECT string_agg(name || ':' || run_count, ',' ORDER BY name) FROM repositories"
        ),
        "app:1,bee:2"
    );
    assert_eq!(
        count(
            &pg,
            "repos",
            &format!(
                "SELECT count(*) FROM runs r JOIN repositories p USING (workspace_id) WHERE p.name = 'app' AND r.run_id = '{own}'"
            )
        ),
        1
    );

    // Said on stderr too: which run, which repository it names, where to publish it from.
    let said = app
        .proof(&["publish", "--to", &url, "--remote", "bee", "--name", "app"])
        .ok()
        .stderr;
    assert!(
        said.contains("1 run not published: its proof names another repository")
            && said.contains(&format!("run {smuggled} (commit "))
            && said.contains(&format!("names repository {bee_ws}, not this one"))
            && said.contains("publish it from a clone of that repository"),
        "{said}"
    );
}

/// A trusted proof with a time PostgreSQL cannot read is left out and reported, with why; the
/// runs beside it are published.
#[test]
fn a_run_whose_times_do_not_parse_is_reported_and_the_rest_published() {
    let Some(pg) = Cluster::start("a_run_whose_times_do_not_parse_is_reported") else {
        return;
    };
    let url = pg.create_database("times");
    let repo = TestRepo::new();
    repo.trust_our_key();
    let good = repo.start(&[]);
    repo.write("a.txt", "a\n");
    repo.commit_all("good work");
    repo.proof(&["finish", "-q"]).ok();
    let bad = repo.start(&[]);
    repo.write("b.txt", "b\n");
    let head = repo.commit_all("badly dated work");
    repo.proof(&["finish", "-q"]).ok();
    // Re-signed by the trusted key: it counts, and its generated_at is no time.
    let generated = repo.bundle(&bad)["generated_at"].as_str().unwrap().to_owned();
    let (payload, _) = crate::common::split_records(&repo.note(&head)).remove(0);
    let edited = payload.replace(
        &format!("\"generated_at\": \"{generated}\""),
        "\"generated_at\": \"the 31st of Smarch\"",
    );
    assert_ne!(edited, payload);
    let signature = crate::common::ssh_keygen_sign(&repo, &repo.key, "git-proof", &edited);
    repo.replace_note(&head, &format!("{edited}{signature}"));
    assert_eq!(repo.bundle(&bad)["generated_at"], "the 31st of Smarch");

    let report = publish(&repo, &repo.root, &url, &[]).ok().json();
    assert_eq!(report["runs"], 1, "{report:#}");
    let refused = report["not_published"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{report:#}");
    assert_eq!(refused[0]["run_id"], bad.as_str());
    assert_eq!(refused[0]["reason"], "bad_time");
    let message = refused[0]["message"].as_str().unwrap();
    assert!(
        message.contains("generated_at \"the 31st of Smarch\" is not an RFC 3339 time"),
        "{message}"
    );
    assert_eq!(pg.psql("times", "SELECT string_agg(run_id, ',') FROM runs"), good);

    let said = repo.proof(&["publish", "--to", &url]).ok().stderr;
    assert!(
        said.contains("1 run not published: a time in its proof does not parse")
            && said.contains(&format!("run {bad} (commit ")),
        "{said}"
    );
}

/// A batch is one transaction, with its repository's row: a failure part-way leaves nothing of
/// it, says so in one line, and exits 2; publishing again once the database takes the runs
/// writes them.
#[test]
fn a_publish_that_fails_part_way_leaves_nothing_of_its_transaction() {
    let Some(pg) = Cluster::start("a_publish_that_fails_part_way_leaves_nothing") else {
        return;
    };
    let url = pg.create_database("partial");
    // Another repository's publish creates the schema.
    let other = another_repository();
    other.trust_our_key();
    other.start(&[]);
    other.write("o.txt", "o\n");
    other.commit_all("other work");
    other.proof(&["finish", "-q"]).ok();
    publish(&other, &other.root, &url, &["--name", "other"]).ok();

    let app = TestRepo::new();
    let (passed, failed) = two_runs(&app, None);
    // The database refuses one run's manifest, after its batch's runs are written.
    let refuse = |run_id: &str| {
        pg.psql(
            "partial",
            &format!(
                "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.run_id = '{run_id}' THEN RAISE EXCEPTION 'refusing run %', NEW.run_id; END IF;
                     RETURN NEW;
                 END $$;
                 DROP TRIGGER IF EXISTS refuse ON proj_evidence_manifests;
                 CREATE TRIGGER refuse BEFORE INSERT ON proj_evidence_manifests
                     FOR EACH ROW EXECUTE FUNCTION refuse();"
            ),
        );
    };
    refuse(&failed);
    let out = app.proof(&["publish", "--to", &url, "--name", "app"]).expect_code(2);
    let line = out.one_error_line();
    assert!(
        line.contains("failed to finalize the evidence manifests")
            && line.contains(&format!("refusing run {failed}"))
            && line.contains("the transaction was rolled back, so none of its 2 runs was written")
            && line.contains("publish again"),
        "{line}"
    );
    assert!(!line.contains("db error"), "{line}");
    let (code, _) = app
        .proof(&["publish", "--to", &url, "--name", "app", "--json"])
        .expect_code(2)
        .json_error();
    assert_eq!(code, "team_write_failed");
    let other_ws = pg.psql("partial", "SELECT workspace_id FROM repositories");
    let app_rows = |table: &str| {
        count(
            &pg,
            "partial",
            &format!("SELECT count(*) FROM {table} WHERE workspace_id <> '{other_ws}'"),
        )
    };
    for table in [
        "repositories",
        "runs",
        "proj_evidence_manifests",
        "dod_results",
        "scope_violations",
        "scope_decisions",
    ] {
        assert_eq!(app_rows(table), 0, "{table}: nothing of the failed transaction");
    }
    let served = crate::common::server::Served::spawn({
        let mut cmd = app.proof_cmd(&["serve", "--index", &url, "--addr", "127.0.0.1:0"]);
        cmd.stderr(Stdio::null());
        cmd
    });
    assert!(
        !served.get("/").text().contains(">app<"),
        "no repository without runs in the filter"
    );
    drop(served);

    // Once the database takes them, the same publish writes them all.
    pg.psql("partial", "DROP TRIGGER refuse ON proj_evidence_manifests");
    let report = publish(&app, &app.root, &url, &["--name", "app"]).ok().json();
    assert_eq!(report["inserted"], 2, "{report:#}");
    assert_eq!(app_rows("runs"), 2);
    assert_eq!(app_rows("proj_evidence_manifests"), 2);

    // A later failure leaves what was published, and the repository's row, as they were.
    let third = app.start(&[]);
    app.write("c.txt", "c\n");
    app.commit_all("third work");
    app.proof(&["finish", "-q"]).ok();
    refuse(&third);
    let out = app
        .proof(&["publish", "--to", &url, "--name", "renamed"])
        .expect_code(2);
    assert!(
        out.one_error_line().contains(&format!("refusing run {third}")),
        "{}",
        out.stderr
    );
    assert_eq!(app_rows("runs"), 2);
    assert_eq!(
        count(
            &pg,
            "partial",
            &format!("SELECT count(*) FROM runs WHERE run_id IN ('{passed}', '{failed}')")
        ),
        2
    );
    assert_eq!(
        pg.psql(
            "partial",
            &format!("SELECT name || ':' || run_count FROM repositories WHERE workspace_id <> '{other_ws}'")
        ),
        "app:2"
    );
}

/// Nothing is written before everything that can be refused without the database is checked:
/// a publish refused for want of trust, or for a remote that is not there, leaves an empty
/// database empty.
#[test]
fn a_refused_publish_leaves_an_empty_database_empty() {
    let Some(pg) = Cluster::start("a_refused_publish_leaves_an_empty_database_empty") else {
        return;
    };
    let url = pg.create_database("untouched");
    let repo = TestRepo::new();
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    repo.commit_all("work");
    repo.proof(&["finish", "-q"]).ok();
    let tables = || {
        count(
            &pg,
            "untouched",
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
        )
    };

    let refused = repo.proof(&["publish", "--to", &url]).expect_code(2);
    assert!(
        refused.one_error_line().contains("needs allowed signers"),
        "{}",
        refused.stderr
    );
    assert_eq!(tables(), 0, "nothing created for a publish refused for want of trust");

    repo.trust_our_key();
    let refused = repo
        .proof(&["publish", "--to", &url, "--remote", "nosuchremote"])
        .expect_code(2);
    assert!(refused.one_error_line().contains("nosuchremote"), "{}", refused.stderr);
    assert_eq!(tables(), 0, "nothing created for a publish whose fetch failed");
}

/// A manifest's evidence id is computed from the signed manifest alone: the clone that
/// finalized it, any clone that reindexes it and the team database give the same id, for a
/// proof made in a full clone (with a workspace id) and one made in a shallow clone (without).
/// A shallow clone cannot tell which repository it is, so it publishes nothing; a full clone
/// publishes the shallow clone's proof under its own repository.
#[test]
fn the_local_index_and_the_team_database_give_a_manifest_one_evidence_id() {
    let Some(pg) = Cluster::start("the_local_index_and_the_team_database_give_one_evidence_id") else {
        return;
    };
    let url = pg.create_database("ids");
    let app = TestRepo::new();
    app.trust_our_key();
    for i in 0..2 {
        app.write(&format!("h{i}.txt"), format!("{i}\n"));
        app.commit_all(&format!("history {i}"));
    }
    let full = app.start(&[]);
    app.write("full.txt", "full\n");
    app.commit_all("full clone's work");
    app.proof(&["finish", "-q"]).ok();
    let remote = app.bare_clone();
    app.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    app.proof(&["sync", "-q"]).ok();

    let (shallow, partial) = proven_in_a_shallow_clone(&app, &remote, &[]);

    // The shallow clone cannot tell its repository: nothing is published from it.
    let report = publish(&app, &shallow, &url, &["--no-fetch"]).ok().json();
    assert_eq!(report["runs"], 0, "{report:#}");
    assert_eq!(report["not_published"][0]["run_id"], partial.as_str(), "{report:#}");
    assert_eq!(report["not_published"][0]["reason"], "unknown_repository");
    assert_eq!(count(&pg, "ids", "SELECT count(*) FROM repositories"), 0);

    // Its work and proofs pushed, the full clone publishes both runs under its repository.
    push_back(&app, &shallow);
    let report = publish(&app, &app.root, &url, &[]).ok().json();
    assert_eq!(report["runs"], 2, "{report:#}");
    assert_eq!(report["not_published"], serde_json::json!([]), "{report:#}");
    let root = app.git(&["rev-list", "--max-parents=0", "HEAD"]);
    assert_eq!(
        pg.psql(
            "ids",
            &format!("SELECT workspace_id FROM runs WHERE run_id = '{partial}'")
        ),
        root,
        "a proof without a workspace id is published under the publishing clone's"
    );
    app.proof(&["reindex", "-q"]).ok();

    let local = |dir: &std::path::Path, run_id: &str| -> String {
        let db = rusqlite::Connection::open(dir.join(".git/proof/index.sqlite")).unwrap();
        db.query_row(
            "SELECT evidence_id FROM evidence_manifests WHERE run_id = ?1",
            [run_id],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{run_id} in {}: {e}", dir.display()))
    };
    let team = |run_id: &str| {
        pg.psql(
            "ids",
            &format!("SELECT evidence_id FROM proj_evidence_manifests WHERE run_id = '{run_id}'"),
        )
    };
    let id_of = |run_id: &str, workspace: &str| {
        crate::common::sha256_prefixed(format!("evidence_manifest:{run_id}:{workspace}").as_bytes())
            .trim_start_matches("sha256:")
            .to_owned()
    };
    assert_eq!(team(&full), id_of(&full, &root));
    assert_eq!(local(&app.root, &full), team(&full));
    assert_eq!(team(&partial), id_of(&partial, ""));
    assert_eq!(local(&shallow, &partial), team(&partial), "the clone that finalized it");
    assert_eq!(local(&app.root, &partial), team(&partial), "a clone that reindexed it");
}

/// `--remote NAME` fetches that remote's proofs, whatever the default remote is, and records
/// that remote's URL as the repository's.
#[test]
fn publish_fetches_the_remote_it_is_given_and_records_its_url() {
    let Some(pg) = Cluster::start("publish_fetches_the_remote_it_is_given") else {
        return;
    };
    let url = pg.create_database("remotes");
    let app = TestRepo::new();
    let (passed, failed) = two_runs(&app, None);
    let upstream = app.bare_clone();
    app.git(&["remote", "add", "upstream", upstream.to_str().unwrap()]);
    app.proof(&["sync", "-q", "upstream"]).ok();
    // A clone whose default remote, origin, has no proofs: only upstream has them.
    let clone = app.tmp.path().join("clone");
    app.git_in(
        app.tmp.path(),
        &["clone", "-q", upstream.to_str().unwrap(), clone.to_str().unwrap()],
    );
    app.git_in(&clone, &["remote", "rename", "origin", "upstream"]);
    let empty = app.tmp.path().join("empty.git");
    app.git_in(app.tmp.path(), &["init", "-q", "--bare", empty.to_str().unwrap()]);
    app.git_in(&clone, &["remote", "add", "origin", empty.to_str().unwrap()]);
    app.git_in(&clone, &["config", "branch.main.remote", "origin"]);
    let signers = app.allowed_signers.to_str().unwrap().to_owned();
    app.git_in(&clone, &["config", "proof.allowedSignersFile", &signers]);

    let by_default = publish(&app, &clone, &url, &[]).ok().json();
    assert_eq!(by_default["remote"], "origin", "{by_default:#}");
    assert_eq!(by_default["runs"], 0, "{by_default:#}");
    assert_eq!(count(&pg, "remotes", "SELECT count(*) FROM repositories"), 0);

    let report = publish(&app, &clone, &url, &["--remote", "upstream"]).ok().json();
    assert_eq!(report["remote"], "upstream", "{report:#}");
    assert_eq!(report["fetched"], "fast-forward", "{report:#}");
    assert_eq!(report["runs"], 2, "{report:#}");
    assert_eq!(report["repository"]["url"], upstream.to_str().unwrap());
    assert_eq!(
        pg.psql("remotes", "SELECT name || '|' || url FROM repositories"),
        format!("remote|{}", upstream.display())
    );
    assert_eq!(
        pg.psql("remotes", "SELECT string_agg(run_id, ',' ORDER BY run_id) FROM runs"),
        {
            let mut ids = [passed, failed];
            ids.sort();
            ids.join(",")
        }
    );
}

/// A PostgreSQL that is installed but cannot start (here: its port is taken) skips the test
/// loudly, as a missing one does, unless GIT_PROOF_REQUIRE_POSTGRES asks for it (CI): then
/// the test fails.
#[test]
fn a_postgresql_that_cannot_start_skips_unless_required() {
    use crate::common::postgres;
    if !postgres::installed() {
        assert!(
            !postgres::required(),
            "PostgreSQL is not installed, and GIT_PROOF_REQUIRE_POSTGRES is set"
        );
        crate::common::skipped(
            "a_postgresql_that_cannot_start_skips_unless_required",
            "PostgreSQL (initdb, pg_ctl) is not installed",
        );
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // The skip this prints is the one under test, not a test left out.
    let name = "a PostgreSQL on a taken port (this skip is what the test checks)";
    assert!(Cluster::start_on(name, port, false).is_none(), "skipped, not panicked");
    let required = std::panic::catch_unwind(|| Cluster::start_on(name, port, true));
    assert!(required.is_err(), "required, so the test fails");
}

/// Shallow clones of two repositories proving the same run id make two manifests with one
/// evidence id (neither names its repository): both runs are published, the second without its
/// manifest, and the publish says so.
#[test]
fn shallow_proofs_of_one_run_id_in_two_repositories_share_an_evidence_id_and_say_so() {
    let Some(pg) = Cluster::start("shallow_proofs_of_one_run_id_in_two_repositories") else {
        return;
    };
    let url = pg.create_database("shared");
    const RUN: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let app = TestRepo::new();
    let other = another_repository();
    for repo in [&app, &other] {
        repo.trust_our_key();
        repo.write("more.txt", "history the shallow clone lacks\n");
        repo.commit_all("more history");
        let remote = repo.bare_clone();
        repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
        let (shallow, run_id) = proven_in_a_shallow_clone(repo, &remote, &["--run-id", RUN]);
        assert_eq!(run_id, RUN);
        push_back(repo, &shallow);
    }
    let first = publish(&app, &app.root, &url, &["--name", "app"]).ok().json();
    assert_eq!(first["manifests_created"], 1, "{first:#}");
    assert_eq!(first["manifests_elsewhere"], serde_json::json!([]), "{first:#}");
    // Said by the publish that writes the run (a later one finds it unchanged and rereads nothing).
    let said = other.proof(&["publish", "--to", &url, "--name", "other"]).ok().stderr;
    assert!(
        said.contains(&format!(
            "run {RUN}'s evidence manifest was not stored: its proof has no workspace id"
        )) && said.contains("1 new"),
        "{said}"
    );
    assert_eq!(
        count(
            &pg,
            "shared",
            &format!("SELECT count(*) FROM runs WHERE run_id = '{RUN}'")
        ),
        2
    );
    assert_eq!(
        pg.psql(
            "shared",
            &format!(
                "SELECT p.name FROM proj_evidence_manifests m JOIN repositories p USING (workspace_id) WHERE m.run_id = '{RUN}'"
            )
        ),
        "app"
    );
}
