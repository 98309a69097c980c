//! Features of samples in eval mode, no augmentation.

use ebsc_nn::data::Inputs;
use ebsc_nn::encoders::Model;
use tch::{Kind, Tensor};

/// `(backbone, head)` features of the samples at `indices`, in blocks of `block`, f32.
pub fn embed(model: &Model, inputs: &Inputs, indices: &[i64], block: usize) -> (Tensor, Tensor) {
    let _guard = tch::no_grad_guard();
    let mut hs = Vec::new();
    let mut zs = Vec::new();
    for chunk in indices.chunks(block.max(1)) {
        let x = inputs.batch(chunk);
        let h = model.backbone(&x, false);
        zs.push(model.head(&h, false).to_kind(Kind::Float));
        hs.push(h.to_kind(Kind::Float));
    }
    (Tensor::cat(&hs, 0), Tensor::cat(&zs, 0))
}
