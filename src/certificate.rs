//! SSHSIG signatures made with an OpenSSH certificate (`ssh-keygen -Y sign -f key-cert.pub`),
//! read by hand: ssh-key 0.6 decodes neither an SSHSIG whose public key is a certificate nor a
//! certificate valid "forever" (`valid_before` 2^64-1, what `ssh-keygen -s` writes without
//! `-V`). Only ed25519 certificates signed by an ed25519 CA are read, what git-proof signs with.
//!
//! Layouts: PROTOCOL.sshsig (the signature blob) and PROTOCOL.certkeys (the certificate).

use base64ct::{Base64, Encoding as _};
use ed25519_dalek::Verifier as _;

/// The type name of an ed25519 user or host certificate.
pub const ED25519_CERT: &str = "ssh-ed25519-cert-v01@openssh.com";

/// A certificate's user type (a host certificate never signs as a person).
pub const USER_CERT: u32 = 1;

/// An ed25519 certificate whose CA signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The certified key.
    pub key: [u8; 32],
    pub serial: u64,
    pub cert_type: u32,
    pub key_id: String,
    pub principals: Vec<String>,
    pub valid_after: u64,
    /// Exclusive, as OpenSSH reads it.
    pub valid_before: u64,
    /// The CA's key.
    pub ca: [u8; 32],
}

/// An SSHSIG made with a certificate, its signature checked against the certified key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSignature {
    pub certificate: Certificate,
    pub namespace: String,
}

/// Why a certificate signature is not accepted, as a sentence.
pub type Problem = String;

/// Whether the armored SSHSIG `armored` carries a certificate (then [`verify`] reads it), read
/// from its public key's type name alone.
pub fn is_certificate_signature(armored: &str) -> bool {
    let Some(blob) = dearmor(armored) else {
        return false;
    };
    let mut r = Reader(&blob);
    r.take(6) == Some(b"SSHSIG".as_slice())
        && r.u32().is_some()
        && r.string()
            .is_some_and(|key| Reader(key).string() == Some(ED25519_CERT.as_bytes()))
}

/// Checks an SSHSIG made with a certificate over `payload`: the encoding (exactly the fields
/// of version 1, nothing after), the certificate's CA signature, and the signature by the
/// certified key over SSHSIG's signed data. Whether the CA is trusted, and for whom and when,
/// is the caller's (allowed_signers `cert-authority` lines).
pub fn verify(payload: &[u8], armored: &str) -> Result<CertSignature, Problem> {
    let blob = dearmor(armored).ok_or("the signature block is not an armored SSHSIG")?;
    let mut r = Reader(&blob);
    let malformed = || "the certificate signature is malformed".to_owned();
    if r.take(6) != Some(b"SSHSIG".as_slice()) || r.u32() != Some(1) {
        return Err(malformed());
    }
    let key_blob = r.string().ok_or_else(malformed)?;
    let namespace = r.utf8().ok_or_else(malformed)?;
    let reserved = r.string().ok_or_else(malformed)?;
    let hash_alg = r.utf8().ok_or_else(malformed)?;
    let signature = r.string().ok_or_else(malformed)?;
    if !r.0.is_empty() || !reserved.is_empty() {
        return Err(malformed());
    }
    let certificate = parse_certificate(key_blob)?;
    let hash_alg =
        ssh_key::HashAlg::new(&hash_alg).map_err(|_| format!("the signature uses unknown hash '{hash_alg}'"))?;
    // SSHSIG's signed data, with the empty reserved field OpenSSH signs.
    let signed = ssh_key::SshSig::signed_data(&namespace, hash_alg, payload).map_err(|_| malformed())?;
    let sig = ed25519_signature(signature).ok_or_else(malformed)?;
    let point = ed25519_dalek::VerifyingKey::from_bytes(&certificate.key).map_err(|_| malformed())?;
    point.verify(&signed, &sig).map_err(|_| {
        "the signature does not match the payload (it was altered, or signed over other bytes)".to_owned()
    })?;
    Ok(CertSignature { certificate, namespace })
}

/// Reads an ed25519 certificate and checks its CA's signature over everything before it.
pub fn parse_certificate(blob: &[u8]) -> Result<Certificate, Problem> {
    let malformed = || "the certificate is malformed".to_owned();
    let mut r = Reader(blob);
    let kind = r.string().ok_or_else(malformed)?;
    if kind != ED25519_CERT.as_bytes() {
        return Err(format!(
            "a {} certificate; git-proof reads ed25519 certificates only",
            String::from_utf8_lossy(kind)
        ));
    }
    let _nonce = r.string().ok_or_else(malformed)?;
    let key = key32(r.string().ok_or_else(malformed)?).ok_or_else(malformed)?;
    let serial = r.u64().ok_or_else(malformed)?;
    let cert_type = r.u32().ok_or_else(malformed)?;
    let key_id = r.utf8().ok_or_else(malformed)?;
    let mut principals = Vec::new();
    let mut packed = Reader(r.string().ok_or_else(malformed)?);
    while !packed.0.is_empty() {
        principals.push(packed.utf8().ok_or_else(malformed)?);
    }
    let valid_after = r.u64().ok_or_else(malformed)?;
    let valid_before = r.u64().ok_or_else(malformed)?;
    let _critical = r.string().ok_or_else(malformed)?;
    let _extensions = r.string().ok_or_else(malformed)?;
    let _reserved = r.string().ok_or_else(malformed)?;
    let ca_blob = r.string().ok_or_else(malformed)?;
    let signed_len = blob.len() - r.0.len();
    let signature = r.string().ok_or_else(malformed)?;
    if !r.0.is_empty() {
        return Err(malformed());
    }
    let mut ca = Reader(ca_blob);
    if ca.string() != Some(b"ssh-ed25519".as_slice()) {
        return Err("the certificate's CA is not an ed25519 key; git-proof reads ed25519 CAs only".into());
    }
    let ca_key = key32(ca.string().ok_or_else(malformed)?).ok_or_else(malformed)?;
    let sig = ed25519_signature(signature).ok_or_else(malformed)?;
    ed25519_dalek::VerifyingKey::from_bytes(&ca_key)
        .and_then(|point| point.verify(&blob[..signed_len], &sig))
        .map_err(|_| "the certificate's CA signature does not verify".to_owned())?;
    Ok(Certificate {
        key,
        serial,
        cert_type,
        key_id,
        principals,
        valid_after,
        valid_before,
        ca: ca_key,
    })
}

impl Certificate {
    /// Why the certificate is not valid at Unix time `now`, if it is not: OpenSSH's window,
    /// `valid_after <= now < valid_before`.
    pub fn outside_validity(&self, now: i64) -> Option<Problem> {
        let now = u64::try_from(now).unwrap_or(0);
        let when = |t: u64| {
            i64::try_from(t)
                .ok()
                .and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map_or_else(|| t.to_string(), |t| t.to_string())
        };
        if now < self.valid_after {
            return Some(format!(
                "the certificate '{}' is not valid yet (from {})",
                self.key_id,
                when(self.valid_after)
            ));
        }
        if now >= self.valid_before {
            return Some(format!(
                "the certificate '{}' expired at {}",
                self.key_id,
                when(self.valid_before)
            ));
        }
        None
    }
}

/// The binary of an armored SSH signature.
fn dearmor(armored: &str) -> Option<Vec<u8>> {
    let text = armored.trim();
    let body = text
        .strip_prefix("-----BEGIN SSH SIGNATURE-----")?
        .strip_suffix("-----END SSH SIGNATURE-----")?;
    let joined: String = body.split_whitespace().collect();
    Base64::decode_vec(&joined).ok()
}

/// An ed25519 signature blob: `string "ssh-ed25519", string sig[64]`.
fn ed25519_signature(blob: &[u8]) -> Option<ed25519_dalek::Signature> {
    let mut r = Reader(blob);
    if r.string()? != b"ssh-ed25519" {
        return None;
    }
    let sig = r.string()?;
    if !r.0.is_empty() {
        return None;
    }
    ed25519_dalek::Signature::from_slice(sig).ok()
}

fn key32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// SSH wire format, read from the front.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }

    fn utf8(&mut self) -> Option<String> {
        String::from_utf8(self.string()?.to_vec()).ok()
    }
}
