//! `assignments.parquet`: `index u32, cluster u32, label i32, source utf8` (label null when
//! unknown, source null when the labels file gave none), one row per sample in index order
//! — the cluster stage's answer. `source` is where the sample came from, copied from
//! `samples.parquet` (an image file's path as prepare read it, `file#row` for packed
//! formats), so the file alone says which cluster each file is in.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{Array, ArrayRef, Int32Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::samples::{column, record_batches, writer_properties};

/// Rows per record batch: bounded memory for the Arrow copies.
const BATCH_ROWS: usize = 1 << 20;

pub fn assignments_schema() -> Schema {
    Schema::new(vec![
        Field::new("index", DataType::UInt32, false),
        Field::new("cluster", DataType::UInt32, false),
        Field::new("label", DataType::Int32, true),
        Field::new("source", DataType::Utf8, true),
    ])
}

/// Writes one row per sample; `labels` and `sources` are each empty (all nulls) or one
/// per sample.
pub fn write_assignments<W: Write + Send>(
    writer: W,
    clusters: &[u32],
    labels: &[Option<i32>],
    sources: &[Option<String>],
) -> anyhow::Result<()> {
    anyhow::ensure!(
        labels.is_empty() || labels.len() == clusters.len(),
        "{} labels for {} assignments",
        labels.len(),
        clusters.len()
    );
    anyhow::ensure!(
        sources.is_empty() || sources.len() == clusters.len(),
        "{} sources for {} assignments",
        sources.len(),
        clusters.len()
    );
    let schema = Arc::new(assignments_schema());
    let mut writer = ArrowWriter::try_new(writer, schema.clone(), Some(writer_properties()))
        .context("opening assignments.parquet writer")?;
    for start in (0..clusters.len()).step_by(BATCH_ROWS) {
        let end = (start + BATCH_ROWS).min(clusters.len());
        let label_column = if labels.is_empty() {
            Int32Array::new_null(end - start)
        } else {
            Int32Array::from(labels[start..end].to_vec())
        };
        let source_column = if sources.is_empty() {
            StringArray::new_null(end - start)
        } else {
            StringArray::from_iter(sources[start..end].iter().map(Option::as_deref))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(start as u32..end as u32)),
            Arc::new(UInt32Array::from(clusters[start..end].to_vec())),
            Arc::new(label_column),
            Arc::new(source_column),
        ];
        let batch =
            RecordBatch::try_new(schema.clone(), columns).context("building assignments")?;
        writer
            .write(&batch)
            .context("writing assignments.parquet")?;
    }
    writer.close().context("finishing assignments.parquet")?;
    Ok(())
}

/// One row of `assignments.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentRow {
    pub cluster: u32,
    pub label: Option<i32>,
    /// `None` when unknown, and for files written before the column existed.
    pub source: Option<String>,
}

/// Every row, in index order; errors name the file and the column.
pub fn read_assignment_rows(path: &Path) -> anyhow::Result<Vec<AssignmentRow>> {
    let mut rows = Vec::new();
    for batch in record_batches(path)? {
        let batch = batch.with_context(|| format!("{}: cannot read", path.display()))?;
        let index = column::<UInt32Array>(&batch, "index", path)?;
        let cluster = column::<UInt32Array>(&batch, "cluster", path)?;
        let label = column::<Int32Array>(&batch, "label", path)?;
        let source = match batch.column_by_name("source") {
            Some(_) => Some(column::<StringArray>(&batch, "source", path)?),
            None => None,
        };
        for i in 0..batch.num_rows() {
            anyhow::ensure!(
                index.value(i) as usize == rows.len(),
                "{}: column `index`: row {} holds {}, expected {} (rows must be in sample order)",
                path.display(),
                rows.len(),
                index.value(i),
                rows.len()
            );
            rows.push(AssignmentRow {
                cluster: cluster.value(i),
                label: label.is_valid(i).then(|| label.value(i)),
                source: source
                    .filter(|s| s.is_valid(i))
                    .map(|s| s.value(i).to_string()),
            });
        }
    }
    Ok(rows)
}

/// Whether the file has a `source` column (files written before it existed have none).
pub fn has_source_column(path: &Path) -> anyhow::Result<bool> {
    use arrow_array::RecordBatchReader;
    let reader = record_batches(path)?;
    Ok(reader.schema().column_with_name("source").is_some())
}

/// `(cluster, label)` per sample, for tests and tools.
pub fn read_assignments(path: &Path) -> anyhow::Result<Vec<(u32, Option<i32>)>> {
    Ok(read_assignment_rows(path)?
        .into_iter()
        .map(|row| (row.cluster, row.label))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_round_trip_with_and_without_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assignments.parquet");
        let clusters = vec![2, 0, 1, 1];
        let labels = vec![Some(5), None, Some(-1), Some(0)];
        write_assignments(
            std::fs::File::create(&path).unwrap(),
            &clusters,
            &labels,
            &[],
        )
        .unwrap();
        let rows = read_assignments(&path).unwrap();
        assert_eq!(
            rows,
            clusters.iter().copied().zip(labels).collect::<Vec<_>>()
        );
        write_assignments(std::fs::File::create(&path).unwrap(), &clusters, &[], &[]).unwrap();
        let rows = read_assignments(&path).unwrap();
        assert!(rows.iter().all(|(_, label)| label.is_none()));
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn sources_round_trip_and_older_files_read_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assignments.parquet");
        let sources = vec![Some("photos/a.png".to_string()), None];
        write_assignments(
            std::fs::File::create(&path).unwrap(),
            &[1, 0],
            &[],
            &sources,
        )
        .unwrap();
        assert!(has_source_column(&path).unwrap());
        let rows = read_assignment_rows(&path).unwrap();
        assert_eq!(
            rows,
            vec![
                AssignmentRow {
                    cluster: 1,
                    label: None,
                    source: Some("photos/a.png".into()),
                },
                AssignmentRow {
                    cluster: 0,
                    label: None,
                    source: None,
                },
            ]
        );
        let error = write_assignments(
            std::fs::File::create(&path).unwrap(),
            &[1, 0, 2],
            &[],
            &sources,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(error, "2 sources for 3 assignments");

        // The three columns of a file written before `source` existed.
        let old = dir.path().join("old.parquet");
        let schema = Arc::new(Schema::new(assignments_schema().fields()[..3].to_vec()));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(vec![0])),
            Arc::new(UInt32Array::from(vec![3])),
            Arc::new(Int32Array::new_null(1)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&old).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        assert!(!has_source_column(&old).unwrap());
        let rows = read_assignment_rows(&old).unwrap();
        assert_eq!(rows[0].source, None);
        assert_eq!(rows[0].cluster, 3);
    }

    #[test]
    fn a_source_column_of_another_type_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assignments.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("index", DataType::UInt32, false),
            Field::new("cluster", DataType::UInt32, false),
            Field::new("label", DataType::Int32, true),
            Field::new("source", DataType::Int32, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(vec![0])),
            Arc::new(UInt32Array::from(vec![3])),
            Arc::new(Int32Array::new_null(1)),
            Arc::new(Int32Array::from(vec![4])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let error = format!("{:#}", read_assignment_rows(&path).unwrap_err());
        assert!(
            error.contains("assignments.parquet: column `source` has type Int32"),
            "{error}"
        );
    }
}
