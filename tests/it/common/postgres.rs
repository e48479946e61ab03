//! A real PostgreSQL for a test: `initdb` in a temporary directory, started on a Unix socket
//! there and on a loopback port, stopped when dropped. As root (CI containers) the server runs
//! as `nobody`, since PostgreSQL refuses to run as root. Shared with the team benchmark.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The password of the `postgres` role over TCP (the socket trusts local users).
pub const PASSWORD: &str = "team-secret";

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

/// Where PostgreSQL's server programs are: on PATH, else Debian's versioned directory.
fn server_bin() -> Option<PathBuf> {
    // Through symlinks (/usr/local/bin/initdb), to the directory that also has psql.
    if let Some(dir) = std::env::split_paths(&std::env::var_os("PATH")?)
        .filter_map(|d| std::fs::canonicalize(d.join("initdb")).ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_owned))
        .find(|d| d.join("pg_ctl").is_file() && d.join("psql").is_file())
    {
        return Some(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    found.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether a PostgreSQL that is missing or cannot start fails the test instead of skipping it
/// (CI sets `GIT_PROOF_REQUIRE_POSTGRES`; empty or `0` is unset).
pub fn required() -> bool {
    std::env::var_os("GIT_PROOF_REQUIRE_POSTGRES").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether PostgreSQL's server programs are installed here.
pub fn installed() -> bool {
    server_bin().is_some()
}

/// The last lines of a program's output or log, on one line, for a skip message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

impl Cluster {
    /// A new, running cluster; `None` when PostgreSQL is not installed here or cannot start,
    /// which the test reports loudly, and which fails the test where
    /// `GIT_PROOF_REQUIRE_POSTGRES` is set (CI).
    pub fn start(test: &str) -> Option<Self> {
        Self::start_on(test, free_port(), required())
    }

    /// [`Cluster::start`] listening on `port`; `required` fails the test instead of skipping it.
    pub fn start_on(test: &str, port: u16, required: bool) -> Option<Self> {
        let cannot = |why: String| -> Option<Self> {
            assert!(!required, "{test}: {why}, and GIT_PROOF_REQUIRE_POSTGRES is set");
            super::skipped(test, &why);
            None
        };
        let Some(bin) = server_bin() else {
            return cannot("PostgreSQL (initdb, pg_ctl) is not installed".to_owned());
        };
        let dir = tempfile::Builder::new().prefix("gp-pg").tempdir().expect("tempdir");
        let cluster = Self { bin, port, dir };
        // The server, run as nobody when we are root, must reach its directory.
        if is_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(cluster.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let pwfile = cluster.dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let data = cluster.data();
        let initdb = cluster
            .server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--no-sync", "--auth-local=trust"])
            .args(["--auth-host=scram-sha-256", "--pwfile"])
            .arg(&pwfile)
            .output();
        match initdb {
            Err(e) => return cannot(format!("PostgreSQL is installed but initdb cannot run: {e}")),
            Ok(out) if !out.status.success() => {
                let output = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                return cannot(format!("PostgreSQL is installed but initdb failed: {}", tail(&output)));
            }
            Ok(_) => {}
        }
        let options = format!(
            "-k {} -c listen_addresses=127.0.0.1 -c port={} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100",
            cluster.dir.path().display(),
            cluster.port
        );
        let log = cluster.dir.path().join("log");
        let started = cluster
            .server_command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null())
            .output();
        match started {
            Err(e) => return cannot(format!("PostgreSQL is installed but pg_ctl cannot run: {e}")),
            Ok(out) if !out.status.success() => {
                let output = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stderr),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                return cannot(format!("PostgreSQL is installed but cannot start: {}", tail(&output)));
            }
            Ok(_) => {}
        }
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of PostgreSQL's programs, as the user the server runs as.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "nobody", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// The socket directory, percent-encoded for a URL's host.
    fn socket_host(&self) -> String {
        self.dir.path().display().to_string().replace('/', "%2F")
    }

    /// A URL for `database` over the Unix socket, as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@{}:{}/{database}", self.socket_host(), self.port)
    }

    /// A URL for `database` over loopback TCP with `password`.
    pub fn tcp_url(&self, database: &str, password: &str) -> String {
        format!("postgres://postgres:{password}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` in `database` with psql; returns its unaligned, tuples-only output.
    #[track_caller]
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .unwrap_or_else(|e| panic!("psql {} runs: {e}", self.bin.display()));
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A new, empty database.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
