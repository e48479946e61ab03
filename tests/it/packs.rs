//! Notes read in bulk come from the packs through `packs::PackReader` (past the first few
//! reads), which decodes delta chains itself: every note must read exactly as `git cat-file`
//! gives it, whatever the pack's deltas (offset or ref deltas, long chains), the object format,
//! and wherever the note lives (a pack, two packs, a loose object, a pack written after the
//! reader's process first mapped the packs).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::TestRepo;

const NOTES: usize = 400;

/// A repository at `dir` (made with `object_format`, or the existing test repository when `dir`
/// is its root) holding `NOTES` commits on branch `bulk`, each with a note much like the
/// others (so that git deltifies them against one another), written by fast-import. Returns
/// the commits, newest first.
fn history_with_notes(repo: &TestRepo, dir: &Path) -> Vec<String> {
    let mut script = String::new();
    for i in 0..NOTES {
        script.push_str(&format!(
            "commit refs/heads/bulk\ncommitter A <a@example.com> {} +0000\ndata 2\nc\nM 100644 inline f{}.txt\ndata {}\n{i}\n\n",
            1_700_000_000 + i,
            i % 7,
            i.to_string().len() + 1
        ));
    }
    fast_import(repo, dir, &script);
    let commits: Vec<String> = repo
        .git_in(dir, &["rev-list", "bulk"])
        .lines()
        .map(str::to_owned)
        .collect();
    let mut notes =
        String::from("commit refs/notes/proof\ncommitter A <a@example.com> 1700000000 +0000\ndata 5\nnotes\n");
    for (i, commit) in commits.iter().enumerate() {
        let text = note_text(i);
        notes.push_str(&format!("N inline {commit}\ndata {}\n{text}\n", text.len()));
    }
    fast_import(repo, dir, &notes);
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

fn fast_import(repo: &TestRepo, dir: &Path, script: &str) {
    let mut child = repo
        .git_command(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

/// Every note's blob id and text as git gives them, by commit.
fn notes_by_git(dir: &Path) -> HashMap<String, (String, Vec<u8>)> {
    let listed = Command::new("git")
        .current_dir(dir)
        .args(["notes", "--ref=proof", "list"])
        .output()
        .unwrap();
    let mut by_commit = HashMap::new();
    for line in String::from_utf8(listed.stdout).unwrap().lines() {
        let (blob, commit) = line.split_once(' ').unwrap();
        let out = Command::new("git")
            .current_dir(dir)
            .args(["cat-file", "blob", blob])
            .output()
            .unwrap();
        assert!(out.status.success());
        by_commit.insert(commit.to_owned(), (blob.to_owned(), out.stdout));
    }
    by_commit
}

fn pack_files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join(".git/objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect()
}

/// The longest delta chain `git verify-pack` reports.
fn longest_chain(repo: &TestRepo, dir: &Path) -> usize {
    let mut longest = 0;
    for idx in pack_files(dir, "idx") {
        let out = repo.git_in(dir, &["verify-pack", "-v", idx.to_str().unwrap()]);
        for line in out.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() == 7 {
                longest = longest.max(fields[5].parse().unwrap_or(0));
            }
        }
    }
    longest
}

/// Every note through one `NotesReader`, in the order of `commits`.
fn read_through_notes_reader(dir: &Path, commits: &[String]) -> HashMap<String, Vec<u8>> {
    let git_repo = git_proof::git::discover(dir).unwrap();
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

/// Reads every note of `commits` straight from the packs, in that order, through one reader:
/// each must be there, and read as git reads it (so the bulk reads went through the packs, not
/// around them).
fn assert_packs_hold(dir: &Path, commits: &[String], by_git: &HashMap<String, (String, Vec<u8>)>) {
    let git_repo = git_proof::git::discover(dir).unwrap();
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

/// Every note, through a `NotesReader` and through one `PackReader`, newest first and oldest
/// first, reads as git reads it.
fn assert_every_order_reads_as_git(dir: &Path, commits: &[String]) {
    let by_git = notes_by_git(dir);
    assert_eq!(by_git.len(), commits.len());
    let mut oldest_first = commits.to_vec();
    oldest_first.reverse();
    for order in [commits, &oldest_first] {
        assert_packs_hold(dir, order, &by_git);
        let read = read_through_notes_reader(dir, order);
        assert_eq!(read.len(), by_git.len());
        for (commit, (_, text)) in &by_git {
            assert!(
                read.get(commit) == Some(text),
                "the note of {commit} does not read as git reads it"
            );
        }
    }
}

#[test]
fn notes_read_in_bulk_from_long_offset_delta_chains_are_what_git_reads() {
    let repo = TestRepo::new();
    let commits = history_with_notes(&repo, &repo.root);
    repo.git(&["repack", "-adfq", "--depth=50", "--window=50"]);
    assert!(
        longest_chain(&repo, &repo.root) >= 20,
        "the pack must hold long delta chains for this test to mean anything"
    );
    assert_every_order_reads_as_git(&repo.root, &commits);
}

#[test]
fn notes_read_in_bulk_from_ref_deltas_are_what_git_reads() {
    let repo = TestRepo::new();
    let commits = history_with_notes(&repo, &repo.root);
    // Deltas that name their base by id, as packs from some servers and tools do.
    repo.git(&[
        "-c",
        "repack.useDeltaBaseOffset=false",
        "repack",
        "-adfq",
        "--depth=50",
        "--window=50",
    ]);
    assert!(longest_chain(&repo, &repo.root) >= 20);
    assert!(
        ref_deltas_in(&repo.root),
        "the pack must hold ref deltas for this test to mean anything"
    );
    assert_every_order_reads_as_git(&repo.root, &commits);
}

#[test]
fn notes_of_a_sha256_repository_read_in_bulk_as_git_reads_them() {
    let repo = TestRepo::new();
    let dir = repo.sha256_repo("sha256");
    let commits = history_with_notes(&repo, &dir);
    assert_eq!(commits[0].len(), 64);
    repo.git_in(&dir, &["repack", "-adfq", "--depth=50", "--window=50"]);
    assert!(longest_chain(&repo, &dir) >= 20);
    assert_every_order_reads_as_git(&dir, &commits);
}

#[test]
fn notes_spread_over_two_packs_loose_objects_and_packs_written_later_read_as_git_reads_them() {
    let repo = TestRepo::new();
    let commits = history_with_notes(&repo, &repo.root);
    repo.git(&["repack", "-adfq"]);
    // A third of the notes again, changed, in a second pack (fast-import writes one) that
    // one reader reads along with the first, whose offsets overlap its own.
    let mut script = String::from(
        "commit refs/notes/proof\ncommitter A <a@example.com> 1700000001 +0000\ndata 5\nmore\nfrom refs/notes/proof^0\n",
    );
    for (i, commit) in commits.iter().enumerate().step_by(3) {
        let text = format!("{}in the second pack\n", note_text(i + 1));
        script.push_str(&format!("N inline {commit}\ndata {}\n{text}\n", text.len()));
    }
    fast_import(&repo, &repo.root, &script);
    assert_eq!(pack_files(&repo.root, "pack").len(), 2);
    assert_every_order_reads_as_git(&repo.root, &commits);

    // Another third, changed again, as loose objects.
    let changed: Vec<(String, PathBuf)> = commits
        .iter()
        .enumerate()
        .skip(1)
        .step_by(3)
        .map(|(i, commit)| {
            let path = repo.tmp.path().join(format!("note-{i}"));
            std::fs::write(&path, format!("{}changed\n", note_text(i + 2))).unwrap();
            (commit.clone(), path)
        })
        .collect();
    let paths: String = changed.iter().map(|(_, p)| format!("{}\n", p.display())).collect();
    let mut hash_object = repo.git_command(&repo.root);
    hash_object.args(["hash-object", "-w", "--stdin-paths"]);
    let blobs = crate::common::run_with_input(hash_object, paths.as_bytes()).ok().stdout;
    let mut script = String::from(
        "commit refs/notes/proof\ncommitter A <a@example.com> 1700000002 +0000\ndata 5\nloose\nfrom refs/notes/proof^0\n",
    );
    for ((commit, _), blob) in changed.iter().zip(blobs.lines()) {
        script.push_str(&format!("N {blob} {commit}\n"));
    }
    fast_import(&repo, &repo.root, &script);
    let git_repo = git_proof::git::discover(&repo.root).unwrap();
    let loose = gix::ObjectId::from_hex(blobs.lines().next().unwrap().as_bytes()).unwrap();
    assert!(
        git_proof::packs::PackReader::open(&git_repo).read(&loose).is_none(),
        "a loose note is in no pack"
    );
    let by_git = notes_by_git(&repo.root);
    let read = read_through_notes_reader(&repo.root, &commits);
    for (commit, (_, text)) in &by_git {
        assert!(read.get(commit) == Some(text), "the note of {commit}");
    }

    // Everything packed anew: this process maps the new pack, and reads the once loose note
    // from it.
    repo.git(&["repack", "-adfq"]);
    assert!(
        git_proof::packs::PackReader::open(&git_repo).read(&loose).is_some(),
        "the new pack is read"
    );
    assert_every_order_reads_as_git(&repo.root, &commits);
}

/// Whether the repository's pack holds a delta that names its base by id.
fn ref_deltas_in(dir: &Path) -> bool {
    use gix::odb::pack::data::entry::Header;
    let idx = &pack_files(dir, "idx")[0];
    let bundle = gix::odb::pack::Bundle::at(idx, gix::hash::Kind::Sha1).unwrap();
    bundle.index.iter().any(|e| {
        matches!(
            bundle.pack.entry(e.pack_offset).unwrap().header,
            Header::RefDelta { .. }
        )
    })
}
