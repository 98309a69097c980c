//! `samples.parquet`: `index u32, label i32 (null when unknown), label_name utf8,
//! source utf8, split utf8` — one row per sample, in sample order.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{Array, ArrayRef, Int32Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    pub index: u32,
    pub label: Option<i32>,
    pub label_name: Option<String>,
    pub source: String,
    pub split: String,
}

pub fn samples_schema() -> Schema {
    Schema::new(vec![
        Field::new("index", DataType::UInt32, false),
        Field::new("label", DataType::Int32, true),
        Field::new("label_name", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("split", DataType::Utf8, false),
    ])
}

/// Zstd-compressed Parquet, readable by pandas, polars, DuckDB and Spark alike.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .build()
}

pub fn write_samples<W: Write + Send>(writer: W, rows: &[SampleRow]) -> anyhow::Result<()> {
    let schema = Arc::new(samples_schema());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.index))),
        Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.label))),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.label_name.as_deref()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.source.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.split.as_str()),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).context("building samples table")?;
    let mut writer = ArrowWriter::try_new(writer, schema, Some(writer_properties()))
        .context("opening samples.parquet writer")?;
    writer.write(&batch).context("writing samples.parquet")?;
    writer.close().context("finishing samples.parquet")?;
    Ok(())
}

pub fn read_samples(path: &Path) -> anyhow::Result<Vec<SampleRow>> {
    let mut rows = Vec::new();
    for batch in record_batches(path)? {
        let batch = batch.with_context(|| format!("{}: cannot read", path.display()))?;
        let index = column::<UInt32Array>(&batch, "index", path)?;
        let label = column::<Int32Array>(&batch, "label", path)?;
        let label_name = column::<StringArray>(&batch, "label_name", path)?;
        let source = column::<StringArray>(&batch, "source", path)?;
        let split = column::<StringArray>(&batch, "split", path)?;
        for i in 0..batch.num_rows() {
            rows.push(SampleRow {
                index: index.value(i),
                label: label.is_valid(i).then(|| label.value(i)),
                label_name: label_name
                    .is_valid(i)
                    .then(|| label_name.value(i).to_string()),
                source: source.value(i).to_string(),
                split: split.value(i).to_string(),
            });
        }
    }
    for (position, row) in rows.iter().enumerate() {
        anyhow::ensure!(
            row.index as usize == position,
            "{}: column index: row {position} holds {}, expected {position} (rows must be in sample order)",
            path.display(),
            row.index
        );
    }
    Ok(rows)
}

/// The `label` (null: unknown) and `source` of some rows of a `samples.parquet`, what a
/// reader of many samples keeps of it (without the other columns' text).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelsAndSources {
    pub labels: Vec<Option<i32>>,
    pub sources: Vec<String>,
    /// Rows in the whole file.
    pub n_rows: usize,
    /// Whether any row of the whole file has a label.
    pub any_label: bool,
}

/// [`LabelsAndSources`] of the rows `rows`. Rows must be in index order.
pub fn read_labels_and_sources(
    path: &Path,
    rows: std::ops::Range<usize>,
) -> anyhow::Result<LabelsAndSources> {
    let mut labels = Vec::with_capacity(rows.len());
    let mut sources = Vec::with_capacity(rows.len());
    let mut position = 0usize;
    let mut any_label = false;
    for batch in record_batches(path)? {
        let batch = batch.with_context(|| format!("{}: cannot read", path.display()))?;
        let index = column::<UInt32Array>(&batch, "index", path)?;
        let label = column::<Int32Array>(&batch, "label", path)?;
        let source = column::<StringArray>(&batch, "source", path)?;
        for i in 0..batch.num_rows() {
            anyhow::ensure!(
                index.value(i) as usize == position,
                "{}: column index: row {position} holds {}, expected {position} (rows must be in sample order)",
                path.display(),
                index.value(i)
            );
            any_label |= label.is_valid(i);
            if rows.contains(&position) {
                labels.push(label.is_valid(i).then(|| label.value(i)));
                sources.push(source.value(i).to_string());
            }
            position += 1;
        }
    }
    Ok(LabelsAndSources {
        labels,
        sources,
        n_rows: position,
        any_label,
    })
}

/// The record batches of the Parquet file at `path`, errors naming it.
pub fn record_batches(path: &Path) -> anyhow::Result<ParquetRecordBatchReader> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{}: not a Parquet file", path.display()))?
        .build()
        .with_context(|| format!("{}: cannot read", path.display()))
}

/// A column of the expected Arrow type, or an error naming file, column and both types.
pub fn column<'a, T: Array + 'static>(
    batch: &'a RecordBatch,
    name: &str,
    path: &Path,
) -> anyhow::Result<&'a T> {
    let array = batch
        .column_by_name(name)
        .with_context(|| format!("{}: missing column `{name}`", path.display()))?;
    array.as_any().downcast_ref::<T>().with_context(|| {
        format!(
            "{}: column `{name}` has type {}, expected {}",
            path.display(),
            array.data_type(),
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("?")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_field() {
        let rows = vec![
            SampleRow {
                index: 0,
                label: Some(3),
                label_name: Some("3".into()),
                source: "t10k#0".into(),
                split: "test".into(),
            },
            SampleRow {
                index: 1,
                label: None,
                label_name: None,
                source: "t10k#1".into(),
                split: "test".into(),
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.parquet");
        write_samples(std::fs::File::create(&path).unwrap(), &rows).unwrap();
        assert_eq!(read_samples(&path).unwrap(), rows);
    }

    #[test]
    fn labels_and_sources_of_a_range() {
        let rows: Vec<SampleRow> = (0..5)
            .map(|i| SampleRow {
                index: i,
                label: (i != 2).then_some(i as i32 * 10),
                label_name: None,
                source: format!("f#{i}"),
                split: "all".into(),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.parquet");
        write_samples(std::fs::File::create(&path).unwrap(), &rows).unwrap();
        let read = read_labels_and_sources(&path, 2..3).unwrap();
        assert_eq!(
            (read.labels, read.n_rows, read.any_label),
            (vec![None], 5, true)
        );
        assert_eq!(read.sources, ["f#2"]);
    }

    #[test]
    fn wrong_file_or_type_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.parquet");
        std::fs::write(&path, b"not parquet").unwrap();
        let err = format!("{:#}", read_samples(&path).unwrap_err());
        assert!(err.contains("samples.parquet: not a Parquet file"), "{err}");
    }
}
