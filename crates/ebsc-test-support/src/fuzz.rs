//! Mutations of valid files for the readers' property tests: each test starts from a file
//! its reader accepts and checks that every edit of it is an error naming the file, never
//! a panic or an oversized allocation.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// One edit of a valid file: flip a byte, cut it short, or overwrite a run with noise.
#[derive(Debug, Clone)]
pub enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { keep: usize },
    Overwrite { at: usize, noise: Vec<u8> },
}

/// Any [`Mutation`], with overwrites of 1 to `max_noise - 1` bytes.
pub fn mutation(max_noise: usize) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        (
            any::<usize>(),
            prop::collection::vec(any::<u8>(), 1..max_noise)
        )
            .prop_map(|(at, noise)| Mutation::Overwrite { at, noise }),
    ]
}

/// `bytes` with each mutation applied in turn (positions taken modulo the length).
pub fn mutate(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for m in mutations {
        if out.is_empty() {
            break;
        }
        match m {
            Mutation::Flip { at, mask } => {
                let i = at % out.len();
                out[i] ^= mask;
            }
            Mutation::Truncate { keep } => out.truncate(keep % out.len()),
            Mutation::Overwrite { at, noise } => {
                let start = at % out.len();
                for (slot, byte) in out[start..].iter_mut().zip(noise) {
                    *slot = *byte;
                }
            }
        }
    }
    out
}

/// 200 cases from the fixed `seed`, so CI is reproducible; `PROPTEST_CASES` and
/// `PROPTEST_RNG_SEED` explore further (e.g. `PROPTEST_CASES=5000 PROPTEST_RNG_SEED=9`).
pub fn config(seed: u64) -> ProptestConfig {
    let mut config = ProptestConfig::default(); // reads the PROPTEST_* variables
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 200;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(seed);
    }
    config.failure_persistence = None;
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_apply_in_order_modulo_the_length() {
        let bytes = [1u8, 2, 3, 4];
        let edits = [
            Mutation::Flip { at: 5, mask: 0xFF },
            Mutation::Overwrite {
                at: 2,
                noise: vec![9, 9, 9],
            },
            Mutation::Truncate { keep: 7 },
        ];
        // Flip at 5 % 4 = 1; overwrite from 2 to the end; keep 7 % 4 = 3 bytes.
        assert_eq!(mutate(&bytes, &edits), vec![1, !2, 9]);
        assert!(mutate(&[], &edits).is_empty());
    }
}
