//! git is the oracle: on seeded random histories (edits, renames with and without edits,
//! identical copies, moves that keep the basename, empty files, CRLF, binary files, symlinks,
//! missing final newlines), our diff stat equals `git diff --numstat -M` and
//! `git diff --name-status -M` for every commit.

use git_proof::diffstat;

use git_proof::model::DiffEntry;

use crate::common::{TestRepo, git_diff_entries, run_with_input};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const WORDS: [&str; 12] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "fn main() {}",
    "let x = 1;",
    "}",
    "{",
    "",
    "// note",
    "return y;",
    "use std;",
];

fn random_text(rng: &mut Rng, lines: usize) -> String {
    (0..lines)
        .map(|i| {
            // Some lines longer than git's 64-byte similarity chunks.
            let long = if rng.chance(15) {
                "x".repeat(40 + rng.below(120))
            } else {
                String::new()
            };
            format!(
                "{}{long} {}\n",
                WORDS[rng.below(WORDS.len())],
                if rng.chance(30) { i } else { 0 }
            )
        })
        .collect()
}

fn edit(rng: &mut Rng, text: &str, edits: usize) -> String {
    let mut lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
    for _ in 0..edits {
        match rng.below(3) {
            0 if !lines.is_empty() => {
                let i = rng.below(lines.len());
                lines.remove(i);
            }
            1 => {
                let i = rng.below(lines.len() + 1);
                lines.insert(i, random_text(rng, 1));
            }
            _ if !lines.is_empty() => {
                let i = rng.below(lines.len());
                lines[i] = random_text(rng, 1);
            }
            _ => lines.push(random_text(rng, 1)),
        }
    }
    lines.concat()
}

fn tracked_files(repo: &TestRepo) -> Vec<String> {
    repo.git(&["ls-files"]).lines().map(str::to_owned).collect()
}

fn ours(repo: &TestRepo, base: &str, head: &str) -> Vec<DiffEntry> {
    let git = git_proof::git::discover(&repo.root).unwrap();
    let base = git_proof::git::resolve_commit(&git, base).unwrap();
    let head = git_proof::git::resolve_commit(&git, head).unwrap();
    diffstat::diff_stat(&git, base, head).unwrap().entries
}

fn mutate(repo: &TestRepo, rng: &mut Rng, round: usize) {
    let files = tracked_files(repo);
    let dirs = ["src", "src/deep", "docs", "lib/util", "tests"];
    for _ in 0..1 + rng.below(6) {
        let files: Vec<String> = tracked_files(repo)
            .into_iter()
            .filter(|f| repo.path(f).is_file())
            .collect();
        let pick = |rng: &mut Rng| files.get(rng.below(files.len().max(1))).cloned();
        let fresh_path =
            |rng: &mut Rng, ext: &str| format!("{}/f{round}_{}.{ext}", dirs[rng.below(dirs.len())], rng.below(1000));
        match rng.below(13) {
            // Edit in place.
            0 | 1 => {
                if let Some(f) = pick(rng) {
                    let text = std::fs::read_to_string(repo.path(&f)).unwrap_or_default();
                    let n = 1 + rng.below(4);
                    repo.write(&f, edit(rng, &text, n));
                }
            }
            // Rename, possibly into another directory with the same basename, with 0..many edits.
            2 | 3 => {
                if let Some(f) = pick(rng) {
                    let text = std::fs::read_to_string(repo.path(&f)).unwrap_or_default();
                    let base = f.rsplit('/').next().unwrap().to_owned();
                    let to = if rng.chance(50) {
                        format!("{}/{base}", dirs[rng.below(dirs.len())])
                    } else {
                        fresh_path(rng, "txt")
                    };
                    if to != f && !repo.path(&to).exists() {
                        std::fs::remove_file(repo.path(&f)).unwrap();
                        let edits = [0, 0, 1, 3, 10][rng.below(5)];
                        repo.write(&to, edit(rng, &text, edits));
                    }
                }
            }
            // An identical copy elsewhere (exact-rename candidates with several sources).
            4 => {
                if let Some(f) = pick(rng) {
                    let data = std::fs::read(repo.path(&f)).unwrap_or_default();
                    repo.write(&fresh_path(rng, "copy"), data);
                }
            }
            5 => {
                if let Some(f) = pick(rng) {
                    std::fs::remove_file(repo.path(&f)).unwrap();
                }
            }
            6 => {
                let n = 1 + rng.below(30);
                repo.write(&fresh_path(rng, "rs"), random_text(rng, n));
            }
            7 => repo.write(&fresh_path(rng, "empty"), ""),
            8 => {
                let n = 1 + rng.below(10);
                let text = random_text(rng, n).replace('\n', "\r\n");
                repo.write(&fresh_path(rng, "crlf"), text);
            }
            9 => {
                let mut data = random_text(rng, 5).into_bytes();
                data.insert(rng.below(data.len()), 0);
                repo.write(&fresh_path(rng, "bin"), data);
            }
            10 => {
                if let Some(f) = pick(rng) {
                    let text = std::fs::read_to_string(repo.path(&f)).unwrap_or_default();
                    repo.write(&f, text.trim_end_matches('\n'));
                }
            }
            11 => {
                use std::os::unix::fs::PermissionsExt as _;
                if let Some(f) = pick(rng) {
                    let path = repo.path(&f);
                    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode ^ 0o111)).unwrap();
                }
            }
            _ => {
                let link = fresh_path(rng, "link");
                std::fs::create_dir_all(repo.path(&link).parent().unwrap()).unwrap();
                let target = files.first().cloned().unwrap_or_else(|| "README.md".into());
                std::os::unix::fs::symlink(target, repo.path(&link)).unwrap();
            }
        }
    }
    let _ = files;
}

/// A seeded random history: a population commit, then up to 25 rounds of mutations.
fn random_history(seed: u64) -> (TestRepo, Vec<String>) {
    let repo = TestRepo::new();
    let mut rng = Rng(seed);
    for i in 0..40 {
        let n = 5 + rng.below(40);
        repo.write(&format!("src/m{i}.rs"), random_text(&mut rng, n));
    }
    repo.commit_all("population");
    let mut commits = vec![repo.git(&["rev-parse", "HEAD"])];
    for round in 0..25 {
        mutate(&repo, &mut rng, round);
        repo.git(&["add", "-A"]);
        if repo.git(&["status", "--porcelain"]).is_empty() {
            continue;
        }
        repo.git(&["commit", "-qm", &format!("round {round}")]);
        commits.push(repo.git(&["rev-parse", "HEAD"]));
    }
    (repo, commits)
}

/// Every consecutive pair, and a few long spans with many changes at once.
fn spans(commits: &[String]) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(usize, usize)> = (1..commits.len()).map(|i| (i - 1, i)).collect();
    pairs.extend([
        (0, commits.len() - 1),
        (0, commits.len() / 2),
        (commits.len() / 3, commits.len() - 1),
    ]);
    pairs
}

const SEEDS: [u64; 3] = [0x9E37_79B9_7F4A_7C15u64, 0xD1B5_4A32_D192_ED03, 42];

#[test]
fn diff_stat_equals_git_on_random_histories() {
    for seed in SEEDS {
        let (repo, commits) = random_history(seed);
        let mut renames = 0;
        for (a, b) in spans(&commits) {
            let expected = git_diff_entries(&repo, &commits[a], &commits[b]);
            renames += expected.iter().filter(|e| e.status == "R").count();
            assert_eq!(
                ours(&repo, &commits[a], &commits[b]),
                expected,
                "seed {seed:#x}, commits {a}..{b}"
            );
        }
        assert!(
            renames > 10,
            "the histories exercise renames (seed {seed:#x}: {renames})"
        );
    }
}

/// `git diff --no-renames --full-index A B | git patch-id MODE`, the oracle.
fn git_patch_id(repo: &TestRepo, a: &str, b: &str, mode: &str) -> Option<String> {
    let diff = repo
        .git_command(&repo.root)
        .args([
            "-c",
            "diff.noprefix=false",
            "diff",
            "--no-renames",
            "--full-index",
            a,
            b,
        ])
        .output()
        .unwrap();
    assert!(diff.status.success());
    let mut cmd = repo.git_command(&repo.root);
    cmd.args(["patch-id", mode]);
    let out = run_with_input(cmd, &diff.stdout).ok();
    out.stdout.split_whitespace().next().map(str::to_owned)
}

fn our_patch_id(repo: &TestRepo, a: &str, b: &str, mode: &str) -> Option<String> {
    let git = git_proof::git::discover(&repo.root).unwrap();
    let a = git_proof::git::resolve_commit(&git, a).unwrap();
    let b = git_proof::git::resolve_commit(&git, b).unwrap();
    match mode {
        "--stable" => git_proof::patch_id::stable(&git, a, b).unwrap(),
        _ => git_proof::patch_id::verbatim(&git, a, b).unwrap(),
    }
}

/// The patch-ids a rewritten proof carries are git's, `--verbatim` (what new rewrite records
/// hold) and `--stable` (what version 1.0 records hold): on the same random histories (edits,
/// mode changes, binary files, symlinks, empty files, missing final newlines), for every span.
#[test]
fn patch_id_equals_git_on_random_histories() {
    for seed in SEEDS {
        let (repo, commits) = random_history(seed);
        let mut compared = 0;
        let mut differ = 0;
        for (a, b) in spans(&commits) {
            let mut ids = Vec::new();
            for mode in ["--verbatim", "--stable"] {
                let expected = git_patch_id(&repo, &commits[a], &commits[b], mode);
                assert_eq!(
                    our_patch_id(&repo, &commits[a], &commits[b], mode),
                    expected,
                    "seed {seed:#x}, commits {a}..{b}, {mode}"
                );
                compared += usize::from(expected.is_some());
                ids.push(expected);
            }
            differ += usize::from(ids[0] != ids[1]);
        }
        assert!(compared > 40, "seed {seed:#x}: only {compared} spans had a patch");
        assert!(
            differ > 0,
            "seed {seed:#x}: the two modes never differ, so one is not tested"
        );
    }
}

/// Whitespace is part of a verbatim patch-id and not of a stable one: re-indenting a line.
#[test]
fn a_dedent_changes_the_verbatim_patch_id_only() {
    let repo = TestRepo::new();
    repo.write("a.py", "def f():\n    if x:\n        return 1\n");
    let base = repo.commit_all("base");
    repo.write("a.py", "def f():\n    if x:\n        return 2\n");
    let one = repo.commit_all("one");
    repo.git(&["reset", "-q", "--hard", &base]);
    repo.write("a.py", "def f():\n    if x:\n      return 2\n");
    let other = repo.commit_all("dedented");
    for mode in ["--verbatim", "--stable"] {
        assert_eq!(
            our_patch_id(&repo, &base, &one, mode),
            git_patch_id(&repo, &base, &one, mode)
        );
        assert_eq!(
            our_patch_id(&repo, &base, &other, mode),
            git_patch_id(&repo, &base, &other, mode)
        );
    }
    assert_ne!(
        our_patch_id(&repo, &base, &one, "--verbatim"),
        our_patch_id(&repo, &base, &other, "--verbatim")
    );
    assert_eq!(
        our_patch_id(&repo, &base, &one, "--stable"),
        our_patch_id(&repo, &base, &other, "--stable")
    );
}

/// Many renames whose similarity straddles git's 50% and 75% thresholds, with lines longer
/// than git's 64-byte chunks, in one commit: the rename pairs must be git's, exactly.
#[test]
fn renames_around_the_thresholds_pair_as_git_pairs_them() {
    let repo = TestRepo::new();
    let mut rng = Rng(7);
    let mut originals = Vec::new();
    for i in 0..60 {
        let text: String = (0..16)
            .map(|l| {
                format!(
                    "{}{} {i} {l}\n",
                    "y".repeat(rng.below(150)),
                    WORDS[rng.below(WORDS.len())]
                )
            })
            .collect();
        let path = format!("old/f{i}.txt");
        repo.write(&path, &text);
        originals.push((path, text));
    }
    let base = repo.commit_all("originals");
    for (i, (path, text)) in originals.iter().enumerate() {
        std::fs::remove_file(repo.path(path)).unwrap();
        // 0..15 of 16 lines replaced: similarity sweeps from 100% down past 50%.
        let lines: Vec<&str> = text.lines().collect();
        let replaced = i % 16;
        let edited: String = lines
            .iter()
            .enumerate()
            .map(|(l, line)| {
                if l < replaced {
                    format!("new {i} {l} {}\n", "z".repeat(rng.below(90)))
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        // Half keep their basename (basename step), half get a new one (matrix step).
        let to = if i % 2 == 0 {
            format!("new/f{i}.txt")
        } else {
            format!("new/g{i}.txt")
        };
        repo.write(&to, edited);
    }
    // A same-basename source only 60% similar loses to a 95% similar source with another name.
    let body: String = (0..20).map(|l| format!("shared line {l}\n")).collect();
    repo.write(
        "x1/x.txt",
        body.lines().take(12).map(|l| format!("{l}\n")).collect::<String>() + &"other\n".repeat(8),
    );
    repo.write(
        "y1/y.txt",
        body.lines().take(19).map(|l| format!("{l}\n")).collect::<String>() + "tail\n",
    );
    // An exact copy pair where git prefers the source with the same basename.
    repo.write("a/copy1.txt", "identical\ncontent\n");
    repo.write("b/same.txt", "identical\ncontent\n");
    let mid = repo.commit_all("sources for exact renames");
    std::fs::remove_file(repo.path("a/copy1.txt")).unwrap();
    std::fs::remove_file(repo.path("b/same.txt")).unwrap();
    repo.write("c/same.txt", "identical\ncontent\n");
    std::fs::remove_file(repo.path("x1/x.txt")).unwrap();
    std::fs::remove_file(repo.path("y1/y.txt")).unwrap();
    repo.write("z1/x.txt", body);
    let head = repo.commit_all("renamed");
    for (a, b) in [(&base, &mid), (&mid, &head), (&base, &head)] {
        let expected = git_diff_entries(&repo, a, b);
        assert_eq!(ours(&repo, a, b), expected, "{a}..{b}");
    }
    let exact = git_diff_entries(&repo, &mid, &head);
    assert!(
        exact.iter().any(|e| e.old_path.as_deref() == Some("b/same.txt")),
        "{exact:?}"
    );
    assert!(
        exact
            .iter()
            .any(|e| e.path == "z1/x.txt" && e.old_path.as_deref() == Some("y1/y.txt")),
        "{exact:?}"
    );
    let sweep = git_diff_entries(&repo, &base, &mid);
    let renamed = sweep.iter().filter(|e| e.status == "R").count();
    assert!(
        renamed > 10 && renamed < 60,
        "the sweep crosses the threshold: {renamed} renames"
    );
}
