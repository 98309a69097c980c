//! The artifact catalogue: every file a stage writes, once, with its format, its schema or
//! tensor names and the functions that read and write it (docs/artifacts.md describes the
//! same files for people). Stages name their outputs and their upstream inputs only through
//! these constants, and the stage runner keys a stage on the upstream artifacts it reads,
//! so a file name lives in one place.
//!
//! ```text
//! prepare ─► samples.parquet, inputs.safetensors
//! pretrain ─► encoder.safetensors, features.safetensors, metrics.parquet, report/
//! train ─► model.safetensors, features.safetensors, metrics.parquet, report/
//! affinity ─► coefficients.parquet, affinity.parquet
//! cluster ─► assignments.parquet, metrics.json, report/
//! assign (after the pipeline, on any input) ─► assignments.parquet
//! ```

use std::path::{Path, PathBuf};

use arrow_schema::Schema;

/// What an artifact's file holds.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// A Parquet table. `schema` is `None` where the columns depend on the run (a metrics
    /// log has one column per logged quantity).
    Parquet {
        schema: Option<fn() -> Schema>,
    },
    /// safetensors; `tensors` are the names a reader may rely on (empty: a whole
    /// `VarStore` under PyTorch names).
    Safetensors {
        tensors: &'static [&'static str],
    },
    Json,
    Markdown,
    /// A figure drawn twice: `<file>.png` and `<file>.svg`.
    Figure,
}

/// One output of one stage: `<runs>/<pipeline>/<stage>/<file>`.
#[derive(Debug, Clone, Copy)]
pub struct Artifact {
    pub stage: &'static str,
    /// Path inside the stage folder (a stem for a figure).
    pub file: &'static str,
    pub format: Format,
}

impl Artifact {
    /// Its path inside `stage_dir`, the folder of the stage that writes it.
    pub fn path(&self, stage_dir: &Path) -> PathBuf {
        stage_dir.join(self.file)
    }

    /// The files it is made of, as the stage's manifest lists them.
    pub fn files(&self) -> Vec<String> {
        match self.format {
            Format::Figure => vec![format!("{}.png", self.file), format!("{}.svg", self.file)],
            _ => vec![self.file.to_string()],
        }
    }
}

/// The folder of figures and notes a stage writes for people; no stage reads it.
pub const REPORT_DIR: &str = "report";

/// The stages in run order.
pub const STAGES: [&str; 5] = [
    prepare::STAGE,
    pretrain::STAGE,
    train::STAGE,
    affinity::STAGE,
    cluster::STAGE,
];

/// `ebsc-prepare`: the samples and their inputs.
pub mod prepare {
    use super::{Artifact, Format};

    pub const STAGE: &str = "prepare";
    /// `index u32, label i32 (null when unknown), label_name utf8, source utf8, split utf8`,
    /// one row per sample in sample order. Written by [`crate::write_samples`]; read whole
    /// by [`crate::read_samples`], its labels by [`crate::labels::read_labels`].
    pub const SAMPLES: Artifact = Artifact {
        stage: STAGE,
        file: "samples.parquet",
        format: Format::Parquet {
            schema: Some(crate::samples::samples_schema),
        },
    };
    /// `images` u8 `[N, C, H, W]` or `features` f32 `[N, D]`, class names in the metadata.
    /// Written by [`crate::write_tensors`], read by [`crate::TensorFile`].
    pub const INPUTS: Artifact = Artifact {
        stage: STAGE,
        file: "inputs.safetensors",
        format: Format::Safetensors {
            tensors: &[IMAGES_TENSOR, FEATURES_TENSOR],
        },
    };
    /// The inputs tensor of image data sets.
    pub const IMAGES_TENSOR: &str = "images";
    /// The inputs tensor of feature tables.
    pub const FEATURES_TENSOR: &str = "features";
}

/// `ebsc-pretrain`: the self-supervised encoder.
pub mod pretrain {
    use super::{Artifact, Format};

    pub const STAGE: &str = "pretrain";
    /// Backbone and projection head under PyTorch names, the architecture under the
    /// metadata key `ebsc.encoder`. Written and read by `ebsc_nn::encoders`.
    pub const ENCODER: Artifact = Artifact {
        stage: STAGE,
        file: "encoder.safetensors",
        format: Format::Safetensors { tensors: &[] },
    };
    /// `backbone` f32 `[N, H]` and `head` f32 `[N, Z]` for every sample.
    pub const FEATURES: Artifact = Artifact {
        stage: STAGE,
        file: "features.safetensors",
        format: Format::Safetensors {
            tensors: &[BACKBONE_TENSOR, HEAD_TENSOR],
        },
    };
    pub const BACKBONE_TENSOR: &str = "backbone";
    pub const HEAD_TENSOR: &str = "head";
    /// One row per optimiser step ([`crate::MetricsLog`]).
    pub const METRICS: Artifact = super::metrics_log(STAGE);
    pub const TRAINING_FIGURE: Artifact = super::training_figure(STAGE);
    pub const REPORT: Artifact = super::report(STAGE);
}

/// `ebsc-train`: the encoder and energy network trained with the coefficients.
pub mod train {
    use super::{Artifact, Format};

    pub const STAGE: &str = "train";
    /// Encoder, head, energy towers and `energy.threshold` under PyTorch names; the
    /// metadata key `energy` holds the energy network's shape and map and the encoder
    /// spec. Written by the train stage, read by `ebsc_nn::trained`.
    pub const MODEL: Artifact = Artifact {
        stage: STAGE,
        file: "model.safetensors",
        format: Format::Safetensors { tensors: &[] },
    };
    /// `dictionary` f32 `[N, D]`: every sample's dictionary atom.
    pub const FEATURES: Artifact = Artifact {
        stage: STAGE,
        file: "features.safetensors",
        format: Format::Safetensors {
            tensors: &[DICTIONARY_TENSOR],
        },
    };
    pub const DICTIONARY_TENSOR: &str = "dictionary";
    /// One row per optimiser step with the coefficient diagnostics ([`crate::MetricsLog`]).
    pub const METRICS: Artifact = super::metrics_log(STAGE);
    pub const TRAINING_FIGURE: Artifact = super::training_figure(STAGE);
    pub const REPORT: Artifact = super::report(STAGE);
}

/// `ebsc-affinity`: the coefficients over all N×N pairs and the graph.
pub mod affinity {
    use super::{Artifact, Format};

    pub const STAGE: &str = "affinity";
    /// `row u32, col u32, value f32`: the top-k signed coefficients per row, sorted.
    /// Written by [`crate::write_triplets`], read by [`crate::read_triplets`].
    pub const COEFFICIENTS: Artifact = Artifact {
        stage: STAGE,
        file: "coefficients.parquet",
        format: Format::Parquet {
            schema: Some(crate::triplets::triplets_schema),
        },
    };
    /// `row u32, col u32, value f32`: the symmetric graph cluster reads, sorted.
    pub const AFFINITY: Artifact = Artifact {
        stage: STAGE,
        file: "affinity.parquet",
        format: Format::Parquet {
            schema: Some(crate::triplets::triplets_schema),
        },
    };
}

/// `ebsc-cluster`: spectral clustering, its scores and figures.
pub mod cluster {
    use super::{Artifact, Format};

    pub const STAGE: &str = "cluster";
    /// `index u32, cluster u32, label i32 (null when unknown), source utf8 (the sample's
    /// origin from samples.parquet: an image file's path; null when unknown)`, one row per
    /// sample. Written by [`crate::assignments::write_assignments`], read by
    /// [`crate::assignments::read_assignment_rows`].
    pub const ASSIGNMENTS: Artifact = Artifact {
        stage: STAGE,
        file: "assignments.parquet",
        format: Format::Parquet {
            schema: Some(crate::assignments::assignments_schema),
        },
    };
    /// Scores, confusion matrix, eigenvalues and phase timings (`ebsc_cluster::outputs`).
    pub const METRICS: Artifact = Artifact {
        stage: STAGE,
        file: "metrics.json",
        format: Format::Json,
    };
    pub const AFFINITY_FIGURE: Artifact = figure("report/affinity");
    /// Only with labels; a run without them removes an old one.
    pub const CONFUSION_FIGURE: Artifact = figure("report/confusion");
    pub const EMBEDDING_FIGURE: Artifact = figure("report/embedding");
    pub const SPECTRUM_FIGURE: Artifact = figure("report/spectrum");
    /// Only for image data (prepare's `images` tensor): each cluster's most and least
    /// representative samples; a run without images removes an old one.
    pub const GALLERY_FIGURE: Artifact = figure("report/gallery");
    /// In the order the report shows them.
    pub const FIGURES: [Artifact; 5] = [
        AFFINITY_FIGURE,
        CONFUSION_FIGURE,
        EMBEDDING_FIGURE,
        SPECTRUM_FIGURE,
        GALLERY_FIGURE,
    ];
    pub const REPORT: Artifact = super::report(STAGE);

    const fn figure(stem: &'static str) -> Artifact {
        Artifact {
            stage: STAGE,
            file: stem,
            format: Format::Figure,
        }
    }
}

/// `ebsc-assign`: samples outside the pipeline's fit (its own whole source, or new data)
/// assigned to the clusters of a trained pipeline. Not a stage of the pipeline: its folder
/// is `<runs>/<pipeline>/assign/<name>/`, one per input, holding `input/` (prepare's
/// standalone outputs: `samples.parquet`, `inputs.safetensors`), `parts/` when sharded,
/// and the result.
pub mod assign {
    use super::{Artifact, Format};

    pub const STAGE: &str = "assign";
    /// `index u32, cluster u32, confidence f32`, then `label i32` and `source utf8` when
    /// the input has them, one row per input sample. Written by
    /// [`crate::assigned::write_assigned`], read by [`crate::assigned::read_assigned`].
    pub const ASSIGNMENTS: Artifact = Artifact {
        stage: STAGE,
        file: "assignments.parquet",
        format: Format::Parquet {
            schema: Some(crate::assigned::assigned_schema),
        },
    };
    /// The folder of an assignment's prepared input.
    pub const INPUT_DIR: &str = "input";
    /// The folder of a sharded run's parts.
    pub const PARTS_DIR: &str = "parts";
}

/// A training stage's log, one row per optimiser step.
pub const fn metrics_log(stage: &'static str) -> Artifact {
    Artifact {
        stage,
        file: "metrics.parquet",
        format: Format::Parquet { schema: None },
    }
}

/// A training stage's curves, drawn from its metrics log.
pub const fn training_figure(stage: &'static str) -> Artifact {
    Artifact {
        stage,
        file: "report/training",
        format: Format::Figure,
    }
}

/// A stage's `report/report.md`.
pub const fn report(stage: &'static str) -> Artifact {
    Artifact {
        stage,
        file: "report/report.md",
        format: Format::Markdown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Artifact; 23] = [
        prepare::SAMPLES,
        prepare::INPUTS,
        pretrain::ENCODER,
        pretrain::FEATURES,
        pretrain::METRICS,
        pretrain::TRAINING_FIGURE,
        pretrain::REPORT,
        train::MODEL,
        train::FEATURES,
        train::METRICS,
        train::TRAINING_FIGURE,
        train::REPORT,
        affinity::COEFFICIENTS,
        affinity::AFFINITY,
        cluster::ASSIGNMENTS,
        cluster::METRICS,
        cluster::AFFINITY_FIGURE,
        cluster::CONFUSION_FIGURE,
        cluster::EMBEDDING_FIGURE,
        cluster::SPECTRUM_FIGURE,
        cluster::GALLERY_FIGURE,
        cluster::REPORT,
        assign::ASSIGNMENTS,
    ];

    #[test]
    fn no_two_artifacts_of_a_stage_share_a_file() {
        let mut seen = std::collections::BTreeSet::new();
        for artifact in ALL {
            for file in artifact.files() {
                assert!(
                    seen.insert((artifact.stage, file.clone())),
                    "{}/{file} listed twice",
                    artifact.stage
                );
            }
        }
    }

    #[test]
    fn only_reports_and_figures_live_in_the_report_folder() {
        for artifact in ALL {
            let for_people = matches!(artifact.format, Format::Figure | Format::Markdown);
            assert_eq!(
                artifact.file.starts_with(&format!("{REPORT_DIR}/")),
                for_people,
                "{}",
                artifact.file
            );
        }
    }

    #[test]
    fn figures_are_two_files_and_tables_have_their_schema() {
        assert_eq!(
            cluster::SPECTRUM_FIGURE.files(),
            ["report/spectrum.png", "report/spectrum.svg"]
        );
        assert_eq!(
            prepare::SAMPLES.path(Path::new("runs/p/prepare")),
            Path::new("runs/p/prepare/samples.parquet")
        );
        let Format::Parquet {
            schema: Some(schema),
        } = cluster::ASSIGNMENTS.format
        else {
            panic!("assignments is a Parquet table with a fixed schema");
        };
        let names: Vec<String> = schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["index", "cluster", "label", "source"]);
    }
}
