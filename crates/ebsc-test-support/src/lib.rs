//! `ebsc-test-support`: what the crates' tests share, so each check is written once.
//! A dev-dependency only; nothing here ships in a binary.
//!
//! - [`cli`]: run a stage binary as a user would and hold its exit and output; the
//!   "one error line" contract of every binary (`<name>: error: …`, no panic).
//! - [`fuzz`]: byte-level mutations of valid files for the readers' property tests,
//!   and the reproducible proptest configuration they run under.
//! - [`numpy`]: `.npy` files as numpy writes them.
//! - [`images`]: images encoded as PNG bytes.

pub mod cli;
pub mod fuzz;
pub mod images;
pub mod matlab;
pub mod numpy;
