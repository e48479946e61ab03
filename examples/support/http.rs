//! HTTP for the server benchmarks: one keep-alive connection, the served address from the
//! banner, the server's memory. Included with `#[path]`; not an example.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::bench::{median, p99};

/// `requests` GETs of `path`; median and p99 of their latencies.
pub fn load(conn: &mut Connection, requests: usize, path: &str) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..requests)
        .map(|_| {
            let started = Instant::now();
            conn.get(path);
            started.elapsed()
        })
        .collect();
    (median(&mut times), p99(&mut times))
}

/// Reads the served address from the server's banner.
pub fn server_addr(server: &mut Child) -> String {
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("a banner").expect("text");
        if let Some(url) = line.split(" at http://").nth(1) {
            return url.trim_end_matches('/').to_owned();
        }
    }
}

/// The server's resident set size, from /proc.
pub fn rss_kib(server: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One HTTP/1.1 keep-alive connection.
pub struct Connection {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    pub fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        Self {
            stream: BufReader::new(stream),
            host: addr.to_owned(),
        }
    }

    /// GETs `path`; panics unless the answer is 200; returns the body.
    pub fn get(&mut self, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.stream.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status = String::new();
        self.stream.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{path}: {status}");
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).unwrap();
        String::from_utf8(body).unwrap()
    }
}
