//! An index an older git-proof wrote upgrades in place and loses nothing: the repository of
//! `tests/fixtures/turn1-index` was made by the first round's binary (index schema 3; see its
//! `make.sh`), and is read here by this one, and published into a real PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::Connection;

use crate::common::TestRepo;

const RUN_PASSED: &str = "01JD3Z8Q7X9K2M4N6P8R0T2V4W";
const RUN_FAILED: &str = "01JD3Z9A0B1C2D3E4F5G6H7J8K";
const RUN_ACTIVE: &str = "01JD3ZA0000000000000000000";

/// The first round's repository, unpacked where a [`TestRepo`]'s own would be.
fn turn1_repo() -> TestRepo {
    let repo = TestRepo::empty();
    std::fs::remove_dir_all(&repo.root).unwrap();
    let archive = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/turn1-index/turn1-repo.tar.gz");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(repo.tmp.path())
        .status()
        .expect("tar runs");
    assert!(status.success(), "tar -xzf {}", archive.display());
    repo
}

fn index_path(repo: &TestRepo) -> PathBuf {
    repo.path(".git/proof/index.sqlite")
}

/// Every row of `table` in the columns an old index has, as text, in a fixed order.
fn rows(db: &Connection, table: &str, columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let list = columns.join(", ");
    let sql = format!("SELECT {list} FROM {table} ORDER BY {list}");
    let mut stmt = db.prepare(&sql).unwrap();
    stmt.query_map([], |r| {
        (0..columns.len())
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i).map(|v| match v {
                    rusqlite::types::Value::Null => None,
                    rusqlite::types::Value::Integer(n) => Some(n.to_string()),
                    rusqlite::types::Value::Real(x) => Some(x.to_string()),
                    rusqlite::types::Value::Text(t) => Some(t),
                    rusqlite::types::Value::Blob(b) => Some(format!("{b:?}")),
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The tables of schema 3 with their columns then.
const OLD_TABLES: &[(&str, &[&str])] = &[
    (
        "runs",
        &[
            "run_id",
            "worktree",
            "state",
            "started_at",
            "ended_at",
            "base_sha",
            "head_sha",
            "exit_code",
            "prompt_hash",
            "scope_json",
            "dod_json",
            "correlation_id",
            "thread_id",
        ],
    ),
    (
        "events",
        &[
            "run_id",
            "stream_seq",
            "event_id",
            "event_type",
            "occurred_at",
            "data_json",
            "event_hash",
            "idempotency_key",
        ],
    ),
    (
        "checks",
        &[
            "run_id",
            "position",
            "name",
            "status",
            "exit_code",
            "duration_ms",
            "log_digest",
            "log_size",
        ],
    ),
    (
        "scope_violations",
        &["run_id", "path", "rule", "state", "decided_at", "decided_by", "reason"],
    ),
    (
        "scope_decisions",
        &["run_id", "path", "state", "decided_at", "decided_by", "reason"],
    ),
    ("evidence_manifests", &["run_id", "manifest_json", "manifest_hash"]),
    (
        "proof_bundle_ref",
        &["run_id", "commit_sha", "bundle_digest", "recorded_at"],
    ),
];

#[test]
fn a_first_round_index_upgrades_in_place_and_keeps_every_row() {
    let repo = turn1_repo();
    let before: Vec<_> = {
        let db = Connection::open(index_path(&repo)).unwrap();
        let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, 3, "the fixture is a schema 3 index");
        OLD_TABLES.iter().map(|(t, c)| rows(&db, t, c)).collect()
    };
    assert_eq!(before[0].len(), 3, "three runs in the fixture");
    assert!(before[1].len() >= 10, "the fixture's events: {:?}", before[1].len());

    // Any command opens the index, and opening it upgrades it.
    let log = repo.proof(&["log", "--json"]).ok().json();
    let listed: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 3, "{log}");
    for id in [RUN_PASSED, RUN_FAILED, RUN_ACTIVE] {
        assert!(listed.contains(&id), "{id} not in {listed:?}");
    }

    let db = Connection::open(index_path(&repo)).unwrap();
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 5);
    for ((table, columns), old) in OLD_TABLES.iter().zip(&before) {
        assert_eq!(&rows(&db, table, columns), old, "table {table} changed in the upgrade");
    }

    // The projection's columns are filled from each manifest, with its run's end as the time
    // it was finalized.
    let mut stmt = db
        .prepare(
            "SELECT m.run_id, m.manifest_json, m.evidence_id, m.workspace_id, m.run_status, m.event_hash_root,
                    m.stream_type, m.stream_id, m.from_seq, m.to_seq, m.event_count, m.last_event_id,
                    m.idempotency_key, m.finalized_at, m.created_at, r.ended_at, m.room_id
             FROM evidence_manifests m JOIN runs r USING (run_id) ORDER BY m.run_id",
        )
        .unwrap();
    let manifests: Vec<Vec<rusqlite::types::Value>> = stmt
        .query_map([], |r| (0..17).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(manifests.len(), 2, "the two ended runs have manifests");
    let text = |v: &rusqlite::types::Value| match v {
        rusqlite::types::Value::Text(t) => t.clone(),
        rusqlite::types::Value::Integer(n) => n.to_string(),
        other => panic!("not text: {other:?}"),
    };
    let mut evidence_ids = Vec::new();
    for row in &manifests {
        let run_id = text(&row[0]);
        let manifest: serde_json::Value = serde_json::from_str(&text(&row[1])).unwrap();
        let evidence_id = text(&row[2]);
        assert_eq!(evidence_id.len(), 64, "{evidence_id}");
        evidence_ids.push(evidence_id);
        assert_eq!(text(&row[3]), manifest["workspace_id"].as_str().unwrap());
        assert_eq!(text(&row[4]), manifest["run_status"].as_str().unwrap());
        assert_eq!(text(&row[5]), manifest["event_hash_root"].as_str().unwrap());
        assert_eq!(text(&row[6]), "run");
        assert_eq!(text(&row[7]), run_id);
        assert_eq!(text(&row[8]), manifest["from_seq"].to_string());
        assert_eq!(text(&row[9]), manifest["to_seq"].to_string());
        assert_eq!(text(&row[10]), manifest["event_count"].to_string());
        let events = manifest["events"].as_array().unwrap();
        assert_eq!(text(&row[11]), events.last().unwrap()["event_id"].as_str().unwrap());
        assert_eq!(text(&row[12]), format!("evidence_manifest:{run_id}"));
        assert_eq!(text(&row[13]), text(&row[15]), "finalized when the run ended");
        assert_eq!(text(&row[14]), text(&row[15]));
        assert_eq!(row[16], rusqlite::types::Value::Null, "git-proof has no rooms");
    }
    assert_ne!(evidence_ids[0], evidence_ids[1]);
    drop(stmt);
    drop(db);

    // The old proofs still read and verify, by the allowed signers committed with them.
    let shown = repo.proof(&["show", RUN_FAILED, "--json"]).ok().json();
    assert_eq!(shown["run_status"], "failed");
    assert_eq!(shown["scope_violations"][0]["approval"]["state"], "approved");
    let verified = repo.proof(&["verify", "main~2..main"]).ok();
    assert!(verified.stdout.contains("2 valid"), "{}", verified.stdout);

    // A second open finds it done; a new run's manifest gets its columns as it is built.
    repo.trust_our_key();
    repo.write("src/new.rs", "// new\n");
    repo.proof(&["run", "--", "git", "add", "src/new.rs"]).ok();
    let db = Connection::open(index_path(&repo)).unwrap();
    let unfilled: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM evidence_manifests WHERE evidence_id IS NULL OR finalized_at IS NULL
                 OR idempotency_key IS NULL OR event_count IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let total: i64 = db
        .query_row("SELECT COUNT(*) FROM evidence_manifests", [], |r| r.get(0))
        .unwrap();
    assert_eq!((unfilled, total), (0, 3));
}

/// The first round's repository publishes into the team database, and its index, upgraded,
/// agrees with it: its counting proofs (made by the first round's binary, trusted by the allowed signers
/// committed with them) become one row each, with the upgraded index's evidence ids and the
/// first round's manifests, and publishing again changes nothing.
#[test]
fn a_first_round_repository_publishes_with_its_upgraded_index_s_evidence_ids() {
    let Some(pg) = crate::common::postgres::Cluster::start("a_first_round_repository_publishes") else {
        return;
    };
    let url = pg.create_database("turn1");
    let repo = turn1_repo();
    let published = repo
        .proof(&["publish", "--to", &url, "--no-fetch", "--json"])
        .ok()
        .json();
    assert_eq!(published["runs"], 2, "{published:#}");
    assert_eq!(published["not_published"], serde_json::json!([]), "{published:#}");

    // Publishing reads the notes, not the index; the next command upgrades the index.
    repo.proof(&["log", "--json"]).ok();
    let db = Connection::open(index_path(&repo)).unwrap();
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert!(version > 3, "the index upgraded");
    for run in [RUN_PASSED, RUN_FAILED] {
        let (local_id, local_hash): (String, String) = db
            .query_row(
                "SELECT evidence_id, manifest_hash FROM evidence_manifests WHERE run_id = ?1",
                [run],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let team = pg.psql(
            "turn1",
            &format!("SELECT evidence_id || ' ' || manifest_hash FROM proj_evidence_manifests WHERE run_id = '{run}'"),
        );
        assert_eq!(team, format!("{local_id} {local_hash}"), "run {run}");
    }
    assert_eq!(
        pg.psql(
            "turn1",
            &format!("SELECT run_status FROM proj_evidence_manifests WHERE run_id = '{RUN_FAILED}'")
        ),
        "failed"
    );
    let again = repo
        .proof(&["publish", "--to", &url, "--no-fetch", "--json"])
        .ok()
        .json();
    assert_eq!(again["runs"], 2, "{again:#}");
    assert_eq!(
        pg.psql("turn1", "SELECT count(*) FROM proj_evidence_manifests"),
        "2",
        "one row per run, however often published"
    );
}
