//! DSSE export: envelopes another implementation verifies (Python securesystemslib), whose
//! payload in-toto's own statement validator accepts, and that `verify --envelope` reads back
//! under the same trust rule.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{Run, TestRepo};

/// A Python with securesystemslib (and in-toto-attestation), from `GIT_PROOF_PYTHON`; `.ci/run`
/// makes one in a venv and sets `GIT_PROOF_REQUIRE_PYTHON`, so there the test never skips.
fn python() -> Option<PathBuf> {
    let found = std::env::var_os("GIT_PROOF_PYTHON").map(PathBuf::from).filter(|p| {
        Command::new(p)
            .args(["-c", "import securesystemslib.dsse, in_toto_attestation"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("GIT_PROOF_REQUIRE_PYTHON").is_none(),
            "GIT_PROOF_REQUIRE_PYTHON is set but GIT_PROOF_PYTHON has no securesystemslib and in-toto-attestation"
        );
        crate::common::skipped(
            "DSSE envelopes checked by securesystemslib",
            "set GIT_PROOF_PYTHON to a python with securesystemslib[crypto], in-toto-attestation and protobuf",
        );
    }
    found
}

/// Verifies every envelope of `file` with securesystemslib against the ed25519 key `public_hex`
/// (and checks the key id is the one securesystemslib computes), then validates each payload
/// with in-toto-attestation's Statement validator. Prints "ok N" on success.
const CHECK: &str = r#"
import json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

path, public_hex = sys.argv[1], sys.argv[2]
key = SSlibKey.from_crypto(Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)))
text = open(path).read()
items = json.loads(text) if text.lstrip().startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
for item in items:
    assert item["signatures"][0]["keyid"] == key.keyid, (item["signatures"][0]["keyid"], key.keyid)
    envelope = Envelope.from_dict(item)
    envelope.verify([key], 1)
    assert envelope.payload_type == "application/vnd.in-toto+json"
    statement = json_format.Parse(envelope.payload, statement_pb2.Statement())
    Statement.copy_from_pb(statement).validate()
print("ok", len(items))
"#;

fn public_hex(repo: &TestRepo) -> String {
    let text = std::fs::read_to_string(repo.key.with_extension("pub")).unwrap();
    let key = ssh_key::PublicKey::from_openssh(text.trim()).unwrap();
    let ssh_key::public::KeyData::Ed25519(point) = key.key_data() else {
        panic!("the test key is ed25519");
    };
    point.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn python_check(python: &Path, file: &Path, public: &str) -> Run {
    Command::new(python)
        .args(["-c", CHECK])
        .arg(file)
        .arg(public)
        .output()
        .unwrap()
        .into()
}

/// A proven run with an approval after the proof: a note of two records.
fn proven(repo: &TestRepo) -> String {
    repo.trust_our_key();
    let run_id = repo.start(&["--scope", "src/**"]);
    repo.write("README.md", "# outside the scope\n");
    repo.commit_all("work");
    repo.proof(&["finish"]).ok();
    repo.proof(&["approve", "--run", &run_id, "--all"]).ok();
    run_id
}

#[test]
fn exported_envelopes_verify_elsewhere_and_come_back() {
    let repo = TestRepo::new();
    let run_id = proven(&repo);
    let exported = repo.proof(&["export", "HEAD"]).ok();
    let envelopes: Value = exported.json();
    let envelopes = envelopes.as_array().unwrap();
    assert_eq!(envelopes.len(), 2, "the bundle and the approval");
    let first = &envelopes[0];
    assert_eq!(first["payloadType"], "application/vnd.in-toto+json");
    // The payload is the record's statement, byte for byte.
    let records = crate::common::split_records(&repo.note("HEAD"));
    use base64ct::Encoding as _;
    let payload = base64ct::Base64::decode_vec(first["payload"].as_str().unwrap()).unwrap();
    assert_eq!(String::from_utf8(payload).unwrap(), records[0].0);
    let file = repo.tmp.path().join("envelopes.json");
    std::fs::write(&file, &exported.stdout).unwrap();
    let jsonl = repo.tmp.path().join("envelopes.intoto.jsonl");
    let lines = repo.proof(&["export", "HEAD", "--format", "intoto-jsonl"]).ok().stdout;
    assert_eq!(lines.lines().count(), 2);
    std::fs::write(&jsonl, &lines).unwrap();

    // An independent implementation verifies them, and in-toto's validator takes the payload.
    if let Some(python) = python() {
        let public = public_hex(&repo);
        for f in [&file, &jsonl] {
            let out = python_check(&python, f, &public);
            assert_eq!(out.code, 0, "securesystemslib: {}{}", out.stdout, out.stderr);
            assert_eq!(out.stdout.trim(), "ok 2");
        }
        // A changed payload fails there too.
        let mut forged: Value = serde_json::from_str(&exported.stdout).unwrap();
        let statement =
            String::from_utf8(base64ct::Base64::decode_vec(forged[0]["payload"].as_str().unwrap()).unwrap())
                .unwrap()
                .replace("\"exit_code\": 0", "\"exit_code\": 1");
        forged[0]["payload"] = base64ct::Base64::encode_string(statement.as_bytes()).into();
        let forged_file = repo.tmp.path().join("forged.json");
        std::fs::write(&forged_file, forged.to_string()).unwrap();
        assert_ne!(python_check(&python, &forged_file, &public).code, 0);
        let out = repo
            .proof(&["verify", "--envelope", forged_file.to_str().unwrap()])
            .expect_code(1);
        assert!(out.stdout.starts_with("invalid: "), "{}", out.stdout);
    }

    // Read back here: against the note, under the one trust rule.
    let out = repo.proof(&["verify", "--envelope", file.to_str().unwrap()]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with(&format!("valid: bundle of run {run_id}")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("the note holds it and it counts"), "{}", lines[0]);
    assert!(lines[1].starts_with("valid: approval"), "{}", lines[1]);
    let json = repo
        .proof(&["verify", "--envelope", jsonl.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(json[0]["checked_against"], "note");
    // Anywhere, with only the allowed signers.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(crate::common::bin());
    crate::common::pin_env(&mut cmd, elsewhere.path());
    cmd.current_dir(elsewhere.path())
        .args(["verify", "--envelope"])
        .arg(&file)
        .arg("--allowed-signers")
        .arg(&repo.allowed_signers);
    let out = Run::from(cmd.output().unwrap()).ok();
    assert!(out.stdout.contains("the note itself was not read"), "{}", out.stdout);

    // A stranger's key: the envelope is not trusted.
    let stranger = crate::common::new_key(&repo, "stranger");
    let theirs = repo
        .proof(&["export", "HEAD", "--key", stranger.to_str().unwrap()])
        .ok();
    let theirs_file = repo.tmp.path().join("theirs.json");
    std::fs::write(&theirs_file, &theirs.stdout).unwrap();
    let out = repo
        .proof(&["verify", "--envelope", theirs_file.to_str().unwrap()])
        .expect_code(1);
    assert!(
        out.stdout
            .contains("no signature of the envelope is by an allowed signer"),
        "{}",
        out.stdout
    );

    // A note edited afterwards: the envelope's statement is no longer one that counts there.
    let (payload, signature) = &records[0];
    let edited = payload.replace("\"exit_code\": 0", "\"exit_code\": 3");
    repo.replace_note("HEAD", &format!("{edited}{signature}"));
    let out = repo
        .proof(&["verify", "--envelope", file.to_str().unwrap()])
        .expect_code(1);
    assert!(
        out.stdout.contains("holds no record with this statement"),
        "{}",
        out.stdout
    );
}

#[test]
fn export_refuses_what_it_cannot_vouch_for() {
    let repo = TestRepo::new();
    proven(&repo);
    // Without trust nothing counts, so nothing is re-signed.
    repo.git(&["config", "--unset", "proof.allowedSignersFile"]);
    repo.proof(&["export", "HEAD"]).expect_code(2).one_error_line();
    repo.trust_our_key();
    let out = repo.proof(&["export", "HEAD~1"]).expect_code(3);
    assert!(out.one_error_line().contains("has no proof note"), "{}", out.stderr);
    // A record nobody trusts does not count and is not exported.
    let stranger = crate::common::new_key(&repo, "stranger");
    let signers = repo.tmp.path().join("stranger_only");
    std::fs::write(&signers, crate::common::trust_line(&stranger, "eve@example.com")).unwrap();
    let out = repo
        .proof(&["export", "HEAD", "--allowed-signers", signers.to_str().unwrap()])
        .expect_code(3);
    assert!(
        out.one_error_line().contains("counts under the trust in force"),
        "{}",
        out.stderr
    );
    // A key ssh-agent holds cannot make a raw ed25519 signature.
    let public = repo.key.with_extension("pub");
    let out = repo
        .proof(&["export", "HEAD", "--key", public.to_str().unwrap()])
        .expect_code(2);
    out.one_error_line();
}

/// An envelope the trusted key signed over a statement the note holds but does not count (a
/// stranger's record appended to it) is refused: the envelope's signer vouches for bytes,
/// the note's rule decides whether they count.
#[test]
fn an_envelope_of_a_record_the_note_does_not_count_is_refused() {
    use ed25519_dalek::Signer as _;
    let repo = TestRepo::new();
    proven(&repo);
    let records = crate::common::split_records(&repo.note("HEAD"));
    let foreign = records[0].0.replace("\"exit_code\": 0", "\"exit_code\": 7");
    let stranger = crate::common::new_key(&repo, "stranger");
    let signature = crate::common::ssh_keygen_sign(&repo, &stranger, "git-proof", &foreign);
    let note: String = records.iter().map(|(p, s)| format!("{p}{s}")).collect();
    repo.replace_note("HEAD", &format!("{note}{foreign}{signature}"));
    let private = ssh_key::PrivateKey::from_openssh(std::fs::read_to_string(&repo.key).unwrap()).unwrap();
    let secret = ed25519_dalek::SigningKey::from_bytes(&private.key_data().ed25519().unwrap().private.to_bytes());
    let public = secret.verifying_key().to_bytes();
    let envelope = git_proof::dsse::seal(foreign.as_bytes(), &public, |pae| {
        Ok::<_, std::convert::Infallible>(secret.sign(pae).to_bytes())
    })
    .unwrap();
    let file = repo.tmp.path().join("foreign.json");
    std::fs::write(&file, serde_json::to_string(&envelope).unwrap()).unwrap();
    let out = repo
        .proof(&["verify", "--envelope", file.to_str().unwrap()])
        .expect_code(1);
    assert!(out.stdout.contains("but it does not count"), "{}", out.stdout);
}
