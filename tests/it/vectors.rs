//! Published test vectors: RFC 8785 canonical JSON and RFC 6962 Merkle tree hashes.
//! Sources are in tests/data/README.md.

use std::path::PathBuf;

use git_proof::{canon, merkle};

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

/// cyberphone/json-canonicalization testdata (the RFC 8785 author's vectors): every input
/// must canonicalize to exactly the bytes of its output file.
#[test]
fn rfc8785_vectors() {
    let mut checked = 0;
    for entry in std::fs::read_dir(data("rfc8785/input")).unwrap() {
        let input = entry.unwrap().path();
        let name = input.file_name().unwrap().to_owned();
        let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
        let expected = std::fs::read(data("rfc8785/output").join(&name)).unwrap();
        let expected = expected.strip_suffix(b"\n").unwrap_or(&expected);
        let actual = canon::to_jcs_vec(&value).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&actual),
            String::from_utf8_lossy(expected),
            "vector {name:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6, "all six published vectors were read");
}

fn unhex(s: &str) -> Vec<u8> {
    canon::unhex(s).unwrap()
}

/// The RFC 6962 vector file and its leaf inputs.
fn rfc6962() -> (serde_json::Value, Vec<Vec<u8>>) {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(data("rfc6962.json")).unwrap()).unwrap();
    let leaves = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| unhex(h.as_str().unwrap()))
        .collect();
    (v, leaves)
}

/// transparency-dev/merkle vectors: the root of every prefix of the eight leaves.
#[test]
fn rfc6962_roots() {
    let (v, leaves) = rfc6962();
    for (leaf, expected) in leaves.iter().zip(v["leaf_hashes_hex"].as_array().unwrap()) {
        assert_eq!(canon::hex(&merkle::leaf_hash(leaf)), expected.as_str().unwrap());
    }
    let roots = v["root_hashes_by_tree_size_hex"].as_array().unwrap();
    assert_eq!(roots.len(), 9);
    for (size, expected) in roots.iter().enumerate() {
        assert_eq!(
            canon::hex(&merkle::root(&leaves[..size])),
            expected.as_str().unwrap(),
            "tree size {size}"
        );
    }
}

/// transparency-dev/merkle inclusion proofs: we produce exactly the published audit paths and
/// accept them, and reject a path with one hash changed.
#[test]
fn rfc6962_inclusion_proofs() {
    let (v, leaves) = rfc6962();
    let cases = v["inclusion_proofs"]["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let index = case["leaf_index"].as_u64().unwrap() as usize;
        let size = case["tree_size"].as_u64().unwrap() as usize;
        let expected: Vec<String> = case["path_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        let path = merkle::inclusion_proof(&leaves[..size], index).unwrap();
        assert_eq!(
            path.iter().map(|h| canon::hex(h)).collect::<Vec<_>>(),
            expected,
            "leaf {index} of {size}"
        );
        let root = merkle::root(&leaves[..size]);
        assert!(merkle::verify_inclusion(
            &leaves[index],
            index as u64,
            size as u64,
            &path,
            &root
        ));
        if let Some(first) = path.first() {
            let mut bad = path.clone();
            bad[0] = merkle::leaf_hash(first);
            assert!(!merkle::verify_inclusion(
                &leaves[index],
                index as u64,
                size as u64,
                &bad,
                &root
            ));
        }
    }
}
