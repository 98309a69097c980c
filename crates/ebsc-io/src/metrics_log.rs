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

    /// Reads a table written by [`MetricsLog::write`] with the columns it has, in its order
    /// (`UInt64` → [`MetricKind::U64`], `Float64` → [`MetricKind::F64`]): for a reader that
    /// does not know which quantities the run logged, such as a report drawn again. Values
    /// come back bit for bit.
    pub fn read_all_columns(path: &Path) -> anyhow::Result<MetricsLog> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("{}: not a Parquet file", path.display()))?;
        let columns = builder
            .schema()
            .fields()
            .iter()
            .map(|field| {
                let kind = match field.data_type() {
                    DataType::UInt64 => MetricKind::U64,
                    DataType::Float64 => MetricKind::F64,
                    other => anyhow::bail!(
                        "{}: metrics column `{}` is {other}, not u64 or f64",
                        path.display(),
                        field.name()
                    ),
                };
                Ok((field.name().clone(), kind))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let columns: Vec<(&str, MetricKind)> =
            columns.iter().map(|(n, k)| (n.as_str(), *k)).collect();
        MetricsLog::read(path, &columns)
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
    fn all_columns_read_back_as_written_bit_for_bit() {
        let columns = [
            ("epoch", MetricKind::U64),
            ("step", MetricKind::U64),
            ("loss", MetricKind::F64),
            ("lr", MetricKind::F64),
            ("knn_accuracy", MetricKind::F64),
            ("loss_se", MetricKind::F64),
        ];
        let mut log = MetricsLog::new(&columns);
        let awkward = [
            0.1 + 0.2,
            f64::MIN_POSITIVE / 3.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            1e300,
        ];
        for step in 1..=20u64 {
            let x = awkward[step as usize % awkward.len()];
            log.push(&[
                MetricValue::U64(step / 7),
                MetricValue::U64(step),
                MetricValue::F64(Some(x)),
                MetricValue::F64(Some(1.0 / step as f64)),
                MetricValue::F64((step % 7 == 0).then_some(x)),
                MetricValue::F64(Some(u64::MAX as f64 / step as f64)),
            ])
            .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.parquet");
        log.write(std::fs::File::create(&path).unwrap()).unwrap();
        let back = MetricsLog::read_all_columns(&path).unwrap();
        // NaN != NaN: compare the bits, and the column names and kinds in their order.
        assert_eq!(back.columns(), log.columns());
        assert_eq!(back.len(), 20);
        for (name, kind) in log.columns() {
            match kind {
                MetricKind::U64 => assert_eq!(back.u64_column(name), log.u64_column(name)),
                MetricKind::F64 => {
                    let bits = |l: &MetricsLog| -> Vec<Option<u64>> {
                        l.f64_column(name)
                            .unwrap()
                            .iter()
                            .map(|v| v.map(f64::to_bits))
                            .collect()
                    };
                    assert_eq!(bits(&back), bits(&log), "{name}");
                }
            }
        }

        // A log with no rows (an identity encoder trains nothing) keeps its columns.
        let empty = MetricsLog::new(&columns);
        empty.write(std::fs::File::create(&path).unwrap()).unwrap();
        assert_eq!(MetricsLog::read_all_columns(&path).unwrap(), empty);
    }

    #[test]
    fn a_column_of_another_type_is_named() {
        use arrow_array::Int32Array;
        let schema = Arc::new(Schema::new(vec![
            Field::new("step", DataType::UInt64, false),
            Field::new("label", DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(UInt64Array::from(vec![1u64])),
                Arc::new(Int32Array::from(vec![1])),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.parquet");
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let err = MetricsLog::read_all_columns(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("metrics.parquet: metrics column `label` is Int32, not u64 or f64"),
            "{err}"
        );
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
