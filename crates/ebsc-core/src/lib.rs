//! The stage runner every `ebsc-*` binary is built on (docs/caching.md).
//!
//! A stage reads its section of a pipeline TOML ([`config`]), computes a key from that
//! section, the files it reads and the manifests of the stages upstream ([`hash`]), and
//! either reports "up to date" or runs, writing every output through a temp file and
//! rename ([`atomic`]) and the [`manifest`] last, under an exclusive [`lock`].

pub mod atomic;
pub mod cli;
pub mod config;
pub mod hash;
pub mod lock;
pub mod manifest;
pub mod member;
pub mod progress;
pub mod shard;
pub mod stage;

pub use atomic::AtomicFile;
pub use config::{ConfigError, Pipeline};
pub use progress::{Progress, ProgressMode};
pub use stage::{Freshness, Outcome, StageRun, StageRunner};
