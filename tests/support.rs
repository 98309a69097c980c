//! Helpers shared by the end-to-end tests.

use std::path::PathBuf;

/// The repository root, so tests can use `pipelines/` and `data/` as a user would.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the repository root")
        .to_path_buf()
}
