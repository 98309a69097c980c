//! Learning-rate schedule: linear warm-up, then cosine decay; a pure function of the step,
//! so a resumed run needs only the step number to continue it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Peak learning rate, reached at the end of warm-up.
    pub base_lr: f64,
    /// Steps of linear warm-up from `base_lr / warmup_steps` to `base_lr`.
    pub warmup_steps: u64,
    /// Length of the whole run; the cosine reaches `final_lr` at its last step.
    pub total_steps: u64,
    /// Learning rate at the end, as a fraction of `base_lr` (0 decays to zero).
    pub final_lr_ratio: f64,
}

impl Schedule {
    /// The learning rate of step `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.base_lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps);
        let final_lr = self.base_lr * self.final_lr_ratio;
        if decay_steps <= 1 {
            return self.base_lr;
        }
        // Progress runs 0 → 1 over the decay steps, so the last step gets exactly final_lr.
        let progress = ((step - self.warmup_steps) as f64 / (decay_steps - 1) as f64).min(1.0);
        final_lr + 0.5 * (self.base_lr - final_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let s = Schedule {
            base_lr: 1.0,
            warmup_steps: 4,
            total_steps: 9,
            final_lr_ratio: 0.1,
        };
        // Warm-up: 1/4, 2/4, 3/4, 4/4.
        let lrs: Vec<f64> = (0..9).map(|t| s.lr_at(t)).collect();
        assert_eq!(&lrs[..4], &[0.25, 0.5, 0.75, 1.0]);
        // Decay over steps 4..=8, progress 0, 1/4, 1/2, 3/4, 1:
        // 0.1 + 0.45·(1 + cos(πp)) → 1.0, 0.868198, 0.55, 0.231802, 0.1.
        let expected = [1.0, 0.868_198, 0.55, 0.231_802, 0.1];
        for (got, want) in lrs[4..].iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert!((s.lr_at(100) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn no_warmup_starts_at_base() {
        let s = Schedule {
            base_lr: 0.5,
            warmup_steps: 0,
            total_steps: 1,
            final_lr_ratio: 0.0,
        };
        assert_eq!(s.lr_at(0), 0.5);
    }
}
