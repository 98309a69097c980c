//! `ebsc-prepare`: reads raw data into the pipeline's `samples.parquet` and
//! `inputs.safetensors` (docs/artifacts.md), the first stage of every pipeline.

pub mod config;
pub mod dataset;
pub mod export;
pub mod output;
pub mod pipeline_cli;
pub mod scaffold;
pub mod select;
pub mod sources;
pub mod standalone;

use std::path::PathBuf;

use ebsc_core::cli::StageArgs;
use ebsc_core::{Outcome, Pipeline, StageRunner};

use crate::config::{PrepareConfig, SourceConfig};
use crate::dataset::Dataset;

pub const STAGE: &str = ebsc_io::artifacts::prepare::STAGE;
/// Bump when the outputs for a given config change meaning (2: image folders keep the
/// files' channel count).
pub const STAGE_VERSION: u32 = 2;

#[derive(Debug, clap::Parser)]
#[command(
    name = "ebsc-prepare",
    version,
    about = "Read raw data into samples.parquet and inputs.safetensors"
)]
pub struct Args {
    #[command(flatten)]
    pub stage: StageArgs,
    /// Standalone: write samples.parquet and inputs.safetensors into DIR, with no manifest,
    /// from the pipeline's whole source (its splits, no subset) or from --data.
    #[arg(long, value_name = "DIR", conflicts_with = "force")]
    pub out: Option<PathBuf>,
    /// With --out: read this folder or table instead, with the pipeline's source settings
    /// (an image folder keeps its resize and grayscale).
    #[arg(long, value_name = "PATH", requires = "out")]
    pub data: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let pipeline = Pipeline::load(&args.stage.pipeline)?;
    let config = PrepareConfig::from_pipeline(&pipeline)?;
    if let Some(out) = &args.out {
        return standalone::run(&config, args.data.as_deref(), out);
    }
    let mut runner = StageRunner::new(&pipeline, &args.stage.runs_dir, STAGE, STAGE_VERSION)
        .config(&config)
        .progress(args.stage.progress);
    for path in config.source.input_paths() {
        anyhow::ensure!(path.exists(), "{}: not found", path.display());
        runner = runner.input(path);
    }
    runner.run(args.stage.force, |run| {
        run.log(format!("reading {}", describe(&config.source)));
        let dataset = read_source(&config.source)?;
        anyhow::ensure!(!dataset.is_empty(), "the source holds no samples");
        let dataset = select::apply(dataset, &config.selection, run.seed())?;
        anyhow::ensure!(!dataset.is_empty(), "the selection keeps no samples");
        output::write(run, &dataset)
    })
}

pub fn read_source(source: &SourceConfig) -> anyhow::Result<Dataset> {
    match source {
        SourceConfig::Idx(c) => sources::idx::read(c),
        SourceConfig::Cifar(c) => sources::cifar::read(c),
        SourceConfig::ImageFolder(c) => sources::image_folder::read(c),
        SourceConfig::Table(c) => sources::table::read(c),
        SourceConfig::SyntheticSubspaces(c) => sources::synthetic::read(c),
    }
}

pub(crate) fn describe(source: &SourceConfig) -> String {
    match source {
        SourceConfig::SyntheticSubspaces(c) => format!(
            "synthetic subspaces: {} × dim {} in R^{}",
            c.n_subspaces, c.subspace_dim, c.ambient_dim
        ),
        other => other
            .input_paths()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}
