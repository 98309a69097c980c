//! `report.md` and `report.csv` in the runs folder, each written whole or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ebsc_core::AtomicFile;
use polars::prelude::{CsvWriter, DataFrame, SerWriter};

pub const REPORT_MD: &str = "report.md";
pub const REPORT_CSV: &str = "report.csv";

/// Writes both files; returns their paths.
pub fn write(runs_dir: &Path, markdown: &str, frame: &DataFrame) -> anyhow::Result<[PathBuf; 2]> {
    let md_path = runs_dir.join(REPORT_MD);
    let mut md = AtomicFile::create(&md_path)?;
    md.write_all(markdown.as_bytes())
        .with_context(|| format!("{}: cannot write", md_path.display()))?;
    md.commit()?;

    // Full precision and empty cells for nulls: the CSV is for other tools, not for reading.
    let csv_path = runs_dir.join(REPORT_CSV);
    let mut csv = AtomicFile::create(&csv_path)?;
    CsvWriter::new(&mut csv)
        .finish(&mut frame.clone())
        .with_context(|| format!("{}: cannot write", csv_path.display()))?;
    csv.commit()?;
    Ok([md_path, csv_path])
}
