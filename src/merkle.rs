//! RFC 6962 Merkle tree hashes over the ordered event hashes of a run.
//!
//! Leaves are `SHA-256(0x00 || leaf)`, nodes `SHA-256(0x01 || left || right)`, the empty tree
//! is `SHA-256("")`; the split point is the largest power of two smaller than the size
//! (RFC 6962 section 2.1), so one event can later be proven part of a run on its own.

use sha2::{Digest, Sha256};

/// A SHA-256 output.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle tree hash of `leaves` (the leaf *inputs*, hashed here).
pub fn root<T: AsRef<[u8]>>(leaves: &[T]) -> Hash {
    if leaves.is_empty() {
        return Sha256::digest([]).into();
    }
    // Bottom-up with an odd last node carried up unchanged gives the same tree as the
    // recursive definition's largest-power-of-two split, in O(n) time and O(n) memory.
    let mut level: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [l, r] => node_hash(l, r),
                [only] => *only,
                _ => unreachable!("chunks(2) yields one or two items"),
            });
        }
        level = next;
    }
    level[0]
}

/// The RFC 6962 audit path (section 2.1.1, `PATH(m, D[n])`) of leaf `index` among `leaves`
/// (leaf inputs), ordered from the leaf's sibling upward; `None` if `index` is out of range.
pub fn inclusion_proof<T: AsRef<[u8]>>(leaves: &[T], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    let mut path = Vec::new();
    audit_path(&hashes, index, &mut path);
    Some(path)
}

/// `PATH(m, D[n])` over leaf hashes, deepest sibling first.
fn audit_path(hashes: &[Hash], m: usize, path: &mut Vec<Hash>) {
    let n = hashes.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        audit_path(&hashes[..k], m, path);
        path.push(subtree_root(&hashes[k..]));
    } else {
        audit_path(&hashes[k..], m - k, path);
        path.push(subtree_root(&hashes[..k]));
    }
}

/// The largest power of two smaller than `n` (n > 1).
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn subtree_root(hashes: &[Hash]) -> Hash {
    if hashes.len() == 1 {
        return hashes[0];
    }
    let k = split_point(hashes.len());
    node_hash(&subtree_root(&hashes[..k]), &subtree_root(&hashes[k..]))
}

/// Checks that `leaf` (a leaf input) is leaf `index` of a tree of `size` leaves with `root`,
/// given its audit path (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(leaf: &[u8], index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = leaf_hash(leaf);
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && &r == root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recursive_root(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&recursive_root(&leaves[..k]), &recursive_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn every_leaf_of_every_size_proves_and_nothing_else_does() {
        for n in 1..34u8 {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![i, n]).collect();
            let r = root(&leaves);
            for i in 0..n as usize {
                let path = inclusion_proof(&leaves, i).unwrap();
                assert!(
                    verify_inclusion(&leaves[i], i as u64, n as u64, &path, &r),
                    "size {n} leaf {i}"
                );
                assert!(!verify_inclusion(b"other", i as u64, n as u64, &path, &r));
                if n > 1 {
                    let j = (i + 1) % n as usize;
                    assert!(
                        !verify_inclusion(&leaves[i], j as u64, n as u64, &path, &r),
                        "wrong index"
                    );
                }
            }
            assert!(inclusion_proof(&leaves, n as usize).is_none());
        }
    }

    #[test]
    fn bottom_up_equals_the_recursive_definition() {
        for n in 0..40u8 {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![i; i as usize % 5]).collect();
            assert_eq!(root(&leaves), recursive_root(&leaves), "size {n}");
        }
    }
}
