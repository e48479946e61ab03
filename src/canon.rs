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

/// `sha256:<hex>` and the size of everything `reader` yields, read in pieces (a log, a
/// worktree file: no need to hold it in memory).
pub fn sha256_of_reader(mut reader: impl std::io::Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut reader, &mut hasher)?;
    Ok((format!("sha256:{}", hex(&hasher.finalize())), size))
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

/// Parses JSON as I-JSON (RFC 7493), which RFC 8785 assumes: no key twice in an object (a
/// reader would keep one of them, the hash the other) and no integer a double cannot hold
/// exactly (beyond ±(2^53 − 1) the digits stored would not be the ones hashed).
pub fn parse_i_json(text: &str) -> Result<serde_json::Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde::de::DeserializeSeed::deserialize(IJson, &mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// The largest integer every JSON reader holds exactly (IEEE 754 double).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

struct IJson;

impl<'de> serde::de::DeserializeSeed<'de> for IJson {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for IJson {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("I-JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        if v > MAX_SAFE_INTEGER {
            return Err(E::custom(format!(
                "the integer {v} is beyond 2^53 - 1, which JSON readers cannot hold exactly (write it as a string)"
            )));
        }
        Ok(v.into())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(E::custom(format!(
                "the integer {v} is beyond 2^53 - 1, which JSON readers cannot hold exactly (write it as a string)"
            )));
        }
        Ok(v.into())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(v)
            .map(serde_json::Value::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(IJson)? {
            items.push(item);
        }
        Ok(items.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("the key \"{key}\" appears twice")));
            }
            let value = map.next_value_seed(IJson)?;
            object.insert(key, value);
        }
        Ok(object.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i_json_refuses_repeated_keys_and_unsafe_integers() {
        assert_eq!(
            parse_i_json(r#"{"a": [1, -2, 2.5, "x", null, true]}"#).unwrap()["a"][1],
            -2
        );
        assert!(parse_i_json(r#"{"a": 9007199254740991}"#).is_ok());
        for bad in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": {"b": 1, "b": 1}}"#,
            r#"{"a": 9007199254740992}"#,
            r#"{"a": -9007199254740992}"#,
            r#"{"a": 1} trailing"#,
        ] {
            assert!(parse_i_json(bad).is_err(), "{bad}");
        }
    }

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
