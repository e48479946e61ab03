//! Notes read in bulk come from the packs through `packs::PackReader` (past the first few
//! reads), which decodes delta chains itself: every note must read exactly as `git cat-file`
//! gives it, whatever the pack's deltas (offset or ref deltas, long chains) and wherever the
//! note lives (a pack, a loose object, a pack written after the reader opened).

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::TestRepo;

const NOTES: usize = 400;

/// A history of `NOTES` commits, each with a note much like the others (so that git deltifies
/// them against one another), written by one fast-import. Returns the commits, newest first.
fn history_with_notes(repo: &TestRepo) -> Vec<String> {
    let mut script = String::new();
    for i in 0..NOTES {
        script.push_str(&format!(
            "commit refs/heads/bulk\ncommitter A <a@example.com> {} +0000\ndata 2\nc\nM 100644 inline f{}.txt\ndata {}\n{i}\n\n",
            1_700_000_000 + i,
            i % 7,
            i.to_string().len() + 1
        ));
    }
    fast_import(repo, &script);
    let commits: Vec<String> = repo.git(&["rev-list", "bulk"]).lines().map(str::to_owned).collect();
    let mut notes =
        String::from("commit refs/notes/proof\ncommitter A <a@example.com> 1700000000 +0000\ndata 5\nnotes\n");
    for (i, commit) in commits.iter().enumerate() {
        let text = note_text(i);
        notes.push_str(&format!("N inline {commit}\ndata {}\n{text}\n", text.len()));
    }
    fast_import(repo, &notes);
    commits
}

/// About 3 KB, mostly shared with every other note, with a few lines of its own.
fn note_text(i: usize) -> String {
    let mut text = String::new();
    for line in 0..60 {
        if line % 15 == i % 15 {
            text.push_str(&format!("line {line} of note {i}: {}\n", i * 7919 % 1000));
        } else {
            text.push_str(&format!(
                "line {line}, the same in every note: {}\n",
                "x".repeat(line % 40)
            ));
        }
    }
    text
}

fn fast_import(repo: &TestRepo, script: &str) {
    let mut child = repo
        .git_command(&repo.root)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

/// Every note blob's text as git gives it, by commit.
fn notes_by_git(repo: &TestRepo) -> HashMap<String, Vec<u8>> {
    notes_and_blobs_by_git(repo)
        .into_iter()
        .map(|(commit, (_, text))| (commit, text))
        .collect()
}

/// Every note's blob id and text as git gives them, by commit.
fn notes_and_blobs_by_git(repo: &TestRepo) -> HashMap<String, (String, Vec<u8>)> {
    let listed = repo.git(&["notes", "--ref=proof", "list"]);
    let mut by_commit = HashMap::new();
    for line in listed.lines() {
        let (blob, commit) = line.split_once(' ').unwrap();
        let out = Command::new("git")
            .current_dir(&repo.root)
            .args(["cat-file", "blob", blob])
            .output()
            .unwrap();
        assert!(out.status.success());
        by_commit.insert(commit.to_owned(), (blob.to_owned(), out.stdout));
    }
    by_commit
}

/// The longest delta chain `git verify-pack` reports.
fn longest_chain(repo: &TestRepo) -> usize {
    let packs = std::fs::read_dir(repo.root.join(".git/objects/pack")).unwrap();
    let mut longest = 0;
    for pack in packs.flatten() {
        let path = pack.path();
        if path.extension().is_none_or(|e| e != "idx") {
            continue;
        }
        let out = repo.git(&["verify-pack", "-v", path.to_str().unwrap()]);
        for line in out.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() == 7 {
                longest = longest.max(fields[5].parse().unwrap_or(0));
            }
        }
    }
    longest
}

fn read_all_in_history_order(repo: &TestRepo, commits: &[String]) -> HashMap<String, Vec<u8>> {
    let git_repo = git_proof::git::discover(&repo.root).unwrap();
    let mut reader = git_proof::notes::NotesReader::new(&git_repo).unwrap();
    let mut read = HashMap::new();
    for commit in commits {
        let id = gix::ObjectId::from_hex(commit.as_bytes()).unwrap();
        if let Some(note) = reader.note(id).unwrap() {
            read.insert(commit.clone(), note);
        }
    }
    read
}

/// Reads every note blob straight from the packs, in history order: each must be there, and
/// read as git reads it (so the bulk reads above went through the packs, not around them).
fn assert_packs_hold_every_note(repo: &TestRepo, commits: &[String]) {
    let by_git = notes_and_blobs_by_git(repo);
    let git_repo = git_proof::git::discover(&repo.root).unwrap();
    let mut packs = git_proof::packs::PackReader::open(&git_repo);
    for commit in commits {
        let (blob, text) = &by_git[commit];
        let id = gix::ObjectId::from_hex(blob.as_bytes()).unwrap();
        let (kind, data) = packs.read(&id).expect("a packed note reads from the packs");
        assert_eq!(kind, gix::object::Kind::Blob);
        assert!(
            data == *text,
            "note blob {blob} does not read from the pack as git reads it"
        );
    }
}

fn assert_same(read: &HashMap<String, Vec<u8>>, by_git: &HashMap<String, Vec<u8>>) {
    assert_eq!(read.len(), by_git.len());
    for (commit, text) in by_git {
        assert!(
            read.get(commit) == Some(text),
            "the note of {commit} does not read as git reads it"
        );
    }
}

#[test]
fn notes_read_in_bulk_from_long_offset_delta_chains_are_what_git_reads() {
    let repo = TestRepo::new();
    let commits = history_with_notes(&repo);
    repo.git(&["repack", "-adfq", "--depth=50", "--window=50"]);
    assert!(
        longest_chain(&repo) >= 20,
        "the pack must hold long delta chains for this test to mean anything"
    );
    assert_packs_hold_every_note(&repo, &commits);
    let by_git = notes_by_git(&repo);
    assert_eq!(by_git.len(), NOTES);
    assert_same(&read_all_in_history_order(&repo, &commits), &by_git);
    // Oldest first, and newest first again: other orders through the same chains.
    let mut reversed = commits.clone();
    reversed.reverse();
    assert_same(&read_all_in_history_order(&repo, &reversed), &by_git);
}

#[test]
fn notes_read_in_bulk_from_ref_deltas_are_what_git_reads() {
    let repo = TestRepo::new();
    let commits = history_with_notes(&repo);
    // Deltas that name their base by id, as packs from some servers and tools do.
    repo.git(&[
        "-c",
        "repack.useDeltaBaseOffset=false",
        "repack",
        "-adfq",
        "--depth=50",
        "--window=50",
    ]);
    assert!(longest_chain(&repo) >= 20);
    assert!(
        ref_deltas_in(&repo),
        "the pack must hold ref deltas for this test to mean anything"
    );
    assert_packs_hold_every_note(&repo, &commits);
    let by_git = notes_by_git(&repo);
    assert_same(&read_all_in_history_order(&repo, &commits), &by_git);
}

#[test]
fn notes_in_loose_objects_and_in_packs_written_later_read_as_git_reads_them() {
    let repo = TestRepo::new();
    let commits = history_with_notes(&repo);
    repo.git(&["repack", "-adfq"]);
    // Half the notes again, changed, as loose objects after the pack.
    let changed: Vec<(String, std::path::PathBuf)> = commits
        .iter()
        .enumerate()
        .step_by(2)
        .map(|(i, commit)| {
            let path = repo.tmp.path().join(format!("note-{i}"));
            std::fs::write(&path, format!("{}changed\n", note_text(i + 1))).unwrap();
            (commit.clone(), path)
        })
        .collect();
    let paths: String = changed.iter().map(|(_, p)| format!("{}\n", p.display())).collect();
    let mut hash_object = repo.git_command(&repo.root);
    hash_object.args(["hash-object", "-w", "--stdin-paths"]);
    let blobs = crate::common::run_with_input(hash_object, paths.as_bytes()).ok().stdout;
    let mut script = String::from(
        "commit refs/notes/proof\ncommitter A <a@example.com> 1700000001 +0000\ndata 5\nmore\nfrom refs/notes/proof^0\n",
    );
    for ((commit, _), blob) in changed.iter().zip(blobs.lines()) {
        script.push_str(&format!("N {blob} {commit}\n"));
    }
    fast_import(&repo, &script);
    let git_repo = git_proof::git::discover(&repo.root).unwrap();
    let blob = gix::ObjectId::from_hex(blobs.lines().next().unwrap().as_bytes()).unwrap();
    assert!(
        git_proof::packs::PackReader::open(&git_repo).read(&blob).is_none(),
        "a loose note is not in any pack"
    );
    let by_git = notes_by_git(&repo);
    assert_same(&read_all_in_history_order(&repo, &commits), &by_git);
    // And once more after everything is packed anew: the process maps the new packs.
    repo.git(&["repack", "-adfq"]);
    assert_same(&read_all_in_history_order(&repo, &commits), &by_git);
}

/// Whether the repository's pack holds a delta that names its base by id.
fn ref_deltas_in(repo: &TestRepo) -> bool {
    use gix::odb::pack::data::entry::Header;
    let idx = std::fs::read_dir(repo.root.join(".git/objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .unwrap();
    let bundle = gix::odb::pack::Bundle::at(&idx, gix::hash::Kind::Sha1).unwrap();
    bundle.index.iter().any(|e| {
        matches!(
            bundle.pack.entry(e.pack_offset).unwrap().header,
            Header::RefDelta { .. }
        )
    })
}
