//! Writing a prepared dataset: `samples.parquet` and `inputs.safetensors` (docs/artifacts.md).

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use ebsc_core::{AtomicFile, StageRun};
use ebsc_io::artifacts::prepare::{FEATURES_TENSOR, IMAGES_TENSOR, INPUTS, SAMPLES};
use ebsc_io::{SampleRow, TensorData, write_samples, write_tensors};

use crate::dataset::{Dataset, Inputs};

pub fn write(run: &mut StageRun, dataset: &Dataset) -> anyhow::Result<()> {
    let shape = write_files(dataset, |name| run.create_output(name))?;
    let n = dataset.len();
    let name = tensor_name(dataset);
    run.stat("n_samples", n);
    run.stat("tensor", name);
    run.stat("shape", &shape);
    run.stat("n_classes", dataset.class_names.len());
    run.stat("class_counts", class_counts(dataset));
    run.stat("split_counts", split_counts(dataset));
    run.log(format!(
        "{n} samples, {name} {shape:?}, {} classes",
        dataset.class_names.len()
    ));
    Ok(())
}

/// Writes both files into `dir` (created if missing), each atomically, with no manifest:
/// the standalone mode's outputs. Returns the inputs tensor's shape.
pub fn write_into(dir: &std::path::Path, dataset: &Dataset) -> anyhow::Result<Vec<usize>> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    write_files(dataset, |name| AtomicFile::create(&dir.join(name)))
}

fn tensor_name(dataset: &Dataset) -> &'static str {
    match &dataset.inputs {
        Inputs::Images { .. } => IMAGES_TENSOR,
        Inputs::Features { .. } => FEATURES_TENSOR,
    }
}

/// `samples.parquet`, then `inputs.safetensors`, each through a file from `create`
/// (committed when whole); returns the inputs tensor's shape.
fn write_files(
    dataset: &Dataset,
    mut create: impl FnMut(&str) -> anyhow::Result<AtomicFile>,
) -> anyhow::Result<Vec<usize>> {
    let rows = sample_rows(dataset)?;
    let mut file = create(SAMPLES.file)?;
    write_samples(&mut file, &rows).map_err(|e| write_error(&file, &e))?;
    file.commit()?;

    let n = dataset.len();
    let (name, shape, data) = match &dataset.inputs {
        Inputs::Images {
            data,
            channels,
            height,
            width,
        } => (
            IMAGES_TENSOR,
            vec![n, *channels, *height, *width],
            TensorData::U8(data.clone()),
        ),
        Inputs::Features { data, dim } => (
            FEATURES_TENSOR,
            vec![n, *dim],
            TensorData::F32(data.clone()),
        ),
    };
    let metadata = HashMap::from([(
        "class_names".to_string(),
        serde_json::to_string(&dataset.class_names).context("class names")?,
    )]);
    let mut file = create(INPUTS.file)?;
    write_tensors(&mut file, &[(name, shape.clone(), &data)], &metadata)
        .map_err(|e| write_error(&file, &e))?;
    file.commit()?;
    Ok(shape)
}

/// `<path>: cannot write: <cause>`, one line: the writers wrap IO errors in their own (a
/// full disk read "External: File too large (os error 27): File too large (os error 27)").
fn write_error(file: &AtomicFile, error: &anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: cannot write: {}",
        file.destination().display(),
        error.root_cause()
    )
}

fn sample_rows(dataset: &Dataset) -> anyhow::Result<Vec<SampleRow>> {
    anyhow::ensure!(
        dataset.len() <= u32::MAX as usize,
        "{} samples exceed the u32 sample index",
        dataset.len()
    );
    Ok(dataset
        .samples
        .iter()
        .enumerate()
        .map(|(index, sample)| SampleRow {
            index: index as u32,
            label: sample.label,
            label_name: dataset.label_name(sample.label).map(str::to_string),
            source: sample.source.clone(),
            split: sample.split.clone(),
        })
        .collect())
}

fn class_counts(dataset: &Dataset) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for sample in &dataset.samples {
        let name = dataset.label_name(sample.label).unwrap_or("(unknown)");
        *counts.entry(name.to_string()).or_insert(0) += 1;
    }
    counts
}

fn split_counts(dataset: &Dataset) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for sample in &dataset.samples {
        *counts.entry(sample.split.clone()).or_insert(0) += 1;
    }
    counts
}
