//! Scope rules and DoD checks: `.proof/policy.toml` merged with command-line rules into the
//! snapshots frozen at start, and the scope violations of a run's changed and dirty paths.
//!
//! Globs follow gitignore: `*` stays within one path component, `**` spans them, a leading `/`
//! anchors at the root, a pattern without `/` matches a name at any depth, and a pattern that
//! matches a directory covers everything below it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};
use gix::glob::{Pattern, pattern::Case, wildmatch};
use serde::Deserialize;

use crate::model::{Approval, DiffStat, DodCheck, ScopeSnapshot, ScopeViolation};

/// Where the policy file lives in a worktree.
pub const POLICY_PATH: &str = ".proof/policy.toml";
/// `timeout_s` of a check that names none.
pub const DEFAULT_TIMEOUT_S: u64 = 600;

/// Why the scope or DoD cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {reason}", path.display())]
    Malformed { path: PathBuf, line: usize, reason: String },
    #[error("'{0}' is not a usable glob")]
    BadGlob(String),
    #[error("--dod takes NAME=COMMAND, got '{0}'")]
    BadDodSpec(String),
    #[error("DoD check '{0}' is defined twice")]
    DuplicateCheck(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    scope: ScopeTable,
    #[serde(default)]
    dod: DodSection,
    #[serde(default)]
    verify: VerifyTable,
}

/// The checks of a policy file, in either form: `[[dod]]` tables with a `name` each, or one
/// `[dod]` table of `name = "command"` (or `name = { command = "...", timeout_s = ... }`),
/// run in file order.
#[derive(Debug, Default)]
struct DodSection(Vec<DodTable>);

impl<'de> Deserialize<'de> for DodSection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DodSection;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[[dod]] tables (name, command) or a [dod] table of name = \"command\"")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<DodSection, A::Error> {
                let mut checks = Vec::new();
                while let Some(check) = seq.next_element::<DodTable>()? {
                    checks.push(check);
                }
                Ok(DodSection(checks))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<DodSection, A::Error> {
                let mut checks = Vec::new();
                while let Some((name, check)) = map.next_entry::<String, NamedCheck>()? {
                    let body = match check {
                        NamedCheck::Command(command) => DodBody {
                            command,
                            timeout_s: None,
                            cwd: None,
                            env: Vec::new(),
                        },
                        NamedCheck::Table(body) => body,
                    };
                    checks.push(DodTable {
                        name,
                        command: body.command,
                        timeout_s: body.timeout_s,
                        cwd: body.cwd,
                        env: body.env,
                    });
                }
                Ok(DodSection(checks))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One check of the `[dod]` table form: its command, or a table like `[[dod]]`'s without `name`.
enum NamedCheck {
    Command(String),
    Table(DodBody),
}

impl<'de> Deserialize<'de> for NamedCheck {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = NamedCheck;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a command string, or a table with command (and timeout_s, cwd, env)")
            }

            fn visit_str<E: serde::de::Error>(self, command: &str) -> Result<NamedCheck, E> {
                Ok(NamedCheck::Command(command.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<NamedCheck, A::Error> {
                DodBody::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(NamedCheck::Table)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DodBody {
    command: String,
    timeout_s: Option<u64>,
    cwd: Option<String>,
    #[serde(default)]
    env: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyTable {
    /// Author or committer patterns (`Name <email>` substrings) that mark a commit agent-made.
    #[serde(default)]
    agents: Vec<String>,
    /// `verify --policy`: fail unless every scope violation is approved.
    #[serde(default)]
    deny_pending: bool,
    /// `verify --policy`: fail unless every DoD check passed.
    #[serde(default)]
    require_dod: bool,
    /// Principal patterns (OpenSSH style) whose decisions on scope violations count.
    #[serde(default)]
    approvers: Vec<String>,
}

/// The `[verify]` table of a policy file: what a team judges in CI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Author or committer patterns that mark a commit agent-made.
    pub agents: Vec<String>,
    pub deny_pending: bool,
    pub require_dod: bool,
    /// Who may decide scope violations: principal patterns matched against the signer's
    /// allowed_signers principals. Empty: any trusted signer, the run's own included.
    pub approvers: Vec<String>,
}

/// A policy file as a team commits it: the default scope and checks of runs, and how `verify`
/// judges them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamPolicy {
    /// `[scope]`; `source` is `policy` when it has any glob.
    pub scope: ScopeSnapshot,
    /// `[[dod]]`, in file order.
    pub dod: Vec<DodCheck>,
    pub verify: VerifyPolicy,
}

impl TeamPolicy {
    /// Parses a policy file's text; `origin` names it in errors.
    pub fn parse(origin: &Path, text: &str) -> Result<Self, Error> {
        Self::from_file(parse_policy(origin, text)?)
    }

    /// The worktree's `.proof/policy.toml`, or the empty policy without one.
    pub fn of_worktree(workdir: &Path) -> Result<Self, Error> {
        let path = workdir.join(POLICY_PATH);
        match crate::bounded::read_text(&path, 1 << 20) {
            Ok(text) => Self::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(Error::Read { path, source }),
        }
    }

    fn from_file(file: PolicyFile) -> Result<Self, Error> {
        let has_scope = !file.scope.allow.is_empty() || !file.scope.deny.is_empty();
        let scope = ScopeSnapshot {
            allow: file.scope.allow,
            deny: file.scope.deny,
            source: has_scope.then(|| "policy".to_owned()),
        };
        for glob in scope.allow.iter().chain(&scope.deny) {
            compile(glob)?;
        }
        let mut dod: Vec<DodCheck> = Vec::new();
        for d in file.dod.0 {
            if dod.iter().any(|c| c.name == d.name) {
                return Err(Error::DuplicateCheck(d.name));
            }
            dod.push(DodCheck {
                name: d.name,
                command: d.command,
                timeout_s: d.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S),
                cwd: d.cwd,
                env: d.env,
                source: "policy".into(),
            });
        }
        let verify = VerifyPolicy {
            agents: file.verify.agents,
            deny_pending: file.verify.deny_pending,
            require_dod: file.verify.require_dod,
            approvers: file.verify.approvers,
        };
        Ok(Self { scope, dod, verify })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeTable {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DodTable {
    name: String,
    command: String,
    timeout_s: Option<u64>,
    /// Working directory, relative to the worktree root.
    cwd: Option<String>,
    /// Environment variables that must be set.
    #[serde(default)]
    env: Vec<String>,
}

/// Rules given on the command line of `start`.
#[derive(Debug, Clone, Default)]
pub struct CliRules {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub dod: Vec<DodCheck>,
}

/// Parses `NAME=COMMAND` into a check with the default timeout.
pub fn parse_dod_spec(spec: &str) -> Result<DodCheck, Error> {
    match spec.split_once('=') {
        Some((name, command)) if !name.trim().is_empty() && !command.trim().is_empty() => Ok(DodCheck {
            name: name.trim().to_owned(),
            command: command.to_owned(),
            timeout_s: DEFAULT_TIMEOUT_S,
            cwd: None,
            env: Vec::new(),
            source: "cli".into(),
        }),
        _ => Err(Error::BadDodSpec(spec.to_owned())),
    }
}

/// The effective scope and DoD: the worktree's policy file, then the command line.
pub fn effective(workdir: &Path, cli: &CliRules) -> Result<(ScopeSnapshot, Vec<DodCheck>), Error> {
    let TeamPolicy {
        scope: file_scope,
        dod: mut checks,
        ..
    } = TeamPolicy::of_worktree(workdir)?;
    let from_policy = file_scope.source.is_some();
    let from_cli = !cli.allow.is_empty() || !cli.deny.is_empty();
    let source = match (from_policy, from_cli) {
        (false, false) => None,
        (true, false) => Some("policy"),
        (false, true) => Some("cli"),
        (true, true) => Some("policy+cli"),
    };
    let scope = ScopeSnapshot {
        allow: file_scope.allow.iter().chain(&cli.allow).cloned().collect(),
        deny: file_scope.deny.iter().chain(&cli.deny).cloned().collect(),
        source: source.map(str::to_owned),
    };
    for glob in cli.allow.iter().chain(&cli.deny) {
        compile(glob)?;
    }
    // A check named on the command line replaces the policy's check of that name (locally:
    // `verify --policy` judges by the trusted policy, not by the run's snapshot).
    let mut seen_cli = BTreeMap::new();
    for c in &cli.dod {
        if seen_cli.insert(c.name.clone(), ()).is_some() {
            return Err(Error::DuplicateCheck(c.name.clone()));
        }
        match checks.iter_mut().find(|p| p.name == c.name) {
            Some(existing) => *existing = c.clone(),
            None => checks.push(c.clone()),
        }
    }
    Ok((scope, checks))
}

fn parse_policy(path: &Path, text: &str) -> Result<PolicyFile, Error> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        Error::Malformed {
            path: path.to_owned(),
            line,
            reason: e.message().to_owned(),
        }
    })
}

fn compile(glob: &str) -> Result<Pattern, Error> {
    let trimmed = glob.trim();
    Pattern::from_bytes_without_negation(trimmed.as_bytes())
        .filter(|_| !trimmed.is_empty())
        .ok_or_else(|| Error::BadGlob(glob.to_owned()))
}

/// Compiled allow and deny globs.
pub struct ScopeMatcher {
    allow: Vec<(String, Pattern)>,
    deny: Vec<(String, Pattern)>,
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

impl ScopeMatcher {
    /// Compiles a snapshot's globs.
    pub fn new(scope: &ScopeSnapshot) -> Result<Self, Error> {
        let compile_all = |globs: &[String]| -> Result<Vec<(String, Pattern)>, Error> {
            globs.iter().map(|g| Ok((g.clone(), compile(g)?))).collect()
        };
        Ok(Self {
            allow: compile_all(&scope.allow)?,
            deny: compile_all(&scope.deny)?,
        })
    }

    /// The rule `path` breaks, if any. Deny wins over allow; no allow globs means "allow all".
    pub fn rule_broken(&self, path: &str) -> Option<String> {
        if let Some((glob, _)) = self.deny.iter().find(|(_, p)| covers(p, path)) {
            return Some(format!("inside deny: {glob}"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|(_, p)| covers(p, path)) {
            let globs: Vec<&str> = self.allow.iter().map(|(g, _)| g.as_str()).collect();
            return Some(format!("outside allow: {}", globs.join(", ")));
        }
        None
    }
}

/// Whether `pattern` matches `path` or one of its parent directories (as gitignore does).
fn covers(pattern: &Pattern, path: &str) -> bool {
    // Globs match the name's bytes, not the quoted form a bundle records for a non-UTF-8 one.
    let bytes = crate::model::path_bytes(path);
    let path = bytes.as_bstr();
    let matches = |candidate: &BStr, is_dir: bool| {
        let basename = candidate.rfind_byte(b'/').map(|i| i + 1);
        pattern.matches_repo_relative_path(
            candidate,
            basename,
            Some(is_dir),
            Case::Sensitive,
            wildmatch::Mode::NO_MATCH_SLASH_LITERAL,
        )
    };
    if matches(path, false) {
        return true;
    }
    let mut end = path.len();
    while let Some(slash) = path[..end].rfind_byte(b'/') {
        if matches(path[..slash].as_bstr(), true) {
            return true;
        }
        end = slash;
    }
    false
}

/// Violations of the changed paths (both sides of a rename) and the dirty paths, sorted by
/// path, one per path.
pub fn violations(matcher: &ScopeMatcher, diff: &DiffStat, dirty: &[String]) -> Vec<ScopeViolation> {
    let mut by_path: BTreeMap<&str, String> = BTreeMap::new();
    let paths = diff
        .entries
        .iter()
        .flat_map(|e| std::iter::once(e.path.as_str()).chain(e.old_path.as_deref()))
        .chain(dirty.iter().map(String::as_str));
    for path in paths {
        if let Some(rule) = matcher.rule_broken(path) {
            by_path.entry(path).or_insert(rule);
        }
    }
    by_path
        .into_iter()
        .map(|(path, rule)| ScopeViolation {
            path: path.to_owned(),
            rule,
            approval: Approval::pending(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(allow: &[&str], deny: &[&str]) -> ScopeMatcher {
        ScopeMatcher::new(&ScopeSnapshot {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            source: Some("cli".into()),
        })
        .unwrap()
    }

    #[test]
    fn gitignore_like_globs() {
        let m = matcher(&["src/**", "/Cargo.toml", "docs/", "*.md"], &["src/secrets/**"]);
        assert_eq!(m.rule_broken("src/a/b/c.rs"), None);
        assert_eq!(m.rule_broken("Cargo.toml"), None);
        assert_eq!(m.rule_broken("docs/guide/x.txt"), None);
        assert_eq!(m.rule_broken("deep/down/NOTES.md"), None);
        assert_eq!(
            m.rule_broken("sub/Cargo.toml").as_deref(),
            Some("outside allow: src/**, /Cargo.toml, docs/, *.md")
        );
        assert_eq!(
            m.rule_broken("src/secrets/key.pem").as_deref(),
            Some("inside deny: src/secrets/**")
        );
        let star = matcher(&["src/*.rs"], &[]);
        assert_eq!(star.rule_broken("src/lib.rs"), None);
        assert!(star.rule_broken("src/cli/run.rs").is_some(), "* must not cross a slash");
    }

    #[test]
    fn no_rules_means_no_violations() {
        let m = matcher(&[], &[]);
        assert_eq!(m.rule_broken("anything/at/all"), None);
    }

    #[test]
    fn dod_specs_need_a_name_and_a_command() {
        assert_eq!(
            parse_dod_spec("test=cargo test --x=1").unwrap().command,
            "cargo test --x=1"
        );
        assert!(parse_dod_spec("test").is_err());
        assert!(parse_dod_spec("=cmd").is_err());
    }

    #[test]
    fn malformed_policy_names_the_line() {
        let err = parse_policy(Path::new("p.toml"), "[scope]\nallow = [\"a\"]\ndeny = 3\n").unwrap_err();
        assert!(matches!(err, Error::Malformed { line: 3, .. }), "{err}");
    }
}
