//! Feature tables: Parquet, text (CSV, TSV, whitespace-separated), safetensors and NumPy
//! `.npy` and `.npz`, chosen by file extension.
//!
//! Every format yields an `[N, D]` f32 matrix of finite values and, where the format has them,
//! labels from one column. Row numbers in messages and in `source` (`file#row`) count data
//! rows from 0.

mod arrow_table;
mod cast;
mod csv_batches;
mod labels_text;
mod mat;
mod npy;
mod npz;
mod pixels;
mod safetensors_file;

pub use pixels::{PixelScale, gray_pixels, square_side};

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{file_error, require_exists};
use crate::dataset::{Dataset, Inputs, SampleRecord};

/// A file of feature vectors, one row per sample.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// `.parquet`; text (`.csv`, `.tsv`, `.txt`, `.dat`, `.data`, each also gzipped: fields split at
    /// commas, tabs, or runs of spaces, as the first line shows); `.safetensors`; `.npy`; or
    /// `.npz` (`np.savez`). A NumPy array of 3 or 4 dimensions holds images (`uint8`, or
    /// pixel values in [0, 1], [−1, 1] or 0–255 of another dtype).
    pub path: PathBuf,
    /// Parquet/text: the column holding labels (integers, whole numbers or text), excluded
    /// from the features.
    /// Safetensors: a 1-D integer tensor of length N. `.npz`: a 1-D array of N integers,
    /// booleans or whole-number floats. Not allowed for `.npy`.
    pub label_column: Option<String>,
    /// Parquet/text only: a column naming each row (text or integers, distinct, no nulls),
    /// excluded from the features; each sample's `source` becomes `file#<id>` instead of
    /// `file#<row>`, so assignments and reports name rows by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// Safetensors and `.npz` only: the 2-D float tensor (array) holding the features;
    /// default the only 2-D one in the file.
    pub tensor: Option<String>,
    /// Text only: whether the first row names the columns (default true). Without a header
    /// the columns are called `column_1`, `column_2`, … (1-based), e.g.
    /// `label_column = "column_65"` for scikit-learn's `digits.csv.gz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// Each row read as a gray image of `[height, width]` pixels, its columns in row-major
    /// order (Kaggle's `pixel1 … pixel784`, `X.reshape(N, -1)`): whole numbers 0–255, or
    /// every value in [0, 1] (times 255). The images then go through the stages as any
    /// image source's do. Not for arrays that already hold images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_shape: Option<[usize; 2]>,
    /// `.npz` only, instead of `tensor`: an archive of splits (MedMNIST's `train_images`,
    /// `val_images`, `test_images`; Keras' `x_train`, `x_test`), the arrays of samples read
    /// one after another; each sample's `split` is its array's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensors: Option<Vec<String>>,
    /// With `tensors`, instead of `label_column`: each one's label array, in the same order
    /// (MedMNIST's `train_labels`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_arrays: Option<Vec<String>>,
    /// Instead of `label_column`: a `.npy` file of the labels, or an `.npz` of one array,
    /// one a row (`(N,)` or `(N, 1)`: integers, booleans or whole-number floats), or a text
    /// file of one label a line (integers, whole-number floats or class names; a header
    /// line may come first), for labels saved apart (`np.save("y.npy", y)` beside `X.npy`;
    /// KMNIST's `kmnist-test-labels.npz`; `np.savetxt("y.txt", y)`, a `labels.csv`).
    /// Relative paths are read from where the stages run, as `path` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_path: Option<PathBuf>,
    /// Instead of one table at `path` (then the folder holding them): one table a class
    /// (QuickDraw's `cat.npy`, `dog.npy`; one CSV a class), their rows one after another,
    /// each labelled by its file's name without the extension; every other key applies to
    /// each file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_files: Option<Vec<PathBuf>>,
    /// Instead of one table at `path` (then the folder holding them): tables of one layout,
    /// one a split (Kaggle's `mnist_train.csv` and `mnist_test.csv`), their rows one after
    /// another; every other key applies to each file, and each sample's split is its file's
    /// name without the extension (`prepare.splits = ["mnist_test"]` keeps one) or a shard
    /// number (`train-00000-of-00002.parquet` and `train-00001-of-00002.parquet` are `train`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_files: Option<Vec<PathBuf>>,
    /// With `split_files`: each file's labels saved apart (as `labels_path` gives one
    /// file's), in the same order (`y_train.npy`, `y_test.npy` for `X_train.npy`,
    /// `X_test.npy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_labels: Option<Vec<PathBuf>>,
}

impl TableConfig {
    /// The table at `path` with every other key unset.
    pub fn at(path: impl Into<PathBuf>) -> TableConfig {
        TableConfig {
            path: path.into(),
            label_column: None,
            id_column: None,
            tensor: None,
            header: None,
            image_shape: None,
            tensors: None,
            label_arrays: None,
            labels_path: None,
            class_files: None,
            split_files: None,
            split_labels: None,
        }
    }
}

pub const SUPPORTED_EXTENSIONS: &str = ".parquet, .csv, .tsv, .txt, .dat or .data (each also gzipped, .csv.gz), .safetensors, .npy, .npz or .mat (MATLAB, level 5)";

/// Text tables, by extension; each may also be gzipped (`.csv.gz`).
const TEXT_EXTENSIONS: [&str; 5] = ["csv", "tsv", "txt", "dat", "data"];

/// The table format a file name says (the extension lower-cased; a text table's `.gz`
/// stripped) and whether it is gzipped.
pub fn table_extension(path: &Path) -> (String, bool) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let extension = |name: &str| name.rsplit_once('.').map(|(_, e)| e.to_string());
    if let Some(inner) = name.strip_suffix(".gz")
        && let Some(inner_extension) = extension(inner)
        && TEXT_EXTENSIONS.contains(&inner_extension.as_str())
    {
        return (inner_extension, true);
    }
    (extension(&name).unwrap_or_default(), false)
}

/// Whether the file name is one of a table this reader reads ([`SUPPORTED_EXTENSIONS`]).
pub fn is_table_file(path: &Path) -> bool {
    let (extension, _) = table_extension(path);
    TEXT_EXTENSIONS.contains(&extension.as_str())
        || ["parquet", "safetensors", "npy", "npz", "mat"].contains(&extension.as_str())
}

/// How a text table separates its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Comma,
    Tab,
    /// Runs of spaces or tabs, as `np.savetxt` writes by default (`1.0e+00 2.5e-01`).
    Whitespace,
    /// Semicolons, as spreadsheets write CSV where the comma is the decimal mark
    /// (`1,5;2;0`); a comma in a field is read as a decimal point.
    Semicolon,
}

impl Delimiter {
    /// A `.tsv` file's tabs; otherwise the first line's: a comma where it holds one, else a
    /// tab, else a semicolon, else runs of spaces (a single column reads the same either
    /// way).
    fn of(extension: &str, first_line: &str) -> Delimiter {
        if extension == "tsv" || (!first_line.contains(',') && first_line.contains('\t')) {
            Delimiter::Tab
        } else if !first_line.contains(',') && first_line.contains(';') {
            Delimiter::Semicolon
        } else if !first_line.contains(',') && first_line.trim().contains(' ') {
            Delimiter::Whitespace
        } else {
            Delimiter::Comma
        }
    }

    /// The first line's fields, as the reader splits every line.
    pub fn split(self, line: &str) -> Vec<String> {
        let fields: Vec<&str> = match self {
            Delimiter::Comma => line.split(',').collect(),
            Delimiter::Tab => line.split('\t').collect(),
            Delimiter::Whitespace => line.split_whitespace().collect(),
            Delimiter::Semicolon => line.split(';').collect(),
        };
        fields
            .iter()
            .map(|f| f.trim().trim_matches('"').to_string())
            .collect()
    }
}

/// A text table's layout: gzipped or not, and its delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextFormat {
    pub gzipped: bool,
    pub delimiter: Delimiter,
}

/// A text file's bytes, through gzip's decoder when `gzipped`.
pub(crate) fn open_text(path: &Path, gzipped: bool) -> anyhow::Result<Box<dyn Read>> {
    let file = super::open_file(path)?;
    Ok(match gzipped {
        true => Box::new(flate2::read::MultiGzDecoder::new(file)),
        false => Box::new(file),
    })
}

/// The layout of a text table (by extension, [`TEXT_EXTENSIONS`]) and its first two lines
/// (fewer in a shorter file); `None` for other files.
pub fn text_format(path: &Path) -> anyhow::Result<Option<(TextFormat, Vec<String>)>> {
    let (extension, gzipped) = table_extension(path);
    if !TEXT_EXTENSIONS.contains(&extension.as_str()) {
        return Ok(None);
    }
    let mut reader = BufReader::new(open_text(path, gzipped)?.take(2 << 20));
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .map_err(|e| file_error(path, format_args!("cannot read the first lines: {e}")))?;
        if read == 0 {
            break;
        }
        // A byte-order mark (Excel's "CSV UTF-8") is no part of the first field.
        let line = line.trim_start_matches('\u{feff}');
        lines.push(line.trim_end_matches(['\n', '\r']).to_string());
    }
    let delimiter = Delimiter::of(&extension, lines.first().map_or("", String::as_str));
    Ok(Some((TextFormat { gzipped, delimiter }, lines)))
}

/// Whether a text table's first line names its columns: it holds a field that is not a
/// number where the second line holds a number, or it holds no number at all. A first line
/// whose only text sits where the second line's does too (classes written as text, as
/// UCI's `iris.data`) is data.
pub fn names_columns(delimiter: Delimiter, lines: &[String]) -> bool {
    let number = |f: &String| f.parse::<f64>().is_ok();
    let Some(first) = lines.first().map(|l| delimiter.split(l)) else {
        return false;
    };
    if first.iter().all(number) {
        return false;
    }
    match lines.get(1).map(|l| delimiter.split(l)) {
        Some(second) if second.len() == first.len() => {
            first
                .iter()
                .zip(&second)
                .any(|(a, b)| !number(a) && number(b))
                || !first.iter().any(number)
        }
        _ => true,
    }
}

/// The names of the arrays an `.npz` archive holds.
pub fn npz_array_names(path: &Path) -> anyhow::Result<Vec<String>> {
    npz::array_names(path)
}

/// Whether an array of `shape` holds samples (2-D features, or images): 2 dimensions or
/// more, but not a column `(N, 1)`, which holds labels (MedMNIST's `train_labels`).
pub fn holds_samples(shape: &[usize]) -> bool {
    shape.len() >= 2 && shape != [shape[0], 1]
}

/// The number of data rows of a text table ([`TEXT_EXTENSIONS`]): its non-blank lines, less
/// the header where its first line names the columns; `None` for other files or when it
/// cannot be read.
pub fn text_rows(path: &Path) -> Option<usize> {
    let (format, first) = text_format(path).ok()??;
    let mut lines = 0;
    for line in BufReader::new(open_text(path, format.gzipped).ok()?).lines() {
        lines += usize::from(!line.ok()?.trim().is_empty());
    }
    Some(lines.saturating_sub(usize::from(names_columns(format.delimiter, &first))))
}

/// Whether a text file ([`TEXT_EXTENSIONS`]) holds the labels of `n_rows` samples, one a
/// line (a header line aside): what `labels_path` reads.
pub fn text_labels_fit(path: &Path, n_rows: usize) -> bool {
    let (extension, _) = table_extension(path);
    TEXT_EXTENSIONS.contains(&extension.as_str())
        && labels_text::value_lines(path).is_ok_and(|lines| labels_text::fits(&lines, n_rows))
}

/// Whether a `.npy` file, or an `.npz` of one array, holds the labels of `n_rows` samples as
/// `labels_path` reads them (one a row, or one-hot rows).
pub fn array_labels_fit(path: &Path, n_rows: usize) -> bool {
    match table_extension(path).0.as_str() {
        "npy" => npy::read_labels(path, n_rows).is_ok(),
        "npz" => npz::read_labels(path, n_rows).is_ok(),
        _ => false,
    }
}

/// The shapes of the arrays an `.npz` archive holds, by name (those that parse).
pub fn npz_array_shapes(path: &Path) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    npz::array_shapes(path)
}

/// The numeric vectors (`N×1`, `1×N`) of a `.mat` file, by name, with their lengths: the
/// variables that may hold labels.
pub fn mat_vectors(path: &Path) -> anyhow::Result<Vec<(String, usize)>> {
    Ok(mat::variables(path)?
        .iter()
        .filter_map(|v| Some((v.name.clone(), v.vector_len()?)))
        .collect())
}

/// Reads the feature matrix and labels; see [`TableConfig`].
pub fn read(config: &TableConfig) -> anyhow::Result<Dataset> {
    if let Some(files) = &config.class_files {
        return read_class_files(config, files);
    }
    if let Some(files) = &config.split_files {
        return read_split_files(config, files);
    }
    let (table, splits) = read_one(config)?;
    let mut dataset = table.into_dataset(&config.path);
    if let Some(splits) = splits {
        for (sample, split) in dataset.samples.iter_mut().zip(splits) {
            sample.split = split;
        }
    }
    Ok(dataset)
}

/// One file's table, labels saved apart and `image_shape` applied, and each row's split
/// where the file holds splits (an `.npz` read with `tensors`).
fn read_one(config: &TableConfig) -> anyhow::Result<(Table, Option<Vec<String>>)> {
    let path = &config.path;
    let (extension, _) = table_extension(path);
    let text = TEXT_EXTENSIONS.contains(&extension.as_str());
    if !is_table_file(path) {
        return Err(file_error(
            path,
            format_args!(
                "unsupported file extension {:?}; expected {SUPPORTED_EXTENSIONS}",
                format!(".{extension}")
            ),
        ));
    }
    require_exists(path)?;
    if !matches!(extension.as_str(), "safetensors" | "npz" | "mat")
        && let Some(tensor) = &config.tensor
    {
        return Err(file_error(
            path,
            format_args!(
                "tensor = {tensor:?} is for .safetensors, .npz and .mat files only; remove it"
            ),
        ));
    }
    if !(text || extension == "parquet")
        && let Some(id_column) = &config.id_column
    {
        return Err(file_error(
            path,
            format_args!(
                "id_column = {id_column:?} is for Parquet and text tables (CSV) only; remove it"
            ),
        ));
    }
    if !text && config.header.is_some() {
        return Err(file_error(
            path,
            "header = … is for text tables (CSV) only; remove it",
        ));
    }
    if config.tensors.is_none() && config.label_arrays.is_some() {
        return Err(file_error(
            path,
            "label_arrays = […] goes with tensors = […]; name the arrays of samples too",
        ));
    }
    if let Some(tensors) = &config.tensors {
        if extension != "npz" {
            return Err(file_error(
                path,
                "tensors = […] is for .npz files only; remove it",
            ));
        }
        if config.tensor.is_some() || config.label_column.is_some() {
            return Err(file_error(
                path,
                "tensors = […] reads several arrays: give their labels as label_arrays = […], without tensor or label_column",
            ));
        }
        let (table, splits) = npz::read_splits(path, tensors, config.label_arrays.as_deref())?;
        return Ok((
            table.with_image_shape(path, config.image_shape)?,
            Some(splits),
        ));
    }
    let columns = arrow_table::Columns {
        label: config.label_column.as_deref(),
        id: config.id_column.as_deref(),
    };
    let table = match extension.as_str() {
        "parquet" => arrow_table::read_parquet(path, columns)?,
        _ if text => {
            let (format, _) = text_format(path)?.expect("a text table's extension");
            let layout = arrow_table::CsvLayout {
                header: config.header.unwrap_or(true),
                format,
            };
            arrow_table::read_csv(path, columns, layout)?
        }
        "safetensors" => safetensors_file::read(
            path,
            config.tensor.as_deref(),
            config.label_column.as_deref(),
        )?,
        "npz" => npz::read(
            path,
            config.tensor.as_deref(),
            config.label_column.as_deref(),
        )?,
        "mat" => mat::read(
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
    let table = match &config.labels_path {
        Some(labels_path) => table.with_labels_from(path, labels_path, config)?,
        None => table,
    };
    Ok((table.with_image_shape(path, config.image_shape)?, None))
}

/// One class a file ([`TableConfig::class_files`]): each file read with the other keys, the
/// rows one after another, labelled by their file names, each sample's `source` its file
/// and row.
fn read_class_files(config: &TableConfig, files: &[PathBuf]) -> anyhow::Result<Dataset> {
    if files.len() < 2 {
        return Err(file_error(
            &config.path,
            "class_files = […] names one class a file: give two or more",
        ));
    }
    if config.label_column.is_some() || config.labels_path.is_some() {
        return Err(file_error(
            &config.path,
            "class_files = […] labels each file's rows by the file's name: remove label_column and labels_path",
        ));
    }
    let one = |_, file: &PathBuf| TableConfig {
        path: file.clone(),
        class_files: None,
        image_shape: None,
        ..config.clone()
    };
    let (mut table, sources, classes) = read_files(files, one, class_name)?;
    table.labels = RawLabels::Text(classes.into_iter().map(Some).collect());
    let table = table.with_image_shape(&config.path, config.image_shape)?;
    let mut dataset = table.into_dataset(&config.path);
    for (sample, source) in dataset.samples.iter_mut().zip(sources) {
        sample.source = source;
    }
    Ok(dataset)
}

/// The class a file of [`TableConfig::class_files`] holds: its name without the table's
/// extension (`cat.npy`, `cat.csv.gz`: `cat`).
pub fn class_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let (extension, gzipped) = table_extension(path);
    let suffix = format!(".{extension}{}", if gzipped { ".gz" } else { "" });
    match name.len().checked_sub(suffix.len()) {
        Some(end) if end > 0 && name[end..].eq_ignore_ascii_case(&suffix) => {
            name[..end].to_string()
        }
        _ => file_stem(path),
    }
}

/// One split a file ([`TableConfig::split_files`]): each file read with the other keys,
/// the rows one after another, each sample's split its file's stem; the classes are those
/// of every file together.
fn read_split_files(config: &TableConfig, files: &[PathBuf]) -> anyhow::Result<Dataset> {
    if files.len() < 2 {
        return Err(file_error(
            &config.path,
            "split_files = […] names one split a file: give two or more",
        ));
    }
    if config.class_files.is_some() || config.labels_path.is_some() {
        return Err(file_error(
            &config.path,
            "split_files = […] reads each file's own labels (split_labels = […] for labels saved apart): remove class_files and labels_path",
        ));
    }
    let labels: Vec<Option<PathBuf>> = match &config.split_labels {
        Some(labels) if labels.len() != files.len() => {
            return Err(file_error(
                &config.path,
                format_args!(
                    "split_labels names {} files for {} split_files; give one labels file a split, in the same order",
                    labels.len(),
                    files.len()
                ),
            ));
        }
        Some(labels) => labels.iter().cloned().map(Some).collect(),
        None => vec![None; files.len()],
    };
    let one = |i: usize, file: &PathBuf| TableConfig {
        path: file.clone(),
        split_files: None,
        split_labels: None,
        labels_path: labels[i].clone(),
        ..config.clone()
    };
    let (table, sources, splits) = read_files(files, one, split_name)?;
    let mut dataset = table.into_dataset(&config.path);
    for ((sample, source), split) in dataset.samples.iter_mut().zip(sources).zip(splits) {
        sample.source = source;
        sample.split = split;
    }
    Ok(dataset)
}

/// Tables of one layout read one after another (`files`, the i-th with `config_of(i,
/// file)`), joined: the table, each row's `source` (its file and row, or id), and each
/// row's file's `tag` (its class or split name).
fn read_files(
    files: &[PathBuf],
    config_of: impl Fn(usize, &PathBuf) -> TableConfig,
    tag: impl Fn(&Path) -> String,
) -> anyhow::Result<(Table, Vec<String>, Vec<String>)> {
    let mut joined: Option<Table> = None;
    let mut sources = Vec::new();
    let mut tags = Vec::new();
    for (i, file) in files.iter().enumerate() {
        // A file's own splits (an archive read with `tensors`) give way to the tag.
        let (part, _) = read_one(&config_of(i, file))?;
        sources.extend(part.sources(file));
        tags.extend(std::iter::repeat_n(tag(file), part.n_rows));
        joined = Some(match joined {
            None => part,
            Some(table) => table.append(file, part, "files")?,
        });
    }
    let table = joined.expect("two files or more were read");
    Ok((table, sources, tags))
}

/// A file's name without its extension, as a class or split name.
fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// The split a table of [`TableConfig::split_files`] holds: its name without the extension
/// and without a shard number (`train-00001-of-00004.parquet`, as dataset hubs cut a split
/// into files, is of the split `train`).
pub fn split_name(path: &Path) -> String {
    let stem = file_stem(path);
    let shard = |part: &str| part.len() >= 5 && part.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
    match parts.as_slice() {
        [total, "of", index, split] if shard(total) && shard(index) && !split.is_empty() => {
            split.to_string()
        }
        _ => stem,
    }
}

/// The rows of a `.npy` file of 2 or more dimensions (its header's first size), or of a
/// labels file: `None` when it does not parse.
pub fn npy_shape(path: &Path) -> Option<Vec<usize>> {
    npy::shape(path)
}

/// Labels as read, before they become indices into sorted class names.
#[derive(Debug)]
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
    /// Images instead of features: a NumPy array of 3 or 4 dimensions.
    images: Option<ArrayImages>,
}

/// `[N, C, H, W]` 8-bit images from a NumPy array.
struct ArrayImages {
    data: Vec<u8>,
    channels: usize,
    height: usize,
    width: usize,
}

impl Table {
    /// `part` (read from `from`) after these rows: the same features or images, labelled
    /// both or neither (integer labels beside text ones read as text). `before` names what
    /// came before in the error (`arrays`, `files`).
    fn append(mut self, from: &Path, part: Table, before: &str) -> anyhow::Result<Table> {
        let shape = |t: &Table| match &t.images {
            Some(images) => format!(
                "images {}×{}×{}",
                images.channels, images.height, images.width
            ),
            None => format!("rows of {} features", t.dim),
        };
        if shape(&self) != shape(&part) {
            return Err(file_error(
                from,
                format_args!(
                    "holds {}, the {before} before it {}; they must agree",
                    shape(&part),
                    shape(&self)
                ),
            ));
        }
        let as_text = |values: Vec<Option<i64>>| -> Vec<Option<String>> {
            values
                .into_iter()
                .map(|v| v.map(|i| i.to_string()))
                .collect()
        };
        self.labels = match (self.labels, part.labels) {
            (RawLabels::Integers(mut a), RawLabels::Integers(b)) => {
                a.extend(b);
                RawLabels::Integers(a)
            }
            (RawLabels::Text(mut a), RawLabels::Text(b)) => {
                a.extend(b);
                RawLabels::Text(a)
            }
            (RawLabels::Integers(a), RawLabels::Text(b)) => {
                RawLabels::Text(as_text(a).into_iter().chain(b).collect())
            }
            (RawLabels::Text(mut a), RawLabels::Integers(b)) => {
                a.extend(as_text(b));
                RawLabels::Text(a)
            }
            (RawLabels::None, RawLabels::None) => RawLabels::None,
            _ => {
                return Err(file_error(
                    from,
                    format_args!(
                        "has labels where the {before} before it have none, or none where they have"
                    ),
                ));
            }
        };
        self.ids = match (self.ids, part.ids) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
        self.features.extend(part.features);
        if let (Some(images), Some(more)) = (&mut self.images, part.images) {
            images.data.extend(more.data);
        }
        self.n_rows += part.n_rows;
        Ok(self)
    }

    /// The labels of `labels_path` ([`TableConfig::labels_path`]) on these rows.
    fn with_labels_from(
        mut self,
        path: &Path,
        labels_path: &Path,
        config: &TableConfig,
    ) -> anyhow::Result<Table> {
        if let Some(column) = &config.label_column {
            return Err(file_error(
                path,
                format_args!(
                    "label_column = {column:?} and labels_path = {:?} both give labels; keep one",
                    labels_path.display().to_string()
                ),
            ));
        }
        self.labels = match table_extension(labels_path).0.as_str() {
            "npy" => RawLabels::Integers(npy::read_labels(labels_path, self.n_rows)?),
            "npz" => RawLabels::Integers(npz::read_labels(labels_path, self.n_rows)?),
            e if TEXT_EXTENSIONS.contains(&e) => labels_text::read(labels_path, self.n_rows)?,
            _ => {
                return Err(file_error(
                    labels_path,
                    "labels_path must name a .npy file (np.save(path, labels)), an .npz of one array, or a text file of one label a line (.txt, .csv)",
                ));
            }
        };
        Ok(self)
    }

    /// The rows as gray images of `[height, width]` ([`TableConfig::image_shape`]).
    /// The rows as gray images of `image_shape` when one is given, else as they are.
    fn with_image_shape(
        self,
        path: &Path,
        image_shape: Option<[usize; 2]>,
    ) -> anyhow::Result<Table> {
        match image_shape {
            Some(shape) => self.into_gray_images(path, shape),
            None => Ok(self),
        }
    }

    fn into_gray_images(
        mut self,
        path: &Path,
        [height, width]: [usize; 2],
    ) -> anyhow::Result<Table> {
        let shape = format!("image_shape = [{height}, {width}]");
        if self.images.is_some() {
            return Err(file_error(
                path,
                format_args!("{shape}, but the array already holds images; remove it"),
            ));
        }
        if height == 0 || width == 0 || height * width != self.dim {
            return Err(file_error(
                path,
                format_args!(
                    "{shape} reads {} pixels a row, and the rows hold {} features",
                    height * width,
                    self.dim
                ),
            ));
        }
        let data = gray_pixels(&self.features).map_err(|e| {
            file_error(
                path,
                format_args!(
                    "{shape}: row {} holds {} in feature {} (0-based); pixels are whole numbers 0–255, or every value in [0, 1] or in [-1, 1]",
                    e.position / self.dim,
                    e.value,
                    e.position % self.dim
                ),
            )
        })?;
        self.features = Vec::new();
        self.images = Some(ArrayImages {
            data,
            channels: 1,
            height,
            width,
        });
        Ok(self)
    }

    /// Each row's `source`: `file#<id>` where an id column names the rows, else
    /// `file#<row>`.
    fn sources(&self, path: &Path) -> Vec<String> {
        (0..self.n_rows)
            .map(|row| match &self.ids {
                Some(ids) => format!("{}#{}", path.display(), ids[row]),
                None => format!("{}#{row}", path.display()),
            })
            .collect()
    }

    fn into_dataset(self, path: &Path) -> Dataset {
        let sources = self.sources(path);
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
            .zip(sources)
            .map(|(label, source)| SampleRecord {
                label,
                source,
                split: "all".to_string(),
            })
            .collect();
        let inputs = match self.images {
            Some(images) => Inputs::Images {
                data: images.data,
                channels: images.channels,
                height: images.height,
                width: images.width,
            },
            None => Inputs::Features {
                data: self.features,
                dim: self.dim,
            },
        };
        Dataset {
            inputs,
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

/// Reads `path` with only `tensor` and `label_column` set: the tests of the array formats.
#[cfg(test)]
fn read_arrays(
    path: &Path,
    tensor: Option<&str>,
    label_column: Option<&str>,
) -> anyhow::Result<Dataset> {
    read(&TableConfig {
        label_column: label_column.map(str::to_string),
        tensor: tensor.map(str::to_string),
        ..TableConfig::at(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_extension_lists_supported_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.xlsx");
        std::fs::write(&path, "x").unwrap();
        let error = read(&TableConfig::at(&path)).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: unsupported file extension \".xlsx\"; expected {SUPPORTED_EXTENSIONS}",
                path.display()
            )
        );
    }

    #[test]
    fn missing_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.csv");
        let error = read(&TableConfig::at(&path)).unwrap_err().to_string();
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
            label_column: Some("column_3".into()),
            header: Some(false),
            ..TableConfig::at(&path)
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
            header: Some(false),
            ..TableConfig::at(&path)
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            format!(
                "{}: header = … is for text tables (CSV) only; remove it",
                path.display()
            )
        );
    }

    #[test]
    fn image_shape_reads_rows_as_gray_images() {
        let dir = tempfile::tempdir().unwrap();
        // Kaggle's layout: the label first, then pixel1 … pixel4 of 2×2 images.
        let path = dir.path().join("pixels.csv");
        std::fs::write(
            &path,
            "label,pixel1,pixel2,pixel3,pixel4\n7,0,255,16,3\n2,1,2,3,4\n",
        )
        .unwrap();
        let config = TableConfig {
            image_shape: Some([2, 2]),
            ..table_config(&path, Some("label"), None)
        };
        let dataset = read(&config).unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Images {
                data: vec![0, 255, 16, 3, 1, 2, 3, 4],
                channels: 1,
                height: 2,
                width: 2
            }
        );
        assert_eq!(dataset.class_names, ["2", "7"]);

        // Values in [0, 1] are scaled by 255.
        let unit = dir.path().join("unit.csv");
        std::fs::write(&unit, "a,b,c,d\n0,1,0.5,0.2\n").unwrap();
        let config = TableConfig {
            image_shape: Some([2, 2]),
            ..table_config(&unit, None, None)
        };
        let Inputs::Images { data, .. } = read(&config).unwrap().inputs else {
            panic!("image_shape gives images");
        };
        assert_eq!(data, [0, 255, 128, 51]);
    }

    #[test]
    fn image_shape_errors_name_the_shape_and_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pixels.csv");
        std::fs::write(&path, "a,b,c,d\n0,1,2,3\n4,5,300,7\n").unwrap();
        let error = |shape: [usize; 2]| {
            read(&TableConfig {
                image_shape: Some(shape),
                ..table_config(&path, None, None)
            })
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            error([3, 3]),
            format!(
                "{}: image_shape = [3, 3] reads 9 pixels a row, and the rows hold 4 features",
                path.display()
            )
        );
        assert_eq!(
            error([2, 2]),
            format!(
                "{}: image_shape = [2, 2]: row 1 holds 300 in feature 2 (0-based); pixels are whole numbers 0–255, or every value in [0, 1] or in [-1, 1]",
                path.display()
            )
        );
    }

    #[test]
    fn labels_path_reads_labels_saved_apart() {
        use ebsc_test_support::numpy::npy;
        let dir = tempfile::tempdir().unwrap();
        let samples = dir.path().join("X.csv");
        std::fs::write(&samples, "a,b\n1,2\n3,4\n5,6\n").unwrap();
        let labels = dir.path().join("y.npy");
        std::fs::write(&labels, npy("|u1", false, "(3, 1)", &[4, 2, 4])).unwrap();
        let config = |labels_path: &Path, label_column: Option<&str>| TableConfig {
            labels_path: Some(labels_path.to_path_buf()),
            ..table_config(&samples, label_column, None)
        };
        let dataset = read(&config(&labels, None)).unwrap();
        let read_labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(read_labels, [Some(1), Some(0), Some(1)]);
        assert_eq!(dataset.class_names, ["2", "4"]);
        let error = |config: TableConfig| format!("{:#}", read(&config).unwrap_err());
        assert!(error(config(&labels, Some("a"))).contains("both give labels; keep one"));
        let short = dir.path().join("short.npy");
        std::fs::write(&short, npy("|u1", false, "(2,)", &[1, 2])).unwrap();
        assert!(
            error(config(&short, None)).contains("shape (2,) for labels; expected (3,) or (3, 1)")
        );
        let json = dir.path().join("y.json");
        std::fs::write(&json, "[4, 2, 4]").unwrap();
        assert!(error(config(&json, None)).contains("labels_path must name a .npy file"));
        // One label a line, as text: class names here.
        let text = dir.path().join("labels.txt");
        std::fs::write(&text, "label\ncoat\nbag\ncoat\n").unwrap();
        let dataset = read(&config(&text, None)).unwrap();
        let read_labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(read_labels, [Some(1), Some(0), Some(1)]);
        assert_eq!(dataset.class_names, ["bag", "coat"]);
        // One-hot rows (Keras' to_categorical): each row's index of its 1.
        let one_hot = dir.path().join("y_hot.npy");
        let rows: Vec<u8> = [0.0f32, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        std::fs::write(&one_hot, npy("<f4", false, "(3, 3)", &rows)).unwrap();
        let dataset = read(&config(&one_hot, None)).unwrap();
        let read_labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(read_labels, [Some(1), Some(0), Some(1)]);
        assert_eq!(dataset.class_names, ["0", "2"]);
        let two_hot = dir.path().join("y_two.npy");
        std::fs::write(&two_hot, npy("|u1", false, "(3, 2)", &[1, 0, 1, 1, 0, 1])).unwrap();
        assert!(
            error(config(&two_hot, None)).contains("row 1 is not one-hot"),
            "{}",
            error(config(&two_hot, None))
        );
    }

    #[test]
    fn class_files_read_one_class_a_file() {
        use ebsc_test_support::numpy::npy;
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("cat.npy");
        let dog = dir.path().join("dog.npy");
        std::fs::write(&dog, npy("|u1", false, "(1, 2)", &[5, 6])).unwrap();
        std::fs::write(&cat, npy("|u1", false, "(2, 2)", &[1, 2, 3, 4])).unwrap();
        let config = |files: &[&PathBuf]| TableConfig {
            class_files: Some(files.iter().map(|f| (*f).clone()).collect()),
            ..TableConfig::at(dir.path())
        };
        let dataset = read(&config(&[&dog, &cat])).unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Features {
                data: vec![5.0, 6.0, 1.0, 2.0, 3.0, 4.0],
                dim: 2
            }
        );
        assert_eq!(dataset.class_names, ["cat", "dog"]);
        let labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, [Some(1), Some(0), Some(0)]);
        assert_eq!(dataset.samples[2].source, format!("{}#1", cat.display()));
        // Files of other shapes, or one file, are errors.
        let wide = dir.path().join("bird.npy");
        std::fs::write(&wide, npy("|u1", false, "(1, 3)", &[7, 8, 9])).unwrap();
        let error = format!("{:#}", read(&config(&[&cat, &wide])).unwrap_err());
        assert!(
            error.contains("holds rows of 3 features, the files before it rows of 2 features"),
            "{error}"
        );
        let error = format!("{:#}", read(&config(&[&cat])).unwrap_err());
        assert!(error.contains("give two or more"), "{error}");
        // One header-less CSV a class, read with the keys every file shares.
        let ant = dir.path().join("ant.csv");
        let bee = dir.path().join("bee.csv.gz");
        std::fs::write(&ant, "1,2\n3,4\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"5,6\n").unwrap();
        std::fs::write(&bee, gz.finish().unwrap()).unwrap();
        let csv = TableConfig {
            header: Some(false),
            ..config(&[&bee, &ant])
        };
        let dataset = read(&csv).unwrap();
        assert_eq!(dataset.class_names, ["ant", "bee"]);
        let labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, [Some(1), Some(0), Some(0)]);
        assert_eq!(
            dataset.inputs,
            Inputs::Features {
                data: vec![5.0, 6.0, 1.0, 2.0, 3.0, 4.0],
                dim: 2
            }
        );
        let labelled = TableConfig {
            label_column: Some("column_2".into()),
            ..csv
        };
        let error = format!("{:#}", read(&labelled).unwrap_err());
        assert!(error.contains("remove label_column"), "{error}");
    }

    #[test]
    fn split_files_read_one_split_a_file_with_the_classes_of_all() {
        let dir = tempfile::tempdir().unwrap();
        let train = dir.path().join("digits_train.csv");
        let test = dir.path().join("digits_test.csv");
        // Class 10 only in training, class 3 only in the test file: numbers sort as numbers.
        std::fs::write(&train, "label,a\n10,1\n2,2\n").unwrap();
        std::fs::write(&test, "label,a\n3,3\n2,4\n").unwrap();
        let config = |files: &[&PathBuf]| TableConfig {
            split_files: Some(files.iter().map(|f| (*f).clone()).collect()),
            ..table_config(dir.path(), Some("label"), None)
        };
        let dataset = read(&config(&[&test, &train])).unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Features {
                data: vec![3.0, 4.0, 1.0, 2.0],
                dim: 1
            }
        );
        assert_eq!(dataset.class_names, ["2", "3", "10"]);
        let read_labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(read_labels, [Some(1), Some(0), Some(2), Some(0)]);
        let splits: Vec<&str> = dataset.samples.iter().map(|s| s.split.as_str()).collect();
        assert_eq!(
            splits,
            ["digits_test", "digits_test", "digits_train", "digits_train"]
        );
        assert_eq!(dataset.samples[3].source, format!("{}#1", train.display()));
        // Files of other widths, one file, or labels saved apart are errors.
        let wide = dir.path().join("digits_val.csv");
        std::fs::write(&wide, "label,a,b\n2,1,1\n").unwrap();
        let error = format!("{:#}", read(&config(&[&train, &wide])).unwrap_err());
        assert!(
            error.contains("holds rows of 2 features, the files before it rows of 1 features"),
            "{error}"
        );
        assert!(error.starts_with(&wide.display().to_string()), "{error}");
        let error = format!("{:#}", read(&config(&[&train])).unwrap_err());
        assert!(error.contains("give two or more"), "{error}");
        let apart = TableConfig {
            labels_path: Some(dir.path().join("y.txt")),
            ..config(&[&train, &test])
        };
        let error = format!("{:#}", read(&apart).unwrap_err());
        assert!(
            error.contains("remove class_files and labels_path"),
            "{error}"
        );
        // Each file's labels saved apart, in the files' order.
        let bare_train = dir.path().join("x_train.csv");
        let bare_test = dir.path().join("x_test.csv");
        std::fs::write(&bare_train, "a\n1\n2\n").unwrap();
        std::fs::write(&bare_test, "a\n3\n").unwrap();
        let train_labels = dir.path().join("y_train.txt");
        let test_labels = dir.path().join("y_test.txt");
        std::fs::write(&train_labels, "cat\ndog\n").unwrap();
        std::fs::write(&test_labels, "ant\n").unwrap();
        let apart = |labels: Vec<PathBuf>| TableConfig {
            split_files: Some(vec![bare_train.clone(), bare_test.clone()]),
            split_labels: Some(labels),
            ..TableConfig::at(dir.path())
        };
        let dataset = read(&apart(vec![train_labels.clone(), test_labels.clone()])).unwrap();
        assert_eq!(dataset.class_names, ["ant", "cat", "dog"]);
        let read_labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(read_labels, [Some(1), Some(2), Some(0)]);
        let error = format!("{:#}", read(&apart(vec![train_labels])).unwrap_err());
        assert!(
            error.contains("split_labels names 1 files for 2 split_files"),
            "{error}"
        );
    }

    fn table_config(path: &Path, label_column: Option<&str>, header: Option<bool>) -> TableConfig {
        TableConfig {
            label_column: label_column.map(str::to_string),
            header,
            ..TableConfig::at(path)
        }
    }

    #[test]
    fn text_tables_split_at_commas_tabs_or_runs_of_spaces() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        // np.savetxt's default: single spaces, `%.18e`, the labels as floats; a second file
        // aligned by runs of spaces (gzipped), a third tab-separated with a header, and a
        // `.csv` written without delimiter=",".
        let savetxt = "1.000000000000000000e+00 -2.500000000000000000e-01 1.000000000000000000e+00\n\
                       3.000000000000000000e+00 5.000000000000000000e-01 0.000000000000000000e+00\n";
        let aligned = "  1.0   -0.25  1\n  3.0    0.5   0\n\n";
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(aligned.as_bytes()).unwrap();
        let files = [
            (
                "savetxt.txt",
                savetxt.as_bytes().to_vec(),
                Some(false),
                "column_3",
            ),
            (
                "aligned.dat.gz",
                encoder.finish().unwrap(),
                Some(false),
                "column_3",
            ),
            (
                "tabs.tsv",
                b"a\tb\ty\n1.0\t-0.25\t1\n3\t0.5\t0\n".to_vec(),
                None,
                "y",
            ),
            (
                "spaces.csv",
                savetxt.as_bytes().to_vec(),
                Some(false),
                "column_3",
            ),
            // A spreadsheet's CSV where the comma is the decimal mark.
            (
                "excel.csv",
                b"a;b;y\n1,0;-0,25;1\n3;0,5;0\n".to_vec(),
                None,
                "y",
            ),
        ];
        for (name, bytes, header, label) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let format = text_format(&path).unwrap().unwrap().0;
            assert_eq!(format.gzipped, name.ends_with(".gz"), "{name}");
            let dataset = read(&table_config(&path, Some(label), header))
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            let Inputs::Features { dim, data } = &dataset.inputs else {
                panic!("a table gives features");
            };
            assert_eq!(
                (*dim, data.as_slice()),
                (2, &[1.0, -0.25, 3.0, 0.5][..]),
                "{name}"
            );
            let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
            assert_eq!(labels, vec![Some(1), Some(0)], "{name}");
        }
        let delimiters: Vec<Delimiter> = ["1,2 3", "1\t2 3", "1 2", "1", "a\tb", "a;b c"]
            .iter()
            .map(|line| Delimiter::of("txt", line))
            .collect();
        use Delimiter::{Comma, Semicolon, Tab, Whitespace};
        assert_eq!(
            delimiters,
            vec![Comma, Tab, Whitespace, Comma, Tab, Semicolon]
        );
        assert_eq!(Delimiter::of("tsv", "a b"), Tab);
        // The first line names the columns where it has text over a number, or no number.
        let head = |lines: &[&str]| {
            let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            names_columns(Comma, &lines)
        };
        assert!(head(&["a,b,label", "1,2,x"]));
        assert!(head(&["a,b", "x,y"]));
        assert!(head(&["a,b"]));
        assert!(!head(&["1,2,x", "3,4,y"]));
        assert!(!head(&["1,2,3", "4,5,6"]));
        assert!(!head(&[]));
        assert!(is_table_file(Path::new("x.TXT.gz")));
        assert!(!is_table_file(Path::new("x.parquet.gz")));
    }

    #[test]
    fn split_files_are_named_by_their_split_without_a_shard_number() {
        for (file, split) in [
            ("mnist_test.csv", "mnist_test"),
            ("data/train-00001-of-00004.parquet", "train"),
            ("test-00000-of-00001.parquet", "test"),
            ("my-train-set-00000-of-00002.parquet", "my-train-set"),
            // Not a shard number: kept whole.
            ("train-1-of-2.parquet", "train-1-of-2"),
            ("-00000-of-00001.parquet", "-00000-of-00001"),
        ] {
            assert_eq!(split_name(Path::new(file)), split, "{file}");
        }
    }

    #[test]
    fn integer_labels_sort_numerically() {
        let (labels, distinct) = index_labels(vec![Some(10i64), None, Some(-1), Some(2), Some(10)]);
        assert_eq!(distinct, vec![-1, 2, 10]);
        assert_eq!(labels, vec![Some(2), None, Some(0), Some(1), Some(2)]);
    }
}
