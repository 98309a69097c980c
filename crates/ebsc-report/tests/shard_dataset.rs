//! The parts of a sharded affinity export are one dataset to other engines: polars reads
//! `coefficients/part-*.parquet` by glob as one table, equal to the merged file. (DuckDB's
//! `read_parquet('…/part-*.parquet')` and Spark's `spark.read.parquet` read the same
//! files; the README shows both.)

use std::path::Path;

use ebsc_io::{Triplets, write_triplets};
use polars::prelude::*;

fn write(path: &Path, triplets: &Triplets) {
    write_triplets(std::fs::File::create(path).unwrap(), triplets).unwrap();
}

fn scan(pattern: &Path) -> DataFrame {
    let path = pattern.to_str().unwrap();
    LazyFrame::scan_parquet(path.into(), ScanArgsParquet::default())
        .unwrap()
        .sort(["row", "col"], SortMultipleOptions::default())
        .collect()
        .unwrap()
}

#[test]
fn parts_read_by_glob_as_one_table_equal_to_the_merged_file() {
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

    let glob = scan(&parts.join("part-*.parquet"));
    let whole = scan(&dir.path().join("coefficients.parquet"));
    assert_eq!(glob.height(), 18);
    let names: Vec<&str> = glob.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["row", "col", "value"], "the artifact schema");
    assert_eq!(glob.column("row").unwrap().dtype(), &DataType::UInt32);
    assert_eq!(glob.column("value").unwrap().dtype(), &DataType::Float32);
    assert!(glob.equals(&whole), "{glob}\n{whole}");
}
