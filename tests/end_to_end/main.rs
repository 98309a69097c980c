//! The end-to-end tests: whole pipelines on small data, through the same library calls as
//! the stage binaries, plus the scripts and launch files that call those binaries. One test
//! binary for all of them, so the largest dependencies (libtorch's bindings, Arrow, Parquet)
//! are linked once, and libtest runs the long pipelines side by side, one per core (each
//! keeps libtorch to one thread). `cargo test -p ebsc-tests --test end_to_end -- NAME` runs
//! those whose name contains NAME, e.g. `new_pipeline::`.

mod assign;
mod deploy_files;
mod geometry_start;
mod members;
mod new_pipeline;
mod prepare_pipelines;
mod stage_script;
mod subspaces_pipeline;
mod unlabelled_data;
