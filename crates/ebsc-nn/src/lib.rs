//! Neural-network pieces on tch (libtorch) shared by the training stages.
//!
//! - [`device`]: `--device` / `--threads`.
//! - [`seed`]: randomness from `(seed, epoch, step)`.
//! - [`optim`], [`schedule`]: optimizers with saveable state; warm-up + cosine.
//! - [`checkpoint`], [`trainer`]: atomic checkpoints and the shared training loop;
//!   [`loop_settings`]: the keys of that loop, one table for both training stages.
//! - [`encoders`]: `identity`, `mlp`, `convnet`, `resnet18` backbones and the projection
//!   head, saved with their architecture so that a later stage rebuilds them from the file.
//! - [`loss`]: NT-Xent. [`augment`]: batched augmentations on the device.
//! - [`data`]: `inputs.safetensors` on the device, in batches.
//! - [`monitor`]: kNN accuracy, a diagnostic. [`coding_rate`]: total coding rate and
//!   effective rank (against and for watching dictionary collapse).
//! - [`energy`], [`coefficients`], [`self_expressive`]: the energy network, the coefficient
//!   maps and the mini-batch self-expressive losses; [`dictionary`]: `d` from the encoder.
//! - [`trained`], [`topk`]: what the stages after training read of train's model (energy
//!   towers, encoder) and the blocked top-k coefficients they compute with it.

pub mod allocator;
pub mod augment;
pub mod checkpoint;
pub mod coding_rate;
pub mod coefficients;
pub mod data;
pub mod device;
pub mod dictionary;
pub mod encoders;
pub mod energy;
pub mod loop_settings;
pub mod loss;
pub mod monitor;
pub mod optim;
pub mod report;
pub mod ridge;
pub mod schedule;
pub mod seed;
pub mod self_expressive;
pub mod topk;
pub mod trained;
pub mod trainer;

pub use device::{DeviceArgs, DeviceChoice, resolve_device};
