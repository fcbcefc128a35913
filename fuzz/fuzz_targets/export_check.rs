//! An audit export (`toq-media audit check`) from anyone: whatever the bytes, the check never
//! panics, and nothing but the signed history passes. The seed (`corpus/export_check`) is a
//! real export signed with this target's key; mutations of it reach the chain, head and Merkle
//! checks (the signature covers only the checkpoint). An input that passes must carry the
//! seed's checkpoint and head, and the seed's events up to that head: the signed part of
//! history cannot change, only (in principle) events chained after it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toq_evidence::SigningKey;
use toq_evidence::export::{self, Export};

const SEED: &[u8] = include_bytes!("../corpus/export_check/valid.json");

fuzz_target!(|data: &[u8]| {
    let trusted = SigningKey::from_bytes(&[7; 32]).verifying_key();
    let Ok(checked) = export::check(data, &trusted) else {
        return;
    };
    let got: Export = serde_json::from_slice(data).expect("what passes parses");
    let seed: Export = serde_json::from_slice(SEED).expect("the seed parses");
    assert_eq!(got.to_bytes(), data, "only the canonical form passes");
    assert_eq!(got.checkpoint, seed.checkpoint);
    assert_eq!(got.head, seed.head);
    let covered = usize::try_from(checked.covered).expect("a positive sequence");
    assert_eq!(got.events[..covered], seed.events[..covered]);
});
