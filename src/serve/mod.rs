//! `git proof serve`: the Proof view for people and the JSON API README documents for tools.
//!
//! Handlers parse the request, call the same library functions the CLI calls on a blocking
//! thread (gix and SQLite are synchronous), and render. Safety is decided in one place,
//! [`guard`]: the `Host` header must name the served address (DNS rebinding), every response
//! carries a strict Content-Security-Policy, and errors of the routing layer (unknown path,
//! wrong method, body too large) come back as the JSON errors the API promises.

mod api;
mod pages;
mod team;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::{Classify, ErrorKind};
use crate::run::{self, Workspace};
use crate::store::Index;
use crate::teamdb::{self, Access, TeamDb};
use crate::trust::{self, Trust, TrustOptions};

/// Where the server listens unless told otherwise: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7878";
/// Runs per page, on the index page and in `/api/runs`.
pub const PAGE_SIZE: u32 = 50;
/// The largest request body read (no endpoint needs one).
const BODY_LIMIT: usize = 64 * 1024;
/// Bytes of decoded objects each repository handle keeps.
const OBJECT_CACHE: usize = 4 * 1024 * 1024;
/// Requests worked on at once; others wait their turn, so memory stays bounded under load.
const CONCURRENT_WORK: usize = 8;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the server: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("the server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Team(#[from] teamdb::Error),
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::Bind { .. } => crate::error::ErrorKind::Unavailable,
            Self::Runtime(_) | Self::Serve(_) => crate::error::ErrorKind::Internal,
            Self::Team(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Team(e) => e.code(),
            other => other.kind().code(),
        }
    }
}

/// What the server needs besides the repository and the address.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where signatures are checked against (README: Keys and trust).
    pub trust: TrustOptions,
    /// The key finalize signs with; `None` follows the order README gives (Keys and trust).
    pub key: Option<PathBuf>,
    /// Host names accepted in the `Host` header besides the served address (and `localhost`
    /// on loopback).
    pub allowed_hosts: Vec<String>,
    /// How long a connection may wait to send a complete request head before it is closed.
    pub idle_timeout: Duration,
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    idle_timeout: Duration,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) for the repository of `ws`.
    pub fn bind(ws: Workspace, addr: SocketAddr, config: Config) -> Result<Self, Error> {
        let repo_name = ws
            .workdir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ws.workdir.display().to_string());
        let source = Source::Clone(Box::new(CloneSource {
            repo: ws.repo.into_sync(),
            workdir: ws.workdir,
            common_dir: ws.common_dir,
            repo_name,
            trust: config.trust.clone(),
            key: config.key.clone(),
            idle: Mutex::new(Vec::new()),
        }));
        Self::bind_source(source, addr, config)
    }

    /// Binds `addr` for the team database at `url`: every repository published there. The
    /// database is reached once before anything is served, so that a wrong URL, refused
    /// credentials or a schema from a newer git-proof stop the command instead of each request.
    pub fn bind_team(url: &str, addr: SocketAddr, config: Config) -> Result<Self, Error> {
        let first = TeamDb::connect(url, Access::Read)?;
        let source = Source::Team(TeamSource {
            url: url.to_owned(),
            target: first.target().to_owned(),
            idle: Mutex::new(vec![first]),
        });
        Self::bind_source(source, addr, config)
    }

    fn bind_source(source: Source, addr: SocketAddr, config: Config) -> Result<Self, Error> {
        let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| Error::Bind { addr, source })?;
        let app = App {
            source,
            token: new_token(),
            hosts: HostRule {
                addr: local,
                names: config.allowed_hosts,
            },
            work: tokio::sync::Semaphore::new(CONCURRENT_WORK),
        };
        Ok(Self {
            listener,
            app: Arc::new(app),
            idle_timeout: config.idle_timeout,
        })
    }

    /// What it serves: a repository's worktree, or the team database (without its password).
    pub fn serves(&self) -> String {
        match &self.app.source {
            Source::Clone(clone) => clone.workdir.display().to_string(),
            Source::Team(team) => format!("the team database {}", team.target),
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.app.hosts.addr
    }

    /// The URL of the index page.
    pub fn url(&self) -> String {
        format!("http://{}/", self.local_addr())
    }

    /// The bearer token that POST requests must carry.
    pub fn token(&self) -> &str {
        &self.app.token
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight and returns.
    /// `ready` runs once both signals are handled (so a Ctrl-C right after a banner it prints
    /// stops the server gracefully rather than killing it).
    pub fn run(self, ready: impl FnOnce()) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(CONCURRENT_WORK)
            .enable_io()
            .enable_time()
            .build()
            .map_err(Error::Runtime)?;
        let Self {
            listener,
            app,
            idle_timeout,
        } = self;
        // The last handle on the state is dropped here, after the runtime: closing a team
        // database connection blocks on its own runtime, which cannot run inside this one.
        let state = Arc::clone(&app);
        let served = runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Runtime)?;
            let mut terminate = signal(SignalKind::terminate()).map_err(Error::Runtime)?;
            listener.set_nonblocking(true).map_err(Error::Runtime)?;
            let listener = tokio::net::TcpListener::from_std(listener).map_err(Error::Runtime)?;
            ready();
            let stopped = async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            };
            serve_connections(listener, router(app), idle_timeout, stopped).await;
            Ok(())
        });
        drop(runtime);
        drop(state);
        served
    }
}

/// Accepts connections until `stopped`, then lets the requests in flight finish. A connection
/// that sends no complete request head within `idle` (a slow client, or a keep-alive one
/// gone quiet) is closed, so idle clients cannot hold every file descriptor; when accepting
/// fails (no descriptor left), the server waits a moment and goes on rather than stopping.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    idle: Duration,
    stopped: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(idle).keep_alive(true);
    tokio::pin!(stopped);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // EMFILE and the like: descriptors free up as idle connections close.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up or times out ends only its own connection.
            let _ = connection.await;
        });
    }
    graceful.shutdown().await;
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/runs/{run_id}", get(pages::proof_view))
        .route("/style.css", get(pages::stylesheet))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{run_id}/proof", get(api::proof))
        .route("/v1/runs/{run_id}/evidence", get(api::evidence))
        .route("/v1/runs/{run_id}/evidence/finalize", post(api::finalize))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .with_state(app)
}

/// The server's shared state.
struct App {
    source: Source,
    token: String,
    hosts: HostRule,
    work: tokio::sync::Semaphore,
}

/// What the pages and the API read.
enum Source {
    /// One clone: its notes and its SQLite index (the default).
    Clone(Box<CloneSource>),
    /// The team database `git proof publish` fills, across repositories.
    Team(TeamSource),
}

struct CloneSource {
    repo: gix::ThreadSafeRepository,
    workdir: PathBuf,
    common_dir: PathBuf,
    repo_name: String,
    trust: TrustOptions,
    key: Option<PathBuf>,
    /// Repository handles and index connections, reused across requests so that their object
    /// caches stay warm; at most one per request in flight.
    idle: Mutex<Vec<(gix::Repository, Index)>>,
}

struct TeamSource {
    url: String,
    /// The database as pages name it (no password).
    target: String,
    /// Connections reused across requests; at most one per request in flight.
    idle: Mutex<Vec<TeamDb>>,
}

/// What a request handler works with, on its blocking thread.
struct Session {
    ws: Workspace,
    index: Index,
    /// The trust in force for this request, or why it cannot be read.
    trust: Result<Trust, String>,
    now: jiff::Timestamp,
}

impl Session {
    /// The trust to judge records by; a trust file that does not parse fails the request.
    fn trust(&self) -> Result<&Trust, Failure> {
        self.trust.as_ref().map_err(|why| {
            Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "trust_unreadable",
                format!("signatures cannot be checked: {why}"),
            )
        })
    }
}

impl App {
    /// The clone served, unless the team database is.
    fn clone_source(&self) -> Option<&CloneSource> {
        match &self.source {
            Source::Clone(clone) => Some(clone),
            Source::Team(_) => None,
        }
    }

    /// The name the page header shows.
    fn repo_name(&self) -> String {
        match &self.source {
            Source::Clone(clone) => clone.repo_name.clone(),
            Source::Team(_) => "team".to_owned(),
        }
    }
}

impl CloneSource {
    /// Runs `work` with a session: the repository, an index connection and the trust sources as
    /// they are now (a key added while the server runs counts at once).
    fn with_session<T>(&self, work: impl FnOnce(&mut Session) -> Result<T, Failure>) -> Result<T, Failure> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let (repo, index) = match idle {
            Some(pair) => pair,
            None => {
                let mut repo = self.repo.to_thread_local();
                // Notes trees and delta bases are read again by every page: keep them decoded.
                repo.object_cache_size_if_unset(OBJECT_CACHE);
                (repo, Index::open(&self.common_dir).map_err(Failure::from_error)?)
            }
        };
        let now = jiff::Timestamp::now();
        let trust = trust::load(&repo, &self.trust, now.as_second()).map_err(|e| e.to_string());
        let mut session = Session {
            ws: Workspace {
                repo,
                workdir: self.workdir.clone(),
                common_dir: self.common_dir.clone(),
            },
            index,
            trust,
            now,
        };
        let result = work(&mut session);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((session.ws.repo, session.index));
        }
        result
    }
}

impl TeamSource {
    /// Runs `work` with a connection to the team database: an idle one, else a new one.
    fn with_db<T>(&self, work: impl FnOnce(&mut TeamDb) -> Result<T, Failure>) -> Result<T, Failure> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut db = match idle {
            Some(db) => db,
            None => TeamDb::connect(&self.url, Access::Read).map_err(Failure::from_error)?,
        };
        let result = work(&mut db);
        // A connection the server closed is dropped; the next request opens another.
        if !db.is_closed()
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(db);
        }
        result
    }
}

/// Runs blocking library work on the served clone, off the async workers, at most
/// [`CONCURRENT_WORK`] at once.
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&mut Session) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    off_the_workers(app, move |app| match app.clone_source() {
        Some(clone) => clone.with_session(work),
        None => Err(Failure::internal(
            "this request needs a clone; the team database is served",
        )),
    })
    .await
}

/// Runs blocking work on the team database, as [`blocking`] does on a clone.
async fn blocking_team<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&mut TeamDb) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    off_the_workers(app, move |app| match &app.source {
        Source::Team(team) => team.with_db(work),
        Source::Clone(_) => Err(Failure::internal(
            "this request needs the team database; a clone is served",
        )),
    })
    .await
}

async fn off_the_workers<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&App) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    let _permit = app
        .work
        .acquire()
        .await
        .map_err(|_| Failure::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", "the server is stopping"))?;
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || work(&app))
        .await
        .unwrap_or_else(|_| {
            Err(Failure::internal(
                "the request failed unexpectedly (see the server's output)",
            ))
        })
}

/// An error response, as JSON for the API or as a page for people.
#[derive(Debug, Clone)]
struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// What a library error means for the client: its kind decides the status.
    fn from_error(e: impl Classify + std::fmt::Display) -> Self {
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.code(), e.to_string())
    }

    /// The JSON error body of the API.
    fn json(&self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        json_response(self.status, body.to_string() + "\n")
    }
}

/// A run id from the path, checked before anything reads the repository with it.
fn run_id_of(raw: &str) -> Result<String, Failure> {
    run::check_run_id(raw).map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "bad_run_id", e.to_string()))?;
    Ok(raw.to_owned())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// Unknown paths: a JSON error under the API prefixes, a page elsewhere.
async fn not_found(request: Request) -> Response {
    let path = request.uri().path();
    let failure = Failure::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("nothing is served at {path}"),
    );
    if is_api(path) {
        failure.json()
    } else {
        pages::error_page(&failure)
    }
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/v1/") || path == "/api" || path == "/v1"
}

/// Checks the Host header, then gives every response the security headers and turns the
/// routing layer's plain-text errors (wrong method, body too large, bad query) into JSON.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    // An absolute-form request line (`GET http://name/...`) names its host in the URI, which
    // RFC 9112 says wins over the Host header: both must name this server.
    let header_host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let uri_host = request.uri().authority().map(|a| a.as_str().to_owned());
    let host = match (&uri_host, header_host) {
        (Some(uri), _) if !app.hosts.allows(uri) => Some(uri.as_str()),
        (_, header) => header,
    };
    let mut response = match host {
        Some(host) if app.hosts.allows(host) => {
            let api = is_api(request.uri().path());
            let response = next.run(request).await;
            if api || response.status() == StatusCode::METHOD_NOT_ALLOWED {
                jsonify_error(response).await
            } else {
                response
            }
        }
        _ => Failure::new(
            StatusCode::FORBIDDEN,
            "bad_host",
            format!(
                "the Host header {} is not the address this server serves ({}); requests through other names are refused (DNS rebinding)",
                host.map_or_else(|| "(none)".to_owned(), |h| format!("'{h}'")),
                app.hosts.addr
            ),
        )
        .json(),
    };
    secure(response.headers_mut());
    response
}

/// A 4xx/5xx response that is not JSON yet becomes `{"error", "message"}`, keeping its status
/// and headers (such as `Allow` on a 405).
async fn jsonify_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let body = serde_json::json!({ "error": code, "message": message }).to_string() + "\n";
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// No scripts at all, styles only from us, nothing framed, nothing sniffed: a file name that
/// is HTML stays text even if escaping were ever wrong.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Which `Host` headers name this server.
struct HostRule {
    addr: SocketAddr,
    /// Extra names (`--allow-host`).
    names: Vec<String>,
}

impl HostRule {
    /// The served IP literal, `localhost` on loopback, or a name allowed by the user; always with
    /// the served port. On an unspecified address (0.0.0.0) any IP literal is the server's: a
    /// DNS-rebinding page can only reach us through a name.
    fn allows(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else {
            return false;
        };
        if port != self.addr.port() {
            return false;
        }
        let ip = self.addr.ip();
        if self
            .names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(host) || n.eq_ignore_ascii_case(name))
        {
            return true;
        }
        if name.eq_ignore_ascii_case("localhost") {
            return ip.is_loopback() || ip.is_unspecified();
        }
        let literal = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
        match literal.parse::<IpAddr>() {
            Ok(asked) => ip.is_unspecified() || asked == ip,
            Err(_) => false,
        }
    }
}

/// `name[:port]` (IPv6 in brackets), the port defaulting to 80 as in HTTP.
fn split_host(host: &str) -> Option<(&str, u16)> {
    let (name, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        let (name, rest) = host.split_at(end + 1);
        (name, rest.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 80,
    };
    (!name.is_empty()).then_some((name, port))
}

/// 256 random bits, hex: the bearer token of POST requests.
fn new_token() -> String {
    use ssh_key::rand_core::RngCore;
    let mut bytes = [0u8; 32];
    ssh_key::rand_core::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the request carries `Authorization: Bearer <token>`, compared in constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(addr: &str, names: &[&str]) -> HostRule {
        HostRule {
            addr: addr.parse().unwrap(),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    #[test]
    fn host_must_name_the_served_address() {
        let loopback = rule("127.0.0.1:7878", &[]);
        assert!(loopback.allows("127.0.0.1:7878"));
        assert!(loopback.allows("localhost:7878"));
        assert!(loopback.allows("LOCALHOST:7878"));
        assert!(!loopback.allows("127.0.0.1:7879"));
        assert!(!loopback.allows("127.0.0.1"));
        assert!(!loopback.allows("evil.example:7878"));
        assert!(!loopback.allows("10.0.0.1:7878"));
        assert!(!loopback.allows(""));
        assert!(!loopback.allows(":7878"));
        assert!(!loopback.allows("127.0.0.1:notaport"));

        let v6 = rule("[::1]:9000", &[]);
        assert!(v6.allows("[::1]:9000"));
        assert!(v6.allows("localhost:9000"));
        assert!(!v6.allows("[::2]:9000"));

        let any = rule("0.0.0.0:80", &["proof.internal"]);
        assert!(any.allows("192.168.1.5"));
        assert!(any.allows("proof.internal"));
        assert!(any.allows("proof.internal:80"));
        assert!(!any.allows("rebind.attacker.example"));
        assert!(!any.allows("proof.internal:81"));
    }

    #[test]
    fn bearer_token_is_compared_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!authorized(&headers, "abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(authorized(&headers, "abc"));
        assert!(!authorized(&headers, "abcd"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(!authorized(&headers, "abc"));
        assert_eq!(new_token().len(), 64);
        assert_ne!(new_token(), new_token());
    }
}
