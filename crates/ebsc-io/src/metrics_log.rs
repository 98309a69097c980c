//! Per-step training metrics as Parquet (`metrics.parquet`): named columns, each `u64` or
//! nullable `f64`, one row per optimisation step. The columns are the caller's choice
//! (pretrain logs `epoch, step, loss, lr, samples_per_s`; train adds its loss terms), so the
//! same writer and reader serve every training stage and the checkpoints that carry the log
//! across a resume.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::samples::writer_properties;

/// The type of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Counters: epoch, step.
    U64,
    /// Measurements; `None` (null) where a value is not measured on that step.
    F64,
}

/// One cell of a row, matching its column's kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    U64(u64),
    F64(Option<f64>),
}

/// An in-memory metrics table; rows are appended, then written once.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsLog {
    columns: Vec<(String, MetricKind)>,
    u64s: Vec<Vec<u64>>,
    f64s: Vec<Vec<Option<f64>>>,
    rows: usize,
}

impl MetricsLog {
    /// An empty log with these columns, in this order.
    pub fn new(columns: &[(&str, MetricKind)]) -> MetricsLog {
        MetricsLog {
            columns: columns
                .iter()
                .map(|(name, kind)| (name.to_string(), *kind))
                .collect(),
            u64s: vec![Vec::new(); columns.len()],
            f64s: vec![Vec::new(); columns.len()],
            rows: 0,
        }
    }

    pub fn columns(&self) -> &[(String, MetricKind)] {
        &self.columns
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends a row; values in column order, each of its column's kind.
    pub fn push(&mut self, row: &[MetricValue]) -> anyhow::Result<()> {
        anyhow::ensure!(
            row.len() == self.columns.len(),
            "metrics row has {} values for {} columns",
            row.len(),
            self.columns.len()
        );
        for ((name, kind), value) in self.columns.iter().zip(row) {
            match (kind, value) {
                (MetricKind::U64, MetricValue::U64(_)) | (MetricKind::F64, MetricValue::F64(_)) => {
                }
                _ => anyhow::bail!("metrics column `{name}` is {kind:?}, got {value:?}"),
            }
        }
        for (i, value) in row.iter().enumerate() {
            match value {
                MetricValue::U64(v) => self.u64s[i].push(*v),
                MetricValue::F64(v) => self.f64s[i].push(*v),
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Keeps the first `rows` rows (a resumed run drops rows past its checkpoint).
    pub fn truncate(&mut self, rows: usize) {
        for column in &mut self.u64s {
            column.truncate(rows);
        }
        for column in &mut self.f64s {
            column.truncate(rows);
        }
        self.rows = self.rows.min(rows);
    }

    /// A `u64` column's values.
    pub fn u64_column(&self, name: &str) -> Option<&[u64]> {
        let i = self.index(name, MetricKind::U64)?;
        Some(&self.u64s[i])
    }

    /// An `f64` column's values.
    pub fn f64_column(&self, name: &str) -> Option<&[Option<f64>]> {
        let i = self.index(name, MetricKind::F64)?;
        Some(&self.f64s[i])
    }

    fn index(&self, name: &str, kind: MetricKind) -> Option<usize> {
        self.columns
            .iter()
            .position(|(n, k)| n == name && *k == kind)
    }

    fn schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|(name, kind)| match kind {
                    MetricKind::U64 => Field::new(name, DataType::UInt64, false),
                    MetricKind::F64 => Field::new(name, DataType::Float64, true),
                })
                .collect::<Vec<_>>(),
        )
    }

    /// Writes the table as zstd Parquet.
    pub fn write<W: Write + Send>(&self, writer: W) -> anyhow::Result<()> {
        let schema = Arc::new(self.schema());
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| -> ArrayRef {
                match kind {
                    MetricKind::U64 => Arc::new(UInt64Array::from(self.u64s[i].clone())),
                    MetricKind::F64 => Arc::new(Float64Array::from(self.f64s[i].clone())),
                }
            })
            .collect();
        let batch =
            RecordBatch::try_new(schema.clone(), arrays).context("building metrics table")?;
        let mut writer = ArrowWriter::try_new(writer, schema, Some(writer_properties()))
            .context("opening metrics writer")?;
        writer.write(&batch).context("writing metrics")?;
        writer.close().context("finishing metrics")?;
        Ok(())
    }

    /// Reads a table written by [`MetricsLog::write`]; the columns must be exactly `columns`.
    pub fn read(path: &Path, columns: &[(&str, MetricKind)]) -> anyhow::Result<MetricsLog> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .with_context(|| format!("{}: not a Parquet file", path.display()))?;
        let mut log = MetricsLog::new(columns);
        let expected = log.schema();
        for batch in reader {
            let batch = batch.with_context(|| format!("{}: reading", path.display()))?;
            let names: Vec<&str> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            let wanted: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
            anyhow::ensure!(
                names == wanted,
                "{}: metrics columns are {names:?}, expected {wanted:?}",
                path.display()
            );
            for (i, field) in expected.fields().iter().enumerate() {
                let array = batch.column(i);
                match columns[i].1 {
                    MetricKind::U64 => {
                        let values =
                            array
                                .as_any()
                                .downcast_ref::<UInt64Array>()
                                .with_context(|| {
                                    format!(
                                        "{}: column `{}` is not u64",
                                        path.display(),
                                        field.name()
                                    )
                                })?;
                        log.u64s[i].extend(values.values().iter().copied());
                    }
                    MetricKind::F64 => {
                        let values =
                            array
                                .as_any()
                                .downcast_ref::<Float64Array>()
                                .with_context(|| {
                                    format!(
                                        "{}: column `{}` is not f64",
                                        path.display(),
                                        field.name()
                                    )
                                })?;
                        log.f64s[i].extend(values.iter());
                    }
                }
            }
            log.rows += batch.num_rows();
        }
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[(&str, MetricKind)] = &[
        ("step", MetricKind::U64),
        ("loss", MetricKind::F64),
        ("knn", MetricKind::F64),
    ];

    #[test]
    fn round_trip_with_nulls_and_truncate() {
        let mut log = MetricsLog::new(COLUMNS);
        for step in 0..3u64 {
            let knn = (step == 2).then_some(0.9);
            log.push(&[
                MetricValue::U64(step),
                MetricValue::F64(Some(1.0 / (step + 1) as f64)),
                MetricValue::F64(knn),
            ])
            .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.parquet");
        log.write(std::fs::File::create(&path).unwrap()).unwrap();
        let back = MetricsLog::read(&path, COLUMNS).unwrap();
        assert_eq!(back, log);
        assert_eq!(back.u64_column("step").unwrap(), &[0, 1, 2]);
        assert_eq!(
            back.f64_column("loss").unwrap(),
            &[Some(1.0), Some(0.5), Some(1.0 / 3.0)]
        );
        assert_eq!(back.f64_column("knn").unwrap(), &[None, None, Some(0.9)]);
        let mut cut = back.clone();
        cut.truncate(1);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut.f64_column("knn").unwrap(), &[None]);
        let err = MetricsLog::read(&path, &COLUMNS[..2])
            .unwrap_err()
            .to_string();
        assert!(err.contains("metrics columns are"), "{err}");
    }

    #[test]
    fn wrong_kind_or_width_is_an_error() {
        let mut log = MetricsLog::new(COLUMNS);
        let err = log
            .push(&[
                MetricValue::F64(None),
                MetricValue::F64(None),
                MetricValue::F64(None),
            ])
            .unwrap_err()
            .to_string();
        assert!(err.contains("column `step` is U64"), "{err}");
        assert!(log.push(&[MetricValue::U64(1)]).is_err());
        assert!(log.is_empty());
    }
}
