//! `git proof serve`: the Proof view and the JSON API README documents.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use git_proof::serve::{self, Config, Server};

use super::{BadInput, Ctx};

/// Serve the Proof view and the JSON API (README) for this repository.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on. The default is loopback only; any other address is reachable from
    /// other machines and must be asked for (port 0 picks a free port).
    #[arg(long, value_name = "IP:PORT", default_value = serve::DEFAULT_ADDR, value_parser = listen_addr)]
    addr: SocketAddr,
    /// Open the index page in the default browser.
    #[arg(long)]
    open: bool,
    /// Also accept this name in the Host header (repeatable), e.g. the machine's name when
    /// serving on 0.0.0.0; other names are refused (DNS rebinding).
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// The key finalize signs new proofs with [default: the order README gives (Keys and trust)].
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Close a connection that sends no complete request within this many seconds (a slow or
    /// idle client must not hold a file descriptor for good).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    idle_timeout: f64,
    /// Serve the team database `git proof publish` fills (postgres://URL): every repository
    /// published there, read-only, with filters. The default is this clone's own index.
    #[arg(long, value_name = "URL")]
    index: Option<String>,
    #[command(flatten)]
    trust: super::TrustArgs,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        addr,
        open,
        allow_hosts,
        key,
        idle_timeout,
        index,
        trust,
    } = args;
    let idle_timeout = std::time::Duration::try_from_secs_f64(idle_timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            BadInput(format!(
                "--idle-timeout {idle_timeout} is not a positive number of seconds"
            ))
        })?;
    let config = Config {
        trust: trust.options(),
        key,
        allowed_hosts: allow_hosts,
        idle_timeout,
    };
    let bound = match index {
        Some(url) => Server::bind_team(&url, addr, config),
        None => {
            let ws = ctx.workspace()?;
            // Creates or repairs the index before the first request needs it.
            drop(super::open_index(&ws, ctx)?);
            Server::bind(ws, addr, config)
        }
    };
    let server = bound.map_err(|e| match e {
        serve::Error::Bind { .. } => anyhow::Error::new(BadInput(format!("{e}; choose another with --addr IP:PORT"))),
        other => other.into(),
    })?;
    let url = server.url();
    let reach = if server.local_addr().ip().is_loopback() {
        "loopback only (this machine); --addr binds elsewhere".to_owned()
    } else {
        format!("{}: reachable from other machines", server.local_addr())
    };
    // A reader that stops after the first line (`| head -1`) must not stop the server.
    let banner = format!(
        "Serving {} at {url}\nListening on {reach}. Ctrl-C stops.\nPOST requests need: Authorization: Bearer {}\n",
        server.serves(),
        server.token()
    );
    server.run(|| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
        drop(out);
        if open {
            open_browser(&url);
        }
    })?;
    eprintln!("git-proof: stopped");
    Ok(super::EXIT_OK)
}

/// Opens `url` with the desktop's opener; a machine without one gets a line, not an error.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        eprintln!("git-proof: cannot start {opener}; open {url} yourself");
    }
}

/// `IP:PORT`, or `NAME:PORT` for a name this machine resolves (`localhost:7879`; loopback names
/// resolve to loopback, IPv4 first).
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let bad = || format!("'{text}' is not IP:PORT or NAME:PORT (e.g. 127.0.0.1:7878, localhost:7879)");
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let mut found: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| format!("cannot resolve '{host}': {e}"))?
        .collect();
    found.sort_by_key(|a| !a.is_ipv4());
    found.into_iter().next().ok_or_else(bad)
}
