//! Neural-network pieces on tch (libtorch). For now: choosing the device a stage runs on.

pub mod device;

pub use device::{DeviceChoice, resolve_device};
