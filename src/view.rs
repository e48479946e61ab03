//! The read model of a proof note: what its records mean under the trust in force. Every reader
//! (verify, show, log, serve, reindex, verify-event, and the writers that build on earlier
//! records) goes through [`NoteView::build`]; nothing else decides what a record counts for.
//!
//! The rule (docs/format.md section 5): a record counts only if it parses as a git-proof record and its
//! signature checks against the trusted signers. A record that does not count can neither
//! block a proof nor count for one; it is kept, with the reason, for reports. Without a trust
//! source nothing counts: records are *unverified*.
//!
//! - A bundle counts on this commit when it is its own (`head_sha` is the commit) or when a
//!   chain of counting rewrite records carries it here, every link keeping the run's patch.
//! - A decision (approval record) counts when it names a counting bundle of this note, is about
//!   a commit that bundle was on, decides a path the run touched, and, when the trusted policy
//!   names `[verify] approvers`, is signed by one of them and not by the run's own key. The
//!   decision in force on a path is the one no other counting decision supersedes; decisions
//!   that disagree and supersede none of each other count as undecided. The order of records
//!   in the note plays no part.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use gix::ObjectId;

use crate::model::{
    Approval, ApprovalRecord, ApprovalState, Bundle, Decision, LandingRecord, RewriteRecord, Statement,
};
use crate::record::{self, Content, Junk, Record, RecordKind};
use crate::signing::{self, Rejection, Signer};
use crate::trust::Trust;

/// A note as the trust in force reads it.
#[derive(Debug, Clone)]
pub struct NoteView {
    /// The commit the note is attached to.
    pub commit: ObjectId,
    /// Every record, in note order.
    pub records: Vec<RecordView>,
    /// Text of the note that is not a record.
    pub junk: Vec<Junk>,
    /// Every bundle record, in note order, whether it counts or not.
    pub bundles: Vec<BundleView>,
}

/// One record and what became of it.
#[derive(Debug, Clone)]
pub struct RecordView {
    pub record: Record,
    /// [`Record::digest`], computed when first asked for (a note of one record needs none).
    digest: OnceCell<String>,
    pub kind: RecordKind,
    /// The run it is about, when it parses.
    pub run_id: Option<String>,
    pub signature: SignatureCheck,
    /// `None`: the record counts. Otherwise why it does not.
    pub ignored: Option<String>,
    pub parsed: Parsed,
}

/// What a record was read as.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// A bundle: its place in [`NoteView::bundles`].
    Bundle(usize),
    Approval(Box<Statement<ApprovalRecord>>),
    Rewrite(Box<Statement<RewriteRecord>>),
    Landing(Box<Statement<LandingRecord>>),
    /// Not a git-proof record (the reason is in `ignored`).
    Invalid,
}

/// The outcome of a signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Signed by a trusted key.
    Trusted(Signer),
    /// Checked, and not accepted.
    Untrusted(Rejection),
    /// No trust source is configured: nothing was checked.
    Unverified,
    /// Not checked: the record does not parse, or repeats an earlier one.
    Skipped,
}

impl RecordView {
    fn new(record: Record, kind: RecordKind, run_id: Option<String>, signature: SignatureCheck) -> Self {
        Self {
            record,
            digest: OnceCell::new(),
            kind,
            run_id,
            signature,
            ignored: None,
            parsed: Parsed::Invalid,
        }
    }

    /// [`Record::digest`]: how later records name this one.
    pub fn digest(&self) -> &str {
        self.digest.get_or_init(|| self.record.digest())
    }
}

impl SignatureCheck {
    /// The signer, when trusted.
    pub fn signer(&self) -> Option<&Signer> {
        match self {
            Self::Trusted(signer) => Some(signer),
            _ => None,
        }
    }
}

/// Why a record is ignored when nobody can vouch for it.
pub const UNVERIFIED: &str = "unverified: no allowed signers are configured";

/// A bundle record of the note.
#[derive(Debug, Clone)]
pub struct BundleView {
    /// Its place in [`NoteView::records`].
    pub record: usize,
    pub statement: Statement<Bundle>,
    pub placement: Placement,
    /// The decision in force per path, from counting decision records.
    pub decisions: BTreeMap<String, Effective>,
    /// Whether the decisions the bundle itself holds (made before the run finished, signed with
    /// the run's key) count: not when the trusted policy names approvers.
    own_decisions_count: bool,
    /// Each violating path, with its place in the bundle's `scope_violations`, and every path
    /// the run touched: looked up once per decision, so a note of thousands of decisions costs
    /// what it holds, not its square. Built on first use: most notes hold no decision, and
    /// verify builds a view per commit.
    violation_at: OnceCell<HashMap<String, usize>>,
    touched: OnceCell<HashSet<String>>,
}

/// How a bundle relates to the commit of the note.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Its `head_sha` is this commit.
    Own,
    /// Counting rewrite records carry it here from its `head_sha`, in this order; each kept the
    /// run's patch.
    Carried(Vec<Link>),
    /// It does not prove this commit, for this reason.
    Elsewhere(String),
}

/// One step that carried a bundle to another commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Its place in [`NoteView::records`].
    pub record: usize,
    pub step: Step,
}

/// What carried a bundle: a rewrite (amend, rebase) or a landing (a server-side merge that
/// `git proof land` checked).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Rewrite(RewriteRecord),
    Landing(LandingRecord),
}

impl Step {
    /// `amend`, `rebase` or `land`.
    pub fn operation(&self) -> &str {
        match self {
            Self::Rewrite(r) => &r.operation,
            Self::Landing(_) => "land",
        }
    }

    /// The commit it carried the bundle from, and the base of the run's change there.
    pub fn from(&self) -> (&str, &str) {
        match self {
            Self::Rewrite(r) => (&r.old_sha, &r.old_base_sha),
            Self::Landing(l) => (&l.from_sha, &l.from_base_sha),
        }
    }

    /// The commit it carried the bundle to, and the base of the run's change there.
    pub fn to(&self) -> (&str, &str) {
        match self {
            Self::Rewrite(r) => (&r.new_sha, &r.new_base_sha),
            Self::Landing(l) => (&l.commit_sha, &l.onto_sha),
        }
    }

    /// Whether the step says the run's change stayed the same: equal patch-ids for a rewrite;
    /// a landing states that the landed tree is the merge of the run's head.
    pub fn keeps_change(&self) -> bool {
        match self {
            Self::Rewrite(r) => r.old_patch_id == r.new_patch_id,
            Self::Landing(_) => true,
        }
    }

    fn run_id(&self) -> &str {
        match self {
            Self::Rewrite(r) => &r.run_id,
            Self::Landing(l) => &l.run_id,
        }
    }

    fn bundle_digest(&self) -> &str {
        match self {
            Self::Rewrite(r) => &r.bundle_digest,
            Self::Landing(l) => &l.bundle_digest,
        }
    }
}

/// The decision in force on one path.
#[derive(Debug, Clone, PartialEq)]
pub enum Effective {
    Decided {
        /// The record that decided it (among equal heads, the latest).
        record: usize,
        decision: Decision,
        decided_at: String,
        decided_by: String,
        reason: Option<String>,
        signer: Signer,
    },
    /// Decisions that disagree, none superseding the others: undecided.
    Conflict { records: Vec<usize> },
}

impl Effective {
    /// The state a violation is in under this decision.
    pub fn state(&self) -> ApprovalState {
        match self {
            Self::Decided { decision, .. } => decision.state(),
            Self::Conflict { .. } => ApprovalState::Pending,
        }
    }
}

impl BundleView {
    fn new(record: usize, statement: Statement<Bundle>, own_decisions_count: bool) -> Self {
        Self {
            record,
            statement,
            placement: Placement::Own,
            decisions: BTreeMap::new(),
            own_decisions_count,
            violation_at: OnceCell::new(),
            touched: OnceCell::new(),
        }
    }

    fn violation_at(&self, path: &str) -> Option<usize> {
        let by_path = self.violation_at.get_or_init(|| {
            let violations = &self.bundle().scope_violations;
            violations
                .iter()
                .enumerate()
                .map(|(i, v)| (v.path.clone(), i))
                .collect()
        });
        by_path.get(path).copied()
    }

    /// The bundle as signed.
    pub fn bundle(&self) -> &Bundle {
        &self.statement.predicate
    }

    /// Where the bundle's violation of `path` stands: a counting decision, else the bundle's
    /// own state (when own decisions count), else pending.
    pub fn state_of(&self, path: &str) -> ApprovalState {
        if let Some(effective) = self.decisions.get(path) {
            return effective.state();
        }
        match self.violation_at(path) {
            Some(i) if self.own_decisions_count => self.bundle().scope_violations[i].approval.state,
            _ => ApprovalState::Pending,
        }
    }

    /// The bundle with the decisions in force folded into its violations: what a reader shows
    /// of a bundle that counts.
    pub fn folded(&self) -> Bundle {
        let mut bundle = self.bundle().clone();
        for v in &mut bundle.scope_violations {
            match self.decisions.get(&v.path) {
                Some(Effective::Decided {
                    decision,
                    decided_at,
                    decided_by,
                    reason,
                    ..
                }) => {
                    v.approval = Approval {
                        state: decision.state(),
                        decided_at: Some(decided_at.clone()),
                        decided_by: Some(decided_by.clone()),
                        reason: reason.clone(),
                    }
                }
                Some(Effective::Conflict { .. }) => v.approval = Approval::pending(),
                None if !self.own_decisions_count => v.approval = Approval::pending(),
                None => {}
            }
        }
        bundle
    }

    /// The bundle with no decision in it: what may be shown of a bundle nobody vouches for, so
    /// that nothing reads as approved.
    pub fn undecided(&self) -> Bundle {
        let mut bundle = self.bundle().clone();
        for v in &mut bundle.scope_violations {
            v.approval = Approval::pending();
        }
        bundle
    }

    /// The commits the bundle has been on, from its `head_sha` to this one.
    fn commits(&self) -> impl Iterator<Item = &str> {
        let links: &[Link] = match &self.placement {
            Placement::Carried(links) => links,
            _ => &[],
        };
        std::iter::once(self.bundle().head_sha.as_str()).chain(links.iter().map(|l| l.step.to().0))
    }

    /// Whether `path` is one the run touched (so a decision on it can mean something).
    fn touches(&self, path: &str) -> bool {
        let touched = self.touched.get_or_init(|| {
            let b = self.bundle();
            b.scope_violations
                .iter()
                .map(|v| &v.path)
                .chain(
                    b.diff_stat
                        .entries
                        .iter()
                        .flat_map(|e| std::iter::once(&e.path).chain(&e.old_path)),
                )
                .chain(&b.dirty_files)
                .cloned()
                .collect()
        });
        touched.contains(path)
    }
}

impl NoteView {
    /// Reads `note`, attached to `commit`, under `trust`.
    pub fn build(commit: ObjectId, note: &[u8], trust: &Trust) -> Self {
        Self::build_checked(commit, record::split(note), trust, None)
    }

    /// [`NoteView::build`] of a note already split, with its records' signatures already checked
    /// under `trust` (in order, one per record), when `checks` has them: `verify` checks the
    /// signatures of a batch of commits at once ([`signing::verify_many`]).
    pub fn build_checked(
        commit: ObjectId,
        split: record::Split,
        trust: &Trust,
        checks: Option<Vec<Result<Signer, Rejection>>>,
    ) -> Self {
        let mut view = NoteView {
            commit,
            records: Vec::with_capacity(split.records.len()),
            junk: split.junk,
            bundles: Vec::new(),
        };
        view.read_records(split.records, trust, checks);
        let links = view.links();
        view.place_bundles(&links);
        view.decide(trust);
        view
    }

    /// Whether the record at `index` counts.
    pub fn counts(&self, index: usize) -> bool {
        self.records[index].ignored.is_none()
    }

    /// The bundles that count on this commit.
    pub fn counting_bundles(&self) -> impl Iterator<Item = &BundleView> {
        self.bundles.iter().filter(|b| self.counts(b.record))
    }

    /// The record of a bundle.
    pub fn record_of(&self, bundle: &BundleView) -> &RecordView {
        &self.records[bundle.record]
    }

    /// The bundle of `run_id` to show: one that counts, else the one whose record has
    /// `prefer` as digest (the one this clone's index recorded when it wrote the proof), else
    /// (nothing being verifiable) one that is unverified and this commit's own, else any. A
    /// bundle whose signature was rejected is never preferred over one that could be genuine.
    pub fn bundle_of_run(&self, run_id: &str, prefer: Option<&str>) -> Option<&BundleView> {
        let of_run = || self.bundles.iter().filter(|b| b.bundle().run_id == run_id);
        of_run()
            .find(|b| self.counts(b.record))
            .or_else(|| prefer.and_then(|digest| of_run().find(|b| self.records[b.record].digest() == digest)))
            .or_else(|| {
                of_run().find(|b| {
                    self.records[b.record].signature == SignatureCheck::Unverified && b.placement == Placement::Own
                })
            })
            .or_else(|| of_run().next())
    }

    /// The digests of every decision record on each path of the bundle named `bundle_digest`,
    /// whoever signed them: what a new decision on the path supersedes (under any trust that
    /// counts the new one, it is then the decision in force).
    pub fn decisions_by_path(&self, bundle_digest: &str) -> HashMap<&str, Vec<&str>> {
        let mut by_path: HashMap<&str, Vec<&str>> = HashMap::new();
        for r in &self.records {
            if let Parsed::Approval(s) = &r.parsed
                && s.predicate.bundle_digest == bundle_digest
            {
                by_path.entry(s.predicate.path.as_str()).or_default().push(r.digest());
            }
        }
        by_path
    }

    fn read_records(&mut self, records: Vec<Record>, trust: &Trust, checks: Option<Vec<Result<Signer, Rejection>>>) {
        // Repeats are found by digest and signature; a note of one record has none.
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let several = records.len() > 1;
        let mut checks = checks.map(Vec::into_iter);
        for record in records {
            let checked = checks.as_mut().and_then(Iterator::next);
            if several {
                let key = (record.digest(), record.signature.split_whitespace().collect::<String>());
                if let Some(&first) = seen.get(&key) {
                    let earlier = &self.records[first];
                    let mut view =
                        RecordView::new(record, earlier.kind, earlier.run_id.clone(), SignatureCheck::Skipped);
                    view.ignored = Some(format!("repeats record {}", first + 1));
                    self.records.push(view);
                    continue;
                }
                seen.insert(key, self.records.len());
            }
            let content = match record.parse() {
                Ok(content) => content,
                Err(invalid) => {
                    let mut view = RecordView::new(record, RecordKind::Unknown, None, SignatureCheck::Skipped);
                    view.ignored = Some(invalid.to_string());
                    self.records.push(view);
                    continue;
                }
            };
            let signature = match &trust.signers {
                None => SignatureCheck::Unverified,
                Some(signers) => match checked.unwrap_or_else(|| record.check_signature(signers, trust.now)) {
                    Ok(signer) => SignatureCheck::Trusted(signer),
                    Err(rejection) => SignatureCheck::Untrusted(rejection),
                },
            };
            let ignored = match &signature {
                SignatureCheck::Trusted(_) => None,
                SignatureCheck::Untrusted(rejection) => Some(rejection.to_string()),
                _ => Some(UNVERIFIED.to_owned()),
            };
            let mut view = RecordView::new(record, content.kind(), Some(content.run_id().to_owned()), signature);
            view.ignored = ignored;
            view.parsed = match content {
                Content::Bundle(statement) => {
                    self.bundles.push(BundleView::new(
                        self.records.len(),
                        *statement,
                        trust.policy.verify.approvers.is_empty(),
                    ));
                    Parsed::Bundle(self.bundles.len() - 1)
                }
                Content::Approval(statement) => Parsed::Approval(Box::new(statement)),
                Content::Rewrite(statement) => Parsed::Rewrite(Box::new(statement)),
                Content::Landing(statement) => Parsed::Landing(Box::new(statement)),
            };
            self.records.push(view);
        }
    }

    /// Whether any record was read as this kind (the work for it is skipped otherwise).
    fn holds(&self, kind: RecordKind) -> bool {
        self.records
            .iter()
            .any(|r| r.kind == kind && !matches!(r.parsed, Parsed::Invalid))
    }

    /// The bundles of this note by record digest.
    fn bundles_by_digest(&self) -> HashMap<&str, Vec<usize>> {
        let mut map: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, b) in self.bundles.iter().enumerate() {
            map.entry(self.records[b.record].digest()).or_default().push(i);
        }
        map
    }

    /// The counting rewrite records, by the digest of the bundle they carry; the others are
    /// marked ignored.
    fn links(&mut self) -> HashMap<String, Vec<Link>> {
        let mut links: HashMap<String, Vec<Link>> = HashMap::new();
        if !self.holds(RecordKind::Rewrite) && !self.holds(RecordKind::Landing) {
            return links;
        }
        let mut verdicts = Vec::new();
        {
            let by_digest = self.bundles_by_digest();
            for (index, r) in self.records.iter().enumerate() {
                let (step, subject) = match &r.parsed {
                    Parsed::Rewrite(s) => (Step::Rewrite(s.predicate.clone()), s.single_subject()),
                    Parsed::Landing(s) => (Step::Landing(s.predicate.clone()), s.single_subject()),
                    _ => continue,
                };
                if r.ignored.is_some() {
                    continue;
                }
                let kind = r.kind.as_str();
                let why = if subject != Some(step.to().0) {
                    Some(format!(
                        "the {kind} record's subject is not its new commit {}",
                        short(step.to().0)
                    ))
                } else {
                    match by_digest.get(step.bundle_digest()) {
                        None => Some(format!(
                            "the {kind} record names bundle {}, which is not in this note",
                            step.bundle_digest()
                        )),
                        Some(found) if !found.iter().any(|&b| self.bundles[b].bundle().run_id == step.run_id()) => {
                            Some(format!(
                                "the {kind} record names run '{}', its bundle is another run's",
                                step.run_id()
                            ))
                        }
                        Some(_) => None,
                    }
                };
                match why {
                    Some(why) => verdicts.push((index, why)),
                    None => links
                        .entry(step.bundle_digest().to_owned())
                        .or_default()
                        .push(Link { record: index, step }),
                }
            }
        }
        for (index, why) in verdicts {
            self.records[index].ignored = Some(why);
        }
        links
    }

    fn place_bundles(&mut self, links: &HashMap<String, Vec<Link>>) {
        let commit = self.commit.to_string();
        for b in &mut self.bundles {
            let bundle = &b.statement.predicate;
            b.placement = if bundle.head_sha == commit {
                Placement::Own
            } else {
                let candidates = match links.is_empty() {
                    true => &[][..],
                    false => links
                        .get(self.records[b.record].digest())
                        .map_or(&[][..], Vec::as_slice),
                };
                place(bundle, candidates, &commit)
            };
            if let Placement::Elsewhere(why) = &b.placement
                && self.records[b.record].ignored.is_none()
            {
                self.records[b.record].ignored = Some(why.clone());
            }
        }
    }

    fn decide(&mut self, trust: &Trust) {
        if !self.holds(RecordKind::Approval) {
            return;
        }
        let approvers = &trust.policy.verify.approvers;
        let mut groups: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
        let mut verdicts = Vec::new();
        {
            let by_digest = self.bundles_by_digest();
            for (index, r) in self.records.iter().enumerate() {
                let Parsed::Approval(statement) = &r.parsed else {
                    continue;
                };
                if r.ignored.is_some() {
                    continue;
                }
                let approval = &statement.predicate;
                let target = by_digest.get(approval.bundle_digest.as_str()).and_then(|found| {
                    found.iter().copied().find(|&b| {
                        self.bundles[b].bundle().run_id == approval.run_id && self.counts(self.bundles[b].record)
                    })
                });
                let Some(target) = target else {
                    verdicts.push((
                        index,
                        match by_digest.get(approval.bundle_digest.as_str()) {
                            None => format!(
                                "the decision on {} names bundle {}, which is not in this note",
                                approval.path, approval.bundle_digest
                            ),
                            Some(_) => format!(
                                "the decision on {} is about a bundle that does not count here",
                                approval.path
                            ),
                        },
                    ));
                    continue;
                };
                let bundle = &self.bundles[target];
                let why = decision_problem(
                    statement,
                    bundle,
                    r.signature.signer(),
                    self.records[bundle.record].signature.signer(),
                    approvers,
                );
                match why {
                    Some(why) => verdicts.push((index, why)),
                    None => groups.entry((target, approval.path.clone())).or_default().push(index),
                }
            }
        }
        for (index, why) in verdicts {
            self.records[index].ignored = Some(why);
        }
        for ((bundle, path), members) in groups {
            let effective = self.in_force(&members);
            self.bundles[bundle].decisions.insert(path, effective);
        }
    }

    /// The decision in force among the counting decisions `members` on one path.
    fn in_force(&self, members: &[usize]) -> Effective {
        let approval = |i: usize| match &self.records[i].parsed {
            Parsed::Approval(s) => Some(&s.predicate),
            _ => None,
        };
        let superseded: HashSet<&str> = members
            .iter()
            .filter_map(|&i| approval(i))
            .flat_map(|a| a.supersedes.iter().map(String::as_str))
            .collect();
        let mut heads: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| !superseded.contains(self.records[i].digest()))
            .collect();
        // Latest first, ties broken by digest: the result never depends on note order.
        heads.sort_by(|&a, &b| {
            let key = |i: usize| {
                (
                    approval(i).map(|a| a.decided_at.clone()),
                    self.records[i].digest().to_owned(),
                )
            };
            key(b).cmp(&key(a))
        });
        let decisions: HashSet<Decision> = heads.iter().filter_map(|&i| approval(i)).map(|a| a.decision).collect();
        match (heads.first(), decisions.len()) {
            (Some(&head), 1) => {
                let a = approval(head).cloned();
                let signer = self.records[head].signature.signer().cloned();
                match (a, signer) {
                    (Some(a), Some(signer)) => Effective::Decided {
                        record: head,
                        decision: a.decision,
                        decided_at: a.decided_at,
                        decided_by: a.decided_by,
                        reason: a.reason,
                        signer,
                    },
                    _ => Effective::Conflict { records: heads },
                }
            }
            _ => Effective::Conflict { records: heads },
        }
    }
}

/// Why a trusted decision record on a counting bundle still does not count, if it does not.
fn decision_problem(
    statement: &Statement<ApprovalRecord>,
    bundle: &BundleView,
    signer: Option<&Signer>,
    bundle_signer: Option<&Signer>,
    approvers: &[String],
) -> Option<String> {
    let approval = &statement.predicate;
    let subject = statement.single_subject().unwrap_or_default();
    if !bundle.commits().any(|c| c == subject) {
        return Some(format!(
            "the decision on {} is about commit {}, which its bundle was never on",
            approval.path,
            short(subject)
        ));
    }
    if !bundle.touches(&approval.path) {
        return Some(format!(
            "the decision is on {}, a path the run did not touch",
            approval.path
        ));
    }
    if approvers.is_empty() {
        return None;
    }
    let signer = signer?;
    let is_approver = signer
        .principals
        .split(',')
        .any(|p| signing::pattern_list_match(approvers, p.trim()));
    if !is_approver {
        return Some(format!(
            "the decision on {} is signed by {}, who is not among the policy's approvers",
            approval.path, signer.principals
        ));
    }
    if bundle_signer.is_some_and(|b| b.fingerprint == signer.fingerprint) {
        return Some(format!(
            "the decision on {} is signed with the run's own key, and the policy names approvers",
            approval.path
        ));
    }
    None
}

/// Where `bundle` stands on `commit`, given the counting rewrite records that name it.
fn place(bundle: &Bundle, candidates: &[Link], commit: &str) -> Placement {
    let kept: Vec<&Link> = candidates.iter().filter(|l| l.step.keeps_change()).collect();
    if let Some(chain) = chain(bundle, &kept, commit) {
        return Placement::Carried(chain.into_iter().cloned().collect());
    }
    let all: Vec<&Link> = candidates.iter().collect();
    if let Some(chain) = chain(bundle, &all, commit)
        && let Some(Step::Rewrite(r)) = chain.iter().map(|l| &l.step).find(|s| !s.keeps_change())
    {
        return Placement::Elsewhere(format!(
            "{} {}..{} changed the run's patch (patch-id {} became {}): the proof does not cover this commit",
            r.operation,
            short(&r.old_sha),
            short(&r.new_sha),
            r.old_patch_id.as_deref().unwrap_or("none"),
            r.new_patch_id.as_deref().unwrap_or("none"),
        ));
    }
    Placement::Elsewhere(format!(
        "head_sha {} is not this commit {}, and no trusted rewrite record carries it here",
        bundle.head_sha, commit
    ))
}

/// The links that lead from the bundle's head (and base) to `commit`, in order: a breadth-first
/// search over (commit, base) states, linear in the number of links.
fn chain<'l>(bundle: &Bundle, links: &[&'l Link], commit: &str) -> Option<Vec<&'l Link>> {
    let mut from: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, l) in links.iter().enumerate() {
        from.entry(l.step.from()).or_default().push(i);
    }
    /// A commit and the base the run's change is measured from there.
    type State<'s> = (&'s str, &'s str);
    let start = (bundle.head_sha.as_str(), bundle.base_sha.as_str());
    // Each state with the state and link it was reached by.
    let mut states: Vec<(State<'_>, Option<(usize, usize)>)> = vec![(start, None)];
    let mut seen: HashSet<(&str, &str)> = HashSet::from([start]);
    let mut queue = VecDeque::from([0]);
    while let Some(at) = queue.pop_front() {
        let (state, _) = states[at];
        if state.0 == commit {
            let mut path = Vec::new();
            let mut cursor = at;
            while let (_, Some((previous, link))) = states[cursor] {
                path.push(links[link]);
                cursor = previous;
            }
            path.reverse();
            return Some(path);
        }
        for &i in from.get(&state).map_or(&[][..], Vec::as_slice) {
            let next = links[i].step.to();
            if seen.insert(next) {
                states.push((next, Some((at, i))));
                queue.push_back(states.len() - 1);
            }
        }
    }
    None
}

fn short(sha: &str) -> &str {
    crate::model::short_sha(sha)
}
