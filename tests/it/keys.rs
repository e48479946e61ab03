//! Keys people already have: ed25519 keys held by a real ssh-agent (a `.pub` path, a `key::`
//! literal, a passphrase-protected file), and FIDO `sk-ssh-ed25519` signatures, each checked
//! by stock `ssh-keygen -Y verify` as well as by `git proof verify`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{Run, TestRepo, split_records};

/// A real `ssh-agent` on its own socket, killed when dropped.
struct Agent {
    child: Child,
    socket: PathBuf,
}

impl Agent {
    fn start(repo: &TestRepo) -> Self {
        Self::start_named(repo, "agent.sock")
    }

    /// `ssh-add KEY`; a passphrase is given through SSH_ASKPASS, as a desktop would.
    fn add(&self, repo: &TestRepo, key: &Path, passphrase: Option<&str>) {
        let mut cmd = Command::new("ssh-add");
        cmd.arg(key).env("SSH_AUTH_SOCK", &self.socket).stdin(Stdio::null());
        if let Some(passphrase) = passphrase {
            let askpass = repo.tmp.path().join("askpass.sh");
            std::fs::write(&askpass, format!("#!/bin/sh\necho '{passphrase}'\n")).unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
            cmd.env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", ":0");
        }
        let out: Run = cmd.output().expect("ssh-add runs").into();
        assert_eq!(out.code, 0, "ssh-add: {}", out.stderr);
    }
}

impl Agent {
    fn start_named(repo: &TestRepo, name: &str) -> Self {
        let dir = repo.tmp.path().join(name.replace('.', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join(name);
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent is installed");
        for _ in 0..500 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(socket.exists(), "ssh-agent made no socket");
        Agent { child, socket }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A commit with a run to finish.
fn work(repo: &TestRepo, file: &str) {
    repo.start(&[]);
    repo.write(file, "work\n");
    repo.commit_all(file);
}

/// `git-proof ARGS` with the agent's socket and no key in the environment.
fn with_agent(repo: &TestRepo, agent: Option<&Agent>, args: &[&str]) -> Run {
    let mut cmd = repo.proof_cmd(args);
    cmd.env_remove("GIT_PROOF_KEY").env_remove("SSH_AUTH_SOCK");
    if let Some(agent) = agent {
        cmd.env("SSH_AUTH_SOCK", &agent.socket);
    }
    cmd.output().expect("git-proof runs").into()
}

/// The trust line for `key` (its `.pub`), as `principal`.
fn trust(repo: &TestRepo, public: &Path, principal: &str) -> PathBuf {
    let signers = repo.tmp.path().join(format!("signers-{principal}"));
    let key = std::fs::read_to_string(public).unwrap();
    std::fs::write(&signers, format!("{principal} namespaces=\"git-proof\" {key}")).unwrap();
    signers
}

/// Stock `ssh-keygen -Y verify` of the first record on `commit`, against `signers`.
fn stock_verify(repo: &TestRepo, commit: &str, signers: &Path, principal: &str) -> (i32, String) {
    let records = split_records(&repo.note(commit));
    let (payload, signature) = &records[0];
    let dir = repo.tmp.path().join("stock");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("record.sig"), signature).unwrap();
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-Y", "verify", "-f"])
        .arg(signers)
        .args(["-I", principal, "-n", "git-proof", "-s"])
        .arg(dir.join("record.sig"));
    let out = crate::common::run_with_input(cmd, payload.as_bytes());
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

#[test]
fn a_key_held_by_ssh_agent_signs_through_ssh_keygen_as_git_does() {
    let repo = TestRepo::new();
    let key = crate::common::new_key(&repo, "agent_key");
    let public = PathBuf::from(format!("{}.pub", key.display()));
    let agent = Agent::start(&repo);
    agent.add(&repo, &key, None);
    // The private file is gone: only the agent holds the key.
    std::fs::remove_file(&key).unwrap();
    let signers = trust(&repo, &public, "dev@example.com");

    // proof.signingKey names the public half.
    repo.git(&["config", "proof.signingKey", public.to_str().unwrap()]);
    work(&repo, "a.txt");
    let out = with_agent(&repo, Some(&agent), &["finish"]).ok();
    assert!(out.stderr.contains("written to refs/notes/proof"), "{}", out.stderr);
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let (code, said) = stock_verify(&repo, &head, &signers, "dev@example.com");
    assert_eq!(code, 0, "ssh-keygen -Y verify: {said}");
    assert!(
        said.contains("Good \"git-proof\" signature for dev@example.com"),
        "{said}"
    );
    let verified = repo
        .proof(&["verify", "HEAD", "--allowed-signers", signers.to_str().unwrap()])
        .ok();
    assert!(
        verified.stdout.contains("signed by dev@example.com"),
        "{}",
        verified.stdout
    );

    // git's own way of naming it: gpg.format=ssh with a key:: literal in user.signingKey.
    repo.git(&["config", "--unset", "proof.signingKey"]);
    repo.git(&["config", "gpg.format", "ssh"]);
    let literal = format!("key::{}", std::fs::read_to_string(&public).unwrap().trim());
    repo.git(&["config", "user.signingKey", &literal]);
    work(&repo, "b.txt");
    with_agent(&repo, Some(&agent), &["finish"]).ok();
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(stock_verify(&repo, &head, &signers, "dev@example.com").0, 0);
    repo.proof(&["verify", "HEAD", "--allowed-signers", signers.to_str().unwrap()])
        .ok();
    // An approval after the proof is signed through the agent too.
    work(&repo, "c.txt");
    with_agent(&repo, Some(&agent), &["finish"]).ok();

    // No agent: one line that says what is wrong, the run left open and nothing written.
    work(&repo, "d.txt");
    let before = repo.git(&["rev-parse", "refs/notes/proof"]);
    let out = with_agent(&repo, None, &["finish"]).expect_code(2);
    let line = out.one_error_line();
    assert!(line.contains("no ssh-agent is running"), "{line}");
    assert_eq!(repo.git(&["rev-parse", "refs/notes/proof"]), before);
    assert!(repo.proof(&["status", "--json"]).ok().json()["active_run"].is_object());
    // An agent holding another key than the one configured signs nothing.
    let other = Agent::start_named(&repo, "other.sock");
    let stranger = crate::common::new_key(&repo, "stranger_key");
    other.add(&repo, &stranger, None);
    let out = with_agent(&repo, Some(&other), &["finish"]).expect_code(2);
    assert!(
        out.one_error_line().contains("the ssh-agent does not hold"),
        "{}",
        out.stderr
    );
    with_agent(&repo, Some(&agent), &["finish"]).ok();
}

#[test]
fn a_passphrase_protected_key_signs_through_the_agent_that_holds_it() {
    let repo = TestRepo::new();
    let key = repo.tmp.path().join("locked_key");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "correct horse", "-C", "locked", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let public = PathBuf::from(format!("{}.pub", key.display()));
    let signers = trust(&repo, &public, "locked@example.com");
    repo.git(&["config", "proof.signingKey", key.to_str().unwrap()]);
    work(&repo, "a.txt");
    // Without an agent: the passphrase error says to ssh-add it.
    let out = with_agent(&repo, None, &["finish"]).expect_code(2);
    assert!(out.one_error_line().contains("ssh-add"), "{}", out.stderr);
    let agent = Agent::start(&repo);
    agent.add(&repo, &key, Some("correct horse"));
    with_agent(&repo, Some(&agent), &["finish"]).ok();
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let (code, said) = stock_verify(&repo, &head, &signers, "locked@example.com");
    assert_eq!(code, 0, "{said}");
    repo.proof(&["verify", "HEAD", "--allowed-signers", signers.to_str().unwrap()])
        .ok();
}

/// An SSHSIG by a FIDO `sk-ssh-ed25519@openssh.com` key, made here as a token makes it
/// (PROTOCOL.u2f: ed25519 over SHA-256(application) || flags || counter || SHA-256(signed
/// data)): no token is needed, and stock ssh-keygen is the judge of the encoding.
fn sk_signature(secret: &ed25519_dalek::SigningKey, payload: &[u8], flags: u8, counter: u32) -> String {
    use ed25519_dalek::Signer as _;
    use sha2::{Digest, Sha256};
    use ssh_key::public::{Ed25519PublicKey, KeyData, SkEd25519};
    let public = SkEd25519::new(Ed25519PublicKey(secret.verifying_key().to_bytes()), "ssh:");
    let signed = ssh_key::SshSig::signed_data("git-proof", ssh_key::HashAlg::Sha512, payload).unwrap();
    let mut message = Vec::new();
    message.extend_from_slice(&Sha256::digest(b"ssh:"));
    message.push(flags);
    message.extend_from_slice(&counter.to_be_bytes());
    message.extend_from_slice(&Sha256::digest(&signed));
    let ed = secret.sign(&message);
    let mut bytes = ed.to_bytes().to_vec();
    bytes.push(flags);
    bytes.extend_from_slice(&counter.to_be_bytes());
    let signature = ssh_key::Signature::new(ssh_key::Algorithm::SkEd25519, bytes).unwrap();
    let sshsig = ssh_key::SshSig::new(
        KeyData::SkEd25519(public),
        "git-proof",
        ssh_key::HashAlg::Sha512,
        signature,
    )
    .unwrap();
    sshsig.to_pem(ssh_key::LineEnding::LF).unwrap()
}

fn sk_public_line(secret: &ed25519_dalek::SigningKey) -> String {
    use ssh_key::public::{Ed25519PublicKey, KeyData, SkEd25519};
    let key = ssh_key::PublicKey::from(KeyData::SkEd25519(SkEd25519::new(
        Ed25519PublicKey(secret.verifying_key().to_bytes()),
        "ssh:",
    )));
    key.to_openssh().unwrap()
}

#[test]
fn a_fido_sk_ed25519_signature_verifies_with_its_flags_and_counter() {
    let repo = TestRepo::new();
    work(&repo, "a.txt");
    repo.proof(&["finish"]).ok();
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let records = split_records(&repo.note(&head));
    let payload = records[0].0.clone();
    let secret = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let signers = repo.tmp.path().join("sk_signers");
    std::fs::write(
        &signers,
        format!(
            "token@example.com namespaces=\"git-proof\" {}\n",
            sk_public_line(&secret)
        ),
    )
    .unwrap();
    let check = |signature: &str| -> (i32, i32) {
        repo.replace_note(&head, &format!("{payload}{signature}"));
        let ours = repo.proof(&["verify", "HEAD", "--allowed-signers", signers.to_str().unwrap()]);
        let dir = repo.tmp.path().join("sk");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("record.sig"), signature).unwrap();
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-Y", "verify", "-f"])
            .arg(&signers)
            .args(["-I", "token@example.com", "-n", "git-proof", "-s"])
            .arg(dir.join("record.sig"));
        let stock = crate::common::run_with_input(cmd, payload.as_bytes());
        (ours.code, stock.code)
    };
    // Touched (user presence), and not: ssh-keygen accepts both, and so do we.
    let touched = sk_signature(&secret, payload.as_bytes(), 0x01, 0x1234_5678);
    assert_eq!(check(&touched), (0, 0));
    let verified = repo
        .proof(&["verify", "HEAD", "--allowed-signers", signers.to_str().unwrap()])
        .ok();
    assert!(
        verified.stdout.contains("signed by token@example.com"),
        "{}",
        verified.stdout
    );
    assert_eq!(check(&sk_signature(&secret, payload.as_bytes(), 0x00, 1)), (0, 0));
    // The counter and flags are signed: a signature whose counter was changed fails both.
    let mut forged = sk_signature(&secret, payload.as_bytes(), 0x05, 41);
    let honest = sk_signature(&secret, payload.as_bytes(), 0x05, 42);
    // Splice the counter of one into the other: same length, same encoding, wrong signature.
    forged = splice_counter(&forged, &honest);
    assert_eq!(check(&forged), (1, 255));
    // Another token's key is not trusted.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    assert_eq!(check(&sk_signature(&other, payload.as_bytes(), 0x01, 1)).0, 1);
}

/// `forged` with the flags and counter of `honest` (both armored SSHSIGs by the same key over
/// the same payload): the ed25519 part no longer matches what it claims to have signed.
fn splice_counter(forged: &str, honest: &str) -> String {
    let decode = |armored: &str| ssh_key::SshSig::from_pem(armored).unwrap();
    let (f, h) = (decode(forged), decode(honest));
    let mut bytes = f.signature_bytes().to_vec();
    bytes[64..69].copy_from_slice(&h.signature_bytes()[64..69]);
    let signature = ssh_key::Signature::new(ssh_key::Algorithm::SkEd25519, bytes).unwrap();
    ssh_key::SshSig::new(f.public_key().clone(), "git-proof", ssh_key::HashAlg::Sha512, signature)
        .unwrap()
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap()
}

/// `ssh-keygen -s CA -I ID -n PRINCIPALS [-V WINDOW] KEY.pub`: writes KEY-cert.pub.
fn certify(ca: &Path, key: &Path, principals: &str, validity: Option<&str>) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-s"])
        .arg(ca)
        .args(["-I", "user-cert", "-n", principals]);
    if let Some(validity) = validity {
        cmd.args(["-V", validity]);
    }
    let _ = std::fs::remove_file(format!("{}-cert.pub", key.display()));
    let out: Run = cmd.arg(format!("{}.pub", key.display())).output().unwrap().into();
    assert_eq!(out.code, 0, "ssh-keygen -s: {}", out.stderr);
}

#[test]
fn a_certificate_beside_the_key_signs_and_cert_authority_lines_judge_it() {
    let repo = TestRepo::new();
    let ca = crate::common::new_key(&repo, "ca");
    let key = crate::common::new_key(&repo, "user");
    let ca_public = std::fs::read_to_string(ca.with_extension("pub")).unwrap();
    let line = |principals: &str| format!("{principals} cert-authority,namespaces=\"git-proof\" {ca_public}");
    let signers = repo.tmp.path().join("ca_signers");
    std::fs::write(&signers, line("*@example.com")).unwrap();
    repo.git(&["config", "proof.signingKey", key.to_str().unwrap()]);
    // Ours and stock OpenSSH's verdict on HEAD's proof, under `signers`.
    let judge = |principal: &str| -> (Run, i32) {
        let ours = repo.proof(&["verify", "HEAD", "--allowed-signers", signers.to_str().unwrap()]);
        let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
        (ours, stock_verify(&repo, &head, &signers, principal).0)
    };
    let prove = |file: &str| {
        work(&repo, file);
        with_agent(&repo, None, &["finish"]).ok();
    };

    // A certificate valid now (git-proof's clock and the real one).
    certify(&ca, &key, "dev@example.com,ops@example.com", Some("20260101:20270101"));
    prove("a.txt");
    let records = split_records(&repo.note("HEAD"));
    assert!(!records[0].1.is_empty());
    let (ours, stock) = judge("dev@example.com");
    assert_eq!((ours.code, stock), (0, 0), "{}{}", ours.stdout, ours.stderr);
    assert!(
        ours.stdout.contains("signed by dev@example.com,ops@example.com"),
        "{}",
        ours.stdout
    );
    // The line's principals pick which of the certificate's count.
    std::fs::write(&signers, line("ops@example.com")).unwrap();
    let (ours, stock) = judge("ops@example.com");
    assert_eq!((ours.code, stock), (0, 0));
    assert!(ours.stdout.contains("signed by ops@example.com\n"), "{}", ours.stdout);
    std::fs::write(&signers, line("nobody@example.com")).unwrap();
    let (ours, stock) = judge("nobody@example.com");
    assert_eq!(ours.code, 1);
    assert_ne!(stock, 0);
    assert!(ours.stdout.contains("does not allow"), "{}", ours.stdout);
    // A plain line for the certified key trusts the key, never its certificate (as OpenSSH).
    let plain = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(&signers, format!("dev@example.com namespaces=\"git-proof\" {plain}")).unwrap();
    let (ours, stock) = judge("dev@example.com");
    assert_eq!(ours.code, 1, "{}", ours.stdout);
    assert_ne!(stock, 0);
    std::fs::write(&signers, line("*@example.com")).unwrap();

    // Expired, and not yet valid: invalid here and there, with the reason.
    certify(&ca, &key, "dev@example.com", Some("20200101:20200201"));
    prove("b.txt");
    let (ours, stock) = judge("dev@example.com");
    assert_eq!(ours.code, 1);
    assert_ne!(stock, 0);
    assert!(ours.stdout.contains("expired at 2020-02-01"), "{}", ours.stdout);
    certify(&ca, &key, "dev@example.com", Some("20990101:21000101"));
    prove("c.txt");
    let (ours, stock) = judge("dev@example.com");
    assert_eq!(ours.code, 1);
    assert_ne!(stock, 0);
    assert!(ours.stdout.contains("is not valid yet"), "{}", ours.stdout);
    // Valid forever (no -V): OpenSSH writes valid_before 2^64-1.
    certify(&ca, &key, "dev@example.com", None);
    prove("d.txt");
    let (ours, stock) = judge("dev@example.com");
    assert_eq!((ours.code, stock), (0, 0), "{}", ours.stdout);

    // Another CA's certificate for the same key is not trusted.
    let other_ca = crate::common::new_key(&repo, "other_ca");
    certify(&other_ca, &key, "dev@example.com", None);
    prove("e.txt");
    let (ours, stock) = judge("dev@example.com");
    assert_eq!(ours.code, 1);
    assert_ne!(stock, 0);
    assert!(
        ours.stdout.contains("no cert-authority line trusts that CA"),
        "{}",
        ours.stdout
    );
}
