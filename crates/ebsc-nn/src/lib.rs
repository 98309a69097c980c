//! Neural-network pieces on tch (libtorch). For now: choosing the device a stage runs on.

pub mod coefficients;
pub mod device;
pub mod energy;
pub mod self_expressive;

pub use device::{DeviceChoice, resolve_device};
