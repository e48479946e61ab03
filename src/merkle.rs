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
    fn bottom_up_equals_the_recursive_definition() {
        for n in 0..40u8 {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![i; i as usize % 5]).collect();
            assert_eq!(root(&leaves), recursive_root(&leaves), "size {n}");
        }
    }
}
