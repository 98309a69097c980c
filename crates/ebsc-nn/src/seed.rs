//! Randomness derived from `(seed, stream, epoch, step)` (docs/caching.md).
//!
//! Every random draw of a training run (batch order, augmentation parameters, noise, weight
//! initialisation) comes from a generator built here from the pipeline seed and *where* in
//! the run it is used, never from a generator that carries state from step to step. A run
//! resumed at step `s` therefore draws exactly the numbers an uninterrupted run draws at `s`,
//! on any device and whatever else runs in the process (libtorch's global generator is not
//! used).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator type handed out; fast and reproducible across platforms.
pub type StepRng = ChaCha8Rng;

/// SplitMix64's finaliser: a bijective mix so that nearby inputs give unrelated outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit name for a stream, stable across builds (FNV-1a).
fn stream_id(stream: &str) -> u64 {
    stream.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A seed for one use: `stream` names what it is for (`"augment"`, `"batches"`, ...).
pub fn derive_seed(seed: u64, stream: &str, epoch: u64, step: u64) -> u64 {
    mix(mix(mix(seed ^ stream_id(stream)) ^ epoch) ^ step)
}

/// A generator for one use at one point of the run.
pub fn step_rng(seed: u64, stream: &str, epoch: u64, step: u64) -> StepRng {
    StepRng::seed_from_u64(derive_seed(seed, stream, epoch, step))
}

/// A permutation of `0..n` for one epoch (Fisher–Yates on [`step_rng`]).
pub fn epoch_permutation(seed: u64, epoch: u64, n: usize) -> Vec<usize> {
    use rand::Rng;
    let mut rng = step_rng(seed, "batches", epoch, 0);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// The sample order of the current epoch, drawn from (seed, epoch) alone: a step's batch
/// is a slice of it, so a resumed run sees the same batches as an uninterrupted one.
#[derive(Debug, Default)]
pub struct EpochOrder {
    current: Option<(u64, Vec<usize>)>,
}

impl EpochOrder {
    /// The `batch_size` sample indices of step `step_in_epoch` of `epoch`, over `n` samples.
    pub fn batch(
        &mut self,
        seed: u64,
        n: usize,
        epoch: u64,
        step_in_epoch: u64,
        batch_size: usize,
    ) -> Vec<i64> {
        if self.current.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.current = Some((epoch, epoch_permutation(seed, epoch, n)));
        }
        let order = &self.current.as_ref().expect("set above").1;
        let start = step_in_epoch as usize * batch_size;
        order[start..start + batch_size]
            .iter()
            .map(|&i| i as i64)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    #[test]
    fn same_place_same_numbers_other_place_other_numbers() {
        let draw = |epoch, step| step_rng(7, "augment", epoch, step).random::<u64>();
        assert_eq!(draw(1, 2), draw(1, 2));
        assert_ne!(draw(1, 2), draw(2, 1));
        assert_ne!(draw(0, 0), step_rng(7, "batches", 0, 0).random::<u64>());
        assert_ne!(draw(0, 0), step_rng(8, "augment", 0, 0).random::<u64>());
    }

    #[test]
    fn permutations_are_permutations_and_differ_by_epoch() {
        let a = epoch_permutation(3, 0, 50);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_permutation(3, 0, 50));
        assert_ne!(a, epoch_permutation(3, 1, 50));
    }
}
