//! `coefficients.parquet` / `affinity.parquet`: `row u32, col u32, value f32`, one row per
//! non-zero, sorted by (row, col).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};

use crate::samples::writer_properties;

/// A sparse matrix as parallel columns, the layout the Parquet file has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triplets {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub values: Vec<f32>,
}

impl Triplets {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn push(&mut self, row: u32, col: u32, value: f32) {
        self.rows.push(row);
        self.cols.push(col);
        self.values.push(value);
    }

    /// Triplets from `(row, col, value)` entries already sorted by (row, col), the
    /// values of repeated pairs summed: the layout of `affinity.parquet`.
    pub fn from_sorted_entries(entries: impl IntoIterator<Item = (u32, u32, f32)>) -> Self {
        let mut out = Triplets::default();
        for (row, col, value) in entries {
            let n = out.len();
            if n > 0 && out.rows[n - 1] == row && out.cols[n - 1] == col {
                out.values[n - 1] += value;
            } else {
                debug_assert!(
                    n == 0 || (out.rows[n - 1], out.cols[n - 1]) < (row, col),
                    "entries are not sorted by (row, col)"
                );
                out.push(row, col, value);
            }
        }
        out
    }
}

/// Entries as given, in their order (no sorting, no summing).
impl FromIterator<(u32, u32, f32)> for Triplets {
    fn from_iter<I: IntoIterator<Item = (u32, u32, f32)>>(entries: I) -> Self {
        let mut out = Triplets::default();
        for (row, col, value) in entries {
            out.push(row, col, value);
        }
        out
    }
}

pub fn triplets_schema() -> Schema {
    Schema::new(vec![
        Field::new("row", DataType::UInt32, false),
        Field::new("col", DataType::UInt32, false),
        Field::new("value", DataType::Float32, false),
    ])
}

/// Rows per record batch when writing: bounded memory for the Arrow copies.
const BATCH_ROWS: usize = 1 << 20;

pub fn write_triplets<W: Write + Send>(writer: W, triplets: &Triplets) -> anyhow::Result<()> {
    let schema = Arc::new(triplets_schema());
    let mut writer = ArrowWriter::try_new(writer, schema.clone(), Some(writer_properties()))
        .context("opening Parquet writer")?;
    for start in (0..triplets.len()).step_by(BATCH_ROWS).chain(
        // An empty matrix still gets its schema and zero rows.
        std::iter::once(0).filter(|_| triplets.is_empty()),
    ) {
        let end = (start + BATCH_ROWS).min(triplets.len());
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(triplets.rows[start..end].to_vec())),
            Arc::new(UInt32Array::from(triplets.cols[start..end].to_vec())),
            Arc::new(Float32Array::from(triplets.values[start..end].to_vec())),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).context("building batch")?;
        writer.write(&batch).context("writing Parquet")?;
    }
    writer.close().context("finishing Parquet")?;
    Ok(())
}

/// Reads the three columns; integer columns of other widths and float64 values are
/// accepted when they convert without loss of meaning (a user's own graph).
pub fn read_triplets(path: &Path) -> anyhow::Result<Triplets> {
    catch_reader_panic(path, || read_triplets_unguarded(path))
}

/// The text a panic carried (`panic!("…")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Runs a Parquet read, turning a panic of the reader into an error on `path`: the
/// `parquet` crate still panics on some corrupt files (a dictionary page missing, negative
/// column offsets, found by the fuzz tests of `ebsc-cluster`), and bad input is an error
/// that names the file, never a crash.
pub fn catch_reader_panic<T>(
    path: &Path,
    read: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    quiet_panics_while_guarded();
    GUARDED.with(|guarded| guarded.set(guarded.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    GUARDED.with(|guarded| guarded.set(guarded.get() - 1));
    match result {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            Err(parquet_error(
                path,
                "corrupt Parquet file",
                format_args!("the reader failed ({message})"),
            ))
        }
    }
}

thread_local! {
    /// How many guarded reads this thread is inside.
    static GUARDED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Installs (once) a panic hook that stays silent for panics caught by
/// [`catch_reader_panic`], so the user sees the one error line and no "panicked at"
/// report; every other panic goes to the hook that was there before.
fn quiet_panics_while_guarded() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(|guarded| guarded.get()) == 0 {
                previous(info);
            }
        }));
    });
}

fn read_triplets_unguarded(path: &Path) -> anyhow::Result<Triplets> {
    // The columns are stored apart and decode independently: one reader each, side by
    // side. Of two faulty columns the first of row, col, value is the one reported.
    std::thread::scope(|scope| {
        let cols = scope.spawn(|| {
            catch_reader_panic(path, || {
                read_column(path, "col", |batch, out| {
                    append_index(batch, "col", path, out)
                })
            })
        });
        let values = scope.spawn(|| {
            catch_reader_panic(path, || {
                read_column(path, "value", |batch, out| append_value(batch, path, out))
            })
        });
        let rows = read_column(path, "row", |batch, out| {
            append_index(batch, "row", path, out)
        });
        let (cols, values) = (join_or_resume(cols), join_or_resume(values));
        Ok(Triplets {
            rows: rows?,
            cols: cols?,
            values: values?,
        })
    })
}

/// A scoped thread's result; a panic on it goes on as the caller's own (a reader's
/// panics were already turned into errors by [`catch_reader_panic`] on that thread).
pub fn join_or_resume<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

/// One column of the file, read alone (a projection) and appended batch by batch.
fn read_column<T>(
    path: &Path,
    name: &str,
    append: impl Fn(&RecordBatch, &mut Vec<T>) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<T>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let file_len = file
        .metadata()
        .with_context(|| format!("{}: cannot open", path.display()))?
        .len();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| parquet_error(path, "not a Parquet file", e))?;
    anyhow::ensure!(
        builder.schema().column_with_name(name).is_some(),
        "{}: missing column `{name}`",
        path.display()
    );
    // The footer's row count is only a hint: a forged one must not size an allocation, so
    // the reservation is capped by the bytes on disk (the vector grows past it if needed).
    let file_len = usize::try_from(file_len).unwrap_or(usize::MAX);
    let claimed = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mask = ProjectionMask::columns(builder.parquet_schema(), [name]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| parquet_error(path, "cannot read", e))?;
    let mut out = Vec::with_capacity(claimed.min(file_len));
    for batch in reader {
        let batch = batch.map_err(|e| parquet_error(path, "cannot read", e))?;
        append(&batch, &mut out)?;
    }
    Ok(out)
}

/// `<path>: <what>: <error>` on one line: the Parquet and Arrow readers' messages may span
/// lines (an embedded schema, say), and a stage's error is one line.
pub fn parquet_error(path: &Path, what: &str, error: impl std::fmt::Display) -> anyhow::Error {
    let message = error.to_string();
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    anyhow::anyhow!("{}: {what}: {message}", path.display())
}

fn append_index(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
    out: &mut Vec<u32>,
) -> anyhow::Result<()> {
    let array = batch
        .column_by_name(name)
        .with_context(|| format!("{}: missing column `{name}`", path.display()))?;
    anyhow::ensure!(
        array.null_count() == 0,
        "{}: column `{name}` has nulls",
        path.display()
    );
    let cast = arrow_cast_to_u32(array.as_ref()).with_context(|| {
        format!(
            "{}: column `{name}` has type {}, expected u32 (or another integer type with values in 0..2^32)",
            path.display(),
            array.data_type()
        )
    })?;
    out.extend_from_slice(cast.values());
    Ok(())
}

fn arrow_cast_to_u32(array: &dyn Array) -> Option<UInt32Array> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
    match array.data_type() {
        DataType::UInt32 => Some(array.as_primitive::<UInt32Type>().clone()),
        DataType::Int64 => narrow(array.as_primitive::<Int64Type>().values()),
        DataType::Int32 => narrow(array.as_primitive::<Int32Type>().values()),
        DataType::UInt64 => narrow(array.as_primitive::<UInt64Type>().values()),
        _ => None,
    }
}

/// Other integer widths, when every value fits a u32 index.
fn narrow<T: Copy + TryInto<u32>>(values: &[T]) -> Option<UInt32Array> {
    values
        .iter()
        .map(|&v| v.try_into().ok())
        .collect::<Option<Vec<u32>>>()
        .map(UInt32Array::from)
}

fn append_value(batch: &RecordBatch, path: &Path, out: &mut Vec<f32>) -> anyhow::Result<()> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type};
    let array = batch
        .column_by_name("value")
        .with_context(|| format!("{}: missing column `value`", path.display()))?;
    anyhow::ensure!(
        array.null_count() == 0,
        "{}: column `value` has nulls",
        path.display()
    );
    match array.data_type() {
        DataType::Float32 => out.extend_from_slice(array.as_primitive::<Float32Type>().values()),
        DataType::Float64 => out.extend(
            array
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|&v| v as f32),
        ),
        other => anyhow::bail!(
            "{}: column `value` has type {other}, expected f32",
            path.display()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `columns`, named and typed by `fields`, as one batch of a Parquet file.
    fn write_batch(path: &Path, fields: Vec<Field>, columns: Vec<ArrayRef>) {
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn repeated_pairs_are_summed() {
        let t = Triplets::from_sorted_entries([
            (0, 1, 0.5),
            (0, 1, 0.25),
            (0, 2, 1.0),
            (1, 0, 0.5),
            (1, 0, 0.5),
        ]);
        assert_eq!(t.rows, [0, 0, 1]);
        assert_eq!(t.cols, [1, 2, 0]);
        assert_eq!(t.values, [0.75, 1.0, 1.0]);
        assert!(Triplets::from_sorted_entries([]).is_empty());
    }

    #[test]
    fn round_trip_and_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("affinity.parquet");
        let mut t = Triplets::default();
        t.push(0, 1, 0.5);
        t.push(1, 0, 0.5);
        t.push(1, 2, -2.0);
        write_triplets(std::fs::File::create(&path).unwrap(), &t).unwrap();
        assert_eq!(read_triplets(&path).unwrap(), t);
        write_triplets(std::fs::File::create(&path).unwrap(), &Triplets::default()).unwrap();
        assert!(read_triplets(&path).unwrap().is_empty());
    }

    #[test]
    fn wrong_column_types_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.parquet");
        write_batch(
            &path,
            vec![
                Field::new("row", DataType::Int64, false),
                Field::new("col", DataType::Float32, false),
                Field::new("value", DataType::Float32, false),
            ],
            vec![
                Arc::new(arrow_array::Int64Array::from(vec![0i64])),
                Arc::new(Float32Array::from(vec![1.0f32])),
                Arc::new(Float32Array::from(vec![1.0f32])),
            ],
        );
        let err = format!("{:#}", read_triplets(&path).unwrap_err());
        assert!(
            err.contains("column `col` has type Float32, expected u32"),
            "{err}"
        );
    }

    #[test]
    fn of_two_faulty_columns_the_first_is_named() {
        // The columns are read on threads of their own; the error is still the one a
        // reader going row, col, value would meet first.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.parquet");
        write_batch(
            &path,
            vec![
                Field::new("row", DataType::UInt32, false),
                Field::new("value", DataType::Int32, false),
            ],
            vec![
                Arc::new(UInt32Array::from(vec![0u32])),
                Arc::new(arrow_array::Int32Array::from(vec![1])),
            ],
        );
        let err = format!("{:#}", read_triplets(&path).unwrap_err());
        assert!(err.ends_with("g.parquet: missing column `col`"), "{err}");
    }

    #[test]
    fn wider_integer_indices_and_f64_values_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.parquet");
        write_batch(
            &path,
            vec![
                Field::new("row", DataType::Int64, false),
                Field::new("col", DataType::Int64, false),
                Field::new("value", DataType::Float64, false),
            ],
            vec![
                Arc::new(arrow_array::Int64Array::from(vec![0i64, 1])),
                Arc::new(arrow_array::Int64Array::from(vec![1i64, 0])),
                Arc::new(arrow_array::Float64Array::from(vec![0.25f64, 0.25])),
            ],
        );
        let t = read_triplets(&path).unwrap();
        assert_eq!(
            (t.rows, t.cols, t.values),
            (vec![0, 1], vec![1, 0], vec![0.25, 0.25])
        );
    }
}
