//! The parts of a sharded affinity export are one dataset to other engines. A glob reader
//! (polars' `scan_parquet`, DuckDB's `read_parquet('…/part-*.parquet')`, Spark's
//! `spark.read.parquet`; the README shows them) needs every part to be a Parquet file on its
//! own with the same schema, so that the parts stack into one table. Checked here with
//! polars' Parquet reader, written independently of the arrow-rs writer the stage uses: the
//! parts, read one by one and stacked, equal the merged file. (Polars' eager reader, not its
//! lazy glob scan: the lazy engine brings 115 more crates into the workspace's test build.)

use std::path::Path;

use ebsc_io::{Triplets, write_triplets};
use polars::prelude::*;

fn write(path: &Path, triplets: &Triplets) {
    write_triplets(std::fs::File::create(path).unwrap(), triplets).unwrap();
}

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap_or_else(|e| panic!("polars reads {}: {e}", path.display()))
}

/// The files `part-*.parquet` in `dir`, in name order, stacked and sorted by (row, col).
fn read_parts(dir: &Path) -> DataFrame {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("part-") && name.ends_with(".parquet")
        })
        .collect();
    names.sort();
    let mut parts = names.iter().map(|path| read(path));
    let mut table = parts.next().expect("at least one part");
    for part in parts {
        // vstack fails unless the part's schema is the first part's.
        table.vstack_mut(&part).unwrap();
    }
    sorted(table)
}

fn sorted(table: DataFrame) -> DataFrame {
    table
        .sort(["row", "col"], SortMultipleOptions::default())
        .unwrap()
}

#[test]
fn parts_stack_into_one_table_equal_to_the_merged_file() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("coefficients");
    std::fs::create_dir(&parts).unwrap();
    // Rows 0..9 in three shards as the stage writes them: each row's top 2 coefficients.
    let mut merged = Triplets::default();
    for shard in 0..3u32 {
        let mut part = Triplets::default();
        for row in shard * 3..shard * 3 + 3 {
            for (col, value) in [((row + 1) % 9, 0.75f32), ((row + 4) % 9, -0.25)] {
                part.push(row, col, value);
                merged.push(row, col, value);
            }
        }
        write(&parts.join(format!("part-{shard}-of-3.parquet")), &part);
    }
    write(&dir.path().join("coefficients.parquet"), &merged);

    let stacked = read_parts(&parts);
    let whole = sorted(read(&dir.path().join("coefficients.parquet")));
    assert_eq!(stacked.height(), 18);
    let names: Vec<&str> = stacked
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(names, ["row", "col", "value"], "the artifact schema");
    assert_eq!(stacked.column("row").unwrap().dtype(), &DataType::UInt32);
    assert_eq!(stacked.column("value").unwrap().dtype(), &DataType::Float32);
    assert!(stacked.equals(&whole), "{stacked}\n{whole}");
}
