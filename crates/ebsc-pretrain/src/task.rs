//! SimCLR as a [`TrainTask`]: per step, a batch from the epoch's permutation, two augmented
//! views, one forward pass over both, NT-Xent on the head outputs.

use ebsc_nn::augment::{AugmentConfig, augment};
use ebsc_nn::data::Inputs;
use ebsc_nn::encoders::Model;
use ebsc_nn::loss::nt_xent;
use ebsc_nn::monitor::knn_accuracy;
use ebsc_nn::seed::{EpochOrder, step_rng};
use ebsc_nn::trainer::{StepAt, TrainTask};
use tch::{Kind, Tensor};

use crate::embed::embed;

/// Labelled samples the kNN monitor scores, and its k.
pub struct KnnSet {
    pub indices: Vec<i64>,
    pub labels: Vec<i64>,
    pub k: i64,
}

pub struct Simclr<'a> {
    pub model: &'a Model,
    pub inputs: &'a Inputs,
    pub augment: &'a AugmentConfig,
    pub temperature: f64,
    pub batch_size: usize,
    pub seed: u64,
    /// Autocast (libtorch's CUDA default, fp16) for the forward pass; CUDA only.
    pub mixed_precision: bool,
    /// The kNN monitor's samples; `None` when off.
    pub knn: Option<KnnSet>,
    /// The current epoch's sample order.
    pub order: EpochOrder,
}

impl Simclr<'_> {
    /// The batch of a step: a slice of the epoch's permutation (derived from seed and
    /// epoch alone, so a resumed run sees the same batches).
    fn batch_indices(&mut self, at: &StepAt) -> Vec<i64> {
        let n = self.inputs.len();
        self.order
            .batch(self.seed, n, at.epoch, at.step_in_epoch, self.batch_size)
    }

    /// The two augmented views of a step, stacked `[2B, ...]`.
    pub fn views(&mut self, at: &StepAt) -> Tensor {
        let indices = self.batch_indices(at);
        let x = self.inputs.batch(&indices);
        let mut rng = step_rng(self.seed, "augment", at.epoch, at.global_step);
        let v1 = augment(&x, self.augment, &mut rng);
        let v2 = augment(&x, self.augment, &mut rng);
        Tensor::cat(&[v1, v2], 0)
    }
}

impl Simclr<'_> {
    /// NT-Xent of the model on stacked views `[2B, ...]`, one forward pass in train mode.
    pub fn loss_on(&self, views: &Tensor) -> Tensor {
        let b = views.size()[0] / 2;
        let model = self.model;
        let z = tch::autocast(self.mixed_precision, || {
            let h = model.backbone(views, true);
            model.head(&h, true)
        })
        .to_kind(Kind::Float);
        nt_xent(&z.narrow(0, 0, b), &z.narrow(0, b, b), self.temperature)
    }
}

impl TrainTask for Simclr<'_> {
    fn loss_terms(&self) -> Vec<String> {
        vec!["ssl".into()]
    }

    fn step(&mut self, at: &StepAt) -> anyhow::Result<Vec<Tensor>> {
        let views = self.views(at);
        Ok(vec![self.loss_on(&views)])
    }

    fn monitors(&self) -> Vec<String> {
        if self.knn.is_some() {
            vec!["knn_accuracy".into()]
        } else {
            Vec::new()
        }
    }

    fn end_epoch(&mut self, _epoch: u64) -> anyhow::Result<Vec<f64>> {
        let Some(knn) = &self.knn else {
            return Ok(Vec::new());
        };
        let (h, _) = embed(self.model, self.inputs, &knn.indices, 512);
        Ok(vec![knn_accuracy(&h, &knn.labels, knn.k)])
    }
}
