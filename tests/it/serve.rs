//! `git proof serve`: the JSON API README documents tested as a consumer would, over a real
//! server on an ephemeral loopback port, and the Proof view loaded in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::server::{Served, send};
use crate::common::{DATE, TestRepo, git_diff_entries};

/// A file name that is HTML: it must reach the reader as text.
const XSS_NAME: &str = "<img src=x onerror=alert(1)>.txt";
/// One whose markup, if it ever ran, would leave a trace in the DOM the test reads.
const XSS_TRACE_NAME: &str = "<svg onload=document.title='pwned'>.txt";

/// Trusts the test key through git config, the way a team configures it (README: Keys and trust).
fn trust(repo: &TestRepo) {
    repo.git(&[
        "config",
        "proof.allowedSignersFile",
        repo.allowed_signers.to_str().unwrap(),
    ]);
}

/// A run `id` that commits `files` and finishes; returns its head commit.
fn proven_run(repo: &TestRepo, id: &str, start: &[&str], files: &[(&str, &str)]) -> String {
    let mut args = vec!["start", "--run-id", id];
    args.extend_from_slice(start);
    repo.proof(&args).ok();
    for (path, content) in files {
        repo.write(path, content);
    }
    let head = repo.commit_all(&format!("work of {id}"));
    repo.proof(&["finish", "--run", id]).ok();
    head
}

fn events_of_type(repo: &TestRepo, run_id: &str, event_type: &str) -> i64 {
    let db = rusqlite::Connection::open(repo.path(".git/proof/index.sqlite")).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM events WHERE run_id = ?1 AND event_type = ?2",
        [run_id, event_type],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn api_answers_every_endpoint_with_the_status_codes_of_spec_9() {
    let repo = TestRepo::new();
    trust(&repo);
    proven_run(&repo, "run-a", &["--dod", "ok=true"], &[("a.txt", "a\n")]);
    // run-b ended, but its finish died before the manifest: what finalize exists for.
    repo.proof(&["start", "--run-id", "run-b"]).ok();
    repo.write("b.txt", "b\n");
    let head_b = repo.commit_all("work of run-b");
    let killed = repo
        .proof_cmd(&["finish", "--run", "run-b"])
        .env("GIT_PROOF_TEST_KILL_AFTER", "end the run")
        .output()
        .unwrap();
    assert!(!killed.status.success(), "the finish was to be killed");
    // run-c is still active.
    repo.proof(&["start", "--run-id", "run-c"]).ok();
    let server = Served::start(&repo, &[]);

    // GET /api/runs: newest first, paginated, following `next`.
    let all = server.get("/api/runs");
    assert_eq!(all.status, 200);
    let all = all.json();
    let ids: Vec<&str> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["run-c", "run-b", "run-a"]);
    assert_eq!(all["total"], 3);
    assert_eq!(all["next"], Value::Null);
    let run_a = &all["runs"][2];
    assert_eq!(run_a["state"], "ended");
    assert_eq!(run_a["head_subject"], "work of run-a");
    assert_eq!(run_a["proof"]["signature"], "valid");
    assert_eq!(run_a["proof"]["signed_by"], "agent@example.com");
    assert_eq!(run_a["proof"]["files_changed"], 1);
    assert_eq!(run_a["proof"]["dod"]["passed"], 1);
    assert_eq!(all["runs"][0]["state"], "active");
    assert_eq!(all["runs"][0]["proof"], Value::Null);
    let first = server.get("/api/runs?per_page=2").json();
    assert_eq!(first["runs"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().expect("a next page");
    let second = server.get(next).json();
    assert_eq!(second["runs"][0]["run_id"], "run-a");
    assert_eq!(second["next"], Value::Null);
    assert_eq!(server.get("/api/runs?page=0").expect_error(400), "bad_page");
    assert_eq!(server.get("/api/runs?per_page=x").expect_error(400), "bad_page");

    // GET /api/runs/:id/proof: the bytes `show --json` prints; 404 without a bundle.
    let proof = server.get("/api/runs/run-a/proof");
    assert_eq!(proof.status, 200);
    assert_eq!(proof.header("content-type"), Some("application/json"));
    assert_eq!(proof.text(), repo.proof(&["show", "--json", "run-a"]).ok().stdout);
    assert_eq!(server.get("/api/runs/run-c/proof").expect_error(404), "no_proof");
    assert_eq!(
        server.get("/api/runs/no-such-run/proof").expect_error(404),
        "unknown_run"
    );
    assert_eq!(server.get("/api/runs/-bad/proof").expect_error(400), "bad_run_id");
    assert_eq!(server.get("/api/runs/%ff/proof").expect_error(400), "bad_request");

    // GET /v1/runs/:id/evidence: the manifest; 404 when none.
    let evidence = server.get("/v1/runs/run-a/evidence");
    assert_eq!(evidence.status, 200);
    assert_eq!(evidence.json(), repo.bundle("run-a")["evidence"]);
    assert_eq!(server.get("/v1/runs/run-b/evidence").expect_error(404), "no_manifest");
    assert_eq!(server.get("/v1/runs/run-c/evidence").expect_error(404), "no_manifest");
    assert_eq!(
        server.get("/v1/runs/no-such-run/evidence").expect_error(404),
        "unknown_run"
    );

    // POST finalize: token required; 409 active, 404 unknown, 201 then 200 with one event.
    let finalize_b = "/v1/runs/run-b/evidence/finalize";
    let anonymous = server.request("POST", finalize_b, &[], b"");
    assert_eq!(anonymous.expect_error(401), "unauthorized");
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    let wrong = server.request("POST", finalize_b, &[("Authorization", "Bearer 0000")], b"");
    assert_eq!(wrong.expect_error(401), "unauthorized");
    assert_eq!(
        events_of_type(&repo, "run-b", "evidence.manifest.created"),
        0,
        "refused requests changed nothing"
    );
    assert_eq!(
        server
            .post_authorized("/v1/runs/run-c/evidence/finalize")
            .expect_error(409),
        "run_active"
    );
    assert_eq!(
        server
            .post_authorized("/v1/runs/no-such-run/evidence/finalize")
            .expect_error(404),
        "unknown_run"
    );
    let created = server.post_authorized(finalize_b);
    assert_eq!(created.status, 201, "{}", created.text());
    let again = server.post_authorized(finalize_b);
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.body, created.body, "the same manifest, byte for byte");
    assert_eq!(events_of_type(&repo, "run-b", "evidence.manifest.created"), 1);
    let manifest = created.json();
    assert_eq!(manifest["run_id"], "run-b");
    assert_eq!(server.get("/v1/runs/run-b/evidence").json(), manifest);
    // Finalize wrote the signed proof that carries the manifest, on run-b's head.
    assert_eq!(repo.bundle("run-b")["evidence"], manifest);
    assert_eq!(repo.bundle("run-b")["head_sha"], head_b.as_str());
    repo.verify(&[&head_b]).ok();
    // Finalize of a proven run: 200, the manifest in its proof, nothing appended.
    let proven = server.post_authorized("/v1/runs/run-a/evidence/finalize");
    assert_eq!(proven.status, 200);
    assert_eq!(proven.json(), repo.bundle("run-a")["evidence"]);
    assert_eq!(events_of_type(&repo, "run-a", "evidence.manifest.created"), 1);

    // A run finished by another process while the server runs shows at once: the server's
    // reused repository handles must see the new note, objects and index rows.
    repo.write("c.txt", "c\n");
    repo.commit_all("work of run-c");
    repo.proof(&["finish", "--run", "run-c"]).ok();
    let listed = server.get("/api/runs").json();
    assert_eq!(listed["runs"][0]["run_id"], "run-c");
    assert_eq!(listed["runs"][0]["state"], "ended");
    assert_eq!(listed["runs"][0]["proof"]["signature"], "valid");
    assert_eq!(
        server.get("/api/runs/run-c/proof").text(),
        repo.proof(&["show", "--json", "run-c"]).ok().stdout
    );

    // Wrong method, unknown path, huge body, foreign Host: JSON errors, and still serving.
    let delete = server.request("DELETE", "/api/runs", &[], b"");
    assert_eq!(delete.expect_error(405), "method_not_allowed");
    assert!(delete.header("allow").is_some_and(|a| a.contains("GET")));
    assert_eq!(server.get(finalize_b).expect_error(405), "method_not_allowed");
    assert_eq!(server.get("/api/nothing-here").expect_error(404), "not_found");
    let auth = format!("Bearer {}", server.token);
    let huge = vec![b'x'; 1 << 20];
    let too_large = server.request("POST", finalize_b, &[("Authorization", &auth)], &huge);
    assert_eq!(too_large.expect_error(413), "body_too_large");
    let rebound = server.request("GET", "/api/runs", &[("Host", "attacker.example:80")], b"");
    assert_eq!(rebound.expect_error(403), "bad_host");
    // An absolute-form request line names its host itself, whatever the Host header says.
    let absolute = send(server.addr, "GET", "http://attacker.example/api/runs", &[], b"");
    assert_eq!(absolute.expect_error(403), "bad_host");
    let no_host = send(server.addr, "GET", "/api/runs", &[("Host", "")], b"");
    assert!(no_host.status == 400 || no_host.status == 403, "{}", no_host.status);
    assert_eq!(
        server.get("/api/runs").status,
        200,
        "still serving after every bad request"
    );
}

#[test]
fn serve_prints_its_address_and_token_and_stops_on_ctrl_c() {
    let repo = TestRepo::new();
    let mut server = Served::start(&repo, &[]);
    assert!(server.banner.contains("loopback only"), "{}", server.banner);
    assert_eq!(server.token.len(), 64);
    assert!(server.token.bytes().all(|b| b.is_ascii_hexdigit()));
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("No runs yet"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.contains("default-src 'none'"))
    );
    assert_eq!(
        server.interrupt(Duration::from_secs(10)),
        Some(0),
        "Ctrl-C stops it cleanly"
    );

    // A second server gets its own token.
    let other = Served::start(&repo, &[]);
    assert_ne!(other.token, server.token);
    // The address in use: one line, exit 2.
    let busy = repo.proof(&["serve", "--addr", &other.addr.to_string()]).expect_code(2);
    assert!(busy.one_error_line().contains("cannot listen on"), "{}", busy.stderr);
    // Not a repository: one line, exit 2, no server.
    let outside = tempfile::tempdir().unwrap();
    let run = repo.proof(&["-C", outside.path().to_str().unwrap(), "serve", "--addr", "127.0.0.1:0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    run.one_error_line();
}

/// `--open` starts the desktop's opener (`xdg-open`) with the printed URL; without one the
/// server says so in one line and serves all the same.
#[test]
fn serve_open_hands_the_url_to_the_opener() {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let repo = TestRepo::new();
    let bin = tempfile::tempdir().unwrap();
    let opened = bin.path().join("opened");
    let opener = bin.path().join("xdg-open");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let mut server = Served::start_with(&repo, &["--open"], |cmd| {
        cmd.env("PATH", &path);
    });
    let waited = std::time::Instant::now();
    // The opener creates the file before it writes the URL into it.
    let written = || std::fs::read_to_string(&opened).is_ok_and(|text| text.ends_with('/'));
    while !written() && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = std::fs::read_to_string(&opened).expect("the opener ran");
    assert_eq!(url, format!("http://{}/", server.addr));
    assert_eq!(server.interrupt(Duration::from_secs(10)), Some(0));

    let empty = tempfile::tempdir().unwrap();
    let mut server = Served::start_with(&repo, &["--open"], |cmd| {
        cmd.env("PATH", empty.path()).stderr(std::process::Stdio::piped());
    });
    assert_eq!(server.get("/api/runs").status, 200, "serving without an opener");
    assert_eq!(server.interrupt(Duration::from_secs(10)), Some(0));
    let mut stderr = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("xdg-open")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains(&format!("open http://{}/ yourself", server.addr)),
        "{stderr}"
    );
}

/// The headless browser, or `None` (then the test says it skipped) where none is installed and
/// `GIT_PROOF_REQUIRE_BROWSER` is not set; CI sets it, so there the test never skips.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| crate::common::which(name));
    if found.is_none() {
        assert!(
            std::env::var_os("GIT_PROOF_REQUIRE_BROWSER").is_none(),
            "GIT_PROOF_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)"
        );
        crate::common::skipped(
            "the Proof view in a browser",
            "no chromium on PATH (apt-get install chromium; CI sets GIT_PROOF_REQUIRE_BROWSER)",
        );
    }
    found
}

/// How every test starts Chromium: headless, and as root in a container.
const HEADLESS: [&str; 6] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--hide-scrollbars",
];

/// Runs headless Chromium on `url` with `args` (`--dump-dom`); returns stdout.
fn browse(browser: &Path, profile: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(browser)
        .args(HEADLESS)
        .arg("--virtual-time-budget=2000")
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where screenshots go: kept after the test, under the target directory.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The element of the DOM dump that carries `attribute`, as text up to its end tag.
fn element<'a>(dom: &'a str, attribute: &str) -> &'a str {
    let at = dom
        .find(attribute)
        .unwrap_or_else(|| panic!("no element with {attribute} in the page"));
    let start = dom[..at].rfind('<').unwrap();
    let end = dom[at..].find("</tr>").or_else(|| dom[at..].find("</li>")).unwrap() + at;
    &dom[start..end]
}

#[test]
fn proof_view_in_headless_chromium_shows_files_numbers_and_badges() {
    let Some(browser) = chromium() else { return };
    let repo = TestRepo::new();
    trust(&repo);
    repo.write("src/lib.rs", "fn one() {}\nfn two() {}\n");
    repo.write("docs/guide.md", "one\ntwo\nthree\n");
    let base = repo.commit_all("before the run");
    let head = proven_run(
        &repo,
        "run-view",
        &["--scope", "src/**", "--dod", "tests=true", "--dod", "lint=false"],
        &[
            ("src/lib.rs", "fn one() {}\nfn three() {}\nfn four() {}\n"),
            ("src/new.rs", "pub fn new() {}\n"),
            ("docs/guide.md", "one\n"),
            (XSS_NAME, "boom\n"),
            (XSS_TRACE_NAME, "trace\n"),
        ],
    );
    proven_run(&repo, GENERATED_ID, &[], &[("notes/generated.txt", "g\n")]);
    proven_run(&repo, LONG_ID, &[], &[("notes/long.txt", "l\n")]);
    // A zone east of UTC, so that the screenshots show times as a reader there sees them.
    let server = Served::start_with(&repo, &[], |cmd| {
        cmd.env("TZ", "Europe/Berlin");
    });
    let url = format!("http://{}/runs/run-view", server.addr);
    let profile = repo.tmp.path().join("chromium-profile");
    let dom = browse(&browser, &profile, &url, &["--dump-dom"]);

    // Every changed file with git's own numbers.
    let expected = git_diff_entries(&repo, &base, &head);
    assert_eq!(expected.len(), 5);
    for entry in &expected {
        let row = element(&dom, &format!("data-path=\"{}\"", escape(&entry.path)));
        assert!(row.contains(&format!("data-status=\"{}\"", entry.status)), "{row}");
        assert!(row.contains(&format!("+{}<", entry.insertions)), "{row}");
        assert!(row.contains(&format!("−{}<", entry.deletions)), "{row}");
    }
    let insertions: u64 = expected.iter().map(|e| e.insertions).sum();
    let deletions: u64 = expected.iter().map(|e| e.deletions).sum();
    assert!(
        dom.contains(&format!(
            "5 files, <span class=\"plus\">+{insertions}</span> <span class=\"minus\">−{deletions}</span>"
        )),
        "totals"
    );
    // The badges: a passed and a failed check, a pending violation per path outside src/**.
    let tests = element(&dom, "data-check=\"tests\"");
    assert!(
        tests.contains("data-status=\"passed\"") && tests.contains(">passed</span>"),
        "{tests}"
    );
    let lint = element(&dom, "data-check=\"lint\"");
    assert!(
        lint.contains("data-status=\"failed\"") && lint.contains(">failed</span>"),
        "{lint}"
    );
    let violations = &dom[dom.find("id=\"violations\"").unwrap()..dom.find("id=\"scope\"").unwrap()];
    for path in ["docs/guide.md", XSS_NAME, XSS_TRACE_NAME] {
        let row = element(violations, &format!("data-path=\"{}\"", escape(path)));
        assert!(row.contains("badge approval-pending\">pending<"), "{row}");
    }
    assert!(!violations.contains("src/lib.rs"), "in scope");
    // Signature checked against the configured trust, and by whom.
    assert!(dom.contains("badge sig-valid\">valid<"), "signature state");
    assert!(dom.contains("signed by agent@example.com (SHA256:"), "signer");
    // The evidence summary.
    let bundle = repo.bundle("run-view");
    let root = bundle["evidence"]["event_hash_root"].as_str().unwrap();
    assert!(dom.contains(root), "event hash root");
    assert!(dom.contains("data-flag=\"terminal_event_present\">yes<"));
    // The download link serves exactly what `show --json` prints; nothing links outside.
    assert!(dom.contains("href=\"/api/runs/run-view/proof\""));
    assert_eq!(
        server.get("/api/runs/run-view/proof").text(),
        repo.proof(&["show", "--json", "run-view"]).ok().stdout
    );
    assert!(!dom.contains("href=\"http"), "no external links");

    // The file names that are HTML stayed text: no element was made of them, nothing ran.
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;.txt"));
    assert!(!dom.contains("<img"), "an <img> element was created from a file name");
    assert!(!dom.contains("<svg"), "an <svg> element was created from a file name");
    assert!(
        dom.contains("<title>Run run-view · git-proof</title>"),
        "the title changed: script ran"
    );

    // The index page lists the run with its numbers.
    let index = browse(&browser, &profile, &format!("http://{}/", server.addr), &["--dump-dom"]);
    let row = element(&index, "data-run=\"run-view\"");
    assert!(
        row.contains(">5<") && row.contains("1 passed") && row.contains("1 failed"),
        "{row}"
    );
    assert!(cell(row, "Pending").contains("badge approval-pending\">3<"), "{row}");
    assert!(
        index.contains(&format!("title=\"{LONG_ID}\">{LONG_ID}</a>")),
        "the full id"
    );

    // Laid out at a laptop, a tablet and a phone width: every id on one line inside the page (a
    // generated one whole, a long one cut) and the Status of every run on screen; on the laptop
    // and the phone no column is hidden behind sideways scrolling (a tablet in portrait may
    // scroll the last ones). Screenshots of the same layouts are kept as test artifacts.
    let mut tools = Devtools::start(&browser, &repo.tmp.path().join("devtools-profile"));
    let index_url = format!("http://{}/", server.addr);
    for (width, mobile) in [(1280, false), (768, true), (390, true)] {
        tools.open(&index_url, (width, 1000), mobile);
        let layout = tools.evaluate(LAYOUT_PROBE);
        eprintln!("index page at {width} px: {layout}");
        assert_eq!(layout["width"], width, "the viewport: {layout}");
        assert!(layout["page_width"].as_u64() <= Some(u64::from(width)), "{layout}");
        if width != 768 {
            assert_eq!(layout["hidden_by_scrolling"], 0, "{layout}");
        }
        let rows = layout["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 3, "{layout}");
        for row in rows {
            for key in ["id_inside", "status_inside", "status_hit"] {
                assert_eq!(row[key], true, "{key} at {width} px: {row}");
            }
            assert_eq!(row["id_lines"], 1, "at {width} px: {row}");
            assert_eq!(row["started_lines"], 1, "at {width} px: {row}");
            assert_eq!(row["id_whole"], row["run"] != LONG_ID, "at {width} px: {row}");
            // At phone width each row is a card whose lines are labelled.
            let label = if width < 640 { "\"Status\"" } else { "none" };
            assert_eq!(row["status_label"], label, "at {width} px: {row}");
        }
    }
    for (name, url, size, mobile) in [
        ("proof-view.png", &url, (1280, 1500), false),
        ("proof-view-phone.png", &url, (390, 1500), true),
        ("index-phone.png", &index_url, (390, 1000), true),
    ] {
        tools.open(url, size, mobile);
        let png = tools.screenshot();
        assert_eq!(png_size(&png), size, "{name}");
        assert!(png.len() > 10_000, "{name}");
        let shot = artifacts().join(name);
        std::fs::write(&shot, png).unwrap();
        eprintln!("screenshot: {}", shot.display());
    }
}

/// The cell of `row` that carries `data-label="label"`, as text up to its end tag.
fn cell<'a>(row: &'a str, label: &str) -> &'a str {
    let at = row
        .find(&format!("data-label=\"{label}\""))
        .unwrap_or_else(|| panic!("no {label} cell in {row}"));
    let end = row[at..].find("</td>").map_or(row.len(), |end| end + at);
    &row[at..end]
}

/// Times are shown in the server's zone (`TZ`) with their offset, the exact UTC time in
/// `datetime` and the tooltip; the index page counts each run's violations that are not approved,
/// as the API does.
#[test]
fn pages_show_local_times_with_offset_and_pending_violations() {
    let repo = TestRepo::new();
    trust(&repo);
    proven_run(
        &repo,
        "run-scoped",
        &["--scope", "src/**"],
        &[("docs/a.md", "a\n"), ("docs/b.md", "b\n"), ("src/c.rs", "c\n")],
    );
    repo.proof(&["approve", "run-scoped", "docs/a.md", "--reason", "fine"])
        .ok();
    proven_run(&repo, "run-clean", &["--scope", "src/**"], &[("src/d.rs", "d\n")]);
    repo.proof(&["start", "--run-id", "run-open"]).ok();
    let kolkata = Served::start_with(&repo, &[], |cmd| {
        cmd.env("TZ", "Asia/Kolkata");
    });
    // Every time the test repository records is DATE, 10:00 UTC: 15:30 in India, +05:30.
    let local = format!("<time datetime=\"{DATE}\" title=\"{DATE}\">2026-11-23 15:30 +05:30</time>");

    let index = kolkata.get("/").text();
    let scoped = element(&index, "data-run=\"run-scoped\"");
    assert!(cell(scoped, "Started").contains(&local), "{scoped}");
    // docs/b.md is pending; docs/a.md is approved by a trusted decision.
    assert!(
        cell(scoped, "Pending").contains("badge approval-pending\">1</span>"),
        "{scoped}"
    );
    assert!(cell(element(&index, "data-run=\"run-clean\""), "Pending").ends_with(">0"));
    assert!(cell(element(&index, "data-run=\"run-open\""), "Pending").ends_with(">–"));
    let listed = kolkata.get("/api/runs").json();
    assert_eq!(listed["runs"][2]["run_id"], "run-scoped");
    assert_eq!(listed["runs"][2]["proof"]["violations_pending"], 1);
    assert_eq!(listed["runs"][2]["started_at"], DATE, "the API keeps UTC");

    // The Proof view: when the proof was made, and when the decision was.
    let view = kolkata.get("/runs/run-scoped").text();
    assert!(view.contains(&format!("generated {local}")), "{view}");
    let violations = &view[view.find("id=\"violations\"").unwrap()..];
    let decided = element(violations, "data-path=\"docs/a.md\"");
    assert!(cell(decided, "By").contains(&local), "{decided}");
    let open = kolkata.get("/runs/run-open").text();
    assert!(open.contains(&format!("started {local}")), "{open}");

    // West of UTC, in winter time: the offset follows the zone the server runs in.
    let new_york = Served::start_with(&repo, &[], |cmd| {
        cmd.env("TZ", "America/New_York");
    });
    let index = new_york.get("/").text();
    assert!(
        cell(element(&index, "data-run=\"run-open\""), "Started").contains(&format!(
            "<time datetime=\"{DATE}\" title=\"{DATE}\">2026-11-23 05:00 -05:00</time>"
        )),
        "{index}"
    );
}

/// A run id as `git proof start` makes it (a ULID), and one longer than a phone is wide.
const GENERATED_ID: &str = "01JDQ5N8ZC6Y4W7X3M2K9T0RVB";
const LONG_ID: &str = "a-run-id-that-someone-chose-by-hand-and-that-is-longer-than-a-phone-is-wide";

/// Measures the index page as the browser laid it out: for each run, on how many lines the id's
/// text is (the tops of a range's client rects: a line box each; an ellipsis adds a rect on the
/// same line), whether its text is shown whole (not cut by the ellipsis), on how many lines the
/// start time is, whether the Status cell and badge lie inside the viewport and the badge is what
/// a tap in its middle hits, and the Status cell's label (its `::before`, shown at phone width).
const LAYOUT_PROBE: &str = r#"(() => {
  const inside = (r) => r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= innerWidth;
  const lines = (node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  };
  const rows = [...document.querySelectorAll('tr[data-run]')].map((tr) => {
    const id = tr.querySelector('a.run-id');
    const status = tr.querySelector('td[data-label="Status"]');
    const badge = status.querySelector('.badge').getBoundingClientRect();
    const hit = document.elementFromPoint(badge.left + badge.width / 2, badge.top + badge.height / 2);
    return {
      run: tr.dataset.run,
      id_lines: lines(id),
      id_inside: inside(id.getBoundingClientRect()),
      id_whole: id.scrollWidth <= id.clientWidth,
      started_lines: lines(tr.querySelector('td[data-label="Started"]')),
      status_inside: inside(status.getBoundingClientRect()) && inside(badge),
      status_hit: status.contains(hit),
      status_label: getComputedStyle(status, '::before').content,
    };
  });
  const table = document.querySelector('table.runs').parentElement;
  return {
    width: innerWidth,
    page_width: document.documentElement.scrollWidth,
    hidden_by_scrolling: table.scrollWidth - table.clientWidth,
    rows,
  };
})()"#;

/// Headless Chromium driven over the DevTools protocol, for what its command line cannot do: a
/// viewport narrower than its windows can be (`--window-size=390,...` lays a page out 500 px
/// wide and crops the screenshot to 390), and measuring a page whose Content-Security-Policy
/// forbids scripts (DevTools evaluates outside the page's policy, so the page is the one the
/// server sends). The protocol runs on a pipe (`--remote-debugging-pipe`: commands on fd 3,
/// answers on fd 4, each a JSON text ending in a NUL byte), here the child's stdin and stdout.
struct Devtools {
    child: std::process::Child,
    commands: std::process::ChildStdin,
    messages: std::sync::mpsc::Receiver<Value>,
    /// Events read while waiting for an answer.
    events: Vec<Value>,
    session: Option<String>,
    last_id: u64,
}

impl Devtools {
    fn start(browser: &Path, profile: &Path) -> Self {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = Command::new("sh")
            .args(["-c", r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >&2"#])
            .arg(browser)
            .args(HEADLESS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium runs");
        let mut answers = std::io::BufReader::new(child.stdout.take().unwrap());
        let (sender, messages) = std::sync::mpsc::channel();
        // A reader thread, so that a browser that stops answering fails the test, not hangs it.
        std::thread::spawn(move || {
            let mut message = Vec::new();
            while answers.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                let text = message.strip_suffix(b"\0").unwrap_or(&message);
                if let Ok(value) = serde_json::from_slice(text)
                    && sender.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        let commands = child.stdin.take().unwrap();
        let mut tools = Self {
            child,
            commands,
            messages,
            events: Vec::new(),
            session: None,
            last_id: 0,
        };
        let target = tools.call("Target.createTarget", serde_json::json!({ "url": "about:blank" }));
        let attached = tools.call(
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target["targetId"], "flatten": true }),
        );
        tools.session = attached["sessionId"].as_str().map(str::to_owned);
        tools.call("Page.enable", serde_json::json!({}));
        tools
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        use std::io::Write;
        self.last_id += 1;
        let id = self.last_id;
        let mut command = serde_json::json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            command["sessionId"] = session.as_str().into();
        }
        let mut bytes = serde_json::to_vec(&command).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).expect("chromium reads commands");
        loop {
            let message = self.next(method);
            if message["id"] == id {
                assert!(message["error"].is_null(), "{method}: {message}");
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    fn next(&mut self, waiting_for: &str) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("chromium did not answer {waiting_for} within 30 s"))
    }

    /// Loads `url` in a viewport of `width` × `height` CSS pixels and waits for its load event;
    /// `mobile` lays it out as a phone does (the page's viewport meta applies).
    fn open(&mut self, url: &str, (width, height): (u32, u32), mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        );
        self.events.clear();
        self.call("Page.navigate", serde_json::json!({ "url": url }));
        while !self.events.iter().any(|e| e["method"] == "Page.loadEventFired") {
            let event = self.next("Page.loadEventFired");
            self.events.push(event);
        }
    }

    /// The value of a JavaScript expression evaluated in the page.
    fn evaluate(&mut self, expression: &str) -> Value {
        let params = serde_json::json!({ "expression": expression, "returnByValue": true });
        let answer = self.call("Runtime.evaluate", params);
        assert!(answer["exceptionDetails"].is_null(), "{answer}");
        answer["result"]["value"].clone()
    }

    /// The viewport as a PNG (the protocol sends it in base64; coreutils decodes it).
    fn screenshot(&mut self) -> Vec<u8> {
        use std::io::Write;
        use std::process::Stdio;
        let shot = self.call("Page.captureScreenshot", serde_json::json!({ "format": "png" }));
        let mut decode = Command::new("base64")
            .arg("--decode")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("base64 runs");
        let data = shot["data"].as_str().unwrap_or_default().to_owned();
        let mut input = decode.stdin.take().unwrap();
        let writer = std::thread::spawn(move || input.write_all(data.as_bytes()));
        let out = decode.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "base64 --decode failed");
        out.stdout
    }
}

impl Drop for Devtools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The width and height a PNG says it has.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 24, "not a PNG");
    let number = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (number(16), number(20))
}

/// HTML attribute escaping as the page does it (and Chromium serializes it back).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn proof_view_of_unknown_and_active_runs() {
    let repo = TestRepo::new();
    repo.proof(&["start", "--run-id", "run-open"]).ok();
    let server = Served::start(&repo, &[]);
    let active = server.get("/runs/run-open");
    assert_eq!(active.status, 200);
    assert!(active.text().contains("has no proof yet"), "{}", active.text());
    assert!(active.text().contains("badge run-active"));
    let unknown = server.get("/runs/no-such-run");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.header("content-type"), Some("text/html; charset=utf-8"));
    let bad = server.get("/runs/..%2f..%2fetc");
    assert_eq!(bad.status, 400);
    let bad_page = server.get("/?page=abc");
    assert_eq!(bad_page.status, 400);
    // No trust configured: the signature is reported unverified, never valid.
    repo.write("x.txt", "x\n");
    repo.commit_all("work");
    repo.proof(&["finish", "--run", "run-open"]).ok();
    let view = server.get("/runs/run-open").text();
    assert!(view.contains("badge sig-unverified"), "{view}");
}

/// Idle clients cannot take the server down: with 256 file descriptors, 400 connections that
/// never send a request are accepted as descriptors allow, closed after the idle timeout, and
/// the server answers again.
#[test]
fn idle_connections_are_closed_and_the_server_survives_running_out_of_descriptors() {
    use std::net::TcpStream;
    let repo = TestRepo::new();
    let mut command = std::process::Command::new("sh");
    crate::common::pin_env(&mut command, &repo.home());
    command
        .current_dir(&repo.root)
        .env("GIT_PROOF_KEY", &repo.key)
        .args(["-c", r#"ulimit -n 256 && exec "$0" "$@""#, crate::common::bin()])
        .args(["serve", "--addr", "127.0.0.1:0", "--idle-timeout", "1"])
        .stderr(std::process::Stdio::null());
    let server = Served::spawn(command);
    let idle: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect_timeout(&server.addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(idle.len() >= 250, "{} connected", idle.len());
    // Past the idle timeout the server has closed them, and serves a new client.
    std::thread::sleep(Duration::from_millis(2500));
    let mut closed = 0;
    for mut stream in idle {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        if matches!(std::io::Read::read(&mut stream, &mut buf), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert!(closed >= 250, "{closed} closed by the server");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answer = std::panic::catch_unwind(|| server.get("/api/runs").status);
        if answer.is_ok_and(|s| s == 200) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the server no longer answers");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Mutated request lines and headers (bit flips, cuts, doubled and swapped lines): the server
/// answers each with a status (never 500), or closes the connection, and goes on serving.
#[test]
fn mutated_requests_never_break_the_server() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let repo = TestRepo::new();
    let server = Served::start(&repo, &["--idle-timeout", "1"]);
    let seeds = [
        format!(
            "GET /api/runs?page=2 HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
            server.addr
        ),
        format!(
            "POST /v1/runs/r1/evidence/finalize HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Length: 2\r\n\r\n{{}}",
            server.addr, server.token
        ),
        format!(
            "GET /runs/01M8SEDTQS3ABHD4JF0NCK5KS7 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        ),
    ];
    let mut rng = crate::fuzz::Rng(0xbad_5eed);
    let rounds = 600;
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..rounds {
        let request = crate::fuzz::mutate(&mut rng, seeds[round % seeds.len()].as_bytes());
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = stream.write_all(&request);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let status = String::from_utf8_lossy(&answer)
            .split_whitespace()
            .nth(1)
            .unwrap_or("closed")
            .to_owned();
        assert!(
            !status.starts_with('5'),
            "{status} for {:?}",
            String::from_utf8_lossy(&request)
        );
        *statuses.entry(status).or_default() += 1;
    }
    eprintln!("{rounds} mutated requests: {statuses:?}");
    assert_eq!(server.get("/api/runs").status, 200, "still serving");
}

#[test]
fn serve_listens_on_a_name() {
    let repo = TestRepo::new();
    let mut command = repo.proof_cmd(&["serve", "--addr", "localhost:0"]);
    command.stderr(std::process::Stdio::null());
    let mut server = Served::spawn(command);
    assert!(server.addr.ip().is_loopback(), "{}", server.addr);
    assert_eq!(server.get("/api/runs").status, 200);
    assert_eq!(server.interrupt(Duration::from_secs(10)), Some(0));
}
