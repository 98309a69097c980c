//! Bounded fuzzing of the stage's readers: the affinity triplets
//! (`ebsc_io::read_triplets` through [`input::read_affinity`] and [`input::build_graph`]) and
//! the labels file ([`ebsc_io::labels::read_labels`]).
//!
//! Properties, for random bytes, mutated valid files and valid files with hostile values:
//! - nothing panics: every call returns `Ok` or an error whose message starts with the path;
//! - nothing allocates much more than the file could hold: a forged footer claiming 2^40 rows
//!   or an index of 2^32 − 2 in a graph of two entries never reaches the allocator (measured
//!   by a counting allocator, not by time).
//!
//! Case counts are small (a few hundred, files under a few KiB) so the suite stays fast.

#[path = "../../../tests/shared/allocation_probe.rs"]
mod allocation_probe;

use std::path::Path;
use std::sync::Arc;

use allocation_probe::largest_allocation;
use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use ebsc_cluster::input::{self, CountSource, GraphChecks, Mode};
use ebsc_io::{Triplets, write_triplets};
use ebsc_test_support::fuzz::{config, mutate, mutation};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
use proptest::prelude::*;

/// The Parquet reader's own buffers for one batch of `BATCH_ROWS` (2^20) rows of 4-byte
/// values are 4 MiB; anything far beyond that came from a number in the file.
const ALLOCATION_BOUND: usize = 64 << 20;

/// Reads `path` as an affinity graph, then builds it as standalone mode would (count from
/// the largest index) and as pipeline mode would (count from a labels file of 8 rows).
fn read_and_build(path: &Path) -> anyhow::Result<()> {
    let triplets = input::read_affinity(path)?;
    let n_samples = input::n_samples_from_triplets(&triplets);
    input::build_graph(
        path,
        triplets.clone(),
        &GraphChecks {
            n_samples,
            count_source: CountSource::MaxIndex,
            symmetrize: true,
            mode: Mode::Standalone,
        },
    )?;
    input::build_graph(
        path,
        triplets,
        &GraphChecks {
            n_samples: 8,
            count_source: CountSource::Labels(path.with_file_name("samples.parquet")),
            symmetrize: false,
            mode: Mode::Pipeline,
        },
    )?;
    Ok(())
}

/// The fuzz property: no panic, an error names the file, and allocations stay bounded.
fn check_file(path: &Path, read: impl FnOnce(&Path) -> anyhow::Result<()>) {
    let (result, largest) = largest_allocation(|| read(path));
    if let Err(error) = result {
        let message = format!("{error:#}");
        assert!(
            message.starts_with(&path.display().to_string()),
            "error does not name the file: {message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }
    assert!(
        largest <= ALLOCATION_BOUND,
        "{largest} bytes allocated at once for a file of {} bytes",
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    );
}

/// A valid 3-node triangle with both directions of every edge.
fn triangle_bytes() -> Vec<u8> {
    let mut t = Triplets::default();
    for (a, b) in [(0, 1), (1, 2), (0, 2)] {
        t.push(a, b, 0.5);
        t.push(b, a, 0.5);
    }
    let mut bytes = Vec::new();
    write_triplets(&mut bytes, &t).unwrap();
    bytes
}

/// A valid samples-like labels file: `index u32`, `label i32` (nullable).
fn labels_bytes(labels: &[Option<i32>]) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("index", DataType::Int64, false),
        Field::new("label", DataType::Int32, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..labels.len() as i64)),
        Arc::new(Int32Array::from(labels.to_vec())),
    ];
    parquet_bytes(schema, columns)
}

fn parquet_bytes(schema: Arc<Schema>, columns: Vec<ArrayRef>) -> Vec<u8> {
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes
}

/// `bytes` with its footer rewritten so that every row group claims `num_rows` rows (the
/// file's total is their sum): a forged header, with the data pages left as they were.
fn with_forged_row_count(bytes: &[u8], num_rows: i64) -> Vec<u8> {
    let footer_len =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let metadata_start = bytes.len() - 8 - footer_len as usize;
    let metadata =
        ParquetMetaDataReader::decode_metadata(&bytes[metadata_start..bytes.len() - 8]).unwrap();
    let mut builder = metadata.into_builder();
    let row_groups = builder
        .take_row_groups()
        .into_iter()
        .map(|group| group.into_builder().set_num_rows(num_rows).build().unwrap())
        .collect();
    let forged = builder.set_row_groups(row_groups).build();
    let mut out = bytes[..metadata_start].to_vec();
    ParquetMetaDataWriter::new(&mut out, &forged)
        .finish()
        .unwrap();
    out
}

proptest! {
    #![proptest_config(config(7))]

    #[test]
    fn random_bytes_are_an_error_naming_the_file(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        magic_at_both_ends in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("affinity.parquet");
        // With PAR1 at both ends the reader gets as far as the footer length.
        let bytes = if magic_at_both_ends {
            [b"PAR1".as_slice(), &bytes, b"PAR1"].concat()
        } else {
            bytes
        };
        std::fs::write(&path, &bytes).unwrap();
        check_file(&path, read_and_build);
        check_file(&path, |p| ebsc_io::labels::read_labels(p).map(drop));
    }

    #[test]
    fn mutated_affinity_files_never_panic(mutations in prop::collection::vec(mutation(16), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("affinity.parquet");
        std::fs::write(&path, mutate(&triangle_bytes(), &mutations)).unwrap();
        check_file(&path, read_and_build);
    }

    #[test]
    fn mutated_labels_files_never_panic(mutations in prop::collection::vec(mutation(16), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.parquet");
        let valid = labels_bytes(&[Some(0), None, Some(1), Some(1), Some(-3)]);
        std::fs::write(&path, mutate(&valid, &mutations)).unwrap();
        check_file(&path, |p| ebsc_io::labels::read_labels(p).map(drop));
    }

    /// Valid files whose values are hostile: any u32 index (2^32 − 1 included), negative,
    /// NaN, infinite and subnormal weights, unsymmetric entries.
    #[test]
    fn hostile_values_in_a_valid_file_are_errors_or_graphs(
        entries in prop::collection::vec(
            (
                prop_oneof![0u32..8, Just(u32::MAX), Just(u32::MAX - 1), any::<u32>()],
                prop_oneof![0u32..8, Just(u32::MAX - 1), any::<u32>()],
                prop_oneof![
                    0.0f32..2.0,
                    Just(f32::NAN),
                    Just(f32::INFINITY),
                    Just(-1.0f32),
                    Just(f32::MIN_POSITIVE / 2.0),
                    any::<f32>(),
                ],
            ),
            1..12,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("affinity.parquet");
        let mut t = Triplets::default();
        for &(row, col, value) in &entries {
            t.push(row, col, value);
        }
        write_triplets(std::fs::File::create(&path).unwrap(), &t).unwrap();
        check_file(&path, read_and_build);
    }

    /// Wider integer and float columns, as a user's own graph may have: negative and
    /// beyond-u32 indices are errors, never wrapped around.
    #[test]
    fn wide_columns_with_out_of_range_indices_are_errors(
        rows in prop::collection::vec(prop_oneof![0i64..4, Just(-1i64), Just(1i64 << 32), any::<i64>()], 1..6),
        value in prop_oneof![0.0f64..1.0, Just(f64::MAX), Just(f64::NAN)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("affinity.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("row", DataType::Int64, false),
            Field::new("col", DataType::Int64, false),
            Field::new("value", DataType::Float64, false),
        ]));
        let n = rows.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(rows.clone())),
            Arc::new(Int64Array::from(rows.iter().rev().copied().collect::<Vec<_>>())),
            Arc::new(Float64Array::from(vec![value; n])),
        ];
        std::fs::write(&path, parquet_bytes(schema, columns)).unwrap();
        let in_range = rows.iter().all(|r| (0..1i64 << 32).contains(r));
        let result = input::read_affinity(&path);
        prop_assert_eq!(result.is_ok(), in_range, "{:?}", result.as_ref().err());
        check_file(&path, read_and_build);
    }
}

#[test]
fn a_footer_claiming_2_pow_40_rows_is_not_allocated_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("affinity.parquet");
    std::fs::write(&path, with_forged_row_count(&triangle_bytes(), 1 << 40)).unwrap();
    // Before the fix, read_triplets reserved 3 × 2^40 × 4 bytes up front and the process
    // aborted in the allocator; now it reads what the pages hold or names the file.
    check_file(&path, read_and_build);
    let labels = dir.path().join("samples.parquet");
    std::fs::write(
        &labels,
        with_forged_row_count(&labels_bytes(&[Some(1), None]), 1 << 40),
    )
    .unwrap();
    check_file(&labels, |p| ebsc_io::labels::read_labels(p).map(drop));
}

#[test]
fn a_stray_huge_index_without_labels_is_refused_before_building_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("affinity.parquet");
    // Two entries, one edge; its far end would make 2^32 − 1 samples, nearly all isolated:
    // 34 GB of row offsets before the fix.
    let mut t = Triplets::default();
    t.push(0, u32::MAX - 1, 1.0);
    t.push(u32::MAX - 1, 0, 1.0);
    write_triplets(std::fs::File::create(&path).unwrap(), &t).unwrap();
    let triplets = input::read_affinity(&path).unwrap();
    let n_samples = input::n_samples_from_triplets(&triplets);
    assert_eq!(n_samples, u32::MAX as usize);
    let (result, largest) = largest_allocation(|| {
        input::build_graph(
            &path,
            triplets.clone(),
            &GraphChecks {
                n_samples,
                count_source: CountSource::MaxIndex,
                symmetrize: false,
                mode: Mode::Standalone,
            },
        )
    });
    let message = format!("{:#}", result.unwrap_err());
    assert!(
        message.starts_with(&format!(
            "{}: the largest index 4294967294 implies 4294967295 samples",
            path.display()
        )),
        "{message}"
    );
    assert!(message.contains("--labels"), "{message}");
    assert!(largest < 1 << 20, "{largest}");
}

/// Every byte of a valid affinity file (about 1 KiB) set to each of a few values, and every
/// truncation, exhaustively. Some of these made the `parquet` crate panic: byte 5 (the
/// first page header) set to 0x02 gave "Decoder for dict should have been set", byte 398
/// set to 0x01 "column start and length should not be negative". Now each is an error
/// naming the file, or a graph.
#[test]
fn every_changed_byte_and_every_cut_of_an_affinity_file_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("affinity.parquet");
    let valid = triangle_bytes();
    for at in 0..valid.len() {
        for value in [0x00, 0x01, 0x02, 0x7f, 0xff, valid[at] ^ 0x01] {
            let mut bytes = valid.clone();
            bytes[at] = value;
            std::fs::write(&path, &bytes).unwrap();
            check_file(&path, read_and_build);
        }
        std::fs::write(&path, &valid[..at]).unwrap();
        check_file(&path, read_and_build);
    }
}

/// The binary on a file that made the `parquet` crate panic (byte 5, in the first page
/// header, set to 0x02): exit code 1 and one error line naming the file, no panic report.
#[test]
fn the_binary_reports_a_corrupt_graph_in_one_line_without_a_panic_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = triangle_bytes();
    bytes[5] = 0x02;
    std::fs::write(dir.path().join("graph.parquet"), &bytes).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ebsc-cluster"))
        .args([
            "--affinity",
            "graph.parquet",
            "--n-clusters",
            "2",
            "--out",
            "out",
        ])
        .current_dir(dir.path())
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("cluster: error: graph.parquet: "),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
