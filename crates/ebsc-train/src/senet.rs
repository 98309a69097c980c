//! `method = "senet"`, the baseline: `α·L_se` of the energy network alone on the frozen
//! dictionary of one view (no augmentation, no L_ebm, no encoder update).

use ebsc_nn::self_expressive::self_expressive_losses;
use ebsc_nn::trainer::{StepAt, TrainTask};
use tch::Tensor;

use crate::task::SelfExpressive;

pub struct SenetTask<'a> {
    pub core: SelfExpressive<'a>,
    /// The dictionary of every sample, computed once.
    dictionary: Tensor,
}

impl<'a> SenetTask<'a> {
    pub fn new(core: SelfExpressive<'a>, dictionary: Tensor) -> Self {
        SenetTask { core, dictionary }
    }
}

impl TrainTask for SenetTask<'_> {
    fn loss_terms(&self) -> Vec<String> {
        vec!["se".into()]
    }

    fn step(&mut self, at: &StepAt) -> anyhow::Result<Vec<Tensor>> {
        let indices = self.core.batch_indices(at);
        let index = Tensor::from_slice(&indices).to_device(self.dictionary.device());
        let d = self.dictionary.index_select(0, &index); // [B, D]
        let out = self_expressive_losses(
            self.core.energy,
            &self.core.threshold.value(),
            &self.core.weights(),
            &d,
            None,
            None,
        );
        self.core
            .threshold
            .bound_next_projection(out.threshold_ceiling.as_ref());
        let labels = self.core.labels_of(&indices);
        self.core.record(at, &out.coefficients, &labels, &labels);
        Ok(vec![out.se_loss * self.core.config.alpha])
    }

    fn after_step(&mut self, _at: &StepAt) -> anyhow::Result<()> {
        self.core.threshold.project();
        Ok(())
    }

    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        vec![self.core.diagnostics_state()]
    }

    fn load_state_tensors(&mut self, tensors: &[(String, Tensor)]) -> anyhow::Result<()> {
        for (name, t) in tensors {
            self.core.load_diagnostics(name, t)?;
        }
        Ok(())
    }
}
