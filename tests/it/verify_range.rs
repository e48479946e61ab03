//! verify over ranges, for CI: mixed histories, who must have a proof, and report formats.

use serde_json::Value;

use crate::common::TestRepo;

const TRAILER: &str = "\n\nCo-Authored-By: Claude <noreply@anthropic.com>";

#[test]
fn a_range_of_300_commits_reports_exactly_the_forged_proof() {
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    let mut proven = Vec::new();
    for i in 0..300 {
        repo.write(&format!("f{}.txt", i % 17), format!("{i}\n"));
        if i % 3 == 0 {
            repo.start(&[]);
            let head = repo.commit_all(&format!("agent change {i}{TRAILER}"));
            repo.proof(&["finish"]).ok();
            proven.push(head);
        } else {
            repo.commit_all(&format!("human change {i}"));
        }
    }
    let forged = proven[57].clone();
    let note = repo.note(&forged).replacen("\"exit_code\": 0", "\"exit_code\": 1", 1);
    repo.replace_note(&forged, &note);

    let range = format!("{base}..HEAD");
    let out = repo
        .verify(&[&range, "--require-for", "agents", "--format", "json"])
        .expect_code(1);
    let reports: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(reports.len(), 300);
    let bad: Vec<&str> = reports
        .iter()
        .filter(|r| r["verdict"] != "valid" && r["verdict"] != "none")
        .map(|r| r["commit"].as_str().unwrap())
        .collect();
    assert_eq!(bad, [forged.as_str()]);
    assert_eq!(reports.iter().filter(|r| r["verdict"] == "valid").count(), 99);
    assert_eq!(reports.iter().filter(|r| r["verdict"] == "none").count(), 200);
    // --require fails every human commit too.
    let out = repo.verify(&[&range, "--require", "--format", "json"]).expect_code(1);
    let reports: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(reports.iter().filter(|r| r["verdict"] == "missing").count(), 200);

    // The walk is checked while it runs, in batches on several threads; the reports still come
    // in git's order: each argument's commits oldest first, each commit once, where first named.
    let revs = ["HEAD~250..HEAD~100", "HEAD~120..HEAD", "HEAD~5", "HEAD~130"];
    let mut expected = Vec::new();
    for rev in revs {
        let listed = repo.git(&["rev-list", "--reverse", "--no-walk", rev]);
        let listed = if rev.contains("..") {
            repo.git(&["rev-list", "--reverse", rev])
        } else {
            listed
        };
        for commit in listed.lines() {
            if !expected.iter().any(|c: &String| c == commit) {
                expected.push(commit.to_owned());
            }
        }
    }
    let mut args = revs.to_vec();
    args.extend(["--format", "json"]);
    let reports: Vec<Value> = serde_json::from_str(&repo.verify(&args).expect_code(1).stdout).unwrap();
    let order: Vec<&str> = reports.iter().map(|r| r["commit"].as_str().unwrap()).collect();
    // 150, then the 100 of the second range the first did not have; the last two are repeats.
    assert_eq!(order.len(), 250);
    assert_eq!(order, expected);
}

#[test]
fn require_for_agents_fails_only_agent_looking_commits_without_proof() {
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.write("a.txt", "a\n");
    repo.commit_all("a human commit");
    repo.write("b.txt", "b\n");
    let claude = repo.commit_all(&format!("an unproven agent commit{TRAILER}"));
    let range = format!("{base}..HEAD");
    let out = repo.verify(&[&range, "--require-for", "agents"]).expect_code(1);
    assert!(
        out.stdout.contains("missing") && out.stdout.contains("Co-Authored-By"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&claude[..10]), "{}", out.stdout);

    // aider names itself in the author; a policy pattern names a house bot.
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.write("c.txt", "c\n");
    repo.git(&["add", "-A"]);
    let status = repo
        .git_command(&repo.root)
        .env("GIT_AUTHOR_NAME", "Agent Smith (aider)")
        .args(["commit", "-qm", "aider edit"])
        .status()
        .unwrap();
    assert!(status.success());
    let out = repo
        .verify(&[&format!("{base}..HEAD"), "--require-for", "agents"])
        .expect_code(1);
    assert!(out.stdout.contains("aider"), "{}", out.stdout);

    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.write(".proof/policy.toml", "[verify]\nagents = [\"agent@example.com\"]\n");
    repo.commit_all("house bot commit");
    let out = repo
        .verify(&[&format!("{base}..HEAD"), "--require-for", "agents"])
        .expect_code(1);
    assert!(out.stdout.contains("policy's agent pattern"), "{}", out.stdout);
    repo.write(".proof/policy.toml", "[verify]\nagents = [\"someone-else\"]\n");
    repo.verify(&["HEAD", "--require-for", "agents"]).ok();
}

#[test]
fn github_and_junit_reports() {
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.start(&[]);
    repo.write("x.txt", "x\n");
    let good = repo.commit_all("proven");
    repo.proof(&["finish"]).ok();
    repo.write("y.txt", "y\n");
    let bad = repo.commit_all(&format!("unproven <agent> & co{TRAILER}"));
    let range = format!("{base}..HEAD");

    let out = repo.verify(&[&range, "--require", "--format", "github"]).expect_code(1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with(&format!("::error title=git proof verify: {} missing::", &bad[..10])),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("2 commits, 1 with a valid proof, 1 failing"),
        "{}",
        lines[1]
    );

    let out = repo.verify(&[&range, "--require", "--format", "junit"]).expect_code(1);
    let xml = out.stdout;
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains(&format!("name=\"{good} valid\"/>")), "{xml}");
    assert!(
        xml.contains(&format!("name=\"{bad} missing\"><failure message=\"no proof note\"")),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase").count(), 2);
}

#[test]
fn a_long_range_shows_progress_on_a_terminal_only() {
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]);
    let mut script = String::new();
    for i in 0..600 {
        script.push_str(&format!(
            "commit refs/heads/main\ncommitter A <a@example.com> {} +0000\ndata 2\nc\n{}M 100644 inline f.txt\ndata {}\n{i}\n\n",
            1_795_428_000 + i,
            if i == 0 { "from refs/heads/main^0\n" } else { "" },
            format!("{i}").len() + 1
        ));
    }
    repo.git_with_input(&["fast-import", "--quiet"], &script);
    let range = format!("{base}..main");
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    let command = format!("{} verify {range} --allowed-signers {signers}", crate::common::bin());
    let mut cmd = std::process::Command::new("script");
    crate::common::pin_env(&mut cmd, &repo.home());
    let out: crate::common::Run = cmd
        .args(["-qec", &command, "/dev/null"])
        .current_dir(&repo.root)
        .env("SHELL", "/bin/sh")
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("verified 600/600 commits"),
        "{:?}",
        &out.stdout[..out.stdout.len().min(300)]
    );
    let out = repo.verify(&[&range]).ok();
    assert!(!out.stderr.contains("verified"), "no progress without a terminal");
}
