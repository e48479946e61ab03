//! Bad input: one clear line, the documented exit code, no panic, nothing lost.

use std::os::unix::fs::PermissionsExt;

use crate::common::TestRepo;

#[test]
fn outside_a_repository() {
    let repo = TestRepo::new();
    let elsewhere = repo.tmp.path().join("not-a-repo");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for args in [&["start"][..], &["finish"], &["log"], &["verify"], &["show", "HEAD"]] {
        let out = repo.proof_in(&elsewhere, args).expect_code(2);
        assert!(
            out.one_error_line().contains("not a git repository"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = repo.proof(&["-C", "/no/such/dir", "log"]).expect_code(2);
    out.one_error_line();
}

#[test]
fn no_commits_yet() {
    let repo = TestRepo::empty();
    let out = repo.proof(&["start"]).expect_code(2);
    assert!(out.one_error_line().contains("no commits yet"), "{}", out.stderr);
    let out = repo.verify(&[]).expect_code(3);
    out.one_error_line();
}

#[test]
fn detached_head_is_a_normal_place_to_run() {
    let repo = TestRepo::new();
    repo.git(&["checkout", "-q", "--detach"]);
    let run_id = repo.start(&[]);
    repo.write("d.txt", "d\n");
    let head = repo.commit_all("detached work");
    repo.proof(&["finish"]).ok();
    assert_eq!(repo.bundle(&run_id)["head_sha"], head.as_str());
    repo.verify(&[&head]).ok();
}

#[test]
fn unknown_run_and_no_active_run() {
    let repo = TestRepo::new();
    let out = repo.proof(&["finish"]).expect_code(3);
    assert!(out.one_error_line().contains("no active run"), "{}", out.stderr);
    let out = repo.proof(&["finish", "--run", "nope"]).expect_code(3);
    assert!(out.one_error_line().contains("no run 'nope'"), "{}", out.stderr);
    let out = repo.proof(&["show", "nope"]).expect_code(3);
    out.one_error_line();
    let out = repo.proof(&["show", "HEAD"]).expect_code(3);
    assert!(out.one_error_line().contains("has no proof"), "{}", out.stderr);
    let out = repo.proof(&["finish", "--run", "../../etc/passwd"]).expect_code(2);
    assert!(out.one_error_line().contains("not a valid run id"), "{}", out.stderr);
    let out = repo.proof(&["event", "no.such.type"]).expect_code(3);
    out.one_error_line();
}

#[test]
fn bad_events_change_nothing() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    let long_text = format!(r#"{{"toolcall_id":"t","output":"{}"}}"#, "log line; ".repeat(200));
    for (args, needle) in [
        (&["event", "no.such.type"][..], "unknown event type"),
        (&["event", "step.started", "--data", "{not json"], "not valid JSON"),
        (&["event", "step.started", "--data", "[1,2]"], "JSON object"),
        (&["event", "run.completed"], "recorded by git proof itself"),
        (&["event", "toolcall.completed", "--data", &long_text], "pointers only"),
    ] {
        let out = repo.proof(args).expect_code(2);
        assert!(out.one_error_line().contains(needle), "{args:?}: {}", out.stderr);
    }
    repo.proof(&["event", "step.started", "--id", "e-1"]).ok();
    let out = repo.proof(&["event", "step.completed", "--id", "e-1"]).expect_code(2);
    assert!(out.one_error_line().contains("already exists"), "{}", out.stderr);
    repo.proof(&["finish"]).ok();
    let types = crate::common::event_types(&repo.bundle(&run_id));
    assert_eq!(types, ["run.started", "step.started", "run.completed"]);
}

#[test]
fn missing_or_exposed_key_leaves_the_run_open() {
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    let out = repo.proof_without_key_env(&["finish"]);
    let out = out.expect_code(2);
    assert!(out.one_error_line().contains("no signing key"), "{}", out.stderr);

    std::fs::set_permissions(&repo.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = repo.proof(&["finish"]).expect_code(2);
    assert!(out.one_error_line().contains("too open"), "{}", out.stderr);

    let garbage = repo.tmp.path().join("garbage-key");
    std::fs::write(&garbage, "not a key").unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = repo
        .proof(&["finish", "--key", garbage.to_str().unwrap()])
        .expect_code(2);
    assert!(
        out.one_error_line().contains("not an OpenSSH private key"),
        "{}",
        out.stderr
    );

    // Nothing was written and the run is still the active one; a good key finishes it.
    assert_eq!(
        repo.git_run_in(&repo.root, &["rev-parse", "--verify", "-q", "refs/notes/proof"])
            .code,
        1
    );
    std::fs::set_permissions(&repo.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    repo.proof(&["finish"]).ok();
    assert_eq!(repo.bundle(&run_id)["run_id"], run_id.as_str());
}

#[test]
fn key_from_git_config_and_from_key_data() {
    let repo = TestRepo::new();
    repo.git(&["config", "proof.signingKey", repo.key.to_str().unwrap()]);
    repo.start(&[]);
    let out = repo.proof_without_key_env(&["finish"]);
    out.ok();
    repo.git(&["config", "--unset", "proof.signingKey"]);
    repo.write("k.txt", "k\n");
    repo.commit_all("second");
    repo.start(&[]);
    let key_text = std::fs::read_to_string(&repo.key).unwrap();
    let out: crate::common::Run = repo
        .proof_cmd(&["finish"])
        .env_remove("GIT_PROOF_KEY")
        .env("GIT_PROOF_KEY_DATA", key_text)
        .output()
        .unwrap()
        .into();
    out.ok();
    repo.verify(&["HEAD~1..HEAD"]).ok();
}

#[test]
fn corrupt_notes_are_reported_not_trusted() {
    let repo = TestRepo::new();
    let head = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["notes", "--ref=proof", "add", "-m", "this is not a proof", &head]);
    let out = repo.verify(&[&head]).expect_code(1);
    assert!(
        out.stdout.contains("invalid") && out.stdout.contains("not a signed record"),
        "{}",
        out.stdout
    );
    let out = repo.proof(&["show", &head]).expect_code(3);
    assert!(
        out.one_error_line()
            .contains("holds no proof bundle, only text that is not a signed record"),
        "{}",
        out.stderr
    );

    // Finishing a run on that commit keeps the foreign text and appends after it.
    repo.start(&[]);
    repo.proof(&["finish"]).ok();
    let note = repo.note(&head);
    assert!(note.starts_with("this is not a proof\n"), "{note}");
    assert!(note.contains("-----BEGIN SSH SIGNATURE-----"));
    // The text is reported and ignored; it neither blocks the proof nor counts for it.
    let out = repo.verify(&[&head]).ok();
    assert!(
        out.stdout.contains("valid") && out.stdout.contains("not counted: text that is not a signed record"),
        "{}",
        out.stdout
    );

    // A signature over other bytes is caught.
    let repo = TestRepo::new();
    repo.start(&[]);
    repo.proof(&["finish"]).ok();
    let note = repo.note("HEAD").replacen("\"exit_code\": 0", "\"exit_code\": 9", 1);
    repo.replace_note("HEAD", &note);
    let out = repo.verify(&["HEAD"]).expect_code(1);
    assert!(out.stdout.contains("does not match the payload"), "{}", out.stdout);
}

#[test]
fn verify_needs_a_trust_source_and_refuses_strangers() {
    let repo = TestRepo::new();
    repo.start(&[]);
    repo.proof(&["finish"]).ok();
    let out = repo.proof(&["verify"]).expect_code(2);
    assert!(out.one_error_line().contains("no allowed signers"), "{}", out.stderr);

    let out = repo
        .verify(&["0123456789abcdef0123456789abcdef01234567"])
        .expect_code(3);
    out.one_error_line();
    let out = repo.verify(&["no-such-branch"]).expect_code(3);
    out.one_error_line();

    // Another key, trusted nowhere.
    let other = TestRepo::new();
    let signers = other.allowed_signers.to_str().unwrap().to_owned();
    let out = repo
        .proof(&["verify", "HEAD", "--allowed-signers", &signers])
        .expect_code(1);
    assert!(out.stdout.contains("not in the allowed signers"), "{}", out.stdout);

    // Committed .proof/allowed_signers is found without flags.
    std::fs::create_dir_all(repo.path(".proof")).unwrap();
    std::fs::copy(&repo.allowed_signers, repo.path(".proof/allowed_signers")).unwrap();
    repo.proof(&["verify", "HEAD"]).ok();
    repo.proof(&["verify", "HEAD", "--require"]).ok();
    repo.commit_all("trust file");
    let out = repo.proof(&["verify", "HEAD", "--require"]).expect_code(1);
    assert!(out.stdout.contains("missing"), "{}", out.stdout);
    repo.proof(&["verify", "HEAD"]).ok();
}

#[test]
fn a_shallow_clone_proves_runs_and_says_what_it_cannot_know() {
    let origin = TestRepo::new();
    for i in 0..3 {
        origin.write(&format!("h{i}.txt"), format!("{i}\n"));
        origin.commit_all(&format!("history {i}"));
    }
    let shallow = origin.tmp.path().join("shallow");
    let url = format!("file://{}", origin.root.display());
    origin.git_in(
        origin.tmp.path(),
        &["clone", "-q", "--depth", "1", &url, shallow.to_str().unwrap()],
    );
    let run_id = origin.proof_in(&shallow, &["start"]).ok().stdout.trim().to_owned();
    std::fs::write(shallow.join("agent.txt"), "work\n").unwrap();
    origin.git_in(&shallow, &["add", "-A"]);
    origin.git_in(&shallow, &["commit", "-qm", "agent work"]);
    origin.proof_in(&shallow, &["finish"]).ok();
    let bundle = origin.proof_in(&shallow, &["show", &run_id, "--json"]).ok().json();
    // The root commit is not in a depth-1 clone: the workspace id is unknown, not invented.
    assert_eq!(bundle["evidence"]["workspace_id"], serde_json::Value::Null);
    assert_eq!(bundle["changed_files"], serde_json::json!(["agent.txt"]));
    let signers = origin.allowed_signers.to_str().unwrap().to_owned();
    origin
        .proof_in(&shallow, &["verify", "HEAD", "--allowed-signers", &signers])
        .ok();
}

/// A CI runner often has no git identity at all: proofs are still written (the notes commit
/// and its reflog entry fall back to git-proof's own), and the error is never a "lost race".
#[test]
fn a_proof_needs_no_committer_identity() {
    let repo = TestRepo::new();
    repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("a");
    let out: crate::common::Run = repo
        .proof_cmd(&["finish"])
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("EMAIL")
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}", out.stderr);
    repo.verify(&[&head, "--require"]).ok();
    let log = repo.git(&["log", "-1", "--format=%cn <%ce>", "refs/notes/proof"]);
    assert_eq!(log, "git-proof <git-proof@localhost>");
}

/// A reader that stops reading (`git proof log | head -1`) ends the command quietly, as it ends
/// git: no panic, no error line.
#[test]
fn a_closed_stdout_ends_quietly() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    for i in 0..3 {
        repo.write(&format!("f{i}.txt"), "x\n");
        repo.commit_all("c");
        repo.proof(&["run", "--", "true"]).ok();
    }
    let head = repo.git(&["rev-parse", "HEAD"]);
    let signers = repo.allowed_signers.to_str().unwrap().to_owned();
    for (args, code) in [
        (vec!["log"], 0),
        (vec!["log", "--json"], 0),
        (vec!["show", head.as_str()], 0),
        (vec!["show", head.as_str(), "--json"], 0),
        (vec!["status", "--json"], 0),
        (vec!["verify", "HEAD~3..HEAD", "--allowed-signers", signers.as_str()], 0),
        (
            vec![
                "verify",
                "HEAD~3..HEAD",
                "--json",
                "--allowed-signers",
                signers.as_str(),
            ],
            0,
        ),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = repo.proof_cmd(&args).stdout(writer).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn a_timeout_too_long_to_measure_is_no_timeout() {
    let repo = TestRepo::new();
    repo.write(
        ".proof/policy.toml",
        "[[dod]]\nname = \"t\"\ncommand = \"true\"\ntimeout_s = 18446744073709551615\n",
    );
    repo.commit_all("policy");
    let run_id = repo.start(&[]);
    let out = repo.proof(&["finish"]).ok();
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(repo.bundle(&run_id)["dod_results"][0]["status"], "passed");
}

#[test]
fn names_from_a_proof_cannot_drive_the_terminal() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    let run_id = repo.start(&["--scope", "src/**"]);
    let evil = "a\u{1b}[2J\u{1b}[1;1Hfake\nline.txt";
    repo.write(evil, "x\n");
    repo.commit_all("evil name");
    repo.proof(&["finish", "--no-dod"]).ok();
    let out = repo.proof(&["show", &run_id]).ok().stdout;
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(out.contains(r#""a\033[2J\033[1;1Hfake\nline.txt""#), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("line.txt")), "no faked line: {out}");
}

#[test]
fn ingest_exits_0_whatever_is_wrong_with_its_own_command_line() {
    // Exit 2 from a hook blocks the tool call in Claude Code, Codex and Copilot.
    let repo = TestRepo::new();
    for args in [
        vec!["-C", "/no/such/dir", "ingest"],
        vec!["ingest", "--no-such-flag"],
        vec!["-C/no/such/dir", "ingest", "--agent", "claude-code"],
    ] {
        let out = repo.proof_with_input(&args, b"{}");
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    }
    // Other commands keep their exit codes.
    repo.proof(&["-C", "/no/such/dir", "show", "ingest"]).expect_code(2);
}

#[test]
fn a_payload_cannot_bring_what_git_proof_records_itself() {
    let repo = TestRepo::new();
    let run_id = repo.start(&["--run-id", "gen-1"]);
    let long = "x".repeat(2000);
    let lines = [
        r#"{"run_id":"gen-1","type":"run.sealed","data":{"reason":"forged"}}"#.to_owned(),
        r#"{"run_id":"gen-1","type":"evidence.manifest.created"}"#.to_owned(),
        format!(r#"{{"run_id":"gen-1","type":"step.started","data":{{"note":"{long}"}}}}"#),
    ]
    .join("\n");
    repo.proof_with_input(&["ingest", "--agent", "generic"], lines).ok();
    let long_session = format!(r#"{{"session_id":"{}","hook_event_name":"Stop"}}"#, "s".repeat(300));
    repo.proof_with_input(&["ingest", "--agent", "claude-code"], long_session)
        .ok();
    repo.proof(&["finish", "--no-dod"]).ok();
    let types = crate::common::event_types(&repo.bundle(&run_id));
    assert!(
        !types.iter().any(|t| t == "run.sealed" || t == "step.started"),
        "{types:?}"
    );
}

#[test]
fn inputs_are_read_with_a_bound_and_a_fifo_never_hangs() {
    let repo = TestRepo::new();
    // /dev/zero as the prompt: refused once it passes 64 MiB, not read until memory runs out.
    let out = repo.proof(&["start", "--prompt-file", "/dev/zero"]).expect_code(2);
    assert!(out.one_error_line().contains("larger than 64 MiB"), "{}", out.stderr);
    assert_eq!(
        repo.proof(&["status", "--json"]).ok().json()["active_run"],
        serde_json::Value::Null
    );
    // A FIFO (or a directory) as the key: refused before it is opened.
    let fifo = repo.home().join("key.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for key in [fifo.as_path(), repo.home().as_path()] {
        let mut cmd = repo.proof_cmd(&["run", "--key", key.to_str().unwrap(), "--", "true"]);
        let started = std::time::Instant::now();
        let out: crate::common::Run = cmd.output().unwrap().into();
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "it hung");
        assert_eq!(out.code, 2);
        assert!(out.one_error_line().contains("not a regular file"), "{}", out.stderr);
    }
    // A FIFO as the prompt is fine: `--prompt-file <(...)`.
    let prompt = repo.home().join("prompt.fifo");
    std::process::Command::new("mkfifo").arg(&prompt).status().unwrap();
    let writer = {
        let prompt = prompt.clone();
        std::thread::spawn(move || std::fs::write(prompt, b"do the thing"))
    };
    let run_id = repo.start(&["--prompt-file", prompt.to_str().unwrap()]);
    writer.join().unwrap().unwrap();
    repo.proof(&["finish", "--no-dod"]).ok();
    assert_eq!(
        repo.bundle(&run_id)["prompt_hash"],
        crate::common::sha256_prefixed(b"do the thing").as_str()
    );
}

#[test]
fn show_json_of_a_commit_with_two_proofs_is_one_document() {
    let repo = TestRepo::new();
    repo.trust_our_key();
    let first = repo.start(&[]);
    repo.proof(&["finish", "--no-dod"]).ok();
    let second = repo.start(&[]);
    repo.proof(&["finish", "--no-dod"]).ok();
    let out = repo.proof(&["show", "HEAD", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let ids: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.as_str()) && ids.contains(&second.as_str()));
    let text = repo.proof(&["show", "HEAD"]).ok().stdout;
    assert!(text.starts_with("2 proofs on this commit"), "{text}");
    // One run: its bundle object, as before.
    assert_eq!(repo.bundle(&first)["run_id"], first.as_str());
}

#[test]
fn event_data_is_i_json() {
    // RFC 8785 hashes numbers as doubles and a reader keeps one of two equal keys: data whose
    // hash would not bind what is stored is refused, with a line saying why.
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    for (data, why) in [
        (r#"{"a":1,"a":2}"#, "appears twice"),
        (r#"{"n":9007199254740993}"#, "beyond 2^53"),
    ] {
        let out = repo.proof(&["event", "step.started", "--data", data]).expect_code(2);
        assert!(out.one_error_line().contains(why), "{}", out.stderr);
    }
    let line = format!(r#"{{"run_id":"{run_id}","type":"step.started","data":{{"n":18446744073709551615}}}}"#);
    repo.proof_with_input(&["ingest", "--agent", "generic"], line).ok();
    repo.proof(&["event", "step.started", "--data", r#"{"n":9007199254740991}"#])
        .ok();
    repo.proof(&["finish", "--no-dod"]).ok();
    let types = crate::common::event_types(&repo.bundle(&run_id));
    assert_eq!(types.iter().filter(|t| *t == "step.started").count(), 1, "{types:?}");
}

#[test]
fn a_key_that_will_not_do_is_told_once_and_plainly() {
    let repo = TestRepo::new();
    let dir = repo.home();
    let empty = dir.join("empty-key");
    std::fs::write(&empty, "").unwrap();
    let ecdsa = dir.join("ecdsa-key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
        .arg(&ecdsa)
        .status()
        .unwrap();
    assert!(made.success());
    let public = repo.key.with_extension("pub");
    // A public key is one ssh-agent must hold: without an agent, that is what is wrong.
    for (key, says) in [
        (&empty, "the file is empty"),
        (&ecdsa, "ed25519 keys only"),
        (&public, "no ssh-agent is running"),
    ] {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if key != &public {
                std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
        repo.start(&[]);
        let out = repo.proof(&["finish", "--key", key.to_str().unwrap()]).expect_code(2);
        let line = out.one_error_line();
        assert!(line.contains(says), "{line}");
        let expected = if key == &public { 0 } else { 1 };
        assert_eq!(line.matches("not an OpenSSH private key").count(), expected, "{line}");
        repo.proof(&["abandon"]).ok();
    }
    // A hook with a bad key says what is wrong with it, and the turn still ends.
    let cwd = repo.root.to_str().unwrap();
    for event in ["UserPromptSubmit", "Stop"] {
        let payload = format!(r#"{{"session_id":"k","cwd":"{cwd}","hook_event_name":"{event}","prompt":"p"}}"#);
        let out = repo.proof_with_input(
            &["ingest", "--agent", "claude-code", "--key", empty.to_str().unwrap()],
            payload,
        );
        assert_eq!(out.code, 0);
        if event == "Stop" {
            assert!(out.stderr.contains("the file is empty"), "{}", out.stderr);
        }
    }
    assert_eq!(
        repo.proof(&["status", "--json"]).ok().json()["active_run"],
        serde_json::Value::Null
    );
}

#[test]
fn names_that_are_not_utf8_stay_distinct() {
    use std::os::unix::ffi::OsStrExt;
    let repo = TestRepo::new();
    let run_id = repo.start(&[]);
    for name in [&b"a\xff"[..], b"a\xfe"] {
        std::fs::write(repo.root.join(std::ffi::OsStr::from_bytes(name)), "x\n").unwrap();
    }
    repo.commit_all("bytes");
    // One left uncommitted and edited by the run: seen as the run's, not as it was.
    std::fs::write(repo.root.join(std::ffi::OsStr::from_bytes(b"c\xff")), "y\n").unwrap();
    repo.proof(&["finish", "--no-dod"]).ok();
    let bundle = repo.bundle(&run_id);
    // As git quotes them (core.quotePath): distinct, and each byte kept.
    let git = repo.git(&["-c", "core.quotePath=true", "diff", "--name-only", "HEAD~1", "HEAD"]);
    let expected: Vec<&str> = git.lines().collect();
    assert_eq!(bundle["changed_files"], serde_json::json!(expected));
    assert_eq!(bundle["changed_files"], serde_json::json!([r#""a\376""#, r#""a\377""#]));
    assert_eq!(bundle["dirty_files"], serde_json::json!([r#""c\377""#]));
    repo.verify(&["HEAD"]).ok();
}

#[test]
fn approve_tells_what_is_wrong_with_the_key_it_was_given() {
    let repo = TestRepo::new();
    let run_id = repo.start(&["--scope", "src/**"]);
    repo.write("outside.txt", "x\n");
    repo.commit_all("outside");
    repo.proof(&["finish", "--no-dod"]).ok();
    let open_key = repo.home().join("open-key");
    std::fs::copy(&repo.key, &open_key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = repo
        .proof(&["approve", &run_id, "outside.txt", "--key", open_key.to_str().unwrap()])
        .expect_code(2);
    assert!(out.one_error_line().contains("too open"), "{}", out.stderr);
}

#[test]
fn an_empty_object_to_ingest_is_a_rejected_payload_not_a_crash() {
    let repo = TestRepo::new();
    let out = repo.proof_with_input(&["ingest"], b"{}");
    assert_eq!(out.code, 0);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn a_revision_that_names_nothing_is_one_plain_line() {
    let repo = TestRepo::new();
    for args in [&["verify", "HEAD~99..HEAD"][..], &["land", "nosuch", "--from", "HEAD"]] {
        let out = repo.proof(args);
        assert_ne!(out.code, 0);
        let line = out.one_error_line();
        assert!(line.contains("does not name a commit"), "{line}");
        assert!(
            !line.contains("NotFound") && !line.contains("input="),
            "gix's words: {line}"
        );
    }
}

#[test]
fn small_things_a_new_user_trips_on() {
    let repo = TestRepo::new();
    // keygen makes the key's directory the owner's alone, as OpenSSH makes ~/.ssh.
    let dir = repo.home().join("new-ssh-dir");
    let key = dir.join("id_proof");
    repo.proof(&["keygen", "--out", key.to_str().unwrap()]).ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }
    // log in a clone that has proofs in its notes but none in its index says what to do.
    repo.proof(&["run", "--", "true"]).ok();
    let clone = repo.home().join("clone");
    repo.git(&["clone", "-q", repo.root.to_str().unwrap(), clone.to_str().unwrap()]);
    repo.git_in(&clone, &["fetch", "-q", "origin", "refs/notes/proof:refs/notes/proof"]);
    let out = repo.proof_in(&clone, &["log"]).ok();
    assert!(out.stderr.contains("git proof reindex"), "{}", out.stderr);
    // serve takes a name as well as an IP.
    let parsed = repo.proof(&["serve", "--addr", "localhost:notaport"]).expect_code(2);
    assert!(parsed.stderr.contains("NAME:PORT"), "{}", parsed.stderr);
}
