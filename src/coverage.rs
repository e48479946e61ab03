//! How a commit without a proof of its own is proven by a run's: as one of the run's commits
//! (between the base of its change and the proven head), or as the run landed on a branch by a
//! server-side squash or rebase merge, matched by content.
//!
//! Landing needs no key on the server and none of the run's original commits: a bundle of
//! version 1.1 records, for every path it changed, the blob and mode before and after. A
//! landed commit `X` is the run's change when, walking back from `X` along first parents to
//! the first commit `Y` that holds every such path as the run's base held it, the trees of `Y`
//! and `X` differ in exactly the run's paths and `X` holds each as the run's head did. Then the
//! change from `Y` to `X` is the run's change, file for file, even when the branch moved on in
//! other files meanwhile; the commits between `Y` and `X` (a rebase merge) are covered with `X`.
//! When the branch changed one of the run's files too, content cannot settle it: that is what
//! `git proof land` is for.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use gix::ObjectId;

use crate::git::{self, GitContext};
use crate::model::{Bundle, DiffEntry};
use crate::notes::{self, NotesReader};
use crate::record::{self, Content};
use crate::trust::Trust;
use crate::verify::{self, CommitReport, Coverage, Covered, Policy, Verdict};
use crate::view::NoteView;

/// How far back along first parents a landing is looked for (the commits of one rebase merge).
const MAX_LANDED_COMMITS: usize = 1000;

/// Covers the reports without a proof of their own that bundles checked in the same call cover
/// (a range holds a run's commits with its head): no note is read.
pub fn from_reports(repo: &gix::Repository, reports: &mut [CommitReport]) -> Result<(), git::Error> {
    let missing: HashSet<ObjectId> = reports
        .iter()
        .filter(|r| r.records.is_none())
        .map(|r| r.commit)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut found: HashMap<ObjectId, Covered> = HashMap::new();
    for report in reports.iter() {
        for (run_id, base) in runs_of(report) {
            for commit in git::commits_between(repo, base, report.commit)? {
                if missing.contains(&commit) && !found.contains_key(&commit) {
                    found.insert(commit, covered(run_id, report, Coverage::RunCommit));
                }
            }
        }
    }
    for report in reports.iter_mut() {
        if report.records.is_none() {
            report.covered = found.remove(&report.commit);
        }
    }
    Ok(())
}

/// Covers the reports still without a proof from every note: runs whose proof is on a commit
/// outside the range, and runs that landed by content. `needs` says which ones matter (a
/// commit that needs no proof need not be searched for).
pub fn from_notes(
    repo: &gix::Repository,
    reports: &mut [CommitReport],
    notes_commit: Option<ObjectId>,
    trust: &Trust,
    policy: &Policy,
    needs: impl Fn(&CommitReport) -> bool,
) -> Result<(), git::Error> {
    let targets: HashSet<ObjectId> = reports
        .iter()
        .filter(|r| r.records.is_none() && r.covered.is_none() && needs(r))
        .map(|r| r.commit)
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    // Every note is read, in the notes tree's order rather than the pack's: a cache keeps the
    // delta bases note blobs share and the commits the walks meet from being inflated again.
    let mut cached = repo.clone();
    cached.object_cache_size_if_unset(4 * 1024 * 1024);
    let repo = &cached;
    let mut notes = Notes::read(repo, notes_commit)?;
    let mut found = runs_covering(repo, &mut notes, &targets, trust, policy)?;
    let left: HashSet<ObjectId> = targets.into_iter().filter(|c| !found.contains_key(c)).collect();
    found.extend(landings(repo, &mut notes, &left, trust, policy)?);
    for report in reports.iter_mut() {
        if report.records.is_none() && report.covered.is_none() {
            report.covered = found.remove(&report.commit);
        }
    }
    Ok(())
}

/// The run whose proof covers `commit` (for `show` of a commit without a proof of its own).
pub fn covering(repo: &gix::Repository, commit: ObjectId, trust: &Trust) -> Result<Option<Covered>, git::Error> {
    let mut reports = [CommitReport::missing(commit)];
    from_notes(repo, &mut reports, None, trust, &Policy::default(), |_| true)?;
    let [report] = reports;
    Ok(report.covered)
}

/// What coverage looks for in every note of the notes ref (or of `notes_commit`), from one
/// read of each: the commit it is on, the bases its records name, and what each bundle's run
/// left (path and blob), parsed without checking any signature: these only find candidates,
/// and whether one counts is the read model's to say. Only the keys are kept; a candidate's
/// note is read again to be checked.
struct Notes<'repo> {
    reader: NotesReader<'repo>,
    commits: Vec<ObjectId>,
    /// (base, note index): each bundle's `base_sha` and each rewrite record's new base.
    bases: Vec<(ObjectId, usize)>,
    /// (path, blob) a 1.1 bundle's run left there to the notes holding such a bundle.
    by_result: HashMap<(String, String), Vec<usize>>,
}

impl<'repo> Notes<'repo> {
    fn read(repo: &'repo gix::Repository, notes_commit: Option<ObjectId>) -> Result<Self, git::Error> {
        let (reader, listed) = match notes_commit {
            Some(at) => (NotesReader::at(repo, at)?, notes::list_notes_at(repo, at)?),
            None => (NotesReader::new(repo)?, notes::list_notes(repo)?),
        };
        let mut notes = Self {
            reader,
            commits: Vec::with_capacity(listed.len()),
            bases: Vec::new(),
            by_result: HashMap::new(),
        };
        for (commit, _) in listed {
            let Some(note) = notes.reader.note(commit)? else {
                continue;
            };
            let index = notes.commits.len();
            notes.commits.push(commit);
            let first_base = notes.bases.len();
            for r in record::split(&note).records {
                let base = match r.parse() {
                    Ok(Content::Bundle(s)) => {
                        for e in &s.predicate.diff_stat.entries {
                            if let Some(blob) = &e.blob {
                                let holders = notes.by_result.entry((e.path.clone(), blob.clone())).or_default();
                                if holders.last() != Some(&index) {
                                    holders.push(index);
                                }
                            }
                        }
                        s.predicate.base_sha
                    }
                    Ok(Content::Rewrite(s)) => s.predicate.new_base_sha,
                    _ => continue,
                };
                if let Ok(base) = ObjectId::from_hex(base.as_bytes())
                    && !notes.bases[first_base..].contains(&(base, index))
                {
                    notes.bases.push((base, index));
                }
            }
        }
        Ok(notes)
    }

    /// The bundles of the note at `index`, as written.
    fn bundles_of(&mut self, index: usize) -> Result<Vec<Bundle>, git::Error> {
        let note = self.reader.note(self.commits[index])?.unwrap_or_default();
        Ok(record::split(&note)
            .records
            .into_iter()
            .filter_map(|r| match r.parse() {
                Ok(Content::Bundle(s)) => Some(s.predicate),
                _ => None,
            })
            .collect())
    }

    /// The note at `index` under the trust in force, checked as `verify` checks it.
    fn check(
        &mut self,
        repo: &gix::Repository,
        index: usize,
        trust: &Trust,
        policy: &Policy,
    ) -> Result<(NoteView, Option<CommitReport>), git::Error> {
        let commit = self.commits[index];
        let note = self.reader.note(commit)?.unwrap_or_default();
        let view = NoteView::build(commit, &note, trust);
        // A note whose commit is not in this clone (its branch deleted after a squash) can still
        // prove a landing; its own facts cannot be checked here.
        let report = match git::is_commit(repo, commit) {
            true => Some(verify::check_view(repo, &view, policy)?),
            false => None,
        };
        Ok((view, report))
    }
}

/// (run id, base of its change) of each bundle that counts in `report`.
fn runs_of(report: &CommitReport) -> impl Iterator<Item = (&str, ObjectId)> {
    report.records.iter().flatten().filter_map(|r| {
        let base = r.change_base.filter(|_| r.ignored.is_none())?;
        Some((r.run_id.as_deref()?, base))
    })
}

fn covered(run_id: &str, report: &CommitReport, how: Coverage) -> Covered {
    let valid = matches!(report.verdict(), Verdict::Valid | Verdict::Unchecked);
    Covered {
        run_id: run_id.to_owned(),
        by: report.commit,
        how,
        valid,
        reasons: if valid { Vec::new() } else { report.reasons() },
        unchecked: report.unchecked(),
    }
}

/// Targets that are commits of a run proven on a commit of the clone.
fn runs_covering(
    repo: &gix::Repository,
    notes: &mut Notes<'_>,
    targets: &HashSet<ObjectId>,
    trust: &Trust,
    policy: &Policy,
) -> Result<HashMap<ObjectId, Covered>, git::Error> {
    // Candidates first, from the records as written (a walk per run, no signature checked).
    let mut candidates: Vec<usize> = Vec::new();
    for &(base, index) in &notes.bases {
        let commit = notes.commits[index];
        if candidates.last() == Some(&index) || targets.contains(&commit) {
            continue;
        }
        // A base or commit that is not a commit here (its branch gone, or a record naming
        // anything at all) makes no walk: the note is simply no candidate.
        if git::commits_between(repo, base, commit).is_ok_and(|run| run.iter().any(|c| targets.contains(c))) {
            candidates.push(index);
        }
    }
    let mut found = HashMap::new();
    for index in candidates {
        let (_, report) = notes.check(repo, index, trust, policy)?;
        let Some(report) = report else { continue };
        for (run_id, base) in runs_of(&report) {
            for commit in git::commits_between(repo, base, report.commit)? {
                if targets.contains(&commit) && !found.contains_key(&commit) {
                    found.insert(commit, covered(run_id, &report, Coverage::RunCommit));
                }
            }
        }
    }
    Ok(found)
}

/// What a bundle of version 1.1 says each path it touched held at the base and at the head.
struct Change {
    /// Path to (mode, blob) at the base; `None`: the path did not exist.
    before: HashMap<String, Option<(String, String)>>,
    /// Path to (mode, blob) at the head; `None`: the path does not exist.
    after: HashMap<String, Option<(String, String)>>,
}

impl Change {
    /// `None` for a bundle that records no content (version 1.0) or an empty change.
    fn of(bundle: &Bundle) -> Option<Self> {
        let mut change = Change {
            before: HashMap::new(),
            after: HashMap::new(),
        };
        for e in &bundle.diff_stat.entries {
            let side = |mode: &Option<String>, blob: &Option<String>| match (mode, blob) {
                (Some(m), Some(b)) => Some(Some((m.clone(), b.clone()))),
                (None, None) => Some(None),
                _ => None,
            };
            let (before, after) = (side(&e.old_mode, &e.old_blob)?, side(&e.mode, &e.blob)?);
            if e.status == "A" && before.is_some() || e.status != "A" && e.status != "R" && before.is_none() {
                return None;
            }
            match &e.old_path {
                Some(old) => {
                    change.before.insert(old.clone(), before);
                    change.after.insert(old.clone(), None);
                    change.before.entry(e.path.clone()).or_insert(None);
                    change.after.insert(e.path.clone(), after);
                }
                None => {
                    change.before.insert(e.path.clone(), before);
                    change.after.insert(e.path.clone(), after);
                }
            }
        }
        (!change.after.is_empty() && recorded_content(&bundle.diff_stat.entries)).then_some(change)
    }

    /// Whether `tree` holds every path as `sides` says.
    fn held_by(tree: &gix::Tree<'_>, sides: &HashMap<String, Option<(String, String)>>) -> bool {
        sides.iter().all(|(path, side)| {
            let entry = tree.lookup_entry_by_path(crate::model::path_buf(path)).ok().flatten();
            match (entry, side) {
                (None, None) => true,
                (Some(entry), Some((mode, blob))) => {
                    format!("{:06o}", entry.mode().value()) == *mode
                        && ObjectId::from_hex(blob.as_bytes()).is_ok_and(|b| entry.object_id() == b)
                }
                _ => false,
            }
        })
    }
}

/// Whether a bundle's entries carry the blobs of version 1.1 at all.
fn recorded_content(entries: &[DiffEntry]) -> bool {
    entries.iter().all(|e| e.blob.is_some() || e.old_blob.is_some())
}

/// Targets that are a run's change landed by content (squash or rebase merge).
fn landings(
    repo: &gix::Repository,
    notes: &mut Notes<'_>,
    targets: &HashSet<ObjectId>,
    trust: &Trust,
    policy: &Policy,
) -> Result<HashMap<ObjectId, Covered>, git::Error> {
    let mut found = HashMap::new();
    if targets.is_empty() {
        return Ok(found);
    }
    let mut checked: HashMap<usize, (NoteView, Option<CommitReport>)> = HashMap::new();
    for &target in targets {
        if found.contains_key(&target) {
            continue;
        }
        let Some(parent) = first_parent(repo, target)? else {
            continue;
        };
        let mut candidates: Vec<usize> = Vec::new();
        for change in crate::diffstat::tree_changes(repo, parent, target)? {
            if let Some((_, id)) = change.new {
                // Named as the bundle names it (non-UTF-8 names quoted), to meet its entries.
                let key = (crate::model::path_text(change.path.as_slice()), id.to_string());
                for note in notes.by_result.get(&key).into_iter().flatten() {
                    if !candidates.contains(note) {
                        candidates.push(*note);
                    }
                }
            }
        }
        'candidates: for note_index in candidates {
            for bundle in notes.bundles_of(note_index)? {
                let Some(onto) = landed_onto(repo, &bundle, target)? else {
                    continue;
                };
                if let Entry::Vacant(slot) = checked.entry(note_index) {
                    slot.insert(notes.check(repo, note_index, trust, policy)?);
                }
                let (view, _) = &checked[&note_index];
                let Some(shown) = view.bundles.iter().find(|v| *v.bundle() == bundle) else {
                    continue;
                };
                if !view.counts(shown.record) {
                    continue;
                }
                let checked = verify::check_landed(repo, shown, onto, target, policy);
                let landing = Covered {
                    run_id: bundle.run_id.clone(),
                    by: view.commit,
                    how: Coverage::Landed { onto },
                    valid: checked.problems.is_empty(),
                    reasons: checked.problems,
                    unchecked: checked.unchecked,
                };
                for commit in git::commits_between(repo, onto, target)? {
                    if commit != target && targets.contains(&commit) {
                        let mut with = landing.clone();
                        with.how = Coverage::LandedWith { last: target };
                        found.entry(commit).or_insert(with);
                    }
                }
                found.insert(target, landing);
                break 'candidates;
            }
        }
    }
    Ok(found)
}

/// Where `bundle`'s change landed as the change to `commit`: the first-parent ancestor it was
/// made onto, when `commit` holds what the run's head held and the trees differ in exactly the
/// run's paths.
fn landed_onto(repo: &gix::Repository, bundle: &Bundle, commit: ObjectId) -> Result<Option<ObjectId>, git::Error> {
    let Some(change) = Change::of(bundle) else {
        return Ok(None);
    };
    let tree_of = |c: ObjectId| {
        let tree = git::tree_of(repo, c)?;
        git::ensure_objects(repo, [tree])?;
        repo.find_tree(tree).doing(|| format!("read the tree of {c}"))
    };
    if !Change::held_by(&tree_of(commit)?, &change.after) {
        return Ok(None);
    }
    let mut at = commit;
    for _ in 0..MAX_LANDED_COMMITS {
        let Some(parent) = first_parent(repo, at)? else {
            return Ok(None);
        };
        if Change::held_by(&tree_of(parent)?, &change.before) {
            let touched: HashSet<String> = crate::diffstat::tree_changes(repo, parent, commit)?
                .into_iter()
                .map(|c| crate::model::path_text(c.path.as_slice()))
                .collect();
            let run_paths: HashSet<String> = change.after.keys().cloned().collect();
            return Ok((touched == run_paths).then_some(parent));
        }
        at = parent;
    }
    Ok(None)
}

fn first_parent(repo: &gix::Repository, commit: ObjectId) -> Result<Option<ObjectId>, git::Error> {
    let object = repo.find_commit(commit).doing(|| format!("read commit {commit}"))?;
    Ok(object.parent_ids().next().map(|id| id.detach()))
}
