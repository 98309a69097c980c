//! Per-sample labels from a Parquet file with a `label` column (i32 or i64, null when
//! unknown) and, optionally, `index` (must be the row number) and `label_name`:
//! prepare's `samples.parquet`, or any labels file a user brings to `ebsc-cluster`.
//! This is the one labels reader of the workspace; nothing here panics on data.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::triplets::{catch_reader_panic, parquet_error};

/// Class id → name (from `label_name`).
pub type ClassNames = BTreeMap<i32, String>;

/// The labels file's `label` column: one entry per sample, `None` when unknown.
pub fn read_labels(path: &Path) -> anyhow::Result<Vec<Option<i32>>> {
    read_labels_and_names(path).map(|(labels, _)| labels)
}

/// The labels of a pipeline's `n` samples, or an error when the file holds another count.
pub fn read_sample_labels(path: &Path, n: usize) -> anyhow::Result<Vec<Option<i32>>> {
    let labels = read_labels(path)?;
    anyhow::ensure!(
        labels.len() == n,
        "{}: {} rows, but the inputs hold {n} samples",
        path.display(),
        labels.len()
    );
    Ok(labels)
}

/// The labels, and class id → name from the `label_name` column when the file has one
/// (the first name seen for each label). Names only label figures: a missing or odd
/// `label_name` column gives no names, never an error. One pass over the file.
pub fn read_labels_and_names(path: &Path) -> anyhow::Result<(Vec<Option<i32>>, ClassNames)> {
    read_labels_file(path).map(|file| (file.labels, file.names))
}

/// Everything a labels file says of its samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelsFile {
    /// One entry per sample, `None` when unknown.
    pub labels: Vec<Option<i32>>,
    /// Class id → name, from `label_name`.
    pub names: ClassNames,
    /// Where each sample came from, from a text `source` column (`samples.parquet`: an image
    /// file's path, `file#row` for packed formats); `None` when the file has none. Like the
    /// names, a missing or odd column gives none, never an error.
    pub sources: Option<Vec<Option<String>>>,
}

/// The labels, class names and sources of a labels file, in one pass
/// ([`read_labels_and_names`], and the `source` column).
pub fn read_labels_file(path: &Path) -> anyhow::Result<LabelsFile> {
    catch_reader_panic(path, || read_labels_unguarded(path))
}

fn read_labels_unguarded(path: &Path) -> anyhow::Result<LabelsFile> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| parquet_error(path, "not a Parquet file", e))?
        .build()
        .map_err(|e| parquet_error(path, "cannot read", e))?;
    let (mut labels, mut names) = (Vec::new(), BTreeMap::new());
    // Sources while every batch has a text `source` column.
    let mut sources = Some(Vec::new());
    for batch in reader {
        let batch = batch.map_err(|e| parquet_error(path, "cannot read", e))?;
        check_index_column(&batch, labels.len(), path)?;
        let first = labels.len();
        append_labels(&batch, path, &mut labels)?;
        append_names(&batch, &labels[first..], &mut names);
        sources = sources.and_then(|mut sources| {
            append_sources(&batch, &mut sources)?;
            Some(sources)
        });
    }
    anyhow::ensure!(
        !labels.is_empty(),
        "{}: holds no samples (0 rows)",
        path.display()
    );
    Ok(LabelsFile {
        labels,
        names,
        sources,
    })
}

/// The batch's `source` column onto `out`; `None` when it has no text one.
fn append_sources(batch: &RecordBatch, out: &mut Vec<Option<String>>) -> Option<()> {
    let column = batch.column_by_name("source")?;
    match column.data_type() {
        DataType::Utf8 => out.extend(
            column
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(String::from)),
        ),
        DataType::LargeUtf8 => out.extend(
            column
                .as_string::<i64>()
                .iter()
                .map(|s| s.map(String::from)),
        ),
        _ => return None,
    }
    Some(())
}

fn append_names(batch: &RecordBatch, labels: &[Option<i32>], names: &mut ClassNames) {
    let Some(column) = batch.column_by_name("label_name") else {
        return;
    };
    let Some(column) = column.as_string_opt::<i32>() else {
        return;
    };
    for (label, name) in labels.iter().zip(column.iter()) {
        if let (Some(label), Some(name)) = (label, name) {
            names.entry(*label).or_insert_with(|| name.to_string());
        }
    }
}

/// `index`, when the file has it, must be the row number (samples.parquet's layout).
fn check_index_column(batch: &RecordBatch, first_row: usize, path: &Path) -> anyhow::Result<()> {
    let Some(array) = batch.column_by_name("index") else {
        return Ok(());
    };
    let values: Vec<Option<i64>> = match array.data_type() {
        DataType::UInt32 => array
            .as_primitive::<UInt32Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::Int32 => array
            .as_primitive::<Int32Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::Int64 => array.as_primitive::<Int64Type>().iter().collect(),
        other => anyhow::bail!(
            "{}: column `index` has type {other}, expected u32",
            path.display()
        ),
    };
    for (offset, value) in values.into_iter().enumerate() {
        let row = first_row + offset;
        anyhow::ensure!(
            value == Some(row as i64),
            "{}: column `index`: row {row} holds {}, expected {row} (rows must be in sample order)",
            path.display(),
            value.map_or("null".to_string(), |v| v.to_string())
        );
    }
    Ok(())
}

fn append_labels(
    batch: &RecordBatch,
    path: &Path,
    out: &mut Vec<Option<i32>>,
) -> anyhow::Result<()> {
    let array = batch
        .column_by_name("label")
        .with_context(|| format!("{}: missing column `label`", path.display()))?;
    match array.data_type() {
        DataType::Int32 => out.extend(array.as_primitive::<Int32Type>().iter()),
        DataType::Int64 => {
            for value in array.as_primitive::<Int64Type>().iter() {
                let label = value.map(i32::try_from).transpose().ok().with_context(|| {
                    format!(
                        "{}: column `label` holds {}, outside i32",
                        path.display(),
                        value.unwrap_or_default()
                    )
                })?;
                out.push(label);
            }
        }
        other => anyhow::bail!(
            "{}: column `label` has type {other}, expected i32 (null when unknown)",
            path.display()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array, UInt32Array};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    #[test]
    fn labels_with_nulls_and_without_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new(
            "label",
            DataType::Int32,
            true,
        )]));
        let columns: Vec<ArrayRef> = vec![Arc::new(Int32Array::from(vec![Some(1), None]))];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        assert_eq!(read_labels(&path).unwrap(), vec![Some(1), None]);
    }

    #[test]
    fn sources_come_from_a_text_source_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.parquet");
        let rows: Vec<crate::samples::SampleRow> = (0..3)
            .map(|i| crate::samples::SampleRow {
                index: i,
                label: None,
                label_name: None,
                source: format!("photos/{i}.png"),
                split: "all".into(),
            })
            .collect();
        crate::samples::write_samples(std::fs::File::create(&path).unwrap(), &rows).unwrap();
        let file = read_labels_file(&path).unwrap();
        assert_eq!(file.labels, vec![None; 3]);
        assert_eq!(
            file.sources,
            Some(vec![
                Some("photos/0.png".to_string()),
                Some("photos/1.png".to_string()),
                Some("photos/2.png".to_string())
            ])
        );
        // A file without one (or with another type) has no sources, and no error.
        let bare = dir.path().join("labels.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("label", DataType::Int32, true),
            Field::new("source", DataType::Int32, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(1)])),
            Arc::new(Int32Array::from(vec![Some(7)])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&bare).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let file = read_labels_file(&bare).unwrap();
        assert_eq!((file.labels, file.sources), (vec![Some(1)], None));
    }

    #[test]
    fn labels_out_of_order_and_wrong_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("index", DataType::UInt32, false),
            Field::new("label", DataType::UInt32, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(vec![1, 0])),
            Arc::new(UInt32Array::from(vec![1, 0])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let err = format!("{:#}", read_labels(&path).unwrap_err());
        assert!(
            err.contains("labels.parquet: column `index`: row 0 holds 1"),
            "{err}"
        );
    }
}
