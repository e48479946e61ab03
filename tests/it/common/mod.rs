//! A temporary repository with pinned git identity and dates, and helpers to run `git`,
//! `git-proof` and `ssh-keygen` in it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use git_proof::model::DiffEntry;

pub mod postgres;
pub mod server;
use serde_json::Value;

/// The date every test pins for git-proof's clock.
pub const DATE: &str = "2026-11-23T10:00:00Z";

/// A scratch repository with an ed25519 key made by stock ssh-keygen and an allowed_signers
/// file that trusts it.
pub struct TestRepo {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub key: PathBuf,
    pub allowed_signers: PathBuf,
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }
}

impl Run {
    /// Panics with everything printed unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Self {
        self.expect_code(0)
    }

    /// Panics unless stderr is exactly one `error: ` line; returns it.
    #[track_caller]
    pub fn one_error_line(&self) -> &str {
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{}", self.stderr);
        assert!(lines[0].starts_with("error: "), "not an error line: {}", lines[0]);
        lines[0]
    }

    /// The one error a command run with `--json` reports: a JSON object on one line of
    /// stderr, `{"error": CODE, "message": ...}`; returns the code and the message.
    #[track_caller]
    pub fn json_error(&self) -> (String, String) {
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{}", self.stderr);
        let error: Value =
            serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not a JSON error ({e}): {}", lines[0]));
        let field = |name: &str| {
            error[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {error}"))
                .to_owned()
        };
        assert_eq!(error.as_object().map(|o| o.len()), Some(2), "{error}");
        (field("error"), field("message"))
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Environment that makes git reproducible and ignores the machine's configuration.
pub fn pin_env(cmd: &mut Command, home: &Path) {
    cmd.env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_PROOF_RUN")
        .env_remove("GIT_PROOF_KEY")
        .env_remove("GIT_PROOF_KEY_DATA")
        // A developer's ssh-agent must not sign for a test that names no agent.
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Agent Smith")
        .env("GIT_AUTHOR_EMAIL", "agent@example.com")
        .env("GIT_COMMITTER_NAME", "Agent Smith")
        .env("GIT_COMMITTER_EMAIL", "agent@example.com")
        .env("GIT_AUTHOR_DATE", "1795428000 +0000")
        .env("GIT_COMMITTER_DATE", "1795428000 +0000")
        .env("GIT_PROOF_DATE", DATE)
        .env("TZ", "UTC")
        // A terminal some tests give a command must not start the developer's pager.
        .env("GIT_PAGER", "cat")
        .env_remove("GIT_PAGER_IN_USE")
        .env_remove("NO_COLOR")
        .env("LC_ALL", "C");
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_git-proof")
}

/// `PATH` with the binary under test first, for what runs `git proof` by name (git hooks, an
/// agent's hook command, the CI examples).
pub fn path_with_bin() -> String {
    let dir = Path::new(bin()).parent().expect("the binary is in a directory");
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

impl TestRepo {
    /// A new repository with one commit (`README.md`), a key and an allowed_signers file.
    pub fn new() -> Self {
        let repo = Self::empty();
        repo.write("README.md", "# test\n");
        repo.commit_all("initial");
        repo
    }

    /// A new repository without any commit.
    pub fn empty() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let keys = tmp.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let key = keys.join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "agent@example.com", "-f"])
            .arg(&key)
            .output()
            .expect("ssh-keygen is installed");
        assert!(
            out.status.success(),
            "ssh-keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public = std::fs::read_to_string(keys.join("id_ed25519.pub")).unwrap();
        let allowed_signers = keys.join("allowed_signers");
        std::fs::write(
            &allowed_signers,
            format!("agent@example.com namespaces=\"git-proof\" {public}"),
        )
        .unwrap();
        let repo = TestRepo {
            tmp,
            root,
            key,
            allowed_signers,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn home(&self) -> PathBuf {
        self.tmp.path().to_owned()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// A bare clone of the repository, `remote.git` beside it, as a server's copy.
    #[track_caller]
    pub fn bare_clone(&self) -> PathBuf {
        let bare = self.tmp.path().join("remote.git");
        self.git_in(
            self.tmp.path(),
            &[
                "clone",
                "-q",
                "--bare",
                self.root.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        bare
    }

    /// A new, empty SHA-256 repository `name` beside this one (branch `main`).
    #[track_caller]
    pub fn sha256_repo(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        self.git_in(
            self.tmp.path(),
            &[
                "init",
                "-q",
                "--object-format=sha256",
                "-b",
                "main",
                dir.to_str().unwrap(),
            ],
        );
        dir
    }

    /// Runs git in the repository; panics on failure; returns stdout without its last newline.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    #[track_caller]
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let run = self.git_run_in(dir, args);
        assert_eq!(run.code, 0, "git {args:?} failed: {}", run.stderr);
        run.stdout.strip_suffix('\n').unwrap_or(&run.stdout).to_owned()
    }

    pub fn git_run_in(&self, dir: &Path, args: &[&str]) -> Run {
        let mut cmd = self.git_command(dir);
        cmd.args(args).stdin(Stdio::null());
        cmd.output().expect("git runs").into()
    }

    /// A pinned `git` command in `dir`, for callers that need to feed its stdin.
    pub fn git_command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        pin_env(&mut cmd, &self.home());
        cmd.current_dir(dir);
        cmd
    }

    /// Runs git with `input` on stdin; panics on failure.
    #[track_caller]
    pub fn git_with_input(&self, args: &[&str], input: &str) {
        let mut cmd = self.git_command(&self.root);
        cmd.args(args);
        let out = run_with_input(cmd, input.as_bytes());
        assert_eq!(out.code, 0, "git {args:?} failed: {}", out.stderr);
    }

    /// `git-proof ARGS` with `input` on stdin, as an agent runs a hook.
    pub fn proof_with_input(&self, args: &[&str], input: impl AsRef<[u8]>) -> Run {
        run_with_input(self.proof_cmd(args), input.as_ref())
    }

    /// `git add -A && git commit -m msg`; returns the new HEAD.
    #[track_caller]
    pub fn commit_all(&self, msg: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-qm", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A `git-proof` command in the repository (with the key in GIT_PROOF_KEY).
    pub fn proof_cmd(&self, args: &[&str]) -> Command {
        self.proof_cmd_in(&self.root, args)
    }

    pub fn proof_cmd_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        pin_env(&mut cmd, &self.home());
        cmd.env("GIT_PROOF_KEY", &self.key)
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub fn proof(&self, args: &[&str]) -> Run {
        self.proof_cmd(args).output().expect("git-proof runs").into()
    }

    pub fn proof_in(&self, dir: &Path, args: &[&str]) -> Run {
        self.proof_cmd_in(dir, args).output().expect("git-proof runs").into()
    }

    /// `git proof start ARGS`, returning the run id.
    #[track_caller]
    pub fn start(&self, args: &[&str]) -> String {
        let mut all = vec!["start"];
        all.extend_from_slice(args);
        self.proof(&all).ok().stdout.trim().to_owned()
    }

    /// Makes every command trust our key (`git config proof.allowedSignersFile`), as a team's
    /// committed `.proof/allowed_signers` would; without it, `show` reads proofs as unverified.
    pub fn trust_our_key(&self) {
        self.git(&[
            "config",
            "proof.allowedSignersFile",
            self.allowed_signers.to_str().unwrap(),
        ]);
    }

    /// The bundle of `target` (run id or commit) as `show --json` prints it.
    #[track_caller]
    pub fn bundle(&self, target: &str) -> Value {
        self.proof(&["show", target, "--json"]).ok().json()
    }

    /// The raw note text on `commit`, read by stock git.
    #[track_caller]
    pub fn note(&self, commit: &str) -> String {
        let run = self.git_run_in(&self.root, &["notes", "--ref=proof", "show", commit]);
        assert_eq!(run.code, 0, "git notes show {commit}: {}", run.stderr);
        run.stdout
    }

    /// `git-proof ARGS` with no key in the environment (config or flags must provide it).
    pub fn proof_without_key_env(&self, args: &[&str]) -> Run {
        self.proof_cmd(args)
            .env_remove("GIT_PROOF_KEY")
            .output()
            .expect("git-proof runs")
            .into()
    }

    /// Replaces the note on `commit` with `text`, through stock `git notes add -f`.
    #[track_caller]
    pub fn replace_note(&self, commit: &str, text: &str) {
        let file = self.tmp.path().join("replacement-note");
        std::fs::write(&file, text).unwrap();
        self.git(&[
            "notes",
            "--ref=proof",
            "add",
            "-f",
            "-F",
            file.to_str().unwrap(),
            commit,
        ]);
    }

    /// `git proof verify ARGS --allowed-signers <ours>`.
    pub fn verify(&self, args: &[&str]) -> Run {
        let signers = self.allowed_signers.to_str().unwrap().to_owned();
        let mut all = vec!["verify"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--allowed-signers", &signers]);
        self.proof(&all)
    }
}

/// A new ed25519 key made by stock ssh-keygen in the test's directory, named `name`.
pub fn new_key(repo: &TestRepo, name: &str) -> PathBuf {
    let key = repo.tmp.path().join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    key
}

/// The allowed_signers line that trusts `key` (its `.pub` beside it) as `principal`.
pub fn trust_line(key: &Path, principal: &str) -> String {
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    format!("{principal} namespaces=\"git-proof\" {public}")
}

/// Runs `cmd` with `input` on stdin, capturing what it prints.
pub fn run_with_input(mut cmd: Command, input: &[u8]) -> Run {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command runs");
    // A command may stop reading early (an oversized payload refused after its limit, a bad
    // flag refused before stdin is read): what it printed and its exit code are the result.
    match child.stdin.take().unwrap().write_all(input) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().unwrap().into()
}

/// The event types of a bundle's manifest, in stream order.
pub fn event_types(bundle: &Value) -> Vec<String> {
    bundle["evidence"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_type"].as_str().expect("event_type").to_owned())
        .collect()
}

/// Splits a note into (payload, armored signature) pairs, independently of git-proof's parser.
pub fn split_records(note: &str) -> Vec<(String, String)> {
    const END: &str = "-----END SSH SIGNATURE-----";
    let mut out = Vec::new();
    let mut rest = note;
    while let Some(begin) = rest.find("-----BEGIN SSH SIGNATURE-----") {
        let end = rest[begin..].find(END).expect("END line") + begin + END.len();
        let end = if rest[end..].starts_with('\n') { end + 1 } else { end };
        out.push((rest[..begin].to_owned(), rest[begin..end].to_owned()));
        rest = &rest[end..];
    }
    out
}

/// `ssh-keygen -Y sign` of `payload` with `key` in `namespace`: a valid armored signature over
/// whatever the payload says, made by stock OpenSSH.
#[track_caller]
pub fn ssh_keygen_sign(repo: &TestRepo, key: &Path, namespace: &str, payload: &str) -> String {
    let file = repo.tmp.path().join("to-sign");
    std::fs::write(&file, payload).unwrap();
    let _ = std::fs::remove_file(repo.tmp.path().join("to-sign.sig"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(&file)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen -Y sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(repo.tmp.path().join("to-sign.sig")).unwrap()
}

/// `ssh-keygen -Y verify -n git-proof` of one record; returns (exit code, output).
pub fn ssh_keygen_verify(repo: &TestRepo, principal: &str, payload: &str, signature: &str) -> (i32, String) {
    let dir = repo.tmp.path().join("sshsig");
    std::fs::create_dir_all(&dir).unwrap();
    let sig = dir.join("record.sig");
    std::fs::write(&sig, signature).unwrap();
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-Y", "verify", "-f"])
        .arg(&repo.allowed_signers)
        .args(["-I", principal, "-n", "git-proof", "-s"])
        .arg(&sig);
    let out = run_with_input(cmd, payload.as_bytes());
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

/// `sha256:<hex>` computed here, not by git-proof.
pub fn sha256_prefixed(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Parses git's own machine-readable diff output for `base..head`.
pub fn git_diff_entries(repo: &TestRepo, base: &str, head: &str) -> Vec<DiffEntry> {
    let numstat = repo.git(&["diff", "--numstat", "-M", "-z", base, head]);
    let mut counts = std::collections::BTreeMap::new();
    let mut fields = numstat.split('\0').filter(|f| !f.is_empty()).peekable();
    while let Some(field) = fields.next() {
        let mut parts = field.splitn(3, '\t');
        let (ins, del, path) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let path = if path.is_empty() {
            // A rename: old and new path follow as their own fields.
            fields.next().unwrap();
            fields.next().unwrap().to_owned()
        } else {
            path.to_owned()
        };
        let binary = ins == "-";
        counts.insert(path, (ins.parse().unwrap_or(0), del.parse().unwrap_or(0), binary));
    }
    // `--raw --no-abbrev`: ":<old mode> <new mode> <old id> <new id> <status>", then the path(s).
    let raw = repo.git(&["diff", "--raw", "-M", "-z", "--no-abbrev", base, head]);
    let mut fields = raw.split('\0').filter(|f| !f.is_empty());
    let mut entries = Vec::new();
    while let Some(meta) = fields.next() {
        let meta: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let letter = meta[4][..1].to_owned();
        let (old_path, path) = if letter == "R" {
            (
                Some(fields.next().unwrap().to_owned()),
                fields.next().unwrap().to_owned(),
            )
        } else {
            (None, fields.next().unwrap().to_owned())
        };
        let side = |mode: &str, id: &str| (mode != "000000").then(|| (mode.to_owned(), id.to_owned()));
        let (old, new) = (side(meta[0], meta[2]), side(meta[1], meta[3]));
        let (insertions, deletions, binary) = counts[&path];
        entries.push(DiffEntry {
            path,
            old_path,
            status: letter,
            insertions,
            deletions,
            binary,
            old_mode: old.as_ref().map(|o| o.0.clone()),
            old_blob: old.map(|o| o.1),
            mode: new.as_ref().map(|n| n.0.clone()),
            blob: new.map(|n| n.1),
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

/// `verify`'s table as one string per commit: its line with the lines indented beneath it
/// joined on, without the summary line that ends the table.
pub fn verify_entries(stdout: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    assert!(summary.contains(" commit"), "no summary line ends the table:\n{stdout}");
    for line in lines {
        match entries.last_mut() {
            Some(entry) if line.starts_with("    ") => {
                entry.push_str("  ");
                entry.push_str(line.trim_start());
            }
            _ => entries.push(line.to_owned()),
        }
    }
    entries
}

/// Says loudly that a test did not run all it would: written to the process's stderr itself,
/// past the test harness's capture, so `cargo test` shows it even when the test passes.
pub fn skipped(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {test}: {why} ***");
}

/// Where `program` is on PATH, if it is.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
