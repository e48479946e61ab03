//! `finish`, the heart of git-proof: it ends the run, runs the DoD checks, reads the diff, builds
//! the bundle and manifest, signs, writes the note and records the reference, in an order that
//! makes every step safe to repeat.
//!
//! Every step stores its result before the next starts (terminal event, check results,
//! violations, manifest, note, index reference), and each looks for a stored result first, so
//! a finish interrupted anywhere is completed by the next one.

use gix::ObjectId;

use super::{Error, StepTrace, Workspace, check_run_id, format_time, lock_run, parse_id};
use crate::evidence::{self, EventType, ManifestIdentity};
use crate::model::{
    BUNDLE_VERSION, Bundle, DiffStat, DodResult, Generator, Manifest, RunStatus, ScopeViolation, Statement,
};
use crate::notes::{self, Appended, NotesReader};
use crate::policy::{self, ScopeMatcher};
use crate::record::{self, Content, Record};
use crate::signing::{self, AllowedSigners, SigningKey};
use crate::store::{BundleRef, Ending, Index, NewEvent, RunEnd, RunRecord};
use crate::{diffstat, dod, git};

/// What `finish` needs.
pub struct FinishOptions<'k> {
    /// The process exit code; `None` means 0 (the run ended normally).
    pub exit_code: Option<i32>,
    /// Whether the definition-of-done checks run now.
    pub checks: Checks,
    pub key: &'k SigningKey,
}

/// What becomes of a run's definition-of-done checks at finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// Run them; with `progress`, a check still running after a second says so on stderr
    /// (when stderr is a terminal).
    Run { progress: bool },
    /// Record each as `pending`, not run.
    Pending,
}

/// The proof of a finished run.
#[derive(Debug, Clone)]
pub struct Proof {
    pub bundle: Bundle,
    pub commit: String,
    pub bundle_digest: String,
    /// `false` when the proof already existed and nothing was written.
    pub created: bool,
    /// Whether this call built the evidence manifest (an earlier, interrupted finish may have).
    pub manifest_created: bool,
}

/// Ends the run and writes its proof; on a run that already has one, returns it unchanged.
/// A lock file per run serializes concurrent finishes of the same run; the loser finds the
/// winner's proof.
pub fn finish(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    opts: FinishOptions<'_>,
    now: jiff::Timestamp,
) -> Result<Proof, Error> {
    check_run_id(run_id)?;
    let mut trace = StepTrace::from_env();
    let _lock = lock_run(&ws.common_dir, run_id)?;
    if let Some(proof) = recorded_proof(ws, index, run_id, now)? {
        return Ok(proof);
    }
    // The worktree as the agent left it, before DoD checks add build output to it.
    let dirty = git::dirty_files_in_background(&ws.repo);
    let now_text = format_time(now);
    let run = end_run(
        ws,
        index,
        run_id,
        &RunEnd::exited(opts.exit_code.unwrap_or(0)),
        &now_text,
    )?;
    let end = run.ended().cloned().ok_or(Error::NoActiveRun)?;
    let (base, head) = (parse_id(&run.base_sha)?, parse_id(&end.head_sha)?);
    trace.step("end the run");
    let dod_results = dod_results(ws, index, &run, opts.checks)?;
    trace.step("DoD checks");
    let diff_stat = diffstat::diff_stat(&ws.repo, base, head)?;
    trace.step("diff");
    let dirty_now = dirty.join().map_err(|_| Error::StatusThread)??;
    let (dirty_files, dirty_at_start) =
        super::dirty::split(&ws.workdir, index.started_data(run_id)?.as_ref(), dirty_now);
    trace.step("status (joined)");
    let scope_violations = violations(index, &run, &diff_stat, &dirty_files)?;
    trace.step("scope");
    let (manifest, manifest_created) = manifest(ws, index, &run, base, end.exit_code, &now_text)?;
    trace.step("manifest");
    let bundle = Bundle {
        version: BUNDLE_VERSION.into(),
        run_id: run_id.to_owned(),
        generated_at: now_text.clone(),
        prompt_hash: run.prompt_hash.clone(),
        scope_snapshot: run.scope.clone(),
        dod_snapshot: run.dod.clone(),
        base_sha: base.to_string(),
        head_sha: head.to_string(),
        head_tree: git::tree_of(&ws.repo, head)?.to_string(),
        changed_files: diff_stat.entries.iter().map(|e| e.path.clone()).collect(),
        diff_stat,
        dirty_files,
        dirty_at_start,
        exit_code: end.exit_code,
        run_status: RunStatus::from_exit_code(end.exit_code),
        dod_results,
        scope_violations,
        evidence: manifest,
        generator: Generator::current(),
    };
    trace.step("bundle");
    let record = record::sign(&Statement::for_bundle(bundle.clone()), opts.key)?;
    trace.step("sign");
    let (bundle, bundle_digest, created) = write_note(ws, head, bundle, record, opts.key)?;
    trace.step("note");
    trace.step("digest");
    let reference = index.save_bundle_ref(&BundleRef {
        run_id: run_id.to_owned(),
        commit_sha: head.to_string(),
        bundle_digest,
        recorded_at: now_text.clone(),
    })?;
    trace.step("proof reference");
    record_manifest_created(index, &bundle, &reference, &now_text)?;
    trace.step("index");
    Ok(Proof {
        bundle,
        commit: reference.commit_sha,
        bundle_digest: reference.bundle_digest,
        created,
        manifest_created,
    })
}

/// Step 1: the run as it ended. An active run is ended now, with `commit.recorded` for each of
/// its commits the post-commit hook did not see and its terminal event; a run that has ended
/// is returned as it ended.
pub(super) fn end_run(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    end: &RunEnd,
    now: &str,
) -> Result<RunRecord, Error> {
    let run = index.run(run_id)?;
    if run.is_active() && run.worktree != ws.worktree_key() {
        // Its HEAD, diff and uncommitted changes are that worktree's, not this one's.
        return Err(Error::OtherWorktree {
            run_id: run_id.to_owned(),
            worktree: run.worktree,
        });
    }
    let run = if run.is_active() {
        let head = git::head_commit(&ws.repo)?;
        let base = parse_id(&run.base_sha)?;
        let commits: Vec<String> = git::commits_between(&ws.repo, base, head)?
            .iter()
            .map(ToString::to_string)
            .collect();
        index.end_run(run_id, &head.to_string(), end, &commits, now)?
    } else if run.ended().is_some_and(|e| matches!(e.how, Ending::Abandoned { .. })) {
        return Err(Error::Abandoned(run_id.to_owned()));
    } else {
        run
    };
    if run.worktree == ws.worktree_key() {
        super::marker::clear_active(ws.repo.git_dir()).map_err(Error::Marker)?;
    }
    Ok(run)
}

/// Step 2: the DoD results, run once and stored (or recorded `pending` without running).
fn dod_results(ws: &Workspace, index: &mut Index, run: &RunRecord, checks: Checks) -> Result<Vec<DodResult>, Error> {
    if let Some(stored) = index.checks(&run.run_id)? {
        return Ok(stored);
    }
    if run.dod.is_empty() {
        return Ok(Vec::new());
    }
    let results = match checks {
        Checks::Run { progress } => dod::run_checks(&run.dod, &ws.workdir, &dod::logs_dir(&ws.common_dir), progress),
        Checks::Pending => dod::pending(&run.dod),
    };
    Ok(index.save_checks(&run.run_id, &results)?)
}

/// Step 3: the scope violations of the changed and dirty paths, with the decisions made while
/// the run was open, stored.
fn violations(
    index: &mut Index,
    run: &RunRecord,
    diff_stat: &DiffStat,
    dirty_files: &[String],
) -> Result<Vec<ScopeViolation>, Error> {
    let mut found = policy::violations(&ScopeMatcher::new(&run.scope)?, diff_stat, dirty_files);
    for (path, approval) in index.decisions(&run.run_id)? {
        if let Some(v) = found.iter_mut().find(|v| v.path == path) {
            v.approval = approval;
        }
    }
    index.save_violations(&run.run_id, &found)?;
    Ok(found)
}

/// Step 4: the evidence manifest, built once and stored; whether this call built it.
pub(super) fn manifest(
    ws: &Workspace,
    index: &mut Index,
    run: &RunRecord,
    base: ObjectId,
    exit_code: i32,
    now: &str,
) -> Result<(Manifest, bool), Error> {
    if let Some(stored) = index.manifest(&run.run_id)? {
        return Ok((stored, false));
    }
    let events = index.event_summaries(&run.run_id)?;
    let identity = ManifestIdentity {
        run_id: run.run_id.clone(),
        run_status: RunStatus::from_exit_code(exit_code),
        correlation_id: run.correlation_id.clone(),
        workspace_id: git::workspace_id(&ws.repo, base)?,
        thread_id: run.thread_id.clone(),
    };
    let built = evidence::build_manifest(identity, events)?;
    Ok(index.save_manifest(&run.run_id, &built, now)?)
}

/// Step 5: appends the signed bundle to the head's note, unless an earlier finish of this run
/// wrote it already: a bundle of this run signed with this key. A bundle of the same run id
/// that anyone else wrote (another key, or none) is not ours and does not stop ours.
fn write_note(
    ws: &Workspace,
    head: ObjectId,
    bundle: Bundle,
    record: Record,
    key: &SigningKey,
) -> Result<(Bundle, String, bool), Error> {
    let ours = AllowedSigners::of_key("self", key.public_key());
    let run_id = bundle.run_id.clone();
    let is_ours = |r: &Record| {
        matches!(r.parse(), Ok(Content::Bundle(s)) if s.predicate.run_id == run_id)
            && r.check_signature(&ours, 0).is_ok()
    };
    match notes::append_record(&ws.repo, head, &record, is_ours)? {
        Appended::Written(_) => Ok((bundle, record.digest(), true)),
        // An earlier finish wrote the note but did not live to record it in the index.
        Appended::AlreadyPresent(existing) => match existing.parse() {
            Ok(Content::Bundle(s)) => Ok((s.predicate, existing.digest(), false)),
            _ => Err(Error::ProofMissing {
                run_id,
                commit: head.to_string(),
            }),
        },
    }
}

/// The proof the index already records for the run, if any. A finish killed between saving the
/// reference and appending `evidence.manifest.created` left the stream without it: appended here.
pub(super) fn recorded_proof(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    now: jiff::Timestamp,
) -> Result<Option<Proof>, Error> {
    let Some(reference) = index.bundle_ref(run_id)? else {
        return Ok(None);
    };
    let proof = existing_proof(&ws.repo, &reference)?;
    record_manifest_created(index, &proof.bundle, &reference, &format_time(now))?;
    Ok(Some(proof))
}

/// The proof an index reference names: the record with exactly that digest on that commit. The
/// index is this clone's own, so the digest it stored identifies our bundle without a trust
/// source.
fn existing_proof(repo: &gix::Repository, reference: &BundleRef) -> Result<Proof, Error> {
    let commit = parse_id(&reference.commit_sha)?;
    let bundle = bundle_by_digest(repo, commit, &reference.bundle_digest)?.ok_or_else(|| Error::ProofMissing {
        run_id: reference.run_id.clone(),
        commit: reference.commit_sha.clone(),
    })?;
    Ok(Proof {
        bundle,
        commit: reference.commit_sha.clone(),
        bundle_digest: reference.bundle_digest.clone(),
        created: false,
        manifest_created: false,
    })
}

/// The bundle whose record has `digest`, on `commit`'s note.
pub fn bundle_by_digest(repo: &gix::Repository, commit: ObjectId, digest: &str) -> Result<Option<Bundle>, Error> {
    let Some(note) = NotesReader::new(repo)?.note(commit)? else {
        return Ok(None);
    };
    Ok(record::split(&note)
        .records
        .into_iter()
        .filter(|r| r.digest() == digest)
        .find_map(|r| match r.parse() {
            Ok(Content::Bundle(s)) => Some(s.predicate),
            _ => None,
        }))
}

/// What finalizing a run's evidence did.
#[derive(Debug, Clone)]
pub enum Finalized {
    /// This call built the manifest.
    Created(Manifest),
    /// The run had one already; nothing was appended.
    Existing(Manifest),
}

/// Gives an ended run its evidence manifest, and the signed proof that carries it, once (the
/// finalize of the HTTP API). An active run is refused; a run that has a manifest gets it back.
/// Checks that never ran are recorded `pending`: finalizing never starts a program (run
/// `git proof finish` for that). `key` is asked for only when a proof must be signed.
pub fn finalize_evidence(
    ws: &Workspace,
    index: &mut Index,
    run_id: &str,
    key: impl FnOnce() -> Result<SigningKey, signing::Error>,
    now: jiff::Timestamp,
) -> Result<Finalized, Error> {
    check_run_id(run_id)?;
    let run = index.run(run_id)?;
    let Some(end) = run.ended() else {
        return Err(Error::RunActive(run_id.to_owned()));
    };
    if matches!(end.how, Ending::Abandoned { .. }) {
        // Abandoned work is never signed; its manifest was built when it was abandoned.
        let (manifest, created) = manifest(
            ws,
            index,
            &run,
            parse_id(&run.base_sha)?,
            end.exit_code,
            &format_time(now),
        )?;
        return Ok(if created {
            Finalized::Created(manifest)
        } else {
            Finalized::Existing(manifest)
        });
    }
    {
        let _lock = lock_run(&ws.common_dir, run_id)?;
        if let Some(proof) = recorded_proof(ws, index, run_id, now)? {
            return Ok(Finalized::Existing(proof.bundle.evidence));
        }
    }
    let key = key()?;
    let opts = FinishOptions {
        exit_code: None,
        checks: Checks::Pending,
        key: &key,
    };
    let proof = finish(ws, index, run_id, opts, now)?;
    Ok(if proof.manifest_created {
        Finalized::Created(proof.bundle.evidence)
    } else {
        Finalized::Existing(proof.bundle.evidence)
    })
}

/// Appends `evidence.manifest.created` to the run's stream, once.
fn record_manifest_created(index: &mut Index, bundle: &Bundle, reference: &BundleRef, now: &str) -> Result<(), Error> {
    index.append_event(
        &bundle.run_id,
        NewEvent {
            event_type: EventType::EvidenceManifestCreated,
            event_id: None,
            occurred_at: now.to_owned(),
            data: serde_json::json!({
                "manifest_hash": bundle.evidence.manifest_hash,
                "event_hash_root": bundle.evidence.event_hash_root,
                "bundle_digest": reference.bundle_digest,
                "commit": reference.commit_sha,
            }),
            idempotency_key: Some(Manifest::idempotency_key(&bundle.run_id)),
        },
    )?;
    Ok(())
}

/// The payload and signature of a bundle record.
pub fn sign_bundle(bundle: &Bundle, key: &SigningKey) -> Result<Record, signing::Error> {
    record::sign(&Statement::for_bundle(bundle.clone()), key)
}
