//! `assignments.parquet`: `index u32, cluster u32, label i32` (label null when unknown),
//! one row per sample in index order — the cluster stage's answer.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{Array, ArrayRef, Int32Array, RecordBatch, UInt32Array};
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
    ])
}

/// Writes one row per sample; `labels` is empty (all nulls) or one per sample.
pub fn write_assignments<W: Write + Send>(
    writer: W,
    clusters: &[u32],
    labels: &[Option<i32>],
) -> anyhow::Result<()> {
    anyhow::ensure!(
        labels.is_empty() || labels.len() == clusters.len(),
        "{} labels for {} assignments",
        labels.len(),
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
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(start as u32..end as u32)),
            Arc::new(UInt32Array::from(clusters[start..end].to_vec())),
            Arc::new(label_column),
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

/// `(cluster, label)` per sample, for tests and tools.
pub fn read_assignments(path: &Path) -> anyhow::Result<Vec<(u32, Option<i32>)>> {
    let mut rows = Vec::new();
    for batch in record_batches(path)? {
        let batch = batch.with_context(|| format!("{}: cannot read", path.display()))?;
        let index = column::<UInt32Array>(&batch, "index", path)?;
        let cluster = column::<UInt32Array>(&batch, "cluster", path)?;
        let label = column::<Int32Array>(&batch, "label", path)?;
        for i in 0..batch.num_rows() {
            anyhow::ensure!(
                index.value(i) as usize == rows.len(),
                "{}: rows out of order",
                path.display()
            );
            rows.push((cluster.value(i), label.is_valid(i).then(|| label.value(i))));
        }
    }
    Ok(rows)
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
        write_assignments(std::fs::File::create(&path).unwrap(), &clusters, &labels).unwrap();
        let rows = read_assignments(&path).unwrap();
        assert_eq!(
            rows,
            clusters.iter().copied().zip(labels).collect::<Vec<_>>()
        );
        write_assignments(std::fs::File::create(&path).unwrap(), &clusters, &[]).unwrap();
        let rows = read_assignments(&path).unwrap();
        assert!(rows.iter().all(|(_, label)| label.is_none()));
        assert_eq!(rows.len(), 4);
    }
}
