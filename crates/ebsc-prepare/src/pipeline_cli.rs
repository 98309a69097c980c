//! The `ebsc-pipeline` command: `new` writes a pipeline for data on disk, `show` prints a
//! pipeline's merged settings, `clusters` lays an image-folder pipeline's result out as
//! one folder per cluster ([`crate::export`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::export::{self, ExportRequest};
use crate::scaffold::{self, NewRequest};

#[derive(Debug, clap::Parser)]
#[command(
    name = "ebsc-pipeline",
    version,
    about = "Write and inspect pipeline files"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    /// Where pipeline files live.
    #[arg(long, global = true, default_value = "pipelines")]
    pub pipelines_dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Inspect the data at DATA and write <pipelines-dir>/<NAME>.toml from the template that
    /// fits it: small-images (up to 5,000 crowded images or images near linear subspaces,
    /// and any set under 400), images (the others), features (a table).
    New {
        /// The pipeline's name, e.g. my-faces.
        name: String,
        /// A folder of images (in class subfolders, or without labels), a folder of IDX
        /// files, a CIFAR binary folder, or a feature table (.parquet; text: .csv, .tsv,
        /// .txt, .dat, .data, each also gzipped; .safetensors; .npy; .npz; .mat).
        data: PathBuf,
        /// Settings: n_clusters=K|auto (auto without labels), template=NAME, seed=S,
        /// label_column=COL, id_column=COL (tables), labels=none|folders|names (image folders;
        /// labels=none: a table without labels), grayscale=true, resize=[H,W],
        /// image_shape=[H,W]|none (a table's rows as gray images, or as features), or any
        /// section.key=value (e.g. train.epochs=50).
        #[arg(value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Replace the pipeline file when it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the settings a pipeline's stages read, with `extends` merged in.
    Show {
        /// A pipeline name in <pipelines-dir> or a path to a .toml file.
        pipeline: String,
    },
    /// For an image-folder pipeline that has run: FOLDER/cluster-00/, cluster-01/, … each
    /// with symbolic links to the original files of its samples (under their paths inside
    /// the image folder). The originals are never moved or changed. FOLDER must be new or
    /// empty, and outside the image folder.
    Clusters {
        /// A pipeline name in <pipelines-dir> or a path to a .toml file.
        pipeline: String,
        /// The folder to create.
        folder: PathBuf,
        /// Copy the files instead of linking to them.
        #[arg(long)]
        copy: bool,
        /// Where run folders live: <runs-dir>/<pipeline>/<stage>/.
        #[arg(long, default_value = "data/runs")]
        runs_dir: PathBuf,
    },
}

pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    match &args.command {
        Command::New {
            name,
            data,
            settings,
            force,
        } => {
            let created = scaffold::new_pipeline(&NewRequest {
                name: name.clone(),
                data: data.clone(),
                overrides: settings.clone(),
                pipelines_dir: args.pipelines_dir.clone(),
                force: *force,
            })?;
            let summary = &created.summary;
            writeln!(
                out,
                "new: {}: {} (mean cosine between samples {:.2}, {}{}{})",
                summary.source,
                summary.describe(),
                summary.mean_cosine,
                summary.span_words(),
                summary
                    .mirror_ratio
                    .map_or(String::new(), |r| format!(", mirror ratio {r:.2}")),
                summary
                    .stroke_share
                    .map_or(String::new(), |s| format!(", stroke share {s:.2}"))
            )?;
            writeln!(
                out,
                "new: template {} ({})",
                created.template.name(),
                created.template.purpose()
            )?;
            for note in &created.notes {
                writeln!(out, "new: {note}")?;
            }
            writeln!(out, "new: wrote {}", created.path.display())?;
            let target = if args.pipelines_dir == Path::new("pipelines") {
                name.clone()
            } else {
                created.path.display().to_string()
            };
            writeln!(out, "run it with: just run {target}")?;
            Ok(())
        }
        Command::Show { pipeline } => {
            let path = scaffold::pipeline_path(pipeline, &args.pipelines_dir);
            write!(out, "{}", scaffold::show(&path)?)?;
            Ok(())
        }
        Command::Clusters {
            pipeline,
            folder,
            copy,
            runs_dir,
        } => {
            let exported = export::export_clusters(&ExportRequest {
                pipeline: scaffold::pipeline_path(pipeline, &args.pipelines_dir),
                runs_dir: runs_dir.clone(),
                target: folder.clone(),
                copy: *copy,
            })?;
            writeln!(out, "clusters: {}", export::summary(&exported))?;
            if !exported.copied {
                writeln!(
                    out,
                    "clusters: the links point at the original files, which stay where they are"
                )?;
            }
            Ok(())
        }
    }
}
