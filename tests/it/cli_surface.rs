//! The command line as a person meets it: manual pages through `git proof --help`, completion
//! through bash (and git's own completion), the pager and colour git would choose, one spelling
//! of the run flag, JSON everywhere with JSON errors, `log` filters, verify's summary, keygen.

use std::path::Path;
use std::process::Command;

use crate::common::{Run, TestRepo, bin, pin_env};

/// Runs `command_line` (a shell line) on a terminal, as a person's shell would: util-linux
/// `script` gives it a pseudo-terminal. `env` is added to the pinned environment.
fn on_terminal(repo: &TestRepo, command_line: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("script");
    pin_env(&mut cmd, &repo.home());
    cmd.args(["-qec", command_line, "/dev/null"])
        .current_dir(&repo.root)
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm")
        .env("GIT_PROOF_KEY", &repo.key);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("script (util-linux) is installed").into()
}

/// A proven run with a failing check and a file outside its scope.
fn proven_run(repo: &TestRepo) -> String {
    let run_id = repo.start(&["--scope", "src/**", "--dod", "lint=false"]);
    repo.write("src/a.rs", "fn a() {}\n");
    repo.write("README.md", "# changed\n");
    repo.commit_all("work");
    repo.proof(&["finish"]).ok();
    run_id
}

/// A pager that records it ran (and with which `LESS`), then shows its input.
fn recording_pager(repo: &TestRepo, name: &str) -> String {
    let log = repo.tmp.path().join(format!("{name}.log"));
    let script = repo.tmp.path().join(format!("{name}.sh"));
    std::fs::write(
        &script,
        format!("echo \"{name} LESS=$LESS\" >> {}\ncat\n", log.display()),
    )
    .unwrap();
    format!("sh {}", script.display())
}

fn pager_log(repo: &TestRepo, name: &str) -> String {
    std::fs::read_to_string(repo.tmp.path().join(format!("{name}.log"))).unwrap_or_default()
}

#[test]
fn long_output_goes_through_the_pager_git_would_choose() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    proven_run(&repo);
    let show = format!("{} show HEAD", bin());
    let (git_pager, core_pager, pager) = (
        recording_pager(&repo, "git_pager"),
        recording_pager(&repo, "core_pager"),
        recording_pager(&repo, "pager"),
    );
    repo.git(&["config", "core.pager", &core_pager]);

    // GIT_PAGER first, with git's LESS default.
    let out = on_terminal(&repo, &show, &[("GIT_PAGER", &git_pager), ("PAGER", &pager)]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("definition of done"), "{}", out.stdout);
    assert_eq!(pager_log(&repo, "git_pager"), "git_pager LESS=FRX\n");
    // Without it, core.pager; and a LESS of the user's own is kept.
    let mut cmd_env = vec![("PAGER", pager.as_str()), ("LESS", "-R")];
    let unset = format!("unset GIT_PAGER; {show}");
    on_terminal(&repo, &unset, &cmd_env);
    assert_eq!(pager_log(&repo, "core_pager"), "core_pager LESS=-R\n");
    // Without core.pager, PAGER.
    repo.git(&["config", "--unset", "core.pager"]);
    cmd_env.pop();
    on_terminal(&repo, &unset, &cmd_env);
    assert_eq!(pager_log(&repo, "pager"), "pager LESS=FRX\n");
    // log and verify page too; --no-pager, GIT_PAGER=cat, a pipe, and a pager git started
    // already (GIT_PAGER_IN_USE) do not.
    for command in ["log", "verify HEAD"] {
        on_terminal(&repo, &format!("{} {command}", bin()), &[("GIT_PAGER", &git_pager)]);
    }
    assert_eq!(pager_log(&repo, "git_pager").lines().count(), 3);
    for (line, env) in [
        (format!("{show} --no-pager"), vec![("GIT_PAGER", git_pager.as_str())]),
        (
            format!("{} --no-pager show HEAD", bin()),
            vec![("GIT_PAGER", &git_pager)],
        ),
        (format!("{show} | cat"), vec![("GIT_PAGER", &git_pager)]),
        (
            show.clone(),
            vec![("GIT_PAGER", &git_pager), ("GIT_PAGER_IN_USE", "true")],
        ),
    ] {
        let out = on_terminal(&repo, &line, &env);
        assert!(out.stdout.contains("definition of done"), "{line}: {}", out.stdout);
    }
    assert_eq!(pager_log(&repo, "git_pager").lines().count(), 3, "no pager for those");
    // A pager that cannot start leaves the output on the terminal.
    let out = on_terminal(&repo, &show, &[("GIT_PAGER", "/no/such/pager")]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("definition of done"), "{}", out.stdout);
}

#[test]
fn colour_follows_the_flag_the_config_and_no_color() {
    const GREEN: &str = "\x1b[32m";
    let repo = TestRepo::new();
    repo.trust_our_key();
    let run_id = proven_run(&repo);
    let show = format!("{} show HEAD", bin());
    // Not a terminal: no colour unless asked for.
    let plain = repo.proof(&["show", "HEAD"]).ok();
    assert!(!plain.stdout.contains('\x1b'), "{}", plain.stdout);
    let always = repo.proof(&["show", "HEAD", "--color=always"]).ok();
    assert!(always.stdout.contains(&format!("{GREEN}valid")), "{:?}", always.stdout);
    assert!(always.stdout.contains("\x1b[31m[FAILED]"), "{:?}", always.stdout);
    // `--color` alone means always, as in git.
    assert!(repo.proof(&["--color", "log"]).ok().stdout.contains(GREEN));
    repo.git(&["config", "color.ui", "always"]);
    assert!(repo.proof(&["show", "HEAD"]).ok().stdout.contains(GREEN));
    assert!(
        !repo
            .proof(&["show", "HEAD", "--color=never"])
            .ok()
            .stdout
            .contains('\x1b')
    );
    // color.proof wins over color.ui.
    repo.git(&["config", "color.proof", "never"]);
    assert!(!repo.proof(&["show", "HEAD"]).ok().stdout.contains('\x1b'));
    repo.git(&["config", "--unset", "color.proof"]);
    repo.git(&["config", "color.ui", "auto"]);
    // A terminal: colour, unless NO_COLOR or a dumb terminal says not to.
    let out = on_terminal(&repo, &show, &[]);
    assert!(out.stdout.contains(GREEN), "{:?}", out.stdout);
    let out = on_terminal(&repo, &show, &[("NO_COLOR", "1")]);
    assert!(!out.stdout.contains('\x1b'), "{:?}", out.stdout);
    let out = on_terminal(&repo, &show, &[("TERM", "dumb")]);
    assert!(!out.stdout.contains('\x1b'), "{:?}", out.stdout);
    let out = on_terminal(&repo, &format!("{show} --color=always"), &[("NO_COLOR", "1")]);
    assert!(out.stdout.contains(GREEN), "the flag wins over NO_COLOR");
    // verify colours its verdicts and log its statuses.
    let verify = repo.verify(&["HEAD", "--color=always"]).ok();
    assert!(verify.stdout.contains(&format!("{GREEN}valid")), "{:?}", verify.stdout);
    let log = repo.proof(&["log", "--color=always"]).ok();
    assert!(log.stdout.contains(&format!("{GREEN}succeeded")), "{:?}", log.stdout);
    assert!(log.stdout.contains(&run_id));
}

/// Colour never lets a note's text through: the only escape sequences in coloured output are
/// the colour codes git-proof writes itself.
#[test]
fn colour_does_not_let_a_note_move_the_cursor() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    let run_id = repo.start(&["--dod", "x\x1b[2Jy=false", "--dod", "fake\x1b[32m=true"]);
    repo.write("a.txt", "a\n");
    repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let out = repo.proof(&["show", &run_id, "--color=always"]).ok();
    assert!(!out.stdout.contains("\x1b[2J"), "{:?}", out.stdout);
    assert!(out.stdout.contains("\"x\\033[2Jy\""), "{:?}", out.stdout);
    // Even a colour code from the note is shown escaped: it is not ours.
    assert!(out.stdout.contains("\"fake\\033[32m\""), "{:?}", out.stdout);
    assert!(
        out.stdout.contains("\x1b[31m[FAILED]"),
        "colour is on: {:?}",
        out.stdout
    );
}

#[test]
fn the_run_is_named_with_run_everywhere_and_the_old_spellings_still_work() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    // start: --run, and --run-id as before.
    let first = repo.start(&["--run", "first-run", "--scope", "src/**"]);
    assert_eq!(first, "first-run");
    repo.write("README.md", "# out of scope\n");
    repo.commit_all("one");
    repo.proof(&["finish", "--run", "first-run"]).ok();
    let second = repo.start(&["--run-id", "second-run", "--scope", "src/**"]);
    assert_eq!(second, "second-run");
    repo.write("README.md", "# again\n");
    repo.write("b.txt", "b\n");
    repo.commit_all("two");
    repo.proof(&["finish", "--run", "second-run"]).ok();
    // approve/reject: --run ID PATH..., or the run id first as before.
    let out = repo.proof(&["approve", "--run", "first-run", "README.md"]).ok();
    assert!(out.stdout.starts_with("approved README.md"), "{}", out.stdout);
    repo.proof(&["reject", "second-run", "--all"]).ok();
    let out = repo
        .proof(&["approve", "--run", "second-run", "--all", "b.txt"])
        .expect_code(2);
    assert!(out.one_error_line().contains("--all"), "{}", out.stderr);
    let out = repo.proof(&["approve"]).expect_code(2);
    assert!(out.one_error_line().contains("--run ID"), "{}", out.stderr);
    // show: --run, or a run id or commit as before; --run never reads a commit.
    assert_eq!(
        repo.proof(&["show", "--run", "first-run", "--json"]).ok().json()["run_id"],
        "first-run"
    );
    assert_eq!(
        repo.proof(&["show", "first-run", "--json"]).ok().json()["run_id"],
        "first-run"
    );
    let out = repo.proof(&["show", "--run", "HEAD"]).expect_code(3);
    assert!(out.one_error_line().contains("'HEAD'"), "{}", out.stderr);
    repo.proof(&["show", "HEAD", "--run", "first-run"]).expect_code(2);
    // prove-event: --run ID EVENT, or RUN EVENT as before.
    let bundle = repo.bundle("first-run");
    let event = bundle["evidence"]["events"][0]["event_id"].as_str().unwrap().to_owned();
    let new = repo.proof(&["prove-event", "--run", "first-run", &event]).ok().json();
    let old = repo.proof(&["prove-event", "first-run", &event]).ok().json();
    assert_eq!(new, old);
    assert_eq!(new["run_id"], "first-run");
    repo.proof(&["prove-event", "--run", "first-run", "first-run", &event])
        .expect_code(2);
}

#[test]
fn every_command_that_reports_can_say_it_in_json_and_errors_are_json_too() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    let started = repo.proof(&["start", "--json", "--scope", "src/**"]).ok().json();
    let run_id = started["run_id"].as_str().unwrap().to_owned();
    repo.write("README.md", "# out of scope\n");
    repo.commit_all("one");
    let finished = repo.proof(&["finish", "--json"]).ok().json();
    assert_eq!(finished["run_id"], run_id.as_str());
    assert_eq!(finished["scope_violations"]["pending"], 1);
    let approved = repo.proof(&["approve", &run_id, "README.md", "--json"]).ok().json();
    assert_eq!(approved["decision"], "approved");
    assert_eq!(approved["paths"], serde_json::json!(["README.md"]));
    assert_eq!(approved["signed_on"], finished["commit"]);
    let rejected = repo.proof(&["reject", "--run", &run_id, "--all", "--json"]).ok().json();
    assert_eq!(rejected["decision"], "rejected");

    // run --json: the finish result of the run it started.
    let ran = repo.proof(&["run", "--json", "--", "true"]).ok().json();
    assert_eq!(ran["created"], true);
    assert_eq!(ran["run_status"], "succeeded");

    let reindexed = repo.proof(&["reindex", "--json"]).ok().json();
    // Both runs' proofs are on one commit: `run` committed nothing.
    assert_eq!(reindexed["notes"], 1);
    assert_eq!(reindexed["known"], 2);
    let installed = repo.proof(&["install", "--json"]).ok().json();
    let actions: Vec<&str> = installed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"installed"), "{installed}");
    let agent = repo.proof(&["install", "--agent", "claude-code", "--json"]).ok().json();
    assert_eq!(agent[0]["action"], "created", "{agent}");
    assert_eq!(agent[0]["what"], ".claude/settings.json");
    let removed = repo.proof(&["uninstall", "--json"]).ok().json();
    assert!(
        removed.as_array().unwrap().iter().all(|c| c["action"] == "removed"),
        "{removed}"
    );
    let key = repo.tmp.path().join("json-key");
    let made = repo
        .proof(&[
            "keygen",
            "--out",
            key.to_str().unwrap(),
            "--principal",
            "me@example.com",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(made["principal"], "me@example.com");
    assert!(
        made["allowed_signers_line"]
            .as_str()
            .unwrap()
            .starts_with("me@example.com ")
    );
    assert_eq!(made["public_key"], format!("{}.pub", key.display()));

    // Errors under --json: one JSON object on stderr, with the exit codes of the text errors.
    let (code, message) = repo
        .proof(&["show", "no-such-run", "--json"])
        .expect_code(3)
        .json_error();
    assert_eq!(code, "unknown_run");
    assert!(message.contains("no-such-run"), "{message}");
    let (code, message) = repo.proof(&["log", "--json", "--bogus"]).expect_code(2).json_error();
    assert_eq!(code, "usage");
    assert!(message.contains("--bogus"), "{message}");
    let (code, _) = repo.proof(&["finish", "--json"]).expect_code(3).json_error();
    assert_eq!(code, "no_active_run");
    // Without --json, the same error is one text line; after `--`, --json is the command's.
    repo.proof(&["show", "no-such-run"]).expect_code(3).one_error_line();
    let out = repo
        .proof(&["run", "--", "sh", "-c", "exit 3", "--json"])
        .expect_code(3);
    assert!(!out.stdout.trim_start().starts_with('{'), "{}", out.stdout);
}

#[test]
fn quiet_commands_say_only_what_went_wrong() {
    let repo = TestRepo::new();
    repo.start(&["--dod", "ok=true"]);
    repo.write("a.txt", "a\n");
    repo.commit_all("a");
    let out = repo.proof(&["finish", "-q"]).ok();
    assert_eq!(out.stderr, "", "a quiet finish that went well says nothing");
    repo.start(&["--dod", "bad=false"]);
    repo.write("b.txt", "b\n");
    repo.commit_all("b");
    let out = repo.proof(&["finish", "--quiet"]).ok();
    assert!(out.stderr.contains("DoD check bad failed"), "{}", out.stderr);
    assert!(!out.stderr.contains("written to"), "{}", out.stderr);
    let out = repo.proof(&["run", "-q", "--", "true"]).ok();
    assert_eq!(out.stderr, "");
    assert_eq!(repo.proof(&["reindex", "-q"]).ok().stderr, "");
    let remote = repo.bare_clone();
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    assert_eq!(repo.proof(&["sync", "-q"]).ok().stderr, "");
    let out = repo.verify(&["-q", "HEAD"]).ok();
    assert_eq!(out.stderr, "");
}

#[test]
fn log_filters_by_count_time_and_status_and_shows_local_times() {
    let repo = TestRepo::new();
    let at = |date: &str, args: &[&str]| {
        let mut cmd = repo.proof_cmd(args);
        cmd.env("GIT_PROOF_DATE", date);
        let out: Run = cmd.output().unwrap().into();
        out.ok()
    };
    at("2026-11-01T08:00:00Z", &["start", "--run", "old-run"]);
    at("2026-11-01T08:30:00Z", &["finish", "--exit-code", "1"]);
    at("2026-11-20T08:00:00Z", &["start", "--run", "mid-run"]);
    at("2026-11-20T08:30:00Z", &["finish"]);
    at("2026-11-23T09:00:00Z", &["start", "--run", "new-run"]);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["log"];
        all.extend_from_slice(args);
        repo.proof(&all)
            .ok()
            .stdout
            .lines()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&[]), ["new-run", "mid-run", "old-run"]);
    assert_eq!(ids(&["-n", "2"]), ["new-run", "mid-run"]);
    assert_eq!(ids(&["--max-count", "1"]), ["new-run"]);
    assert_eq!(ids(&["--status", "failed"]), ["old-run"]);
    assert_eq!(ids(&["--status", "active"]), ["new-run"]);
    assert_eq!(ids(&["--status", "succeeded", "-n", "5"]), ["mid-run"]);
    // GIT_PROOF_DATE is 2026-11-23T10:00:00Z here.
    assert_eq!(ids(&["--since", "2026-11-15"]), ["new-run", "mid-run"]);
    assert_eq!(ids(&["--since", "2 days ago"]), ["new-run"]);
    assert_eq!(ids(&["--since", "2026-11-20T08:00:00Z"]), ["new-run", "mid-run"]);
    assert_eq!(ids(&["--since", "30 days"]).len(), 3);
    let json = repo.proof(&["log", "--json", "--status", "failed"]).ok().json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["run_status"], "failed");
    let out = repo.proof(&["log", "--since", "last blue moon"]).expect_code(2);
    assert!(out.one_error_line().contains("--since"), "{}", out.stderr);

    // Times in the zone of the reader, with its offset, as git shows dates.
    let mut cmd = repo.proof_cmd(&["log", "-n", "1"]);
    cmd.env("TZ", "Asia/Kolkata");
    let out = Run::from(cmd.output().unwrap()).ok();
    assert!(out.stdout.contains("2026-11-23 14:30 +05:30"), "{}", out.stdout);
}

#[test]
fn verify_prints_a_line_per_commit_and_a_summary() {
    let repo = TestRepo::new();
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    for i in 0..3 {
        repo.write(&format!("plain{i}.txt"), "x\n");
        repo.commit_all("human work");
    }
    repo.start(&[]);
    repo.write("proven.txt", "x\n");
    repo.commit_all("agent work");
    repo.proof(&["finish"]).ok();
    let range = format!("{base}..HEAD");
    let out = repo.verify(&[&range]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "four commits and the summary:\n{}", out.stdout);
    assert!(lines[..3].iter().all(|l| l.ends_with("  none")), "{}", out.stdout);
    assert!(lines[3].contains("  valid  ") && lines[3].contains("signed by agent@example.com"));
    assert_eq!(lines[4], "4 commits: 1 valid, 3 without a proof (not required); ok");
    let out = repo.verify(&[&range, "--require"]).expect_code(1);
    let entries = crate::common::verify_entries(&out.stdout);
    assert_eq!(entries.len(), 4, "{}", out.stdout);
    assert!(entries[0].ends_with("  missing  no proof note"), "{}", entries[0]);
    assert!(
        out.stdout.ends_with("4 commits: 1 valid, 3 missing; 3 failing\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.lines().all(|l| l.len() < 120), "{}", out.stdout);
}

#[test]
fn keygen_takes_the_global_email_outside_a_repository_and_says_where_the_line_went() {
    let repo = TestRepo::new();
    let outside = tempfile::tempdir().unwrap();
    let home = outside.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let global = home.join(".gitconfig");
    std::fs::write(&global, "[user]\n\temail = dev@example.com\n").unwrap();
    let mut cmd = Command::new(bin());
    pin_env(&mut cmd, &home);
    cmd.env("GIT_CONFIG_GLOBAL", &global)
        .env("HOME", &home)
        .current_dir(outside.path())
        .arg("keygen");
    let out: Run = cmd.output().unwrap().into();
    let out = out.ok();
    assert!(
        out.stdout
            .starts_with("dev@example.com namespaces=\"git-proof\" ssh-ed25519 "),
        "{}",
        out.stdout
    );
    // Redirected, the line is not "above".
    assert!(out.stderr.contains("add the line written to stdout"), "{}", out.stderr);
    use std::os::unix::fs::PermissionsExt as _;
    let ssh = home.join(".ssh");
    assert_eq!(std::fs::metadata(&ssh).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::metadata(ssh.join("git_proof_ed25519"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // On a terminal, it is.
    let key = repo.tmp.path().join("tty-key");
    let out = on_terminal(&repo, &format!("{} keygen --out {}", bin(), key.display()), &[]);
    assert!(out.stdout.contains("add the line above"), "{}", out.stdout);
}

#[test]
fn the_manual_is_installed_where_man_finds_it_for_git_proof_help() {
    let Some(man) = crate::common::which("man") else {
        assert!(
            std::env::var_os("GIT_PROOF_REQUIRE_MAN").is_none(),
            "GIT_PROOF_REQUIRE_MAN is set but man is not installed (apt-get install man-db)"
        );
        crate::common::skipped(
            "the_manual_is_installed_where_man_finds_it_for_git_proof_help",
            "no man on PATH",
        );
        return;
    };
    let repo = TestRepo::new();
    // A prefix as an install makes it: the binary in <prefix>/bin, pages beside it.
    let prefix = repo.tmp.path().join("prefix");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    let installed = prefix.join("bin").join("git-proof");
    std::fs::copy(bin(), &installed).unwrap();
    let path = format!(
        "{}:{}",
        prefix.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(&installed);
    pin_env(&mut cmd, &repo.home());
    let out: Run = cmd
        .args(["man", "--install"])
        .env("PATH", &path)
        .output()
        .unwrap()
        .into();
    let out = out.ok();
    let pages = prefix.join("share/man/man1");
    assert!(out.stdout.contains(&pages.display().to_string()), "{}", out.stdout);
    assert!(pages.join("git-proof.1").is_file());
    assert!(pages.join("git-proof-verify.1").is_file());
    assert!(!pages.join("git-proof-hook.1").exists(), "hidden commands have no page");

    // git turns `git proof --help` into `man git-proof`; man derives its path from PATH.
    for args in [&["proof", "--help"][..], &["help", "proof"]] {
        let mut git = Command::new("git");
        pin_env(&mut git, &repo.home());
        let out: Run = git
            .args(args)
            .current_dir(&repo.root)
            .env("PATH", &path)
            .env_remove("MANPATH")
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap()
            .into();
        let out = out.ok();
        assert!(
            out.stdout.contains("NAME"),
            "git {args:?}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(out.stdout.contains("git-proof - Signed proofs"), "{}", out.stdout);
        assert!(out.stdout.contains("verify"), "{}", out.stdout);
    }
    let mut page = Command::new(man);
    let out = Run::from(
        page.args(["git-proof-verify"])
            .env("PATH", &path)
            .env_remove("MANPATH")
            .env("MANPAGER", "cat")
            .output()
            .unwrap(),
    )
    .ok();
    assert!(out.stdout.contains("--require"), "{}", out.stdout);
    // `man` prints a page; an unknown command is exit 3.
    assert!(repo.proof(&["man", "verify"]).ok().stdout.starts_with(".ie"));
    repo.proof(&["man", "nope"]).expect_code(3).one_error_line();
    let out = repo
        .proof(&["man", "--install", "--prefix", "/proc/none"])
        .expect_code(2);
    assert!(out.one_error_line().contains("cannot create"), "{}", out.stderr);
}

#[test]
fn bash_completes_git_proof_and_git_proof_through_gits_completion() {
    let repo = TestRepo::new();
    let script = repo.tmp.path().join("git-proof.bash");
    std::fs::write(&script, repo.proof(&["completions", "bash"]).ok().stdout).unwrap();
    let complete = |setup: &str| -> String {
        let line = format!(
            "source {}; {setup}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["-c", &line]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let commands = complete("COMP_WORDS=(git-proof ver); COMP_CWORD=1; _git__proof git-proof ver git-proof");
    assert_eq!(commands, "verify\nverify-event\n");
    // A command's own options (clap's hyphenated-name states are made to agree).
    let options = complete("COMP_WORDS=(git-proof verify --req); COMP_CWORD=2; _git__proof git-proof --req verify");
    assert_eq!(options, "--require\n--require-for\n--require-dod\n");
    let values = complete("COMP_WORDS=(git-proof log --status ''); COMP_CWORD=3; _git__proof git-proof '' --status");
    assert!(
        values.contains("succeeded\n") && values.contains("abandoned\n"),
        "{values}"
    );

    // `git proof <TAB>` through git's own completion, when it is installed.
    let git_completion = Path::new("/usr/share/bash-completion/completions/git");
    if git_completion.is_file() {
        let setup = format!(
            "source {}; source {}; COMP_WORDS=(git proof verify --req); COMP_CWORD=3; \
             COMP_LINE='git proof verify --req'; COMP_POINT=${{#COMP_LINE}}; __git_wrap__git_main git --req verify",
            git_completion.display(),
            script.display()
        );
        assert_eq!(complete(&setup), "--require\n--require-for\n--require-dod\n");
    } else {
        crate::common::skipped(
            "git proof completion through git's",
            "git's bash completion is not installed",
        );
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = repo.proof(&["completions", shell]).ok();
        assert!(out.stdout.contains("verify-event"), "{shell}: {}", out.stdout);
    }
    repo.proof(&["completions", "tcsh"]).expect_code(2);
}

#[test]
fn a_policy_file_may_list_checks_as_a_table() {
    let repo = TestRepo::new();
    repo.write(
        ".proof/policy.toml",
        "[dod]\nfmt = \"true\"\nlint = { command = \"false\", timeout_s = 30 }\nbuild = \"true\"\n",
    );
    repo.commit_all("policy");
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let bundle = repo.bundle("HEAD");
    let names: Vec<&str> = bundle["dod_snapshot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fmt", "lint", "build"], "in file order");
    assert_eq!(bundle["dod_snapshot"][1]["timeout_s"], 30);
    assert_eq!(bundle["dod_results"][1]["status"], "failed");
    // A wrong shape says which shapes are meant.
    repo.write(".proof/policy.toml", "[dod]\nfmt = 3\n");
    let out = repo.proof(&["start"]).expect_code(2);
    assert!(out.one_error_line().contains("a command string"), "{}", out.stderr);
    repo.write(".proof/policy.toml", "dod = \"cargo test\"\n");
    let out = repo.proof(&["start"]).expect_code(2);
    assert!(out.one_error_line().contains("[[dod]] tables"), "{}", out.stderr);
}

#[test]
fn show_says_where_a_failed_checks_output_is() {
    let repo = TestRepo::new();
    let run_id = proven_run(&repo);
    let out = repo.proof(&["show", &run_id]).ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("output: "))
        .unwrap_or_else(|| panic!("no output line:\n{}", out.stdout));
    let path = line.trim_start().strip_prefix("output: ").unwrap();
    assert!(Path::new(path).is_file(), "{path}");
    // The Proof view says it too.
    let server = crate::common::server::Served::start(&repo, &[]);
    let page = server.get(&format!("/runs/{run_id}")).text();
    assert!(page.contains(&format!("output: <code>{path}</code>")), "{page}");
    drop(server);
    // A clone that did not run the check names the log by its digest.
    let clone = repo.tmp.path().join("clone");
    repo.git(&["clone", "-q", repo.root.to_str().unwrap(), clone.to_str().unwrap()]);
    repo.git_in(&clone, &["fetch", "-q", "origin", "refs/notes/proof:refs/notes/proof"]);
    let out = repo.proof_in(&clone, &["show", "HEAD"]).ok();
    assert!(
        out.stdout.contains("(kept by the clone that ran the check)"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_reindexed_run_keeps_its_start_time_and_says_its_worktree_is_unknown() {
    let repo = TestRepo::new();
    let mut cmd = repo.proof_cmd(&["start"]);
    cmd.env_remove("GIT_PROOF_DATE");
    let out: Run = cmd.output().unwrap().into();
    let run_id = out.ok().stdout.trim().to_owned();
    repo.write("a.txt", "a\n");
    repo.commit_all("a");
    // Finished a day later than it started.
    let mut cmd = repo.proof_cmd(&["finish"]);
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    cmd.env("GIT_PROOF_DATE", tomorrow.to_string());
    let out: Run = cmd.output().unwrap().into();
    out.ok();
    let before = repo.proof(&["log", "--json"]).ok().json();
    std::fs::remove_file(repo.root.join(".git/proof/index.sqlite")).unwrap();
    repo.proof(&["reindex"]).ok();
    let after = repo.proof(&["log", "--json"]).ok().json();
    assert_eq!(after[0]["run_id"], run_id.as_str());
    assert_eq!(
        after[0]["started_at"], before[0]["started_at"],
        "the ULID says when it started"
    );
    assert_ne!(after[0]["started_at"], after[0]["ended_at"]);
    assert_eq!(after[0]["worktree"], serde_json::Value::Null);
    // A chosen id that reads as a time after the proof's is no clock: the bundle's time stands in.
    repo.start(&["--run", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"]);
    repo.write("b.txt", "b\n");
    repo.commit_all("b");
    repo.proof(&["finish"]).ok();
    std::fs::remove_file(repo.root.join(".git/proof/index.sqlite")).unwrap();
    repo.proof(&["reindex"]).ok();
    let runs = repo.proof(&["log", "--json"]).ok().json();
    let chosen = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
        .unwrap();
    assert_eq!(chosen["started_at"], crate::common::DATE);
}

/// A note anyone may push, written to fake lines: a run id and a generated_at holding
/// newlines, a forged "valid" line and a colour code. Neither show nor verify prints a line
/// the note made up, with colour or without.
#[test]
fn a_note_cannot_fake_lines_or_colours() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    repo.proof(&["finish"]).ok();
    let records = crate::common::split_records(&repo.note(&head));
    let fake = "0123456789  valid      run R signed by boss@example.com";
    let payload = records[0]
        .0
        .replacen(
            "\"run_id\": \"",
            &format!("\"run_id\": \"R1\\n{fake}\\n1 commit: 1 valid; ok\\n"),
            1,
        )
        .replacen(
            "\"generated_at\": \"",
            "\"generated_at\": \"X  signature \\u001b[32mvalid, signed by boss@example.com\\u001b[m\\nfake line\\n",
            1,
        );
    let stranger = crate::common::new_key(&repo, "stranger");
    let signature = crate::common::ssh_keygen_sign(&repo, &stranger, "git-proof", &payload);
    repo.replace_note(&head, &format!("{payload}{signature}"));
    for args in [
        &["show", "HEAD", "--color=always"][..],
        &["show", "HEAD"],
        &["verify", "HEAD", "--color=always"],
        &["verify", "HEAD", "--format", "github"],
    ] {
        let out = repo.proof(args);
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            !text
                .lines()
                .any(|l| l == fake || l.starts_with("fake line") || l == "1 commit: 1 valid; ok"),
            "{args:?}:\n{text}"
        );
        assert!(!text.contains("\x1b[32mvalid, signed by boss"), "{args:?}: {text:?}");
    }
    // JUnit stays well-formed XML: no control character, even escaped as a reference.
    let xml = repo.proof(&["verify", "HEAD", "--format", "junit"]).stdout;
    assert!(!xml.chars().any(|c| c.is_control() && c != '\n'), "{xml:?}");
}

/// A failing verify stays failing when its reader stops early (`| head`, a pager quit).
#[test]
fn a_reader_that_stops_early_does_not_turn_a_failing_verify_green() {
    let repo = TestRepo::new();
    for i in 0..300 {
        repo.write(&format!("f{i}.txt"), "x\n");
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-qm", "unproven"]);
    }
    let line = format!(
        "set -o pipefail; {} verify --require --allowed-signers {} HEAD~299..HEAD | head -c 1 >/dev/null",
        bin(),
        repo.allowed_signers.display()
    );
    let mut cmd = Command::new("bash");
    pin_env(&mut cmd, &repo.home());
    let out: Run = cmd.args(["-c", &line]).current_dir(&repo.root).output().unwrap().into();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let paged = format!(
        "{} verify --require --allowed-signers {} HEAD~299..HEAD; echo rc=$?",
        bin(),
        repo.allowed_signers.display()
    );
    let out = on_terminal(&repo, &paged, &[("GIT_PAGER", "true")]);
    assert!(out.stdout.contains("rc=1"), "{}", out.stdout);
}

#[test]
fn small_things_a_user_would_trip_on() {
    let repo = TestRepo::new();
    // ingest exits 0 whatever precedes it.
    for args in [
        &["--no-pager", "ingest", "--bogus"][..],
        &["--color=never", "ingest", "--bogus"],
    ] {
        assert_eq!(repo.proof(args).code, 0, "{args:?}");
    }
    // A principal that would split the allowed_signers line is refused.
    let key = repo.tmp.path().join("spaced");
    let out = repo
        .proof(&["keygen", "--out", key.to_str().unwrap(), "--principal", "John Doe"])
        .expect_code(2);
    assert!(out.one_error_line().contains("blank"), "{}", out.stderr);
    assert!(!key.exists());
    // --since with a time of day reads the time (local; TZ=UTC here).
    let mut cmd = repo.proof_cmd(&["start", "--run", "late-run"]);
    cmd.env("GIT_PROOF_DATE", "2026-11-23T09:45:00Z");
    Run::from(cmd.output().unwrap()).ok();
    assert_eq!(
        repo.proof(&["log", "--since", "2026-11-23 09:30"])
            .ok()
            .stdout
            .lines()
            .count(),
        1
    );
    assert_eq!(
        repo.proof(&["log", "--since", "2026-11-23 09:50"])
            .ok()
            .stdout
            .lines()
            .count(),
        0
    );
    assert_eq!(
        repo.proof(&["log", "--since", "2026-11-23T09:50:00"])
            .ok()
            .stdout
            .lines()
            .count(),
        0
    );
    // approve with no run named takes the active run (or GIT_PROOF_RUN), as every command.
    repo.proof(&["abandon"]).ok();
    repo.start(&["--run", "scoped", "--scope", "src/**"]);
    repo.write("README.md", "# out\n");
    repo.commit_all("out of scope");
    let out = repo.proof(&["approve", "--all"]).ok();
    assert!(out.stdout.starts_with("approved README.md"), "{}", out.stdout);
    // A usage error under --json keeps what it lists.
    let (_, message) = repo.proof(&["show", "--json"]).expect_code(2).json_error();
    assert!(message.contains("RUN_ID|COMMIT"), "{message}");
    // An empty range says so plainly.
    let out = repo.verify(&["HEAD..HEAD"]).ok();
    assert_eq!(out.stdout, "0 commits; ok\n");
}
