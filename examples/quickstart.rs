//! The main job end to end, on a scratch repository, through the library API:
//! make a key, start a run, let a scripted "agent" record tool calls and commit, finish
//! (DoD checks, bundle, manifest, signature, note, index), verify, and print the proof.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::path::Path;
use std::process::Command;

use git_proof::notes::{self, NotesReader};
use git_proof::run::{self, FinishOptions, StartOptions, Workspace};
use git_proof::signing::{self, AllowedSigners, KeySource, SigningKey};
use git_proof::trust::Trust;
use git_proof::{policy, proofs, summary, verify};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Kept afterwards, so the note can be read with stock git.
    let scratch = tempfile::Builder::new()
        .prefix("git-proof-quickstart-")
        .tempdir()?
        .keep();
    let repo_dir = scratch.join("repo");
    std::fs::create_dir_all(&repo_dir)?;
    git(&repo_dir, &["init", "-q", "-b", "main"])?;
    std::fs::write(repo_dir.join("README.md"), "# scratch\n")?;
    git(&repo_dir, &["add", "-A"])?;
    git(&repo_dir, &["commit", "-qm", "initial"])?;
    println!("1. scratch repository at {}", repo_dir.display());

    let key_path = scratch.join("keys/agent_ed25519");
    let new_key = signing::generate_key(&key_path, "agent@example.com")?;
    let trust_line = signing::allowed_signers_line("agent@example.com", &new_key.public_key);
    println!("2. signing key {} trusted as:\n   {trust_line}", key_path.display());

    let ws = Workspace::discover(&repo_dir)?;
    let mut index = ws.open_index()?;
    let now = jiff::Timestamp::now();
    let rules = policy::CliRules {
        allow: vec!["src/**".into()],
        deny: vec![],
        dod: vec![
            policy::parse_dod_spec("has-lib=test -f src/lib.rs")?,
            policy::parse_dod_spec("no-todo=! grep -rn TODO src")?,
        ],
    };
    let started = run::start(
        &ws,
        &mut index,
        StartOptions {
            prompt: Some(b"Add a greeting function to the library.".to_vec()),
            rules,
            ..StartOptions::default()
        },
        now,
    )?;
    println!("3. run {} started at {}", started.run_id, &started.base_sha[..10]);

    // The "agent": one tool call that writes two files, then a commit.
    let call = serde_json::json!({"toolcall_id": "call-1", "tool": "write_file"});
    run::append_event(&mut index, &started.run_id, "toolcall.requested", None, call, now)?;
    std::fs::create_dir_all(repo_dir.join("src"))?;
    std::fs::write(
        repo_dir.join("src/lib.rs"),
        "pub fn greet() -> &'static str {\n    \"hello\"\n}\n",
    )?;
    std::fs::write(repo_dir.join("README.md"), "# scratch\n\nNow with a greeting.\n")?;
    let done = serde_json::json!({"toolcall_id": "call-1", "exit_code": 0});
    run::append_event(&mut index, &started.run_id, "toolcall.completed", None, done, now)?;
    git(&repo_dir, &["add", "-A"])?;
    git(&repo_dir, &["commit", "-qm", "Add greet()"])?;
    println!("4. the agent committed src/lib.rs and README.md");

    let key = SigningKey::load(&KeySource::Path(key_path))?;
    let proof = run::finish(
        &ws,
        &mut index,
        &started.run_id,
        FinishOptions {
            exit_code: Some(0),
            checks: run::Checks::Run { progress: true },
            key: &key,
        },
        jiff::Timestamp::now(),
    )?;
    println!("5. proof written to {} on {}", notes::NOTES_REF, proof.commit);

    let signers = AllowedSigners::parse("quickstart", &trust_line)?;
    let trust = Trust::signers(signers, jiff::Timestamp::now().as_second());
    let commit = gix::ObjectId::from_hex(proof.commit.as_bytes())?;
    let mut reader = NotesReader::new(&ws.repo)?;
    let report = verify::verify_commit(&ws.repo, &mut reader, commit, &trust, &verify::Policy::default())?;
    println!("6. verify: {:?} {:?}\n", report.verdict(), report.reasons());
    let index = ws.open_index()?;
    let shown = proofs::of_run(&ws.repo, &index, &proof.bundle.run_id, &trust)?;
    print!("{}", summary::render(&shown, summary::Style::default(), None));
    println!(
        "\nRead the raw note with stock git:\n  git -C {} notes --ref=proof show HEAD",
        repo_dir.display()
    );
    if report.verdict() != verify::Verdict::Valid {
        return Err("the proof did not verify".into());
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Quickstart Agent")
        .env("GIT_AUTHOR_EMAIL", "agent@example.com")
        .env("GIT_COMMITTER_NAME", "Quickstart Agent")
        .env("GIT_COMMITTER_EMAIL", "agent@example.com")
        .status()?;
    if !status.success() {
        return Err(format!("git {args:?} failed").into());
    }
    Ok(())
}
