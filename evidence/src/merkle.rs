//! The Merkle tree of RFC 6962 (Certificate Transparency) over the stream heads: leaves hashed
//! with a `0x00` prefix, inner nodes with `0x01`, the tree split at the largest power of two
//! below its size. Built in one pass with a stack of at most log₂ n subtree roots, so a root
//! over any number of streams takes bounded memory; a proof is the log₂ n sibling hashes.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A tree root computed from leaf hashes pushed in order.
#[derive(Debug, Default)]
pub struct RootBuilder {
    /// Roots of complete subtrees, largest first, with their sizes (powers of two, strictly
    /// decreasing): the binary digits of the count so far.
    stack: Vec<(u64, Hash)>,
    count: u64,
}

impl RootBuilder {
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (1, leaf);
        while let Some(&(size, top)) = self.stack.last() {
            if size != node.0 {
                break;
            }
            self.stack.pop();
            node = (size * 2, node_hash(&top, &node.1));
        }
        self.stack.push(node);
        self.count += 1;
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// RFC 6962's root: the complete subtrees folded from the smallest (rightmost) up.
    pub fn root(&self) -> Hash {
        let mut nodes = self.stack.iter().rev().map(|&(_, h)| h);
        let Some(mut acc) = nodes.next() else {
            return empty_root();
        };
        for left in nodes {
            acc = node_hash(&left, &acc);
        }
        acc
    }
}

/// The contiguous leaf ranges `[start, end)` whose roots make the inclusion proof of leaf
/// `index` in a tree of `size` leaves, in proof order (nearest sibling first).
pub fn proof_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    assert!(index < size, "leaf {index} is outside a tree of {size}");
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, size);
    while end - start > 1 {
        let split = start + largest_power_of_two_below(end - start);
        if index < split {
            ranges.push((split, end));
            end = split;
        } else {
            ranges.push((start, split));
            start = split;
        }
    }
    ranges.reverse();
    ranges
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Collects the inclusion proof of one leaf while every leaf of the tree streams past once:
/// one [`RootBuilder`] per proof range, so memory stays O(log² n).
pub struct ProofBuilder {
    index: u64,
    size: u64,
    ranges: Vec<(u64, u64)>,
    builders: Vec<RootBuilder>,
    next: u64,
    leaf: Option<Hash>,
}

impl ProofBuilder {
    pub fn new(index: u64, size: u64) -> Self {
        let ranges = proof_ranges(index, size);
        let builders = ranges.iter().map(|_| RootBuilder::default()).collect();
        Self {
            index,
            size,
            ranges,
            builders,
            next: 0,
            leaf: None,
        }
    }

    pub fn push(&mut self, leaf: Hash) {
        let at = self.next;
        self.next += 1;
        if at == self.index {
            self.leaf = Some(leaf);
            return;
        }
        if let Some(i) = self.ranges.iter().position(|&(s, e)| s <= at && at < e) {
            self.builders[i].push(leaf);
        }
    }

    /// The leaf at the index and its proof, once every leaf was pushed.
    pub fn finish(self) -> Option<(Hash, Vec<Hash>)> {
        let leaf = self.leaf.filter(|_| self.next == self.size)?;
        Some((leaf, self.builders.iter().map(RootBuilder::root).collect()))
    }
}

/// The root a leaf and its proof imply (RFC 9162 §2.1.3.2); equal to the signed root iff the
/// leaf is in that tree at `index`.
pub fn root_from_proof(index: u64, size: u64, leaf: Hash, proof: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(r)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 6962's definition, recursively, as the reference.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn proof_of(all: &[Hash], index: usize) -> (Hash, Vec<Hash>) {
        let mut b = ProofBuilder::new(index as u64, all.len() as u64);
        for l in all {
            b.push(*l);
        }
        b.finish().expect("every leaf was pushed")
    }

    #[test]
    fn known_roots() {
        // RFC 6962's empty tree; one leaf is its own root.
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let one = leaves(1);
        let mut b = RootBuilder::default();
        b.push(one[0]);
        assert_eq!(b.root(), one[0]);
    }

    #[test]
    fn a_proof_is_refused_for_another_index_size_or_leaf() {
        let all = leaves(7);
        let root = reference_root(&all);
        let (leaf, proof) = proof_of(&all, 4);
        assert_eq!(root_from_proof(4, 7, leaf, &proof), Some(root));
        assert_ne!(root_from_proof(5, 7, leaf, &proof), Some(root));
        // (A size whose path has the same shape, 8 here, would imply the same root: the size
        // is bound by the checkpoint's signature, not by the proof.)
        assert_ne!(root_from_proof(4, 6, leaf, &proof), Some(root));
        assert_ne!(root_from_proof(4, 7, all[3], &proof), Some(root));
        assert_eq!(root_from_proof(7, 7, leaf, &proof), None);
        assert_ne!(root_from_proof(4, 7, leaf, &proof[1..]), Some(root));
    }

    #[test]
    fn an_unfinished_stream_gives_no_proof() {
        let all = leaves(5);
        let mut b = ProofBuilder::new(1, 5);
        for l in &all[..4] {
            b.push(*l);
        }
        assert!(b.finish().is_none());
    }

    proptest! {
        #[test]
        fn the_streaming_root_is_rfc_6962s(n in 0usize..300) {
            let all = leaves(n);
            let mut b = RootBuilder::default();
            for l in &all {
                b.push(*l);
            }
            prop_assert_eq!(b.len(), n as u64);
            prop_assert_eq!(b.root(), reference_root(&all));
            prop_assert!(b.stack.len() <= 64 - (n as u64).leading_zeros() as usize);
        }

        #[test]
        fn every_leaf_proves_its_inclusion(n in 1usize..200, pick in any::<prop::sample::Index>()) {
            let all = leaves(n);
            let index = pick.index(n);
            let (leaf, proof) = proof_of(&all, index);
            prop_assert_eq!(leaf, all[index]);
            prop_assert!(proof.len() <= 64 - (n as u64 - 1).leading_zeros() as usize);
            prop_assert_eq!(
                root_from_proof(index as u64, n as u64, leaf, &proof),
                Some(reference_root(&all))
            );
        }
    }
}
