//! Feature tables: Parquet, CSV, safetensors and NumPy `.npy`, chosen by file extension.
//!
//! Every format yields an `[N, D]` f32 matrix of finite values and, where the format has them,
//! labels from one column. Row numbers in messages and in `source` (`file#row`) count data
//! rows from 0.

mod arrow_table;
mod cast;
mod csv_batches;
mod npy;
mod safetensors_file;

use std::path::{Path, PathBuf};

use super::{file_error, require_exists};
use crate::dataset::{Dataset, Inputs, SampleRecord};

/// A file of feature vectors, one row per sample.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// `.parquet`, `.csv`, `.safetensors` or `.npy` file.
    pub path: PathBuf,
    /// Parquet/CSV: the column holding labels (integers or text), excluded from the features.
    /// Safetensors: a 1-D integer tensor of length N. Not allowed for `.npy`.
    pub label_column: Option<String>,
    /// Parquet/CSV only: a column naming each row (text or integers, distinct, no nulls),
    /// excluded from the features; each sample's `source` becomes `file#<id>` instead of
    /// `file#<row>`, so assignments and reports name rows by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// Safetensors only: the 2-D float tensor holding the features; default the only 2-D
    /// tensor in the file.
    pub tensor: Option<String>,
    /// CSV only: whether the first row names the columns (default true). Without a header
    /// the columns are called `column_1`, `column_2`, … (1-based), e.g.
    /// `label_column = "column_65"` for scikit-learn's `digits.csv.gz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
}

const SUPPORTED_EXTENSIONS: &str = ".parquet, .csv, .csv.gz, .safetensors or .npy";

/// Reads the feature matrix and labels; see [`TableConfig`].
pub fn read(config: &TableConfig) -> anyhow::Result<Dataset> {
    let path = &config.path;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let gzipped = file_name.ends_with(".csv.gz");
    let extension = if gzipped {
        "csv".to_string()
    } else {
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default()
    };
    let known = ["parquet", "csv", "safetensors", "npy"];
    if !known.contains(&extension.as_str()) {
        return Err(file_error(
            path,
            format_args!(
                "unsupported file extension {:?}; expected {SUPPORTED_EXTENSIONS}",
                format!(".{extension}")
            ),
        ));
    }
    require_exists(path)?;
    if extension != "safetensors"
        && let Some(tensor) = &config.tensor
    {
        return Err(file_error(
            path,
            format_args!("tensor = {tensor:?} is for .safetensors files only; remove it"),
        ));
    }
    if !matches!(extension.as_str(), "parquet" | "csv")
        && let Some(id_column) = &config.id_column
    {
        return Err(file_error(
            path,
            format_args!("id_column = {id_column:?} is for Parquet and CSV tables only; remove it"),
        ));
    }
    if extension != "csv" && config.header.is_some() {
        return Err(file_error(
            path,
            "header = … is for CSV files only; remove it",
        ));
    }
    let columns = arrow_table::Columns {
        label: config.label_column.as_deref(),
        id: config.id_column.as_deref(),
    };
    let table = match extension.as_str() {
        "parquet" => arrow_table::read_parquet(path, columns)?,
        "csv" => {
            let layout = arrow_table::CsvLayout {
                header: config.header.unwrap_or(true),
                gzipped,
            };
            arrow_table::read_csv(path, columns, layout)?
        }
        "safetensors" => safetensors_file::read(
            path,
            config.tensor.as_deref(),
            config.label_column.as_deref(),
        )?,
        _ => {
            if let Some(label_column) = &config.label_column {
                return Err(file_error(
                    path,
                    format_args!(
                        "label_column = {label_column:?} but .npy files hold no labels; remove it"
                    ),
                ));
            }
            npy::read(path)?
        }
    };
    Ok(table.into_dataset(path))
}

/// Labels as read, before they become indices into sorted class names.
enum RawLabels {
    None,
    Integers(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
}

/// What every format produces: row-major features plus raw labels.
struct Table {
    features: Vec<f32>,
    dim: usize,
    n_rows: usize,
    labels: RawLabels,
    /// Each row's name from an id column, in row order.
    ids: Option<Vec<String>>,
}

impl Table {
    fn into_dataset(self, path: &Path) -> Dataset {
        let (labels, class_names) = match self.labels {
            RawLabels::None => (vec![None; self.n_rows], Vec::new()),
            RawLabels::Integers(values) => {
                let (labels, distinct) = index_labels(values);
                (labels, distinct.iter().map(i64::to_string).collect())
            }
            RawLabels::Text(values) => index_labels(values),
        };
        let samples = labels
            .into_iter()
            .enumerate()
            .map(|(row, label)| SampleRecord {
                label,
                source: match &self.ids {
                    Some(ids) => format!("{}#{}", path.display(), ids[row]),
                    None => format!("{}#{row}", path.display()),
                },
                split: "all".to_string(),
            })
            .collect();
        Dataset {
            inputs: Inputs::Features {
                data: self.features,
                dim: self.dim,
            },
            samples,
            class_names,
        }
    }
}

/// Sorted distinct values and each row's index into them (`None` stays `None`).
fn index_labels<T: Ord + Clone>(values: Vec<Option<T>>) -> (Vec<Option<i32>>, Vec<T>) {
    let mut distinct: Vec<T> = values.iter().flatten().cloned().collect();
    distinct.sort();
    distinct.dedup();
    let labels = values
        .iter()
        .map(|value| {
            value.as_ref().map(|v| {
                // Binary search in the list the value came from always succeeds; the index is
                // below the number of rows, which the formats keep far under 2^31.
                distinct.binary_search(v).unwrap_or_default() as i32
            })
        })
        .collect();
    (labels, distinct)
}

/// Errors on the first NaN or infinity, naming `what` (a column or tensor) and the row.
fn check_finite(
    path: &Path,
    what: &str,
    values: &[f32],
    dim: usize,
    first_row: usize,
) -> anyhow::Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(position) => Err(file_error(
            path,
            format_args!(
                "{what} row {} holds {} (as f32); features must be finite",
                first_row + position / dim.max(1),
                values[position]
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_extension_lists_supported_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.xlsx");
        std::fs::write(&path, "x").unwrap();
        let error = read(&TableConfig {
            path: path.clone(),
            label_column: None,
            id_column: None,
            tensor: None,
            header: None,
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            format!(
                "{}: unsupported file extension \".xlsx\"; expected .parquet, .csv, .csv.gz, .safetensors or .npy",
                path.display()
            )
        );
    }

    #[test]
    fn missing_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.csv");
        let error = read(&TableConfig {
            path: path.clone(),
            label_column: None,
            id_column: None,
            tensor: None,
            header: None,
        })
        .unwrap_err()
        .to_string();
        assert_eq!(error, format!("{}: not found", path.display()));
    }

    #[test]
    fn headerless_gzipped_csv_names_columns_from_one() {
        use std::io::Write;
        // Three samples of two features and a label in the last column, the layout of
        // scikit-learn's digits.csv.gz.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digits.csv.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"0,16,3\n8,1,0\n2,2,3\n").unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let dataset = read(&TableConfig {
            path: path.clone(),
            label_column: Some("column_3".into()),
            id_column: None,
            tensor: None,
            header: Some(false),
        })
        .unwrap();
        assert_eq!(dataset.len(), 3);
        let Inputs::Features { dim, data: values } = &dataset.inputs else {
            panic!("a table gives features");
        };
        assert_eq!(*dim, 2);
        assert_eq!(values, &[0.0, 16.0, 8.0, 1.0, 2.0, 2.0]);
        let labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        // Distinct labels 0 and 3 become classes 0 and 1.
        assert_eq!(labels, vec![Some(1), Some(0), Some(1)]);
    }

    #[test]
    fn header_key_is_for_csv_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.npy");
        std::fs::write(&path, "x").unwrap();
        let error = read(&TableConfig {
            path: path.clone(),
            label_column: None,
            id_column: None,
            tensor: None,
            header: Some(false),
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            format!(
                "{}: header = … is for CSV files only; remove it",
                path.display()
            )
        );
    }

    #[test]
    fn integer_labels_sort_numerically() {
        let (labels, distinct) = index_labels(vec![Some(10i64), None, Some(-1), Some(2), Some(10)]);
        assert_eq!(distinct, vec![-1, 2, 10]);
        assert_eq!(labels, vec![Some(2), None, Some(0), Some(1), Some(2)]);
    }
}
