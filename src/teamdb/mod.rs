//! The team database: the proofs of many repositories in PostgreSQL, for the people who look
//! across them (`git proof publish --to`, `git proof serve --index`). Git remotes stay the
//! transport of the proofs themselves; this is a projection of what their notes prove, rebuilt
//! by publishing again.
//!
//! Storage only, as [`crate::store`] is for one clone: rows in, rows out. What counts is
//! decided before anything reaches it ([`crate::publish`]). Split by topic: connecting and the
//! schema here and in [`schema`], writing a batch of runs in [`write`], the queries a reader
//! makes in [`read`].
//!
//! PostgreSQL is reached with the `postgres` crate without TLS: over a Unix socket, loopback,
//! or a tunnel. A URL that demands TLS (`sslmode=require`) is refused before connecting.

mod read;
mod schema;
mod write;

use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};

pub use read::{Filter, ListedRun, Page, PublishedRun};
pub use write::{DecisionRow, Repository, RunRow, ViolationRow, Written, parse_time};

use crate::error::{Classify, ErrorKind};

/// Why the team database could not do what was asked. Every message names the database
/// without its password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{url}' is not a PostgreSQL URL ({reason}); expected postgres://USER@HOST[:PORT]/DATABASE")]
    BadUrl { url: String, reason: String },
    #[error(
        "{target} asks for TLS (sslmode=require), which git-proof does not speak to PostgreSQL: connect over a Unix socket, loopback or an SSH tunnel"
    )]
    NeedsTls { target: String },
    #[error("cannot reach the team database {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("the team database {target} refused the connection: {reason}")]
    Refused { target: String, reason: String },
    #[error(
        "the team database {target} has git-proof schema {version}, from a newer git-proof (this one knows {known}); upgrade git-proof"
    )]
    NewerSchema { target: String, version: i32, known: i32 },
    #[error("the team database {target} holds no published proofs yet: run `git proof publish --to URL` first")]
    NoSchema { target: String },
    #[error("the team database {target} failed to {action}: {reason}")]
    Query {
        target: String,
        action: &'static str,
        reason: String,
    },
    /// The connection failed while a transaction committed: whether it took effect is unknown.
    #[error(
        "the team database {target} failed while committing a batch of runs ({reason}): it may or may not have been written; publishing again is safe, since it writes each run once"
    )]
    CommitUnknown { target: String, reason: String },
    /// A stored row that does not decode (written by hand, or by a newer git-proof).
    #[error("the team database {target} holds a malformed {what} for run '{run_id}'")]
    Malformed {
        target: String,
        what: &'static str,
        run_id: String,
    },
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::BadUrl { .. } | Self::NeedsTls { .. } => ErrorKind::BadInput,
            Self::Unreachable { .. } | Self::Refused { .. } | Self::NewerSchema { .. } | Self::NoSchema { .. } => {
                ErrorKind::Unavailable
            }
            Self::Query { .. } | Self::CommitUnknown { .. } | Self::Malformed { .. } => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NoSchema { .. } => "no_team_schema",
            Self::NewerSchema { .. } => "newer_schema",
            other => other.kind().code(),
        }
    }
}

type Result<T> = std::result::Result<T, Error>;

/// What the publisher's checks found of a published proof (its signature counted, or it would
/// not have been published).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything checked holds.
    Valid,
    /// Nothing checked is wrong, but some facts could not be recomputed where it was published.
    Unchecked,
    /// A fact of the proof does not hold (see its reasons).
    Invalid,
}

impl Verdict {
    /// The name in the database and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Unchecked => "unchecked",
            Self::Invalid => "invalid",
        }
    }

    /// The verdict a name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "valid" => Self::Valid,
            "unchecked" => Self::Unchecked,
            "invalid" => Self::Invalid,
            _ => return None,
        })
    }
}

/// What a connection is for: publishing creates or upgrades the schema, reading needs it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Publish,
    Read,
}

/// An open connection to the team database.
pub struct TeamDb {
    client: Client,
    /// The database as messages name it: no password.
    target: String,
}

/// How long connecting may take before the database counts as unreachable, unless the URL
/// says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl TeamDb {
    /// Connects to the database `url` names and checks (or, to publish, sets up) its schema.
    pub fn connect(url: &str, access: Access) -> Result<Self> {
        let (config, target) = parse_url(url)?;
        let client = config.connect(NoTls).map_err(|e| connect_error(&target, &e))?;
        let mut db = Self { client, target };
        match access {
            Access::Publish => schema::ensure(&mut db)?,
            Access::Read => schema::check(&mut db)?,
        }
        Ok(db)
    }

    /// The database, as messages name it (without its password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether the server closed the connection (it cannot be used again).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    fn err(&self, action: &'static str) -> impl FnOnce(postgres::Error) -> Error + use<> {
        let target = self.target.clone();
        move |e| Error::Query {
            target,
            action,
            reason: reason(&e),
        }
    }
}

/// The URL's connection settings, and the database it names as messages show it.
pub fn parse_url(url: &str) -> Result<(Config, String)> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::BadUrl {
            url: redact(url),
            reason: "it does not start with postgres://".into(),
        });
    }
    let mut config: Config = url.parse().map_err(|e: postgres::Error| Error::BadUrl {
        url: redact(url),
        reason: e.to_string(),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("git-proof");
    let target = describe(&config);
    if config.get_ssl_mode() == SslMode::Require {
        return Err(Error::NeedsTls { target });
    }
    // Without TLS, `prefer` (the default) would offer it and take no for an answer: ask not to.
    config.ssl_mode(SslMode::Disable);
    Ok((config, target))
}

/// `postgres://USER@HOST:PORT/DATABASE`, the hosts and ports as given (a socket directory
/// percent-encoded as in the URL).
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            Host::Tcp(name) => format!("{name}:{port}"),
            Host::Unix(path) => format!("{}:{port}", path.display().to_string().replace('/', "%2F")),
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(",")
    };
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{hosts}/{db}")
}

/// The URL with any password replaced, for a message about a URL that does not parse.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

/// A failure to connect: refused credentials or database, else unreachable.
fn connect_error(target: &str, e: &postgres::Error) -> Error {
    let refused = match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            // 28xxx: authentication and authorization; 3D000: no such database.
            code.starts_with("28") || code == "3D000" || code == "42501"
        }
        None => e.to_string().contains("password missing"),
    };
    let target = target.to_owned();
    let reason = reason(e);
    if refused {
        Error::Refused { target, reason }
    } else {
        Error::Unreachable { target, reason }
    }
}

/// A PostgreSQL error as one line: the server's message and SQLSTATE, or what the client saw
/// (without the client library's own prefixes, such as "db error:").
fn reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    if e.is_closed() {
        return "the server closed the connection".to_owned();
    }
    let cause = std::error::Error::source(e).map_or_else(|| e.to_string(), |c| c.to_string());
    cause.replace('\n', " ")
}

/// Whether a failed statement is worth retrying as a whole transaction (a deadlock or
/// serialization failure between concurrent publishers).
fn is_transient(e: &postgres::Error) -> bool {
    e.code().is_some_and(|code| {
        *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_named_without_their_password() {
        let (_, target) = parse_url("postgres://alice:s3cret@db.example:6543/proofs").unwrap();
        assert_eq!(target, "postgres://alice@db.example:6543/proofs");
        let (_, socket) = parse_url("postgresql://bob@%2Ftmp%2Fpg/team").unwrap();
        assert_eq!(socket, "postgres://bob@%2Ftmp%2Fpg:5432/team");
        assert_eq!(redact("postgres://alice:s3cret@db:x/p"), "postgres://alice:***@db:x/p");
        match parse_url("postgres://alice:s3cret@db:notaport/p") {
            Err(Error::BadUrl { url, .. }) => assert!(!url.contains("s3cret"), "{url}"),
            other => panic!("{:?}", other.map(|(_, t)| t)),
        }
        assert!(matches!(parse_url("mysql://x/y"), Err(Error::BadUrl { .. })));
        assert!(matches!(
            parse_url("postgres://a@b/c?sslmode=require"),
            Err(Error::NeedsTls { .. })
        ));
    }
}
