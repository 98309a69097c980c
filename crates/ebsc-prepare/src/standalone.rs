//! Standalone mode (`--out DIR`): the pipeline's `[prepare]` reading applied to the
//! pipeline's whole source (no seeded subset: every sample, its splits still applied) or
//! to another folder or table (`--data PATH`), written as `samples.parquet` and
//! `inputs.safetensors` into DIR with no manifest. Out-of-sample assignment reads them:
//! new data goes through the same sources, and the same image size and channels, as the
//! data the pipeline was trained on.

use std::path::Path;
use std::time::Instant;

use ebsc_core::Outcome;

use crate::config::{PrepareConfig, SelectionConfig, SourceConfig};
use crate::scaffold::detect::{SourceKeys, detect};

/// The source that reads `data` for a pipeline whose source is `trained`: what `data`
/// holds decides the kind; an image folder keeps the pipeline's `resize` and `grayscale`,
/// and a table the pipeline's `image_shape` (the samples must come out as the encoder was
/// trained on them).
pub fn source_for(trained: &SourceConfig, data: &Path) -> anyhow::Result<SourceConfig> {
    let detected = detect(data, &SourceKeys::default())?;
    Ok(match (trained, detected) {
        (SourceConfig::ImageFolder(trained), SourceConfig::ImageFolder(mut new)) => {
            new.resize = trained.resize;
            new.grayscale = trained.grayscale;
            SourceConfig::ImageFolder(new)
        }
        (SourceConfig::Table(trained), SourceConfig::Table(mut new)) => {
            new.image_shape = trained.image_shape;
            SourceConfig::Table(new)
        }
        (_, detected) => detected,
    })
}

/// Reads `data` (or, without it, the pipeline's own source, all of it) and writes the two
/// files into `out`.
pub fn run(config: &PrepareConfig, data: Option<&Path>, out: &Path) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let (source, selection) = match data {
        Some(data) => (
            source_for(&config.source, data)?,
            SelectionConfig::default(),
        ),
        None => (
            config.source.clone(),
            SelectionConfig {
                splits: config.selection.splits.clone(),
                subset: None,
            },
        ),
    };
    let dataset = crate::read_source(&source)?;
    anyhow::ensure!(!dataset.is_empty(), "the source holds no samples");
    // No subset, so the seed plays no part.
    let dataset = crate::select::apply(dataset, &selection, 0)?;
    anyhow::ensure!(!dataset.is_empty(), "the selection keeps no samples");
    let shape = crate::output::write_into(out, &dataset)?;
    eprintln!(
        "{}: {} samples, {shape:?}, from {} into {}",
        crate::STAGE,
        dataset.len(),
        crate::describe(&source),
        out.display()
    );
    Ok(Outcome::Ran {
        // No manifest: a name for what was read, for the closing line.
        key: ebsc_core::hash::sha256_bytes(format!("{source:?} {shape:?}").as_bytes()),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::image_folder::ImageFolderConfig;

    #[test]
    fn an_image_folder_keeps_the_pipelines_size_and_channels() {
        let dir = tempfile::tempdir().unwrap();
        let image = image::RgbImage::from_pixel(5, 4, image::Rgb([10, 20, 30]));
        image.save(dir.path().join("a.png")).unwrap();
        let trained = SourceConfig::ImageFolder(ImageFolderConfig {
            path: "elsewhere".into(),
            resize: Some([8, 8]),
            grayscale: Some(true),
            labels: None,
            labels_file: None,
        });
        let SourceConfig::ImageFolder(new) = source_for(&trained, dir.path()).unwrap() else {
            panic!("an image folder");
        };
        assert_eq!(new.path, dir.path());
        assert_eq!((new.resize, new.grayscale), (Some([8, 8]), Some(true)));
        let err = source_for(&trained, &dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
    }

    #[test]
    fn a_table_keeps_the_pipelines_image_shape() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("more.csv");
        std::fs::write(&csv, "label,pixel1,pixel2,pixel3,pixel4\n1,0,9,255,3\n").unwrap();
        let trained = SourceConfig::Table(crate::sources::table::TableConfig {
            image_shape: Some([2, 2]),
            ..crate::sources::table::TableConfig::at("pixels.csv")
        });
        let SourceConfig::Table(new) = source_for(&trained, &csv).unwrap() else {
            panic!("a table");
        };
        assert_eq!(new.path, csv);
        assert_eq!(new.image_shape, Some([2, 2]));
    }
}
