//! DSSE envelopes (secure-systems-lab/dsse v1) of git-proof's in-toto statements, for
//! supply-chain tools that read in-toto attestations that way (in-toto, witness, Sigstore
//! policy engines, SLSA verifiers).
//!
//! The SSHSIG of a record signs SSHSIG's own signed data, not DSSE's pre-authentication
//! encoding (PAE), so it cannot be moved into an envelope: an envelope is signed anew, at
//! export, by the exporter's ed25519 key, raw ed25519 over the PAE, as securesystemslib's
//! `ed25519` scheme verifies it. What that attests: the exporter, holding that key, found the
//! record counting under the trust in force and vouches for its exact payload bytes.

use base64ct::{Base64, Encoding as _};
use serde::{Deserialize, Serialize};

use crate::signing::{AllowedSigners, Signer};

/// The payload type of an in-toto statement (in-toto attestation framework, envelope layer).
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The payload's exact bytes, standard base64 with padding.
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// [`keyid`] of the signing key.
    #[serde(default)]
    pub keyid: String,
    /// The raw ed25519 signature over [`pae`], standard base64.
    pub sig: String,
}

/// Why an envelope is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the envelope's payloadType is '{0}', not '{PAYLOAD_TYPE}'")]
    PayloadType(String),
    #[error("the envelope's {0} is not base64")]
    Base64(&'static str),
    #[error("no signature of the envelope is by an allowed signer's ed25519 key")]
    NoTrustedSignature,
    #[error("the signature by {0} does not match the payload")]
    BadSignature(String),
}

/// DSSE's pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
/// lengths as ASCII decimal byte counts.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The key id of an ed25519 key: SHA-256 (hex) of the RFC 8785 JSON
/// `{"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}`, the id
/// securesystemslib gives the same key by default, so its users find the key by it.
pub fn keyid(public: &[u8; 32]) -> String {
    let key = serde_json::json!({
        "keytype": "ed25519",
        "keyval": { "public": crate::canon::hex(public) },
        "scheme": "ed25519",
    });
    // A JSON object of strings always serializes; the digest is `sha256:<hex>`, the id its hex.
    let digest = crate::canon::jcs_digest(&key).unwrap_or_default();
    digest.strip_prefix("sha256:").unwrap_or(&digest).to_owned()
}

/// An envelope of `payload` (an in-toto statement's exact bytes) signed with `sign`, the raw
/// ed25519 signature of a key whose public half is `public`.
pub fn seal<E>(
    payload: &[u8],
    public: &[u8; 32],
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<Envelope, E> {
    let sig = sign(&pae(PAYLOAD_TYPE, payload))?;
    Ok(Envelope {
        payload: Base64::encode_string(payload),
        payload_type: PAYLOAD_TYPE.to_owned(),
        signatures: vec![EnvelopeSignature {
            keyid: keyid(public),
            sig: Base64::encode_string(&sig),
        }],
    })
}

/// The payload of `envelope`, when one of its signatures verifies by an allowed signer's
/// ed25519 key (for namespace `git-proof`, inside the line's validity at `now`), with that
/// signer. A signature names its key by keyid; one without a keyid is tried against every key.
pub fn open(envelope: &Envelope, signers: &AllowedSigners, now: i64) -> Result<(Vec<u8>, Signer), Rejection> {
    use ed25519_dalek::Verifier as _;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(Rejection::PayloadType(envelope.payload_type.clone()));
    }
    let payload = decode(&envelope.payload).ok_or(Rejection::Base64("payload"))?;
    let message = pae(&envelope.payload_type, &payload);
    let mut last = Rejection::NoTrustedSignature;
    for signature in &envelope.signatures {
        let sig = decode(&signature.sig).ok_or(Rejection::Base64("sig"))?;
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig) else {
            continue;
        };
        for entry in signers.usable(now) {
            let ssh_key::public::KeyData::Ed25519(key) = entry.key.key_data() else {
                continue;
            };
            if !signature.keyid.is_empty() && signature.keyid != keyid(&key.0) {
                continue;
            }
            let Ok(point) = ed25519_dalek::VerifyingKey::from_bytes(&key.0) else {
                continue;
            };
            if point.verify(&message, &sig).is_ok() {
                return Ok((
                    payload,
                    Signer {
                        principals: entry.principals.clone(),
                        fingerprint: entry.key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
                    },
                ));
            }
            last = Rejection::BadSignature(entry.principals.clone());
        }
    }
    Err(last)
}

/// Standard base64, else URL-safe (DSSE verifiers must accept both), padded or not.
fn decode(text: &str) -> Option<Vec<u8>> {
    use base64ct::{Base64Unpadded, Base64Url, Base64UrlUnpadded};
    Base64::decode_vec(text)
        .or_else(|_| Base64Unpadded::decode_vec(text))
        .or_else(|_| Base64Url::decode_vec(text))
        .or_else(|_| Base64UrlUnpadded::decode_vec(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of DSSE's protocol.md.
    #[test]
    fn pae_is_the_specs() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }
}
