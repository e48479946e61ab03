//! Policy in the repository, scope globs on real paths, and DoD checks that run, time out, or
//! cannot start.

use std::os::unix::ffi::OsStrExt;

use serde_json::{Value, json};

use crate::common::TestRepo;

fn violations(bundle: &Value) -> Vec<(String, String)> {
    bundle["scope_violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_owned(),
                v["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn policy_file_and_command_line_merge_and_say_where_each_rule_came_from() {
    let repo = TestRepo::new();
    repo.write(
        ".proof/policy.toml",
        r#"
[scope]
allow = ["src/**"]
deny = ["src/secrets/**"]

[[dod]]
name = "test"
command = "true"
timeout_s = 900

[[dod]]
name = "lint"
command = "exit 1"
cwd = "src"
env = ["HOME"]
"#,
    );
    std::fs::create_dir_all(repo.path("src")).unwrap();
    repo.write("src/keep.rs", "");
    repo.commit_all("policy");
    let run_id = repo.start(&["--scope", "docs/**", "--dod", "lint=true"]);
    repo.proof(&["finish"]).ok();
    let b = repo.bundle(&run_id);
    assert_eq!(
        b["scope_snapshot"],
        json!({"allow": ["src/**", "docs/**"], "deny": ["src/secrets/**"], "source": "policy+cli"})
    );
    assert_eq!(
        b["dod_snapshot"],
        json!([
            {"name": "test", "command": "true", "timeout_s": 900, "cwd": null, "env": [], "source": "policy"},
            {"name": "lint", "command": "true", "timeout_s": 600, "cwd": null, "env": [], "source": "cli"}
        ])
    );
    let statuses: Vec<&str> = b["dod_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["passed", "passed"]);
}

#[test]
fn a_malformed_policy_names_file_and_line_and_starts_nothing() {
    let repo = TestRepo::new();
    repo.write(
        ".proof/policy.toml",
        "[scope]\nallow = [\"src/**\"]\n\n[[dod]]\nname = \"x\"\ncommand = 7\n",
    );
    let out = repo.proof(&["start"]).expect_code(2);
    let line = out.one_error_line();
    assert!(line.contains(".proof/policy.toml:6"), "{line}");
    let out = repo.proof(&["log", "--json"]).ok();
    assert_eq!(out.json(), json!([]));
    repo.write(".proof/policy.toml", "[scope]\nalow = [\"x\"]\n");
    let out = repo.proof(&["start"]).expect_code(2);
    assert!(out.one_error_line().contains("unknown field"), "{}", out.stderr);
}

#[test]
fn globs_behave_like_gitignore_on_real_paths() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[
        "--scope",
        "src/**",
        "--scope",
        "/top.txt",
        "--scope",
        "docs/",
        "--scope",
        "*.md",
        "--scope",
        "my dir/**",
        "--scope",
        "bytes*.log",
        "--deny",
        "**/secrets/**",
        "--deny",
        ".env*",
    ]);
    for path in [
        "src/a/b/c/deep.rs",
        "top.txt",
        "nested/top.txt",
        "docs/guide/x.txt",
        "deep/down/NOTES.md",
        "my dir/with space.txt",
        "src/config/secrets/key.pem",
        ".env.local",
        "src/.hidden",
    ] {
        repo.write(path, "x\n");
    }
    // A name that is not UTF-8 (git stores bytes).
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(repo.root.join(raw), "x\n").unwrap();
    // Globs match its bytes, not its quoted form: inside the allow.
    std::fs::write(repo.root.join(std::ffi::OsStr::from_bytes(b"bytes\xe9.log")), "x\n").unwrap();
    repo.commit_all("paths");
    repo.proof(&["finish"]).ok();
    let found = violations(&repo.bundle(&run_id));
    let outside = "outside allow: src/**, /top.txt, docs/, *.md, my dir/**, bytes*.log".to_owned();
    assert_eq!(
        found,
        vec![
            // Recorded as git quotes it, every byte kept.
            (r#""caf\351.txt""#.to_owned(), outside.clone()),
            (".env.local".to_owned(), "inside deny: .env*".to_owned()),
            ("nested/top.txt".to_owned(), outside.clone()),
            (
                "src/config/secrets/key.pem".to_owned(),
                "inside deny: **/secrets/**".to_owned()
            ),
        ]
    );
}

#[test]
fn a_rename_across_the_scope_boundary_checks_both_paths() {
    let repo = TestRepo::new();
    repo.write("lib/moving.rs", "fn f() {}\n".repeat(20));
    repo.commit_all("outside");
    let run_id = repo.start(&["--scope", "src/**"]);
    std::fs::create_dir_all(repo.path("src")).unwrap();
    repo.git(&["mv", "lib/moving.rs", "src/moving.rs"]);
    repo.commit_all("move in");
    repo.proof(&["finish"]).ok();
    let b = repo.bundle(&run_id);
    assert_eq!(b["diff_stat"]["entries"][0]["status"], "R");
    assert_eq!(
        violations(&b),
        vec![("lib/moving.rs".to_owned(), "outside allow: src/**".to_owned())]
    );
}

/// Whether a process still runs: a zombie (killed, not yet reaped by an init that may never
/// reap it in a container) does not count.
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
    }
}

#[test]
fn a_check_that_times_out_is_killed_with_everything_it_started() {
    let repo = TestRepo::new();
    let pidfile = repo.tmp.path().join("child.pid");
    repo.write(
        ".proof/policy.toml",
        format!(
            "[[dod]]\nname = \"hang\"\ncommand = \"sleep 300 & echo $! > {} ; sleep 300\"\ntimeout_s = 1\n",
            pidfile.display()
        ),
    );
    repo.commit_all("policy");
    let run_id = repo.start(&[]);
    let started = std::time::Instant::now();
    repo.proof(&["finish"]).ok();
    assert!(started.elapsed().as_secs() < 30, "the timeout ended the check");
    let result = repo.bundle(&run_id)["dod_results"][0].clone();
    assert_eq!(result["status"], "timeout");
    assert_eq!(result["exit_code"], Value::Null);
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    // The background child of the check is gone too (its process group was killed).
    let mut gone = false;
    for _ in 0..50 {
        if !alive(&pid) {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(gone, "child {pid} of the timed-out check is still running");
}

#[test]
fn a_check_that_cannot_start_is_an_error_not_a_failure() {
    let repo = TestRepo::new();
    repo.write(
        ".proof/policy.toml",
        "[[dod]]\nname = \"nodir\"\ncommand = \"true\"\ncwd = \"no/such/dir\"\n\n[[dod]]\nname = \"noenv\"\ncommand = \"true\"\nenv = [\"GIT_PROOF_TEST_SURELY_UNSET\"]\n",
    );
    repo.commit_all("policy");
    let run_id = repo.start(&[]);
    repo.proof(&["finish"]).ok();
    let b = repo.bundle(&run_id);
    for (i, why) in [(0, "does not exist"), (1, "GIT_PROOF_TEST_SURELY_UNSET is not set")] {
        let r = &b["dod_results"][i];
        assert_eq!(r["status"], "error", "{r}");
        let digest = r["log_digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let log = std::fs::read_to_string(repo.path(&format!(".git/proof/logs/{digest}.log"))).unwrap();
        assert!(log.contains(why), "{log}");
    }
}

#[test]
fn finish_without_dod_records_every_check_as_pending() {
    let repo = TestRepo::new();
    let run_id = repo.start(&["--dod", "a=true", "--dod", "b=false"]);
    repo.proof(&["finish", "--no-dod"]).ok();
    let results = repo.bundle(&run_id)["dod_results"].clone();
    assert_eq!(results[0]["status"], "pending");
    assert_eq!(results[1]["status"], "pending");
    assert_eq!(results[0]["log_digest"], Value::Null);
}

#[test]
fn long_checks_show_progress_on_a_terminal_and_nothing_otherwise() {
    let repo = TestRepo::new();
    repo.start(&["--dod", "slow=sleep 3"]);
    // util-linux `script` gives the command a terminal, as a person's shell would.
    let finish = format!("{} finish", crate::common::bin());
    let mut cmd = std::process::Command::new("script");
    crate::common::pin_env(&mut cmd, &repo.home());
    let out: crate::common::Run = cmd
        .args(["-qec", &finish, "/dev/null"])
        .current_dir(&repo.root)
        .env("SHELL", "/bin/sh")
        .env("GIT_PROOF_KEY", &repo.key)
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("DoD check slow running for 2s"), "{:?}", out.stdout);
    assert!(
        out.stdout.contains("DoD check slow passed after 3s"),
        "{:?}",
        out.stdout
    );

    let repo = TestRepo::new();
    repo.start(&["--dod", "slow=sleep 3"]);
    let out = repo.proof(&["finish"]).ok();
    assert!(
        !out.stderr.contains("running for"),
        "no progress without a terminal: {}",
        out.stderr
    );
}
