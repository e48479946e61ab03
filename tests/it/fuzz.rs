//! Bounded mutation fuzzing of the note parser, the read model and the record verifier:
//! thousands of corrupted variants of a real note (bit flips, cuts, insertions, duplicated and
//! reordered lines). None may panic, and under the one trust rule none may verify unless a
//! record that counts is byte for byte the original bundle record, and every record that counts
//! is an original one: damaged text around it is ignored, never counted.
//! Inputs that ever broke this are kept in tests/fixtures/fuzz/ and replayed first.

use git_proof::record;
use git_proof::signing::AllowedSigners;
use git_proof::trust::Trust;
use git_proof::verify::{self, Policy, Verdict};
use git_proof::view::NoteView;

use crate::common::TestRepo;

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub(crate) fn mutate(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let mut data = original.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.truncate(at),
            2 => data.insert(at.min(data.len()), rng.next() as u8),
            3 if at < data.len() => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            4 => {
                // Duplicate a slice somewhere else (records repeated, lines doubled).
                let start = rng.below(data.len());
                let end = (start + rng.below(400)).min(data.len());
                let slice = data[start..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, slice);
            }
            5 => {
                // Swap two lines.
                let text = String::from_utf8_lossy(&data).into_owned();
                let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
                if lines.len() > 2 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(a, b);
                }
                data = lines.concat().into_bytes();
            }
            _ => data.extend_from_slice(b"-----BEGIN SSH SIGNATURE-----\n"),
        }
    }
    data
}

#[test]
fn corrupted_notes_never_panic_and_never_verify() {
    let repo = TestRepo::new();
    repo.start(&["--scope", "src/**"]);
    repo.write("README.md", "changed\n");
    let head = repo.commit_all("agent");
    repo.proof(&["finish"]).ok();
    let original = repo.note(&head).into_bytes();
    let original_records = record::split(&original).records;
    assert_eq!(original_records.len(), 1);

    let git = git_proof::git::discover(&repo.root).unwrap();
    let commit = gix::ObjectId::from_hex(head.as_bytes()).unwrap();
    let signers = AllowedSigners::read(&repo.allowed_signers).unwrap();
    let trust = Trust::signers(signers, jiff::Timestamp::now().as_second());
    let policy = Policy {
        deny_pending: true,
        require_dod: true,
        judge_by: None,
    };

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&fixtures)
        .map(|dir| dir.flatten().filter_map(|e| std::fs::read(e.path()).ok()).collect())
        .unwrap_or_default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let rounds = std::env::var("GIT_PROOF_FUZZ_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    inputs.extend((0..rounds).map(|_| mutate(&mut rng, &original)));

    let mut valid = 0;
    for input in &inputs {
        let report = verify::check_note(&git, commit, input, &trust, &Policy::default()).unwrap();
        let _ = verify::check_note(&git, commit, input, &trust, &policy).unwrap();
        let view = NoteView::build(commit, input, &trust);
        let counting: Vec<&record::Record> = view
            .records
            .iter()
            .filter(|r| r.ignored.is_none())
            .map(|r| &r.record)
            .collect();
        // Whatever counts is an original record, byte for byte (armor wrapping aside).
        for r in &counting {
            assert!(
                original_records.iter().any(|o| o.same_as(r)),
                "a damaged record counts:\n{}",
                String::from_utf8_lossy(input)
            );
        }
        if report.verdict() == Verdict::Valid {
            valid += 1;
            assert!(!counting.is_empty());
        } else {
            // A mutation that left the original record whole cannot make the note invalid.
            assert!(
                counting.is_empty(),
                "the original record counts, yet the note is invalid: {:?}",
                report.reasons()
            );
        }
    }
    assert!(inputs.len() >= 2000);
    // Most mutations hit the one record (a bit flip, a cut); those that only add text around
    // it (a stray armor line, a repeated slice) are ignored and the proof stands.
    assert!(
        valid > 0 && valid < inputs.len() / 2,
        "{valid} of {} mutations still verify",
        inputs.len()
    );
}

mod properties {
    use git_proof::record::{self, Record};
    use proptest::prelude::*;

    fn armor() -> impl Strategy<Value = String> {
        "[A-Za-z0-9+/=]{0,80}"
            .prop_map(|body| format!("-----BEGIN SSH SIGNATURE-----\n{body}\n-----END SSH SIGNATURE-----\n"))
    }

    fn payload() -> impl Strategy<Value = String> {
        // Any text that starts as JSON does, with `{` (blank lines between records are git's
        // concatenation, not payload), has no other line starting with `{` (the splitter takes
        // such a line for the start of the statement), and holds no armor line.
        "\\{[ -~\n]{0,200}"
            .prop_filter("one opening line", |p| !p.contains("\n{"))
            .prop_filter("no armor line", |p| !p.contains("-----BEGIN SSH SIGNATURE-----"))
            .prop_map(|p| if p.ends_with('\n') { p } else { format!("{p}\n") })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// Records written one after the other read back as the same records.
        #[test]
        fn records_round_trip(records in prop::collection::vec((payload(), armor()), 1..5)) {
            let records: Vec<Record> = records
                .into_iter()
                .map(|(payload, signature)| Record { payload, signature })
                .collect();
            let note: String = records.iter().map(Record::to_text).collect();
            let split = record::split(note.as_bytes());
            prop_assert_eq!(split.junk, vec![]);
            prop_assert_eq!(split.records, records);
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
            let _ = record::split(&bytes);
        }

        /// Arbitrary text around the armor markers never panics the parser.
        #[test]
        fn marker_soup_never_panics(parts in prop::collection::vec(prop_oneof![
            Just("-----BEGIN SSH SIGNATURE-----\n".to_owned()),
            Just("-----END SSH SIGNATURE-----\n".to_owned()),
            Just("\r\n".to_owned()),
            "[ -~]{0,30}",
        ], 0..20)) {
            let _ = record::split(parts.concat().as_bytes());
        }
    }
}

/// Every other parser that takes outside input, fed seeded mutations of real inputs: none may
/// panic. A parse that succeeds must hold up too (a policy's globs compile, a payload's
/// actions carry pointers only). Each returns how many inputs it ran, printed for the record.
#[test]
fn every_parser_of_outside_input_survives_mutation() {
    const ROUNDS: usize = 24_000;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "allowed_signers",
            b"# team\n\"a@x.org,b@*\" namespaces=\"git,git-proof\",valid-after=\"20260101\",valid-before=20270101Z ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop\nc@x.org cert-authority ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n".to_vec(),
        ),
        (
            "policy.toml",
            b"[scope]\nallow = [\"src/**\", \"tests/**\"]\ndeny = [\"src/secrets/**\"]\n\n[[dod]]\nname = \"test\"\ncommand = \"cargo test --quiet\"\ntimeout_s = 900\n\n[verify]\napprovers = [\"lead@example.com\"]\n".to_vec(),
        ),
        ("event data", br#"{"toolcall_id":"t1","exit_code":0,"nested":{"a":[1,2.5,"x",null,true]}}"#.to_vec()),
    ];
    for agent in ["claude-code", "codex", "cursor", "gemini", "copilot", "cline"] {
        let session = std::fs::read_to_string(fixtures.join(agent).join("session.jsonl")).unwrap();
        for line in session.lines().filter(|l| !l.contains("\"_test\"")) {
            seeds.push(("hook payload", line.as_bytes().to_vec()));
        }
    }
    let (certificate, envelope) = certificate_and_envelope();
    seeds.push(("certificate", certificate));
    seeds.push(("dsse envelope", envelope));
    let mut ran = std::collections::BTreeMap::<&str, usize>::new();
    let mut rng = Rng(0x5eed_f00d);
    let kinds = [
        "allowed_signers",
        "policy.toml",
        "event data",
        "hook payload",
        "certificate",
        "dsse envelope",
    ];
    for round in 0..ROUNDS {
        // Each parser in turn, a seed of its own at random.
        let of_kind: Vec<&(&str, Vec<u8>)> = seeds.iter().filter(|(k, _)| *k == kinds[round % kinds.len()]).collect();
        let (what, seed) = of_kind[rng.below(of_kind.len())];
        let input = mutate(&mut rng, seed);
        let text = String::from_utf8_lossy(&input);
        *ran.entry(what).or_default() += 1;
        match *what {
            "allowed_signers" => {
                let _ = AllowedSigners::parse("fuzz", &text);
            }
            "policy.toml" => {
                if let Ok(policy) = git_proof::policy::TeamPolicy::parse(std::path::Path::new("p.toml"), &text) {
                    let _ = git_proof::policy::ScopeMatcher::new(&policy.scope);
                }
            }
            "certificate" => {
                let _ = git_proof::certificate::parse_certificate(&input);
            }
            "dsse envelope" => {
                if let Ok(envelope) = serde_json::from_slice::<git_proof::dsse::Envelope>(&input) {
                    let _ = git_proof::dsse::open(&envelope, &AllowedSigners::default(), 0);
                }
            }
            "event data" => {
                if let Ok(value) = git_proof::canon::parse_i_json(&text) {
                    let _ = git_proof::canon::to_jcs_vec(&value);
                    let _ = git_proof::evidence::check_pointers(&value);
                }
            }
            _ => {
                for agent in [None, Some(git_proof::ingest::Agent::Copilot)] {
                    if let Ok(n) = git_proof::ingest::normalize(agent, &input) {
                        let actions = format!("{:?}", n.actions);
                        // Text from the agent is digested, never kept: no prompt survives.
                        assert!(!actions.contains("Add a section about testing"), "{actions}");
                    }
                }
            }
        }
    }
    eprintln!("fuzzed inputs per parser: {ran:?}");
    assert!(ran.values().all(|&n| n == ROUNDS / kinds.len()), "{ran:?}");
}

/// Seeds made by stock OpenSSH and git-proof: an ed25519 user certificate's blob (`ssh-keygen
/// -s`), and a DSSE envelope of a statement.
fn certificate_and_envelope() -> (Vec<u8>, Vec<u8>) {
    use base64ct::Encoding as _;
    let dir = tempfile::tempdir().unwrap();
    for name in ["ca", "user"] {
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join(name))
            .status()
            .unwrap();
        assert!(made.success());
    }
    let signed = std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(dir.path().join("ca"))
        .args(["-I", "fuzz", "-n", "a@x.org,b@x.org", "-V", "20260101:20270101"])
        .arg(dir.path().join("user.pub"))
        .status()
        .unwrap();
    assert!(signed.success());
    let text = std::fs::read_to_string(dir.path().join("user-cert.pub")).unwrap();
    let blob = base64ct::Base64::decode_vec(text.split_whitespace().nth(1).unwrap()).unwrap();
    assert!(
        git_proof::certificate::parse_certificate(&blob).is_ok(),
        "the seed itself parses"
    );
    let envelope = git_proof::dsse::seal(b"{\"_type\": \"x\"}\n", &[7u8; 32], |_| {
        Ok::<_, std::convert::Infallible>([1u8; 64])
    })
    .unwrap();
    (blob, serde_json::to_vec(&envelope).unwrap())
}
