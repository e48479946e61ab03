//! Canonical JSON (RFC 8785, JCS) and the `sha256:<hex>` digests computed over it.
//!
//! Every hash in a bundle is over JCS bytes, so another implementation that parses the same
//! JSON gets the same digest whatever key order or whitespace it started from.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Why a value could not be canonicalized (a non-finite number, a map with non-string keys).
#[derive(Debug, thiserror::Error)]
#[error("cannot canonicalize JSON")]
pub struct Error(#[source] pub serde_json::Error);

/// The RFC 8785 canonical bytes of `value`.
pub fn to_jcs_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    serde_jcs::to_vec(value).map_err(Error)
}

/// `sha256:<hex>` of `JCS(value)`.
pub fn jcs_digest<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    Ok(prefixed_sha256(&to_jcs_vec(value)?))
}

/// `sha256:<hex>` of raw bytes.
pub fn prefixed_sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Parses lower- or upper-case hex; `None` on odd length or a non-hex digit.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The 32 raw bytes of a `sha256:<hex>` digest.
pub fn parse_prefixed_sha256(digest: &str) -> Option<[u8; 32]> {
    let bytes = unhex(digest.strip_prefix("sha256:")?)?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_whitespace_do_not_change_the_digest() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": [true, null]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":[true,null],"b":1}"#).unwrap();
        assert_eq!(to_jcs_vec(&a).unwrap(), br#"{"a":[true,null],"b":1}"#);
        assert_eq!(jcs_digest(&a).unwrap(), jcs_digest(&b).unwrap());
    }

    #[test]
    fn prefixed_sha256_of_empty_input_is_the_known_value() {
        assert_eq!(
            prefixed_sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(parse_prefixed_sha256(&prefixed_sha256(b"x")).is_some());
        assert!(parse_prefixed_sha256("sha256:zz").is_none());
    }
}
