//! `git proof serve` as a child process on an ephemeral loopback port, and a minimal HTTP/1.1
//! client that shows exactly what went over the wire (status, headers, body bytes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::TestRepo;

/// A running server; stopped with SIGINT when dropped.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    pub token: String,
    /// The startup lines it printed.
    pub banner: String,
}

impl Served {
    /// Starts `git proof serve --addr 127.0.0.1:0 ARGS` in `repo` and waits for its banner.
    #[track_caller]
    pub fn start(repo: &TestRepo, args: &[&str]) -> Self {
        Self::start_with(repo, args, |_| {})
    }

    /// [`Served::start`], with the command adjusted by `configure` first (environment, stderr).
    #[track_caller]
    pub fn start_with(repo: &TestRepo, args: &[&str], configure: impl FnOnce(&mut std::process::Command)) -> Self {
        let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut command = repo.proof_cmd(&all);
        // Its lines ("stopped") would land in the test output; what a test needs from stderr
        // it asks for with `configure`.
        command.stderr(Stdio::null());
        configure(&mut command);
        Self::spawn(command)
    }

    /// Starts a command that runs `git proof serve` (through a wrapper such as `sh -c 'ulimit
    /// ...; exec ...'`) and waits for its banner.
    #[track_caller]
    pub fn spawn(mut command: std::process::Command) -> Self {
        command.stdout(Stdio::piped());
        let mut child = command.spawn().expect("git-proof serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = String::new();
        let (mut addr, mut token) = (None, None);
        while addr.is_none() || token.is_none() {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().unwrap();
                panic!("serve exited ({status}) before printing its address and token:\n{banner}");
            };
            banner.push_str(&line);
            banner.push('\n');
            if let Some(url) = line.split(" at http://").nth(1) {
                addr = Some(url.trim_end_matches('/').parse().expect("a socket address in the URL"));
            }
            if let Some(t) = line.split("Bearer ").nth(1) {
                token = Some(t.trim().to_owned());
            }
        }
        Self {
            child,
            addr: addr.unwrap(),
            token: token.unwrap(),
            banner,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// `POST path` with the server's token.
    pub fn post_authorized(&self, path: &str) -> Response {
        let auth = format!("Bearer {}", self.token);
        self.request("POST", path, &[("Authorization", &auth)], b"")
    }

    /// Any request, with `Host` set to the served address unless a header overrides it.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        send(self.addr, method, path, headers, body)
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit code, at most `limit`.
    pub fn interrupt(&mut self, limit: Duration) -> Option<i32> {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Killed by a signal: 128 + its number, as a shell reports it.
                use std::os::unix::process::ExitStatusExt;
                return Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() && self.interrupt(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, after checking the content type says so.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "status {}: {}",
            self.status,
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Panics unless this is a JSON error `{"error", "message"}` with `status`; returns the code.
    #[track_caller]
    pub fn expect_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let body = self.json();
        let message = body["message"].as_str().expect("a message");
        assert!(!message.is_empty());
        body["error"].as_str().expect("an error code").to_owned()
    }
}

/// Sends one request over a fresh connection (`Connection: close`) and reads the whole answer.
pub fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading a large body, then close: not our failure.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head: {}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(length) = headers.iter().find(|(n, _)| n == "content-length") {
        body.truncate(length.1.parse().expect("a length"));
    }
    assert!(
        !headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")),
        "chunked bodies are not expected from this server"
    );
    Response { status, headers, body }
}
