//! OpenSSH ed25519 keys, SSHSIG signatures in the `git-proof` namespace, and trust through an
//! OpenSSH `allowed_signers` file, byte-compatible with `ssh-keygen -Y sign/verify`.

use std::path::{Path, PathBuf};

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The SSHSIG namespace of every git-proof signature.
pub const NAMESPACE: &str = "git-proof";

/// Why a key could not be made, found, read or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No key was configured anywhere.
    #[error(
        "no signing key: pass --key, set GIT_PROOF_KEY (a path) or GIT_PROOF_KEY_DATA (the key), or `git config proof.signingKey PATH` (make one with `git proof keygen`)"
    )]
    NoKey,
    /// The key file could not be read.
    #[error("cannot read the signing key {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A private key file readable by others, refused as OpenSSH refuses it.
    #[error("permissions {mode:04o} for the signing key {} are too open: run `chmod 600 {}`", path.display(), path.display())]
    TooOpen { path: PathBuf, mode: u32 },
    /// Not an OpenSSH private key.
    #[error("{origin} is not an OpenSSH private key: {why}")]
    Invalid { origin: String, why: String },
    /// A passphrase-protected key, and no ssh-agent to sign with it.
    #[error(
        "{origin} is protected by a passphrase and no ssh-agent is running (SSH_AUTH_SOCK): `ssh-add` it, or use an unencrypted key kept at mode 0600 (e.g. a CI secret in GIT_PROOF_KEY_DATA)"
    )]
    Encrypted { origin: String },
    /// Another algorithm than ed25519.
    #[error("{origin} is a {algorithm} key; git-proof signs with ed25519 and sk-ssh-ed25519 keys only")]
    NotEd25519 { origin: String, algorithm: String },
    /// A signature other than SSHSIG (a DSSE envelope's) asked of a key ssh-keygen holds.
    #[error(
        "a DSSE envelope needs a raw ed25519 signature, which ssh-agent and FIDO keys do not make: pass --key with an ed25519 private key file"
    )]
    RawSigning,
    /// ssh-agent does not hold the key, or `ssh-keygen -Y sign` did not sign with it.
    #[error("cannot sign with {origin}: {why}")]
    Delegated { origin: String, why: String },
    /// A file we would have overwritten.
    #[error("{} already exists; pass another --out or remove it first", path.display())]
    Exists { path: PathBuf },
    /// Writing a new key failed.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The signature library failed (random source, encoding).
    #[error("cannot create the signature")]
    Sign(#[source] ssh_key::Error),
    /// A statement that could not be written as JSON (never for git-proof's own types).
    #[error("cannot encode the statement to sign")]
    Encode(#[source] serde_json::Error),
    /// An allowed_signers file that cannot be read.
    #[error("cannot read the allowed signers file {}", path.display())]
    UnreadableSigners {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An allowed_signers file that does not parse.
    #[error("{origin}:{line}: {reason}")]
    AllowedSigners {
        origin: String,
        line: usize,
        reason: String,
    },
}

impl crate::error::Classify for Error {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            // A key or trust file that is missing or unusable is the setup's, not the request's:
            // the CLI exits 2 and `serve` answers 503.
            Self::NoKey
            | Self::RawSigning
            | Self::Delegated { .. }
            | Self::Unreadable { .. }
            | Self::TooOpen { .. }
            | Self::Invalid { .. }
            | Self::Encrypted { .. }
            | Self::NotEd25519 { .. }
            | Self::UnreadableSigners { .. }
            | Self::AllowedSigners { .. } => ErrorKind::Unavailable,
            Self::Exists { .. } => ErrorKind::BadInput,
            Self::Sign(_) | Self::Encode(_) | Self::Write { .. } => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NoKey => "no_signing_key",
            Self::Delegated { .. }
            | Self::RawSigning
            | Self::Unreadable { .. }
            | Self::TooOpen { .. }
            | Self::Invalid { .. }
            | Self::Encrypted { .. }
            | Self::NotEd25519 { .. } => "bad_signing_key",
            other => other.kind().code(),
        }
    }
}

/// Where the signing key comes from, in the order README gives (Keys and trust).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A private key file (`--key`, `GIT_PROOF_KEY`, git config).
    Path(PathBuf),
    /// The key text itself (`GIT_PROOF_KEY_DATA`).
    Data(String),
    /// A public key literal from git config (`key::ssh-ed25519 AAAA...`), whose private half
    /// ssh-agent holds, as git signs with it.
    Literal(String),
}

/// Finds the signing key in the order README gives (Keys and trust): `explicit` (`--key`), `GIT_PROOF_KEY`,
/// `GIT_PROOF_KEY_DATA`, git config `proof.signingKey`, then `user.signingKey` when
/// `gpg.format=ssh`. `env` looks up environment variables (injected for tests).
pub fn resolve_key_source(
    explicit: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    repo: Option<&gix::Repository>,
) -> Result<KeySource, Error> {
    if let Some(path) = explicit {
        return Ok(KeySource::Path(path.to_owned()));
    }
    if let Some(path) = env("GIT_PROOF_KEY").filter(|v| !v.is_empty()) {
        return Ok(KeySource::Path(PathBuf::from(path)));
    }
    if let Some(data) = env("GIT_PROOF_KEY_DATA").filter(|v| !v.trim().is_empty()) {
        return Ok(KeySource::Data(data));
    }
    let Some(repo) = repo else {
        return Err(Error::NoKey);
    };
    let config = repo.config_snapshot();
    if let Ok(Some(path)) = config.trusted_path("proof.signingKey") {
        return Ok(KeySource::Path(path));
    }
    let ssh_format = config.string("gpg.format").is_some_and(|f| f.as_slice() == b"ssh");
    if ssh_format && let Some(value) = config.string("user.signingKey") {
        let value = value.to_string();
        // git's `is_literal_ssh_key`: `key::` anything, or a bare `ssh-` key.
        if let Some(literal) = value.strip_prefix("key::") {
            return Ok(KeySource::Literal(literal.to_owned()));
        }
        if value.starts_with("ssh-") {
            return Ok(KeySource::Literal(value));
        }
        if let Ok(Some(path)) = config.trusted_path("user.signingKey") {
            // git accepts the public half (signing through the agent); its private twin, when
            // there is one, signs here without an agent.
            let private = path
                .to_str()
                .and_then(|p| p.strip_suffix(".pub"))
                .map(PathBuf::from)
                .filter(|p| p.is_file());
            return Ok(KeySource::Path(private.unwrap_or(path)));
        }
    }
    Err(Error::NoKey)
}

/// A key git-proof signs with: an ed25519 private key it holds itself, or one `ssh-keygen -Y
/// sign` uses for it (held by ssh-agent, or a FIDO `sk-ssh-ed25519` key that needs a touch).
pub struct SigningKey {
    public: PublicKey,
    how: Signs,
}

/// How a [`SigningKey`] signs.
enum Signs {
    /// In-process, with the key itself.
    Here(Box<PrivateKey>),
    /// Through `ssh-keygen -Y sign -f FILE`, exactly as git signs with SSH keys.
    Delegated { key: KeyRef, origin: String },
}

/// The key `ssh-keygen -Y sign` is told to sign with.
enum KeyRef {
    /// A key file ssh-keygen reads: a `.pub` of a key in the agent, a key's `-cert.pub`, an sk
    /// key's handle file.
    File(PathBuf),
    /// A public key's text, written to a temporary file and used with `-U` (agent only).
    Literal(String),
}

impl SigningKey {
    /// Reads and checks the key named by `source`.
    pub fn load(source: &KeySource) -> Result<Self, Error> {
        let (text, origin, path) = match source {
            KeySource::Path(path) => {
                let path = path.as_path();
                // An OpenSSH ed25519 key file is some 400 bytes.
                let text = crate::bounded::read_text(path, 1 << 20).map_err(|source| Error::Unreadable {
                    path: path.to_owned(),
                    source,
                })?;
                if looks_like_public_key(&text) {
                    // The public half of a key ssh-agent holds, as git takes user.signingKey.
                    return Self::delegated(&text, path.display().to_string(), KeyRef::File(path.to_owned()));
                }
                check_private_key_mode(path)?;
                (text, path.display().to_string(), Some(path))
            }
            KeySource::Data(text) => (text.clone(), "GIT_PROOF_KEY_DATA".to_owned(), None),
            KeySource::Literal(text) => {
                return Self::delegated(
                    text,
                    "the key in user.signingKey".to_owned(),
                    KeyRef::Literal(text.clone()),
                );
            }
        };
        let key = PrivateKey::from_openssh(text.trim()).map_err(|source| Error::Invalid {
            origin: origin.clone(),
            why: why_not_a_key(&text, &source),
        })?;
        let public = key.public_key().clone();
        // A certificate beside the key (`<key>-cert.pub`, as ssh names it) goes into the
        // signature, as `ssh-keygen -Y sign -f <key>-cert.pub` puts it there.
        let certificate = path
            .map(|p| PathBuf::from(format!("{}-cert.pub", p.display())))
            .filter(|c| c.is_file());
        match (key.algorithm(), key.is_encrypted(), path) {
            (ssh_key::Algorithm::Ed25519, false, _) => match certificate {
                Some(certificate) => {
                    Self::through_ssh_keygen(public, origin, KeyRef::File(certificate), Agent::NotNeeded)
                }
                None => Ok(Self {
                    public,
                    how: Signs::Here(Box::new(key)),
                }),
            },
            // Its public half names the key for the agent, which holds it decrypted.
            (ssh_key::Algorithm::Ed25519, true, Some(path)) if agent_running() => {
                let file = certificate.unwrap_or_else(|| PathBuf::from(format!("{}.pub", path.display())));
                Self::through_ssh_keygen(public, origin, KeyRef::File(file), Agent::Needed)
            }
            (ssh_key::Algorithm::Ed25519, true, _) => Err(Error::Encrypted { origin }),
            // A FIDO key's file is a handle: the token signs, ssh-keygen asks for the touch.
            (ssh_key::Algorithm::SkEd25519, _, Some(path)) => {
                Self::through_ssh_keygen(public, origin, KeyRef::File(path.to_owned()), Agent::NotNeeded)
            }
            (algorithm, _, _) => Err(Error::NotEd25519 {
                origin,
                algorithm: algorithm.to_string(),
            }),
        }
    }

    /// A public key whose private half ssh-agent must hold: asked now, so that a run is never
    /// ended only to find at the signature that nothing can sign it.
    fn delegated(text: &str, origin: String, key: KeyRef) -> Result<Self, Error> {
        let public = PublicKey::from_openssh(text.trim()).map_err(|source| Error::Invalid {
            origin: origin.clone(),
            why: format!("not a public key either ({source})"),
        })?;
        Self::through_ssh_keygen(public, origin, key, Agent::Needed)
    }

    /// A key `ssh-keygen -Y sign` signs with, checked now as far as it can be: its algorithm,
    /// and whether the agent holds it when it must.
    fn through_ssh_keygen(public: PublicKey, origin: String, key: KeyRef, agent: Agent) -> Result<Self, Error> {
        check_signing_algorithm(&public, &origin)?;
        if agent == Agent::Needed {
            delegate::agent_holds(&public).map_err(|why| Error::Delegated {
                origin: origin.clone(),
                why,
            })?;
        }
        Ok(Self {
            public,
            how: Signs::Delegated { key, origin },
        })
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The raw ed25519 signature of `message` (a DSSE envelope's): only a key held here can
    /// make one, since ssh-keygen and ssh-agent sign SSHSIG's data, never raw bytes.
    pub fn sign_raw(&self, message: &[u8]) -> Result<[u8; 64], Error> {
        use ed25519_dalek::Signer as _;
        let key = match &self.how {
            Signs::Here(key) => key.key_data().ed25519(),
            Signs::Delegated { .. } => None,
        };
        let Some(key) = key else {
            return Err(Error::RawSigning);
        };
        let secret = ed25519_dalek::SigningKey::from_bytes(&key.private.to_bytes());
        Ok(secret.sign(message).to_bytes())
    }

    /// An armored SSHSIG over exactly `payload`, as `ssh-keygen -Y sign -n git-proof` makes.
    pub fn sign(&self, payload: &[u8]) -> Result<String, Error> {
        match &self.how {
            Signs::Here(key) => {
                let signature = key.sign(NAMESPACE, HashAlg::Sha512, payload).map_err(Error::Sign)?;
                signature.to_pem(LineEnding::LF).map_err(Error::Sign)
            }
            Signs::Delegated { key, origin } => {
                let armored = delegate::sign(payload, key).map_err(|why| Error::Delegated {
                    origin: origin.clone(),
                    why,
                })?;
                // What ssh-keygen made must be ours to verify, by this key: a different key in
                // the agent, or a signature we would not accept, is refused here, not in CI.
                self.signed_by_this_key(payload, &armored)
                    .map_err(|why| Error::Delegated {
                        origin: origin.clone(),
                        why: format!("its signature does not verify as this key's: {why}"),
                    })?;
                Ok(armored)
            }
        }
    }
}

impl SigningKey {
    /// Whether `armored` is a valid signature over `payload` by this key, itself or certified.
    fn signed_by_this_key(&self, payload: &[u8], armored: &str) -> Result<(), String> {
        if crate::certificate::is_certificate_signature(armored) {
            let checked = crate::certificate::verify(payload, armored)?;
            return match self.public.key_data() {
                ssh_key::public::KeyData::Ed25519(key) if key.0 == checked.certificate.key => Ok(()),
                _ => Err("the certificate is for another key".into()),
            };
        }
        let own = AllowedSigners::of_key("self", &self.public);
        verify(payload, armored, &own, 0).map(|_| ()).map_err(|r| r.to_string())
    }
}

/// Whether a delegated key needs ssh-agent to hold it (asked before a run is ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    Needed,
    /// ssh-keygen signs from the file itself: a key beside its certificate, a FIDO handle.
    NotNeeded,
}

/// Whether an ssh-agent is there to ask (`SSH_AUTH_SOCK` names a socket).
fn agent_running() -> bool {
    std::env::var_os("SSH_AUTH_SOCK").is_some_and(|sock| !sock.is_empty() && Path::new(&sock).exists())
}

/// git-proof signs with ed25519 keys, held here, by an agent, or on a FIDO token.
fn check_signing_algorithm(public: &PublicKey, origin: &str) -> Result<(), Error> {
    match public.algorithm() {
        ssh_key::Algorithm::Ed25519 | ssh_key::Algorithm::SkEd25519 => Ok(()),
        other => Err(Error::NotEd25519 {
            origin: origin.to_owned(),
            algorithm: other.to_string(),
        }),
    }
}

/// Signing through `ssh-keygen -Y sign`, as git's `sign_buffer_ssh` does: ssh-keygen finds
/// the key in ssh-agent, asks a FIDO token for its touch (and PIN), and knows every agent
/// (1Password, Secretive, a YubiKey's). git-proof speaks no agent protocol of its own.
mod delegate {
    use std::process::{Command, Stdio};

    /// The armored signature `ssh-keygen -Y sign -n git-proof` makes over `payload` with the
    /// key `key` names. The error is ssh-keygen's own words.
    pub fn sign(payload: &[u8], key: &super::KeyRef) -> Result<String, String> {
        let dir = TempDir::new().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let message = dir.0.join("payload");
        std::fs::write(&message, payload).map_err(|e| format!("cannot write {}: {e}", message.display()))?;
        let mut command = Command::new("ssh-keygen");
        command.args(["-Y", "sign", "-n", super::NAMESPACE, "-f"]);
        match key {
            super::KeyRef::File(file) => {
                command.arg(file);
            }
            super::KeyRef::Literal(literal) => {
                let key = dir.0.join("key.pub");
                std::fs::write(&key, format!("{}\n", literal.trim()))
                    .map_err(|e| format!("cannot write {}: {e}", key.display()))?;
                command.arg(&key).arg("-U");
            }
        }
        // stdin stays the terminal's, for a PIN; stdout is ssh-keygen's and not ours to print.
        let output = command
            .arg(&message)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            let said = said.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("it failed");
            return Err(said.trim().to_owned());
        }
        let signature = dir.0.join("payload.sig");
        crate::bounded::read_text(&signature, 64 << 10).map_err(|e| format!("cannot read {}: {e}", signature.display()))
    }

    /// Whether the running ssh-agent holds `public` (`ssh-add -L` lists it), in words that say
    /// what to do when it does not.
    pub fn agent_holds(public: &ssh_key::PublicKey) -> Result<(), String> {
        if std::env::var_os("SSH_AUTH_SOCK").is_none_or(|s| s.is_empty()) {
            return Err("no ssh-agent is running (SSH_AUTH_SOCK is not set): start one and `ssh-add` the key".into());
        }
        let output = Command::new("ssh-add")
            .arg("-L")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run ssh-add: {e}"))?;
        let held = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| ssh_key::PublicKey::from_openssh(line).ok())
            .any(|key| key.key_data() == public.key_data());
        match (held, output.status.code()) {
            (true, _) => Ok(()),
            (false, Some(2)) => Err("cannot reach the ssh-agent at SSH_AUTH_SOCK".into()),
            (false, _) => Err(format!(
                "the ssh-agent does not hold {}: `ssh-add` it",
                public.fingerprint(ssh_key::HashAlg::Sha256)
            )),
        }
    }

    /// A directory only this user can read, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> std::io::Result<Self> {
            use std::os::unix::fs::DirBuilderExt;
            let mut random = [0u8; 16];
            ssh_key::rand_core::RngCore::fill_bytes(&mut ssh_key::rand_core::OsRng, &mut random);
            let name = format!("git-proof-sign-{}", crate::canon::hex(&random));
            let path = std::env::temp_dir().join(name);
            std::fs::DirBuilder::new().mode(0o700).create(&path)?;
            Ok(Self(path))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Why a text is not a key, in words that say what to do: the parser's own error, once,
/// unless a likelier cause is plain (an empty file, a key of another kind).
fn why_not_a_key(text: &str, error: &ssh_key::Error) -> String {
    let only_ed25519 =
        "git-proof signs with ed25519 keys only (make one with `git proof keygen` or `ssh-keygen -t ed25519`)";
    let trimmed = text.trim();
    if trimmed.is_empty() {
        "the file is empty".into()
    } else if matches!(
        error,
        ssh_key::Error::AlgorithmUnknown | ssh_key::Error::AlgorithmUnsupported { .. }
    ) {
        format!("its algorithm is not ed25519; {only_ed25519}")
    } else if trimmed.starts_with("-----BEGIN") && !trimmed.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        format!("it is a PEM key of another format; {only_ed25519}")
    } else if looks_like_public_key(trimmed) {
        "it is a public key; give the private key (the file without .pub)".into()
    } else {
        error.to_string()
    }
}

/// `<algorithm> AAAA... [comment]`: an OpenSSH public key line.
fn looks_like_public_key(text: &str) -> bool {
    let mut words = text.split_whitespace();
    words.next().is_some_and(|algorithm| !algorithm.starts_with("-----"))
        && words.next().is_some_and(|blob| blob.starts_with("AAAA"))
}

#[cfg(unix)]
fn check_private_key_mode(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| Error::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        // A directory or a FIFO named as the key: saying "chmod 600" would mislead.
        return Err(Error::Unreadable {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_key_mode(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// A new key pair written to `path` (0600) and `path.pub`.
pub struct NewKey {
    pub private_path: PathBuf,
    pub public_path: PathBuf,
    pub public_key: PublicKey,
}

/// Makes an ed25519 key pair; never overwrites an existing file.
pub fn generate_key(path: &Path, comment: &str) -> Result<NewKey, Error> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    let public_path = PathBuf::from(format!("{}.pub", path.display()));
    for p in [path, public_path.as_path()] {
        if p.exists() {
            return Err(Error::Exists { path: p.to_owned() });
        }
    }
    let mut key =
        PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519).map_err(Error::Sign)?;
    key.set_comment(comment);
    let private_text = key.to_openssh(LineEnding::LF).map_err(Error::Sign)?;
    let public_text = key.public_key().to_openssh().map_err(Error::Sign)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // A directory made for a private key is the owner's alone, as OpenSSH makes ~/.ssh.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|source| Error::Write {
                path: parent.to_owned(),
                source,
            })?;
    }
    let write = |p: &Path, mode: u32, text: &[u8]| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .and_then(|mut f| f.write_all(text))
            .map_err(|source| Error::Write {
                path: p.to_owned(),
                source,
            })
    };
    write(path, 0o600, private_text.as_bytes())?;
    write(&public_path, 0o644, format!("{public_text}\n").as_bytes())?;
    Ok(NewKey {
        private_path: path.to_owned(),
        public_path,
        public_key: key.public_key().clone(),
    })
}

/// The `allowed_signers` line that trusts `key` for git-proof signatures as `principal`.
pub fn allowed_signers_line(principal: &str, key: &PublicKey) -> String {
    let mut key = key.clone();
    let comment = key.comment().to_owned();
    key.set_comment("");
    let encoded = key.to_openssh().unwrap_or_default();
    let encoded = encoded.trim_end();
    if comment.is_empty() {
        format!("{principal} namespaces=\"{NAMESPACE}\" {encoded}")
    } else {
        format!("{principal} namespaces=\"{NAMESPACE}\" {encoded} {comment}")
    }
}

/// One line of an `allowed_signers` file (ssh-keygen(1), "ALLOWED SIGNERS").
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// The comma-separated principal patterns, as written.
    pub principals: String,
    /// `namespaces="..."` patterns; `None` means any namespace.
    pub namespaces: Option<Vec<String>>,
    /// `valid-after`, as a Unix time.
    pub valid_after: Option<i64>,
    /// `valid-before`, as a Unix time.
    pub valid_before: Option<i64>,
    /// A `cert-authority` line trusts certificates signed by the key, never the key itself.
    pub cert_authority: bool,
    /// The key.
    pub key: PublicKey,
    /// 1-based line number, for messages.
    pub line: usize,
    /// The key's `SHA256:` fingerprint, and for an ed25519 key its decompressed point: made once
    /// per file, not once per signature (verify checks thousands of signatures by a few keys).
    fingerprint: String,
    ed25519: Option<ed25519_dalek::VerifyingKey>,
}

impl AllowedSigner {
    /// Why this line does not let its key (named by `fingerprint`) sign in git-proof's
    /// namespace at Unix time `now`, if it does not: its `namespaces=`, or its validity
    /// (`valid-after` <= now <= `valid-before`, as ssh-keygen reads them).
    fn refuses(&self, fingerprint: &str, now: i64) -> Option<Rejection> {
        let principals = self.principals.clone();
        let fingerprint = fingerprint.to_owned();
        if let Some(namespaces) = &self.namespaces
            && !pattern_list_match(namespaces, NAMESPACE)
        {
            return Some(Rejection::NamespaceNotAllowed {
                fingerprint,
                principals,
            });
        }
        let too_early = self.valid_after.is_some_and(|t| now < t);
        let too_late = self.valid_before.is_some_and(|t| now > t);
        (too_early || too_late).then_some(Rejection::OutsideValidity {
            fingerprint,
            principals,
        })
    }
}

/// A parsed `allowed_signers` file.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// Where it was read from, for messages.
    pub origin: String,
    /// Its entries, in file order.
    pub entries: Vec<AllowedSigner>,
}

impl AllowedSigners {
    /// Parses the text of an `allowed_signers` file; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Self, Error> {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let fail = |reason: String| Error::AllowedSigners {
                origin: origin.to_owned(),
                line,
                reason,
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fields = split_fields(trimmed).map_err(fail)?;
            let mut fields = fields.into_iter();
            let principals = fields.next().ok_or_else(|| fail("missing principals".into()))?;
            let mut next = fields.next().ok_or_else(|| fail("missing key".into()))?;
            let mut entry_options = (None, None, None, false);
            if !is_key_type(&next) {
                entry_options = parse_options(&next).map_err(fail)?;
                next = fields.next().ok_or_else(|| fail("missing key type".into()))?;
            }
            let key_type = next;
            let blob = fields.next().ok_or_else(|| fail("missing key data".into()))?;
            let key = PublicKey::from_openssh(&format!("{key_type} {blob}"))
                .map_err(|e| fail(format!("cannot parse the {key_type} key: {e}")))?;
            let (namespaces, valid_after, valid_before, cert_authority) = entry_options;
            entries.push(AllowedSigner {
                principals: principals.trim_matches('"').to_owned(),
                namespaces,
                valid_after,
                valid_before,
                cert_authority,
                fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
                ed25519: ed25519_point(key.key_data()),
                key,
                line,
            });
        }
        Ok(Self {
            origin: origin.to_owned(),
            entries,
        })
    }

    /// Trust in one key, for any namespace and time: what a writer checks its own earlier
    /// records against. `principal` names the key in reports.
    pub fn of_key(principal: &str, key: &PublicKey) -> Self {
        let line = allowed_signers_line(principal, key);
        Self::parse("the signing key", &line).unwrap_or_default()
    }

    /// The plain-key entries that may sign in git-proof's namespace at Unix time `now` (the
    /// rule [`verify`] applies, for signatures other than SSHSIG: DSSE envelopes).
    pub fn usable(&self, now: i64) -> impl Iterator<Item = &AllowedSigner> + '_ {
        self.entries
            .iter()
            .filter(move |entry| !entry.cert_authority && entry.refuses("", now).is_none())
    }

    /// These entries followed by `other`'s.
    pub fn and(mut self, other: AllowedSigners) -> Self {
        self.entries.extend(other.entries);
        self
    }

    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = crate::bounded::read_text(path, 16 << 20).map_err(|source| Error::UnreadableSigners {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }
}

fn is_key_type(token: &str) -> bool {
    token.starts_with("ssh-") || token.starts_with("ecdsa-") || token.starts_with("sk-")
}

/// Splits on blanks, keeping double-quoted runs (which may hold blanks) inside one field.
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    fields.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if !current.is_empty() {
        fields.push(current);
    }
    Ok(fields)
}

type EntryOptions = (Option<Vec<String>>, Option<i64>, Option<i64>, bool);

fn parse_options(text: &str) -> Result<EntryOptions, String> {
    let (mut namespaces, mut after, mut before, mut ca) = (None, None, None, false);
    for option in split_options(text) {
        let (name, value) = match option.split_once('=') {
            Some((n, v)) => (n.to_ascii_lowercase(), Some(v.trim_matches('"').to_owned())),
            None => (option.to_ascii_lowercase(), None),
        };
        match (name.as_str(), value) {
            ("cert-authority", None) => ca = true,
            ("namespaces", Some(v)) => namespaces = Some(v.split(',').map(str::to_owned).collect()),
            ("valid-after", Some(v)) => after = Some(parse_signer_time(&v)?),
            ("valid-before", Some(v)) => before = Some(parse_signer_time(&v)?),
            (other, _) => return Err(format!("unknown or malformed option '{other}'")),
        }
    }
    Ok((namespaces, after, before, ca))
}

/// Splits options on commas outside double quotes.
fn split_options(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out
}

/// `YYYYMMDD[HHMM[SS]][Z]`: UTC with `Z`, the system time zone without (as ssh-keygen).
fn parse_signer_time(text: &str) -> Result<i64, String> {
    let bad = || format!("bad time '{text}' (expected YYYYMMDD[HHMM[SS]][Z])");
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (text, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).map_or(Ok(0), |s| s.parse::<i32>().map_err(|_| bad()));
    let small = |r: std::ops::Range<usize>| -> Result<i8, String> { i8::try_from(num(r)?).map_err(|_| bad()) };
    // `Date::new` checks the day against the month (2026-02-30 is an error, not a panic).
    let date = jiff::civil::Date::new(
        i16::try_from(num(0..4)?).map_err(|_| bad())?,
        small(4..6)?,
        small(6..8)?,
    )
    .map_err(|_| bad())?;
    let time = jiff::civil::Time::new(small(8..10)?, small(10..12)?, small(12..14)?, 0).map_err(|_| bad())?;
    let civil = jiff::civil::DateTime::from_parts(date, time);
    let tz = if utc {
        jiff::tz::TimeZone::UTC
    } else {
        jiff::tz::TimeZone::system()
    };
    civil.to_zoned(tz).map(|z| z.timestamp().as_second()).map_err(|_| bad())
}

/// OpenSSH `match_pattern`: `*` any run, `?` one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// OpenSSH `match_pattern_list`: a negated match (`!pat`) wins over any positive one.
pub fn pattern_list_match(patterns: &[String], text: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(negated, text) => return false,
            Some(_) => {}
            None => matched |= wildcard_match(pattern, text),
        }
    }
    matched
}

/// The signer of a signature that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The principals of the matching allowed_signers line.
    pub principals: String,
    /// `SHA256:...` fingerprint of the key.
    pub fingerprint: String,
}

/// Why a signature is not accepted; each reads as a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the signature block is malformed ({0})")]
    Malformed(String),
    #[error("the signature is for namespace '{0}', not '{NAMESPACE}'")]
    WrongNamespace(String),
    #[error("the signature does not match the payload (it was altered, or signed over other bytes)")]
    BadSignature,
    #[error("the key {0} is not in the allowed signers")]
    UntrustedKey(String),
    #[error("the key {fingerprint} ({principals}) is not allowed to sign in namespace '{NAMESPACE}'")]
    NamespaceNotAllowed { fingerprint: String, principals: String },
    #[error("the key {fingerprint} ({principals}) is outside its validity period in the allowed signers")]
    OutsideValidity { fingerprint: String, principals: String },
    /// A certificate that does not hold (expired, not yet valid, a host certificate, no
    /// principal the cert-authority line allows, a CA signature that does not verify).
    #[error("{0}")]
    Certificate(String),
}

/// Checks an armored SSHSIG over `payload` against `signers` at Unix time `now`, as
/// `ssh-keygen -Y verify -n git-proof` does.
pub fn verify(payload: &[u8], armored: &str, signers: &AllowedSigners, now: i64) -> Result<Signer, Rejection> {
    match prepare(payload, armored, signers, now) {
        Pending::Decided(result) => result,
        Pending::Curve(curve) => curve.check_alone(),
    }
}

/// [`verify`] of many records (payload, armored SSHSIG) at once, their results in order. The
/// curve arithmetic of every plain ed25519 signature is done in one batch (ed25519-dalek's
/// `verify_batch`), which costs about half of checking them one by one; when a batch fails,
/// its signatures are checked one by one, so a bad one is still named by its own record.
///
/// A batch accepts what one-by-one checking accepts for signatures made by signing software;
/// it can also accept a signature whose nonce point has a small-order component, which only the
/// key's holder can make and which `ssh-keygen` rejects (the ed25519 cofactor).
pub fn verify_many<'a>(
    records: impl IntoIterator<Item = (&'a [u8], &'a str)>,
    signers: &AllowedSigners,
    now: i64,
) -> Vec<Result<Signer, Rejection>> {
    let pending: Vec<Pending> = records
        .into_iter()
        .map(|(payload, armored)| prepare(payload, armored, signers, now))
        .collect();
    let curves: Vec<&Curve> = pending
        .iter()
        .filter_map(|p| match p {
            Pending::Curve(curve) => Some(curve),
            Pending::Decided(_) => None,
        })
        .collect();
    let messages: Vec<&[u8]> = curves.iter().map(|c| c.check.signed.as_slice()).collect();
    let signatures: Vec<ed25519_dalek::Signature> = curves.iter().map(|c| c.check.signature).collect();
    let points: Vec<ed25519_dalek::VerifyingKey> = curves.iter().map(|c| c.check.point).collect();
    let all_good = !curves.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &points).is_ok();
    pending
        .into_iter()
        .map(|p| match p {
            Pending::Decided(result) => result,
            Pending::Curve(curve) if all_good => curve.then,
            Pending::Curve(curve) => curve.check_alone(),
        })
        .collect()
}

/// A signature check with everything done but, maybe, the curve arithmetic.
// Most pending checks are curves: boxing them would only add an allocation to each.
#[allow(clippy::large_enum_variant)]
enum Pending {
    Decided(Result<Signer, Rejection>),
    Curve(Curve),
}

/// An ed25519 signature still to check, and what the check comes to if it holds.
struct Curve {
    check: Ed25519Check,
    /// Whom the allowed signers make of the key (or why none of their lines accepts it).
    then: Result<Signer, Rejection>,
}

/// The curve arithmetic of one plain ed25519 signature: the key point, the signed data and the
/// signature.
struct Ed25519Check {
    point: ed25519_dalek::VerifyingKey,
    signed: Vec<u8>,
    signature: ed25519_dalek::Signature,
}

impl Curve {
    fn check_alone(self) -> Result<Signer, Rejection> {
        use ed25519_dalek::Verifier;
        let check = &self.check;
        check
            .point
            .verify(&check.signed, &check.signature)
            .map_err(|_| Rejection::BadSignature)?;
        self.then
    }
}

/// Everything [`verify`] checks, in its order, up to the curve arithmetic of a plain ed25519
/// signature, which is left to the caller.
fn prepare(payload: &[u8], armored: &str, signers: &AllowedSigners, now: i64) -> Pending {
    if crate::certificate::is_certificate_signature(armored) {
        return Pending::Decided(verify_certificate(payload, armored, signers, now));
    }
    let signature = match SshSig::from_pem(armored.trim().as_bytes()) {
        Ok(signature) => signature,
        Err(e) => return Pending::Decided(Err(Rejection::Malformed(e.to_string()))),
    };
    if let Err(rejection) = check_encoding(&signature, armored) {
        return Pending::Decided(Err(rejection));
    }
    let listed: Vec<&AllowedSigner> = signers
        .entries
        .iter()
        .filter(|entry| !entry.cert_authority && entry.key.key_data() == signature.public_key())
        .collect();
    let then = signer_of(&signature, &listed, now);
    let point = listed.first().and_then(|entry| entry.ed25519.as_ref());
    match curve_of(&signature, payload, point) {
        Ok(Some(check)) => Pending::Curve(Curve { check, then }),
        Ok(None) => Pending::Decided(check_other_signature(&signature, payload).and(then)),
        Err(rejection) => Pending::Decided(Err(rejection)),
    }
}

/// Whom the first of the `listed` lines (those of the signature's key) that accepts the key
/// now makes of it, or why none does.
fn signer_of(signature: &SshSig, listed: &[&AllowedSigner], now: i64) -> Result<Signer, Rejection> {
    let fingerprint = match listed.first() {
        Some(entry) => entry.fingerprint.clone(),
        None => PublicKey::from(signature.public_key().clone())
            .fingerprint(HashAlg::Sha256)
            .to_string(),
    };
    let mut problem = Rejection::UntrustedKey(fingerprint.clone());
    for entry in listed {
        match entry.refuses(&fingerprint, now) {
            Some(refused) => problem = refused,
            None => {
                return Ok(Signer {
                    principals: entry.principals.clone(),
                    fingerprint,
                });
            }
        }
    }
    Err(problem)
}

/// The canonical encoding, version 1 and our namespace, as OpenSSH requires them.
fn check_encoding(signature: &SshSig, armored: &str) -> Result<(), Rejection> {
    // The decoder tolerates some malformed length fields (found by fuzzing); OpenSSH does not.
    // Accept only the canonical encoding, so a record verifies here exactly when it does there.
    let canonical = signature
        .to_pem(LineEnding::LF)
        .map_err(|e| Rejection::Malformed(e.to_string()))?;
    fn squeeze(text: &str) -> impl Iterator<Item = char> + '_ {
        text.chars().filter(|c| !c.is_whitespace())
    }
    if !squeeze(&canonical).eq(squeeze(armored)) {
        return Err(Rejection::Malformed("not the canonical SSHSIG encoding".into()));
    }
    // Also found by fuzzing: version 0 decodes too. PROTOCOL.sshsig defines version 1 only.
    if signature.version() != 1 {
        return Err(Rejection::Malformed(format!(
            "SSHSIG version {} (only 1 exists)",
            signature.version()
        )));
    }
    if signature.namespace() != NAMESPACE {
        return Err(Rejection::WrongNamespace(signature.namespace().to_owned()));
    }
    Ok(())
}

/// A signature made with an OpenSSH certificate, judged as `ssh-keygen -Y verify` judges it:
/// a `cert-authority` line whose key is the certificate's CA, for namespace `git-proof` and
/// inside the line's validity; a user certificate, valid at `now`; and the certificate's
/// principals that the line's patterns allow, which name the signer.
fn verify_certificate(payload: &[u8], armored: &str, signers: &AllowedSigners, now: i64) -> Result<Signer, Rejection> {
    use ssh_key::public::{Ed25519PublicKey, KeyData};
    let checked = crate::certificate::verify(payload, armored).map_err(Rejection::Certificate)?;
    if checked.namespace != NAMESPACE {
        return Err(Rejection::WrongNamespace(checked.namespace));
    }
    let cert = &checked.certificate;
    let fingerprint_of = |key: [u8; 32]| {
        PublicKey::from(KeyData::Ed25519(Ed25519PublicKey(key)))
            .fingerprint(HashAlg::Sha256)
            .to_string()
    };
    let fingerprint = fingerprint_of(cert.key);
    let mut last_problem = Rejection::UntrustedKey(format!(
        "{fingerprint} (certificate '{}' by CA {}; no cert-authority line trusts that CA)",
        cert.key_id,
        fingerprint_of(cert.ca)
    ));
    let authorities = signers.entries.iter().filter(|entry| {
        entry.cert_authority && matches!(entry.key.key_data(), KeyData::Ed25519(ca) if ca.0 == cert.ca)
    });
    for entry in authorities {
        if let Some(refused) = entry.refuses(&fingerprint, now) {
            last_problem = refused;
            continue;
        }
        if cert.cert_type != crate::certificate::USER_CERT {
            return Err(Rejection::Certificate(format!(
                "the certificate '{}' is a host certificate, not a user's",
                cert.key_id
            )));
        }
        if let Some(why) = cert.outside_validity(now) {
            return Err(Rejection::Certificate(why));
        }
        let patterns: Vec<String> = entry.principals.split(',').map(str::to_owned).collect();
        let allowed: Vec<&str> = cert
            .principals
            .iter()
            .filter(|p| pattern_list_match(&patterns, p))
            .map(String::as_str)
            .collect();
        if allowed.is_empty() {
            last_problem = Rejection::Certificate(format!(
                "the certificate '{}' is for [{}], which the cert-authority line for '{}' does not allow",
                cert.key_id,
                cert.principals.join(", "),
                entry.principals
            ));
            continue;
        }
        return Ok(Signer {
            principals: allowed.join(","),
            fingerprint,
        });
    }
    Err(last_problem)
}

/// The curve point of an ed25519 key, or `None` for another kind of key (or bytes that are not
/// a point, which then fail as a bad signature when used).
fn ed25519_point(key: &ssh_key::public::KeyData) -> Option<ed25519_dalek::VerifyingKey> {
    let ssh_key::public::KeyData::Ed25519(key) = key else {
        return None;
    };
    ed25519_dalek::VerifyingKey::from_bytes(&key.0).ok()
}

/// The curve check a plain ed25519 signature needs: the key point (`point` when the caller has
/// it decompressed already), the signed data OpenSSH's `sshsig_wrap_verify` hashes (the
/// preamble, our namespace, an empty reserved field, the hash algorithm and the payload's
/// hash) and the signature. `None` for another kind of key (a FIDO key, or a key type ssh-key
/// checks itself).
fn curve_of(
    signature: &SshSig,
    payload: &[u8],
    point: Option<&ed25519_dalek::VerifyingKey>,
) -> Result<Option<Ed25519Check>, Rejection> {
    let key = signature.public_key();
    if let ssh_key::public::KeyData::SkEd25519(_) = key {
        return Ok(None);
    }
    let Some(point) = point.copied().or_else(|| ed25519_point(key)) else {
        return Ok(None);
    };
    if signature.signature().algorithm() != ssh_key::Algorithm::Ed25519 {
        return Err(Rejection::BadSignature);
    }
    let ed25519 =
        ed25519_dalek::Signature::from_slice(signature.signature_bytes()).map_err(|_| Rejection::BadSignature)?;
    let signed = SshSig::signed_data(NAMESPACE, signature.hash_alg(), payload).map_err(|_| Rejection::BadSignature)?;
    Ok(Some(Ed25519Check {
        point,
        signed,
        signature: ed25519,
    }))
}

/// The signature check of a key that is not a plain ed25519 one: a FIDO key's, else as
/// ssh-key checks it.
fn check_other_signature(signature: &SshSig, payload: &[u8]) -> Result<(), Rejection> {
    let key = signature.public_key();
    if let ssh_key::public::KeyData::SkEd25519(_) = key {
        return check_sk_signature(signature, payload, NAMESPACE);
    }
    PublicKey::from(key.clone())
        .verify(NAMESPACE, payload, signature)
        .map_err(|_| Rejection::BadSignature)
}

/// A FIDO key's signature (PROTOCOL.u2f): ed25519 over SHA-256 of the key's application, the
/// flags byte and the counter the token added, and SHA-256 of the SSHSIG signed data (with an
/// empty reserved field, as OpenSSH builds it). As `ssh-keygen -Y verify`, any flags are
/// accepted: allowed_signers has no option to require a touch.
fn check_sk_signature(signature: &SshSig, payload: &[u8], namespace: &str) -> Result<(), Rejection> {
    use ed25519_dalek::Verifier;
    use sha2::{Digest, Sha256};
    let ssh_key::public::KeyData::SkEd25519(key) = signature.public_key() else {
        return Err(Rejection::BadSignature);
    };
    if signature.signature().algorithm() != ssh_key::Algorithm::SkEd25519 {
        return Err(Rejection::BadSignature);
    }
    // ssh-key keeps the 64 signature bytes followed by the flags byte and the 4-byte counter.
    let bytes = signature.signature_bytes();
    let (Some(sig), Some(flags_and_counter)) = (bytes.get(..64), bytes.get(64..69)) else {
        return Err(Rejection::BadSignature);
    };
    if bytes.len() != 69 {
        return Err(Rejection::BadSignature);
    }
    let point = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key().0).map_err(|_| Rejection::BadSignature)?;
    let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| Rejection::BadSignature)?;
    let signed = SshSig::signed_data(namespace, signature.hash_alg(), payload).map_err(|_| Rejection::BadSignature)?;
    let mut message = Vec::with_capacity(32 + 5 + 32);
    message.extend_from_slice(&Sha256::digest(key.application().as_bytes()));
    message.extend_from_slice(flags_and_counter);
    message.extend_from_slice(&Sha256::digest(&signed));
    point.verify(&message, &sig).map_err(|_| Rejection::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenSSH's own sk-ssh-ed25519 SSHSIG (regress/unittests/sshsig, made with sk-dummy):
    /// it verifies, by the key it names, and fails for other bytes or another namespace.
    #[test]
    fn openssh_sk_ed25519_vector_verifies() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openssh-sshsig/");
        let read = |name: &str| std::fs::read(format!("{dir}{name}")).unwrap();
        let signature = SshSig::from_pem(read("ed25519_sk.sig")).unwrap();
        let public = PublicKey::from_openssh(std::str::from_utf8(&read("ed25519_sk.pub")).unwrap()).unwrap();
        assert_eq!(signature.public_key(), public.key_data());
        let namespace = String::from_utf8(read("namespace")).unwrap();
        let data = read("signed-data");
        check_sk_signature(&signature, &data, namespace.trim()).unwrap();
        assert_eq!(signature.signature_bytes()[64], 0x01, "user presence");
        assert_eq!(&signature.signature_bytes()[65..69], &0x1234_5678u32.to_be_bytes());
        assert!(check_sk_signature(&signature, b"other bytes", namespace.trim()).is_err());
        assert!(check_sk_signature(&signature, &data, NAMESPACE).is_err());
    }

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOTpHsRNZ7upcIQ8oTlDGvV0+DX2yJ+Ww4/g0BWr7Eyl";

    #[test]
    fn parses_options_quotes_and_comments() {
        let text = format!(
            "# team\n\n\"a@x.org,b@*\" namespaces=\"git,git-proof\",valid-after=\"20260101\",valid-before=20270101Z {KEY} laptop\nc@x.org cert-authority {KEY}\n"
        );
        let s = AllowedSigners::parse("f", &text).unwrap();
        assert_eq!(s.entries.len(), 2);
        let e = &s.entries[0];
        assert_eq!(e.principals, "a@x.org,b@*");
        assert_eq!(
            e.namespaces.as_deref(),
            Some(&["git".to_owned(), "git-proof".to_owned()][..])
        );
        assert_eq!(e.valid_before, Some(1_798_761_600));
        assert!(e.valid_after.is_some());
        assert_eq!(e.line, 3);
        assert!(s.entries[1].cert_authority);
    }

    #[test]
    fn impossible_dates_are_errors_not_panics() {
        for date in [
            "20261301",
            "20260230",
            "00000000",
            "99999999",
            "20260101240000",
            "2026010112",
        ] {
            let line = format!("a valid-after=\"{date}\" {KEY}\n");
            let err = AllowedSigners::parse("f", &line).unwrap_err();
            assert!(err.to_string().contains("bad time"), "{date}: {err}");
        }
        assert!(AllowedSigners::parse("f", &format!("a valid-after=\"20260228\" {KEY}\n")).is_ok());
    }

    #[test]
    fn reports_the_line_of_a_bad_entry() {
        let err = AllowedSigners::parse("f", &format!("a {KEY}\nb bogus=1 {KEY}\n")).unwrap_err();
        assert!(matches!(err, Error::AllowedSigners { line: 2, .. }), "{err}");
        let err = AllowedSigners::parse("f", "a ssh-ed25519 !!!\n").unwrap_err();
        assert!(matches!(err, Error::AllowedSigners { line: 1, .. }), "{err}");
    }

    /// Found by tests/it/fuzz.rs: a signature whose embedded key has a wrong length field still
    /// decoded and verified; OpenSSH rejects it, so must we.
    #[test]
    fn a_non_canonical_signature_encoding_is_malformed() {
        let key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
        let signer = SigningKey {
            public: key.public_key().clone(),
            how: Signs::Here(Box::new(key)),
        };
        let armored = signer.sign(b"payload\n").unwrap();
        let line = format!(
            "p namespaces=\"git-proof\" {}",
            signer.public_key().to_openssh().unwrap()
        );
        let signers = AllowedSigners::parse("t", &line).unwrap();
        assert!(verify(b"payload\n", &armored, &signers, 0).is_ok());
        // The key blob's length field (0x20) as 0x120, the rest unchanged.
        let tampered = armored.replacen("MjU1MTkAAAAg", "MjU1MTkAAAEg", 1);
        assert_ne!(tampered, armored);
        assert!(matches!(
            verify(b"payload\n", &tampered, &signers, 0),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn many_signatures_checked_at_once_come_to_what_each_checked_alone_does() {
        let key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
        let signer = SigningKey {
            public: key.public_key().clone(),
            how: Signs::Here(Box::new(key)),
        };
        let line = format!(
            "p namespaces=\"git-proof\" {}",
            signer.public_key().to_openssh().unwrap()
        );
        let signers = AllowedSigners::parse("t", &line).unwrap();
        let payloads: Vec<Vec<u8>> = (0..8).map(|i| format!("payload {i}\n").into_bytes()).collect();
        let mut signatures: Vec<String> = payloads.iter().map(|p| signer.sign(p).unwrap()).collect();
        let alone = |signatures: &[String], signers: &AllowedSigners| -> Vec<Result<Signer, Rejection>> {
            payloads
                .iter()
                .zip(signatures)
                .map(|(p, s)| verify(p, s, signers, 0))
                .collect()
        };
        let together = |signatures: &[String], signers: &AllowedSigners| {
            verify_many(
                payloads
                    .iter()
                    .map(Vec::as_slice)
                    .zip(signatures.iter().map(String::as_str)),
                signers,
                0,
            )
        };
        // All good: the batch holds.
        assert!(together(&signatures, &signers).iter().all(Result::is_ok));
        // One signature moved onto another payload, one that is not SSHSIG at all: the batch
        // fails, the others stay good, and each bad one gets its own reason.
        signatures[3] = signatures[4].clone();
        signatures[6] = "not a signature".into();
        let checked = together(&signatures, &signers);
        assert_eq!(checked, alone(&signatures, &signers));
        assert_eq!(checked[3], Err(Rejection::BadSignature));
        assert!(matches!(checked[6], Err(Rejection::Malformed(_))));
        assert_eq!(checked.iter().filter(|c| c.is_ok()).count(), 6);
        // A key nobody lists: the curve still decides first, then the key is not trusted.
        let stranger = AllowedSigners::parse("t", "").unwrap();
        assert_eq!(together(&signatures, &stranger), alone(&signatures, &stranger));
    }

    #[test]
    fn wildcards_and_negation_follow_openssh() {
        assert!(wildcard_match("git*", "git-proof"));
        assert!(wildcard_match("g?t-proof", "git-proof"));
        assert!(!wildcard_match("git", "git-proof"));
        let list = ["*".to_owned(), "!git-proof".to_owned()];
        assert!(!pattern_list_match(&list, "git-proof"));
        assert!(pattern_list_match(&list, "file"));
    }
}
