//! `git proof install --agent`: agent hook configuration merged into what is there.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::TestRepo;

fn read_json(repo: &TestRepo, rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo.path(rel)).unwrap()).unwrap()
}

#[test]
fn merges_into_an_existing_claude_settings_file_and_is_idempotent() {
    let repo = TestRepo::new();
    let existing = r#"{
  "permissions": {"allow": ["Bash(npm test)"]},
  "hooks": {
    "PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "./format.sh"}]}]
  },
  "model": "opus"
}
"#;
    repo.write(".claude/settings.json", existing);
    let out = repo.proof(&["install", "--agent", "claude-code", "--dry-run"]).ok();
    assert!(
        out.stdout.contains("would update: .claude/settings.json"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(repo.path(".claude/settings.json")).unwrap(),
        existing
    );

    let out = repo.proof(&["install", "--agent", "claude-code"]).ok();
    assert!(out.stdout.contains("updated: .claude/settings.json"), "{}", out.stdout);
    let config = read_json(&repo, ".claude/settings.json");
    let keys: Vec<&str> = config.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["permissions", "hooks", "model"], "the user's key order is kept");
    assert_eq!(config["model"], "opus");
    let post = config["hooks"]["PostToolUse"].as_array().unwrap();
    assert_eq!(
        post[0]["hooks"][0]["command"], "./format.sh",
        "the user's hook is kept, first"
    );
    assert_eq!(post[1]["hooks"][0]["command"], "git proof ingest --agent claude-code");
    for event in [
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUseFailure",
        "Stop",
        "StopFailure",
        "SessionEnd",
    ] {
        assert_eq!(
            config["hooks"][event][0]["hooks"][0]["command"], "git proof ingest --agent claude-code",
            "{event}"
        );
    }
    let after = std::fs::read(repo.path(".claude/settings.json")).unwrap();
    let out = repo.proof(&["install", "--agent", "claude-code"]).ok();
    assert!(out.stdout.contains("already configured"), "{}", out.stdout);
    assert_eq!(
        std::fs::read(repo.path(".claude/settings.json")).unwrap(),
        after,
        "a second install changes nothing"
    );
}

#[test]
fn the_installed_hook_command_records_the_agent_session() {
    let repo = TestRepo::new();
    repo.proof(&["install", "--agent", "claude-code"]).ok();
    let config = read_json(&repo, ".claude/settings.json");
    let command = config["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .to_owned();
    // Run the command as Claude Code would: through a shell, git-proof on PATH, payload on stdin.
    let path = crate::common::path_with_bin();
    let base =
        r#""session_id":"s-1","cwd":"CWD","permission_mode":"default""#.replace("CWD", repo.root.to_str().unwrap());
    for payload in [
        format!(r#"{{{base},"hook_event_name":"UserPromptSubmit","prompt":"hi"}}"#),
        format!(r#"{{{base},"hook_event_name":"Stop","stop_hook_active":false}}"#),
    ] {
        let mut cmd = std::process::Command::new("sh");
        crate::common::pin_env(&mut cmd, &repo.home());
        cmd.args(["-c", &command])
            .current_dir(&repo.root)
            .env("PATH", &path)
            .env("GIT_PROOF_KEY", &repo.key);
        let out = crate::common::run_with_input(cmd, payload.as_bytes());
        assert!(out.code == 0 && out.stderr.is_empty(), "{}", out.stderr);
    }
    let runs = repo.proof(&["log", "--json"]).ok().json();
    assert_eq!(runs[0]["state"], "ended");
    assert!(runs[0]["proof"].is_object());
}

#[test]
fn every_agent_gets_its_configuration() {
    let repo = TestRepo::new();
    for (agent, file, event) in [
        ("codex", ".codex/hooks.json", "PostToolUse"),
        ("gemini", ".gemini/settings.json", "AfterTool"),
    ] {
        let out = repo.proof(&["install", "--agent", agent]).ok();
        assert!(out.stdout.contains(&format!("created: {file}")), "{}", out.stdout);
        let config = read_json(&repo, file);
        assert_eq!(
            config["hooks"][event][0]["hooks"][0]["command"],
            format!("git proof ingest --agent {agent}")
        );
    }
    repo.proof(&["install", "--agent", "cursor"]).ok();
    let cursor = read_json(&repo, ".cursor/hooks.json");
    assert_eq!(cursor["version"], 1);
    assert_eq!(cursor["hooks"]["stop"][0]["command"], "git proof ingest --agent cursor");
    repo.proof(&["install", "--agent", "copilot"]).ok();
    let copilot = read_json(&repo, ".github/hooks/git-proof.json");
    assert_eq!(
        copilot["hooks"]["postToolUse"][0]["bash"],
        "git proof ingest --agent copilot --event postToolUse"
    );
    assert_eq!(
        copilot["hooks"]["agentStop"][0]["bash"],
        "git proof ingest --agent copilot --event agentStop"
    );
    // An earlier install's entries (no --event) are replaced, not doubled.
    let mut old = copilot.clone();
    old["hooks"]["postToolUse"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "command", "bash": "git proof ingest --agent copilot"}));
    repo.write(".github/hooks/git-proof.json", serde_json::to_string(&old).unwrap());
    repo.proof(&["install", "--agent", "copilot"]).ok();
    assert_eq!(read_json(&repo, ".github/hooks/git-proof.json"), copilot);

    // Cline: one executable per event; a script of the user's is left alone.
    repo.write(".clinerules/hooks/TaskComplete", "#!/bin/sh\necho mine\n");
    let out = repo.proof(&["install", "--agent", "cline"]).ok();
    assert!(out.stdout.contains("skipped"), "{}", out.stdout);
    assert_eq!(
        std::fs::read_to_string(repo.path(".clinerules/hooks/TaskComplete")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    let script = repo.path(".clinerules/hooks/PostToolUse");
    assert!(
        std::fs::read_to_string(&script)
            .unwrap()
            .contains("exec git proof ingest --agent cline")
    );
    assert_eq!(std::fs::metadata(&script).unwrap().permissions().mode() & 0o111, 0o111);
}

#[test]
fn a_malformed_settings_file_is_refused_and_left_alone() {
    let repo = TestRepo::new();
    repo.write(".cursor/hooks.json", "{ not json");
    let out = repo.proof(&["install", "--agent", "cursor"]).expect_code(2);
    assert!(out.one_error_line().contains("not valid JSON"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(repo.path(".cursor/hooks.json")).unwrap(),
        "{ not json"
    );
    let out = repo.proof(&["install", "--agent", "emacs"]).expect_code(2);
    out.one_error_line();
}

/// examples/agents/ shows exactly what `install --agent` writes into an empty repository.
#[test]
fn examples_show_what_install_writes() {
    let repo = TestRepo::new();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/agents");
    for (agent, files) in [
        ("claude-code", &[".claude/settings.json"][..]),
        ("codex", &[".codex/hooks.json"]),
        ("cursor", &[".cursor/hooks.json"]),
        ("gemini", &[".gemini/settings.json"]),
        ("copilot", &[".github/hooks/git-proof.json"]),
        ("cline", &[".clinerules/hooks/PostToolUse"]),
    ] {
        repo.proof(&["install", "--agent", agent]).ok();
        for file in files {
            let written = std::fs::read_to_string(repo.path(file)).unwrap();
            let example = std::fs::read_to_string(examples.join(agent).join(file))
                .unwrap_or_else(|e| panic!("examples/agents/{agent}/{file}: {e}"));
            assert_eq!(example, written, "examples/agents/{agent}/{file} is out of date");
        }
    }
}
