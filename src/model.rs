//! The proof bundle, the evidence manifest and the in-toto statement that carries them.
//!
//! Field names and order are the contract of docs/format.md sections 3 and 4: absent facts are `null`
//! or empty lists, never missing keys, so every field here is serialized unconditionally.

use serde::{Deserialize, Serialize};

/// The first ten characters of a commit id, for messages; the whole text when it is shorter or
/// not ASCII (a crafted record's "sha" can be anything).
pub fn short_sha(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}

/// A path as a bundle records it: as it is when it is UTF-8 and does not start with `"`;
/// otherwise quoted the way git quotes paths (`"a\377b"`: octal for each byte that is not
/// printable UTF-8, `\"` and `\\`), so that distinct names stay distinct and none is lost.
pub fn path_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.starts_with('"') => text.to_owned(),
        _ => {
            let mut out = String::from("\"");
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
            out.push('"');
            out
        }
    }
}

/// The bytes of a path [`path_text`] recorded.
pub fn path_bytes(text: &str) -> std::borrow::Cow<'_, [u8]> {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.as_bytes().into();
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut rest = inner.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match rest {
            [q @ (b'"' | b'\\'), tail @ ..] => {
                out.push(*q);
                rest = tail;
            }
            [a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', tail @ ..] => {
                out.push((a - b'0') << 6 | (b - b'0') << 3 | (c - b'0'));
                rest = tail;
            }
            _ => out.push(b),
        }
    }
    out.into()
}

/// A path [`path_text`] recorded, as the file system (and gix's tree lookup) takes it.
pub fn path_buf(text: &str) -> std::path::PathBuf {
    let bytes = path_bytes(text);
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(&bytes).into()
    }
    #[cfg(not(unix))]
    {
        String::from_utf8_lossy(&bytes).into_owned().into()
    }
}

/// Bundle format version written into every new bundle: 1.1 added each changed file's blob and
/// mode on both sides (`diff_stat.entries`), so a landed commit can be matched to the run's
/// change by content alone. Readers take 1.0 bundles too.
pub const BUNDLE_VERSION: &str = "1.1";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of a proof bundle statement.
pub const BUNDLE_PREDICATE_TYPE: &str = "https://git-proof.dev/bundle/v1";
/// `predicateType` of a scope-violation decision made after the bundle was written.
pub const APPROVAL_PREDICATE_TYPE: &str = "https://git-proof.dev/approval/v1";
/// `predicateType` of a record that carries a bundle to a rewritten commit.
pub const REWRITE_PREDICATE_TYPE: &str = "https://git-proof.dev/rewrite/v1";
/// `predicateType` of a record that carries a bundle to the commit a server-side merge made.
pub const LANDING_PREDICATE_TYPE: &str = "https://git-proof.dev/landing/v1";

/// The facts of one run (the predicate of the signed statement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub version: String,
    pub run_id: String,
    pub generated_at: String,
    pub prompt_hash: Option<String>,
    pub scope_snapshot: ScopeSnapshot,
    pub dod_snapshot: Vec<DodCheck>,
    pub base_sha: String,
    pub head_sha: String,
    pub head_tree: String,
    pub changed_files: Vec<String>,
    pub diff_stat: DiffStat,
    pub dirty_files: Vec<String>,
    /// Paths that had uncommitted changes when the run started and still hold what they held
    /// then: not the run's doing, so neither in `dirty_files` nor scope violations. Absent in
    /// bundle 1.0.
    #[serde(default)]
    pub dirty_at_start: Vec<String>,
    pub exit_code: i32,
    pub run_status: RunStatus,
    pub dod_results: Vec<DodResult>,
    pub scope_violations: Vec<ScopeViolation>,
    pub evidence: Manifest,
    pub generator: Generator,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Succeeded,
    Failed,
}

impl RunStatus {
    /// `succeeded` for exit code 0, `failed` otherwise.
    pub fn from_exit_code(code: i32) -> Self {
        if code == 0 { Self::Succeeded } else { Self::Failed }
    }

    /// The name used in JSON and in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// The effective scope, frozen at start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSnapshot {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// Where the rules came from: `policy`, `cli`, `policy+cli`, or `null` when there are none.
    pub source: Option<String>,
}

/// One definition-of-done check, frozen at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DodCheck {
    pub name: String,
    pub command: String,
    pub timeout_s: u64,
    /// Directory to run in, relative to the worktree root; `null` is the root.
    pub cwd: Option<String>,
    /// Environment variables the check needs; a missing one makes the check an `error`.
    pub env: Vec<String>,
    /// Where the check was defined: `policy` or `cli`.
    pub source: String,
}

/// The outcome of one check at finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DodResult {
    pub name: String,
    pub status: DodStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub log_digest: Option<String>,
    pub log_size: u64,
}

/// Status of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DodStatus {
    Passed,
    Failed,
    /// The command could not be started.
    Error,
    Timeout,
    /// Not run (yet).
    Pending,
}

impl DodStatus {
    /// The name used in JSON and in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Pending => "pending",
        }
    }

    /// Inverse of [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "passed" => Self::Passed,
            "failed" => Self::Failed,
            "error" => Self::Error,
            "timeout" => Self::Timeout,
            "pending" => Self::Pending,
            _ => return None,
        })
    }
}

/// Totals and per-file numbers of `git diff --numstat -M base head`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffStat {
    pub files: u64,
    pub insertions: u64,
    pub deletions: u64,
    pub entries: Vec<DiffEntry>,
}

impl DiffStat {
    /// The same numbers without the blobs and modes bundle 1.0 did not record.
    pub fn without_content(&self) -> DiffStat {
        let mut stat = self.clone();
        for e in &mut stat.entries {
            (e.old_mode, e.old_blob, e.mode, e.blob) = (None, None, None, None);
        }
        stat
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffEntry {
    pub path: String,
    pub old_path: Option<String>,
    /// `A`, `M`, `D`, `R` or `T`.
    pub status: String,
    pub insertions: u64,
    pub deletions: u64,
    pub binary: bool,
    /// What the path (`old_path` for a rename) held at the base: its mode in octal, as git
    /// prints it (`100644`), and its object id; `null` for an added path. Absent in bundle 1.0.
    #[serde(default)]
    pub old_mode: Option<String>,
    #[serde(default)]
    pub old_blob: Option<String>,
    /// What the path holds at the head; `null` for a deleted path. Absent in bundle 1.0.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub blob: Option<String>,
}

/// A changed or dirty path that broke a scope rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeViolation {
    pub path: String,
    pub rule: String,
    pub approval: Approval,
}

/// The decision on a scope violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub state: ApprovalState,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

impl Approval {
    /// An undecided violation.
    pub fn pending() -> Self {
        Self {
            state: ApprovalState::Pending,
            decided_at: None,
            decided_by: None,
            reason: None,
        }
    }
}

/// Where a scope violation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
}

impl ApprovalState {
    /// The name used in JSON and in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    /// Inverse of [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            _ => return None,
        })
    }
}

/// A decision someone made on a scope violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    /// `approved` or `rejected`.
    pub fn as_str(self) -> &'static str {
        self.state().as_str()
    }

    /// The state a violation is in once decided so.
    pub fn state(self) -> ApprovalState {
        match self {
            Self::Approved => ApprovalState::Approved,
            Self::Rejected => ApprovalState::Rejected,
        }
    }
}

/// The tool that generated the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

impl Generator {
    /// This build of git-proof.
    pub fn current() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The evidence manifest of docs/format.md section 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub run_id: String,
    pub run_status: RunStatus,
    pub correlation_id: Option<String>,
    pub workspace_id: Option<String>,
    pub thread_id: Option<String>,
    pub step_ids: Vec<String>,
    pub toolcall_ids: Vec<String>,
    pub artifact_ids: Vec<String>,
    pub stream_type: String,
    pub stream_id: String,
    pub from_seq: u64,
    pub to_seq: u64,
    pub event_count: u64,
    pub events: Vec<EventPointer>,
    pub event_hash_root: String,
    pub completeness: Completeness,
    pub manifest_hash: String,
}

impl Manifest {
    /// The key that makes finalizing a run's manifest idempotent: a second finalize with it
    /// finds the first one's manifest (and event), never makes a second.
    pub fn idempotency_key(run_id: &str) -> String {
        format!("evidence_manifest:{run_id}")
    }

    /// The manifest's id in a projection: `sha256(idempotency key ":" workspace id)`, hex. Only
    /// the signed manifest goes in, never where it is read or stored (a publishing clone knows a
    /// workspace a shallow clone's manifest does not), so every clone and every database that
    /// holds the run's manifest names it alike, and the same run id in two repositories is two
    /// manifests. A manifest without a workspace id hashes an empty one.
    pub fn evidence_id(&self) -> String {
        use sha2::Digest;
        let workspace_id = self.workspace_id.as_deref().unwrap_or("");
        let key = format!("{}:{workspace_id}", Self::idempotency_key(&self.run_id));
        crate::canon::hex(&sha2::Sha256::digest(key.as_bytes()))
    }

    /// The id of the last event it covers, if it covers any.
    pub fn last_event_id(&self) -> Option<&str> {
        self.events.last().map(|e| e.event_id.as_str())
    }
}

/// One event of the manifest, by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventPointer {
    pub event_id: String,
    pub stream_seq: u64,
    pub event_hash: String,
    pub event_type: String,
}

/// Whether the stream looks whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completeness {
    pub terminal_event_present: bool,
    pub all_toolcalls_terminal: bool,
    pub artifact_count: u64,
}

/// An in-toto Statement v1 whose predicate is `P`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement<P> {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: P,
}

impl<P> Statement<P> {
    /// The commit ids the statement is about, in order.
    pub fn subject_commits(&self) -> Vec<&str> {
        self.subject.iter().map(|s| s.digest.git_commit.as_str()).collect()
    }

    /// The one commit the statement is about, if it names exactly one.
    pub fn single_subject(&self) -> Option<&str> {
        match self.subject.as_slice() {
            [only] => Some(&only.digest.git_commit),
            _ => None,
        }
    }
}

/// The statement's subject: the annotated commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub digest: SubjectDigest,
}

/// The commit id of the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectDigest {
    #[serde(rename = "gitCommit")]
    pub git_commit: String,
}

impl Statement<Bundle> {
    /// The statement that signs `bundle` for its head commit.
    pub fn for_bundle(bundle: Bundle) -> Self {
        Self {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                digest: SubjectDigest {
                    git_commit: bundle.head_sha.clone(),
                },
            }],
            predicate_type: BUNDLE_PREDICATE_TYPE.into(),
            predicate: bundle,
        }
    }
}

/// Version of new approval records: 1.1 added `supersedes`.
pub const APPROVAL_VERSION: &str = "1.1";

/// A decision on one scope violation, recorded after the bundle: a signed record appended to the
/// same note, naming the bundle by the digest of its record's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRecord {
    pub version: String,
    /// Always `approval`.
    pub kind: String,
    pub run_id: String,
    /// `sha256:<hex>` of the bundle record's payload.
    pub bundle_digest: String,
    pub path: String,
    pub decision: Decision,
    pub decided_at: String,
    pub decided_by: String,
    pub reason: Option<String>,
    /// The record digests of the earlier decisions on this path that this one replaces, or the
    /// bundle's digest for the first decision. Readers never go by the order of records in a
    /// note: the decision in force is the one no other decision supersedes. Absent (empty) in
    /// version 1.0 records, which supersede nothing.
    #[serde(default)]
    pub supersedes: Vec<String>,
    pub generator: Generator,
}

impl Statement<ApprovalRecord> {
    /// The statement that signs `approval` about `commit`.
    pub fn for_approval(commit: &str, approval: ApprovalRecord) -> Self {
        Self {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                digest: SubjectDigest {
                    git_commit: commit.to_owned(),
                },
            }],
            predicate_type: APPROVAL_PREDICATE_TYPE.into(),
            predicate: approval,
        }
    }
}

/// Version of new rewrite records: 1.1 patch-ids are `git patch-id --verbatim` (whitespace
/// counts); 1.0 ones were `--stable`, which ignores whitespace.
pub const REWRITE_VERSION: &str = "1.1";

/// A proof carried to a rewritten commit (`git commit --amend`, `git rebase`): a signed record
/// appended to the new commit's note next to the bundle it names. The change is the same when
/// the two patch-ids of base..head before and after are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteRecord {
    pub version: String,
    /// Always `rewrite`.
    pub kind: String,
    pub run_id: String,
    /// `sha256:<hex>` of the bundle record's payload.
    pub bundle_digest: String,
    /// `amend` or `rebase`, as git names it to the post-rewrite hook.
    pub operation: String,
    pub old_sha: String,
    pub new_sha: String,
    /// The base the run's change is measured from, before and after the rewrite.
    pub old_base_sha: String,
    pub new_base_sha: String,
    /// `None` for an empty change.
    pub old_patch_id: Option<String>,
    pub new_patch_id: Option<String>,
    pub rewritten_at: String,
    pub generator: Generator,
}

impl Statement<RewriteRecord> {
    /// The statement that signs `rewrite` about its new commit.
    pub fn for_rewrite(rewrite: RewriteRecord) -> Self {
        Self {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                digest: SubjectDigest {
                    git_commit: rewrite.new_sha.clone(),
                },
            }],
            predicate_type: REWRITE_PREDICATE_TYPE.into(),
            predicate: rewrite,
        }
    }
}

/// Version of new landing records.
pub const LANDING_VERSION: &str = "1.0";

/// A proof carried to the commit a server-side squash or rebase merge made (`git proof land`,
/// run in CI where the pull request's head is fetched): a signed statement that the landed
/// commit's tree is exactly the merge of the proven head into the commit it landed onto, as
/// `git merge-tree --write-tree` computes it. Appended to the landed commit's note next to
/// copies of the proven head's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandingRecord {
    pub version: String,
    /// Always `landing`.
    pub kind: String,
    pub run_id: String,
    /// `sha256:<hex>` of the bundle record's payload.
    pub bundle_digest: String,
    /// The proven commit (the pull request's head) and the base the run's change is measured
    /// from there.
    pub from_sha: String,
    pub from_base_sha: String,
    /// The commit the change landed onto (the branch before the merge), and the landed commit:
    /// every commit between them belongs to the landing.
    pub onto_sha: String,
    pub commit_sha: String,
    /// The landed commit's tree, which is the merge of `from_sha` into `onto_sha`.
    pub tree: String,
    /// How that was checked.
    pub check: String,
    pub landed_at: String,
    pub generator: Generator,
}

impl Statement<LandingRecord> {
    /// The statement that signs `landing` about the landed commit.
    pub fn for_landing(landing: LandingRecord) -> Self {
        Self {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                digest: SubjectDigest {
                    git_commit: landing.commit_sha.clone(),
                },
            }],
            predicate_type: LANDING_PREDICATE_TYPE.into(),
            predicate: landing,
        }
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn paths_are_kept_whatever_their_bytes() {
        for bytes in [
            &b"src/lib.rs"[..],
            b"a\xff",
            b"a\xfe",
            b"\"quoted\"",
            "é/ü".as_bytes(),
            b"back\\slash\xc3",
        ] {
            let text = path_text(bytes);
            assert_eq!(&*path_bytes(&text), bytes, "{text}");
        }
        assert_ne!(path_text(b"a\xff"), path_text(b"a\xfe"));
        assert_eq!(path_text(b"a\xff"), "\"a\\377\"");
        assert_eq!(path_text("é".as_bytes()), "é");
    }
}
