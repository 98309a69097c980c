//! The out-of-sample assignments of `ebsc-assign`: `index u32, cluster u32, confidence f32`,
//! then `label i32` (null when unknown) when the input has labels and `source utf8` when
//! its samples name where they came from, one row per input sample in index order. A
//! shard's part holds its rows only, with their global `index`, under the same schema, so
//! the parts read as one Parquet dataset.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{
    Array, ArrayRef, Float32Array, Int32Array, RecordBatch, StringArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::samples::{column, record_batches, writer_properties};

/// Rows per record batch: bounded memory for the Arrow copies.
const BATCH_ROWS: usize = 1 << 20;

/// Every column the file can hold; `label` and `source` only when the input has them.
pub fn assigned_schema() -> Schema {
    schema(true, true)
}

fn schema(labels: bool, sources: bool) -> Schema {
    let mut fields = vec![
        Field::new("index", DataType::UInt32, false),
        Field::new("cluster", DataType::UInt32, false),
        Field::new("confidence", DataType::Float32, false),
    ];
    if labels {
        fields.push(Field::new("label", DataType::Int32, true));
    }
    if sources {
        fields.push(Field::new("source", DataType::Utf8, false));
    }
    Schema::new(fields)
}

/// Consecutive rows of assignments, from `first_index` on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assigned {
    pub first_index: usize,
    pub clusters: Vec<u32>,
    pub confidences: Vec<f32>,
    /// One per row, or `None`: no `label` column.
    pub labels: Option<Vec<Option<i32>>>,
    /// One per row, or `None`: no `source` column.
    pub sources: Option<Vec<String>>,
}

impl Assigned {
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Appends `next`, whose rows must follow this one's and carry the same columns.
    pub fn append(&mut self, next: Assigned) -> anyhow::Result<()> {
        if self.is_empty() && self.labels.is_none() && self.sources.is_none() {
            let first = self.first_index;
            *self = next;
            if first != self.first_index {
                anyhow::bail!(
                    "rows from {} follow nothing; expected them from {first}",
                    self.first_index
                );
            }
            return Ok(());
        }
        anyhow::ensure!(
            next.first_index == self.first_index + self.len(),
            "rows from {} do not follow rows {}..{}",
            next.first_index,
            self.first_index,
            self.first_index + self.len()
        );
        anyhow::ensure!(
            next.labels.is_some() == self.labels.is_some()
                && next.sources.is_some() == self.sources.is_some(),
            "rows from {} have other columns than the rows before them",
            next.first_index
        );
        self.clusters.extend(next.clusters);
        self.confidences.extend(next.confidences);
        if let (Some(all), Some(more)) = (&mut self.labels, next.labels) {
            all.extend(more);
        }
        if let (Some(all), Some(more)) = (&mut self.sources, next.sources) {
            all.extend(more);
        }
        Ok(())
    }
}

/// Writes the rows (columns as [`Assigned`] holds them).
pub fn write_assigned<W: Write + Send>(writer: W, rows: &Assigned) -> anyhow::Result<()> {
    let n = rows.len();
    anyhow::ensure!(
        rows.confidences.len() == n
            && rows.labels.as_ref().is_none_or(|l| l.len() == n)
            && rows.sources.as_ref().is_none_or(|s| s.len() == n),
        "assignments: columns of different lengths"
    );
    anyhow::ensure!(
        rows.first_index + n <= u32::MAX as usize,
        "{} rows exceed the u32 sample index",
        rows.first_index + n
    );
    let schema = Arc::new(schema(rows.labels.is_some(), rows.sources.is_some()));
    let mut writer = ArrowWriter::try_new(writer, schema.clone(), Some(writer_properties()))
        .context("opening the assignments writer")?;
    for start in (0..n).step_by(BATCH_ROWS) {
        let end = (start + BATCH_ROWS).min(n);
        let first = (rows.first_index + start) as u32;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(
                first..first + (end - start) as u32,
            )),
            Arc::new(UInt32Array::from(rows.clusters[start..end].to_vec())),
            Arc::new(Float32Array::from(rows.confidences[start..end].to_vec())),
        ];
        if let Some(labels) = &rows.labels {
            columns.push(Arc::new(Int32Array::from(labels[start..end].to_vec())));
        }
        if let Some(sources) = &rows.sources {
            columns.push(Arc::new(StringArray::from_iter_values(
                sources[start..end].iter(),
            )));
        }
        let batch =
            RecordBatch::try_new(schema.clone(), columns).context("building assignments")?;
        writer.write(&batch).context("writing assignments")?;
    }
    writer.close().context("finishing assignments")?;
    Ok(())
}

/// Every row of a file [`write_assigned`] wrote (a whole output or one part); errors name
/// the file and the column.
pub fn read_assigned(path: &Path) -> anyhow::Result<Assigned> {
    let mut out: Option<Assigned> = None;
    for batch in record_batches(path)? {
        let batch = batch.with_context(|| format!("{}: cannot read", path.display()))?;
        let index = column::<UInt32Array>(&batch, "index", path)?;
        let cluster = column::<UInt32Array>(&batch, "cluster", path)?;
        let confidence = column::<Float32Array>(&batch, "confidence", path)?;
        let label = match batch.column_by_name("label") {
            Some(_) => Some(column::<Int32Array>(&batch, "label", path)?),
            None => None,
        };
        let source = match batch.column_by_name("source") {
            Some(_) => Some(column::<StringArray>(&batch, "source", path)?),
            None => None,
        };
        let rows = out.get_or_insert_with(|| Assigned {
            first_index: if index.is_empty() {
                0
            } else {
                index.value(0) as usize
            },
            labels: label.map(|_| Vec::new()),
            sources: source.map(|_| Vec::new()),
            ..Assigned::default()
        });
        for i in 0..batch.num_rows() {
            let expected = rows.first_index + rows.len();
            anyhow::ensure!(
                index.value(i) as usize == expected,
                "{}: column `index`: holds {} where {expected} was expected (rows in order)",
                path.display(),
                index.value(i)
            );
            rows.clusters.push(cluster.value(i));
            rows.confidences.push(confidence.value(i));
            if let (Some(all), Some(label)) = (&mut rows.labels, label) {
                all.push(label.is_valid(i).then(|| label.value(i)));
            }
            if let (Some(all), Some(source)) = (&mut rows.sources, source) {
                all.push(source.value(i).to_string());
            }
        }
    }
    Ok(out.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(first_index: usize, labels: bool) -> Assigned {
        Assigned {
            first_index,
            clusters: vec![2, 0, 1],
            confidences: vec![1.0, 0.5, 0.75],
            labels: labels.then(|| vec![Some(1), None, Some(0)]),
            sources: Some(vec!["a".into(), "b".into(), "c".into()]),
        }
    }

    #[test]
    fn round_trip_with_and_without_labels() {
        let dir = tempfile::tempdir().unwrap();
        for labels in [true, false] {
            let path = dir.path().join(format!("{labels}.parquet"));
            let written = rows(7, labels);
            write_assigned(std::fs::File::create(&path).unwrap(), &written).unwrap();
            assert_eq!(read_assigned(&path).unwrap(), written);
        }
    }

    #[test]
    fn parts_append_in_order_only() {
        let mut all = Assigned::default();
        all.append(rows(0, true)).unwrap();
        all.append(rows(3, true)).unwrap();
        assert_eq!(all.len(), 6);
        let err = all.append(rows(7, true)).unwrap_err().to_string();
        assert!(err.contains("do not follow rows 0..6"), "{err}");
        let err = all.append(rows(6, false)).unwrap_err().to_string();
        assert!(err.contains("other columns"), "{err}");
    }
}
