//! The dictionary `d` (docs/method.md "Notation"): `normalize(h)` of the backbone or the
//! head's `z`, as `[train] dictionary` says. The train stage embeds every sample with it,
//! and out-of-sample assignment embeds new samples the same way.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::data::Inputs;
use crate::encoders::{Model, l2_normalize};

/// Which representation is the dictionary (`[train] dictionary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DictionarySource {
    Backbone,
    Head,
}

/// The dictionary representation `d` from backbone output `h` and head output `z`.
pub fn dictionary_of(source: DictionarySource, h: &Tensor, z: &Tensor) -> Tensor {
    match source {
        DictionarySource::Backbone => l2_normalize(h),
        DictionarySource::Head => z.shallow_clone(),
    }
}

/// `d` of a batch of model inputs (images in [0, 1] or features), eval mode, f32.
pub fn embed_batch(model: &Model, source: DictionarySource, x: &Tensor) -> Tensor {
    let _guard = tch::no_grad_guard();
    let h = model.backbone(x, false);
    let z = model.head(&h, false);
    dictionary_of(source, &h, &z).to_kind(Kind::Float)
}

/// `d` for the samples at `indices`, eval mode, no augmentation, in blocks.
pub fn embed_dictionary(
    model: &Model,
    inputs: &Inputs,
    source: DictionarySource,
    indices: &[i64],
) -> Tensor {
    let blocks: Vec<Tensor> = indices
        .chunks(512)
        .map(|chunk| embed_batch(model, source, &inputs.batch(chunk)))
        .collect();
    Tensor::cat(&blocks, 0)
}
