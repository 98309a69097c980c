//! What kind of data a path holds, as a `[prepare]` source: an image folder, IDX files, a
//! CIFAR binary folder or a feature table.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::SourceConfig;
use crate::sources::OneOrMany;
use crate::sources::cifar::{CifarConfig, CifarLabelKind};
use crate::sources::idx::IdxConfig;
use crate::sources::image_folder::{self, FolderLabels, ImageFolderConfig, Layout};
use crate::sources::table::{self, TableConfig};

/// Source keys the user may give on the command line (`label_column=y`, `resize=[64,64]`).
#[derive(Debug, Default, Clone)]
pub struct SourceKeys {
    pub label_column: Option<String>,
    pub id_column: Option<String>,
    pub tensor: Option<String>,
    pub header: Option<bool>,
    pub grayscale: Option<bool>,
    pub resize: Option<[u32; 2]>,
    pub label_kind: Option<CifarLabelKind>,
    /// Image folders: what the subfolders mean (`labels=none`, `labels=folders`).
    pub labels: Option<FolderLabels>,
    /// Tables: `image_shape=[H,W]` reads the rows as gray images, `image_shape=none` keeps
    /// them features.
    pub image_shape: Option<ImageShapeKey>,
}

impl SourceKeys {
    /// The `image_shape=[H,W]` given, if any (`image_shape=none` gives none).
    fn image_shape_given(&self) -> Option<[usize; 2]> {
        match self.image_shape {
            Some(ImageShapeKey::Shape(shape)) => Some(shape),
            _ => None,
        }
    }
}

/// The `image_shape=` a user gave `new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageShapeKey {
    /// `image_shape=none`: the columns are features, whatever they hold.
    None,
    /// `image_shape=[H,W]`.
    Shape([usize; 2]),
}

/// Least side of the square gray images `new` finds in a table's rows: scikit-learn's 8×8
/// digits (64 columns, 0–16) stay features, as the suite measures them (0.953 with the
/// features template); the images template's crops and convolutions are built for images
/// of 28 pixels and more.
pub const MIN_PIXEL_SIDE: usize = 16;

/// The side of the square gray images a table's rows hold: `dim` a square of at least
/// [`MIN_PIXEL_SIDE`], and every value a pixel ([`table::PixelScale::exact`]: whole numbers
/// 0–255, or 255ths in [0, 1]). `data` is `[n, dim]` row-major.
pub fn pixel_side(data: &[f32], dim: usize) -> Option<usize> {
    let side = table::square_side(dim, MIN_PIXEL_SIDE)?;
    table::PixelScale::exact(data).map(|_| side)
}

/// Column or tensor names taken as labels when the user names none (case-insensitive).
/// (`gnd`, "ground truth", is how Deng Cai's MATLAB face sets name theirs.)
/// (`cluster` and `subspace`, as generated unions of subspaces name theirs.)
const LABEL_NAMES: [&str; 11] = [
    "label", "labels", "class", "target", "y", "category", "gnd", "classes", "targets", "cluster",
    "subspace",
];

/// Column names taken as row ids when the user names none (case-insensitive; the last
/// four are the index columns pandas writes: `index` from `reset_index()`, `Unnamed: 0`
/// once a CSV is read and written again, `__index_level_0__` to Parquet, and an empty
/// name, `df.to_csv(path)`'s first column): excluded from the features, they name each row
/// in `source`.
const ID_NAMES: [&str; 12] = [
    "id",
    "uid",
    "uuid",
    "key",
    "name",
    "filename",
    "file",
    "path",
    "index",
    "Unnamed: 0",
    "__index_level_0__",
    "",
];

/// The source that reads `path`, with `keys` filled in.
pub fn detect(path: &Path, keys: &SourceKeys) -> anyhow::Result<SourceConfig> {
    if !path.exists() {
        bail!("{}: not found", path.display());
    }
    if path.is_dir() {
        return detect_folder(path, keys);
    }
    let name = file_name(path);
    if name.contains("idx3-ubyte") {
        let labels = idx_labels_beside(path)?;
        return Ok(SourceConfig::Idx(IdxConfig {
            images: OneOrMany::One(path.to_path_buf()),
            labels: OneOrMany::One(labels),
        }));
    }
    if table::is_table_file(path) {
        if let Some(folder) = images_named_by(path, keys) {
            return Ok(SourceConfig::ImageFolder(ImageFolderConfig {
                path: folder,
                resize: keys.resize,
                grayscale: keys.grayscale,
                labels: None,
                labels_file: Some(path.to_path_buf()),
            }));
        }
        return table_source(path, keys);
    }
    bail!(
        "{}: not a data set this tool reads; expected a folder of images (or of class subfolders of images), a folder of IDX files (*-images-idx3-ubyte with *-labels-idx1-ubyte), a CIFAR binary folder, or a feature table ({})",
        path.display(),
        table::SUPPORTED_EXTENSIONS
    )
}

/// Longest side, in pixels, `new` gives an image folder's images when it picks the size.
pub const MAX_SIDE: u32 = 64;

/// A `resize = [height, width]` for an image folder whose images differ in size or are
/// larger than [`MAX_SIDE`]: the median size, scaled down (keeping its aspect) to fit.
/// `None` when the images already share one small size, or when a header cannot be read
/// (the reader then names the file).
pub fn fitting_resize(folder: &ImageFolderConfig) -> Option<[u32; 2]> {
    let files = match crate::sources::image_folder::layout_of(folder).ok()? {
        Layout::Classes { classes, .. } => classes.into_iter().flat_map(|(_, f)| f).collect(),
        Layout::Unlabelled { images, .. } => images,
    };
    let mut sizes = Vec::new();
    for file in files {
        let (width, height) = image::ImageReader::open(&file)
            .ok()?
            .with_guessed_format()
            .ok()?
            .into_dimensions()
            .ok()?;
        sizes.push([height, width]);
    }
    let all_same = sizes.windows(2).all(|w| w[0] == w[1]);
    sizes.sort_by_key(|[h, w]| u64::from(*h) * u64::from(*w));
    let [height, width] = *sizes.get(sizes.len() / 2)?;
    if all_same && height.max(width) <= MAX_SIDE {
        return None;
    }
    let scale = (f64::from(MAX_SIDE) / f64::from(height.max(width))).min(1.0);
    let fit = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    Some([fit(height), fit(width)])
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// A folder's entries: its files (sorted) and its subfolders.
fn folder_entries(folder: &Path) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let (mut files, subfolders): (Vec<PathBuf>, Vec<PathBuf>) = std::fs::read_dir(folder)
        .with_context(|| format!("{}: cannot list the folder", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() || p.is_dir())
        .partition(|p| p.is_file());
    files.sort();
    Ok((files, subfolders))
}

fn detect_folder(path: &Path, keys: &SourceKeys) -> anyhow::Result<SourceConfig> {
    let (files, subfolders) = folder_entries(path)?;
    // A data set one folder down (a dataset repository's snapshot: a README beside the
    // `data/` or `mnist/` folder that holds the tables): that folder.
    if let Some(inner) = only_data_folder(&files, &subfolders)? {
        return detect_folder(&inner, keys);
    }
    let has = |name: &str| files.iter().any(|f| file_name(f) == name);
    if has("data_batch_1.bin") || (has("train.bin") && has("test.bin")) {
        return Ok(SourceConfig::Cifar(CifarConfig {
            path: path.to_path_buf(),
            label_kind: keys.label_kind,
        }));
    }
    // An IDX file beside its gzipped copy (torchvision's `raw/` keeps both) is read once,
    // unpacked.
    let images: Vec<PathBuf> = files
        .iter()
        .filter(|f| file_name(f).contains("idx3-ubyte"))
        .filter(|f| !file_name(f).strip_suffix(".gz").is_some_and(has))
        .cloned()
        .collect();
    if !images.is_empty() {
        // Several sets in one folder (torchvision's EMNIST `raw/`: balanced, byclass,
        // letters, … each with its train and test files) are not one data set.
        let mut sets: Vec<String> = images.iter().map(|f| idx_set_name(f)).collect();
        sets.sort();
        sets.dedup();
        if sets.len() > 1 {
            bail!(
                "{}: holds the IDX files of {} sets ({}); give one set's images file as the path (with its labels file beside it), or a folder of one set",
                path.display(),
                sets.len(),
                sets.join(", ")
            );
        }
        let labels = images
            .iter()
            .map(|image| idx_labels_beside(image))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let many = |v: Vec<PathBuf>| {
            if v.len() == 1 {
                OneOrMany::One(v[0].clone())
            } else {
                OneOrMany::Many(v)
            }
        };
        return Ok(SourceConfig::Idx(IdxConfig {
            images: many(images),
            labels: many(labels),
        }));
    }
    // A folder of tables alone (no images, no subfolders): its table, when it holds one.
    let tables: Vec<&PathBuf> = files.iter().filter(|f| table::is_table_file(f)).collect();
    if !tables.is_empty()
        && subfolders.is_empty()
        && !files.iter().any(|f| image_folder::is_image_file(f))
    {
        // Samples and their labels saved apart (X.npy and y.npy): the samples.
        if let &[a, b] = tables.as_slice() {
            for (samples, labels) in [(a, b), (b, a)] {
                if labels_beside(samples).as_ref() == Some(labels) {
                    return table_source(samples, keys);
                }
            }
        }
        // One split a file (Kaggle's mnist_train.csv, mnist_test.csv; X_train.npy and
        // X_test.npy, each with its labels beside it): read with the first file's keys,
        // each file a split.
        if let Some(source) = split_tables(path, &tables, keys)? {
            return Ok(source);
        }
        // One table a class (QuickDraw's cat.npy, dog.npy; one CSV a class).
        if let Some(source) = class_tables(path, &tables, keys)? {
            return Ok(source);
        }
        let [table] = tables.as_slice() else {
            // As the files are named (`file_name` lower-cases for matching).
            let names: Vec<String> = tables
                .iter()
                .map(|t| {
                    t.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            bail!(
                "{}: holds {} tables ({}) and no images; give one of them as the path",
                path.display(),
                tables.len(),
                names.join(", ")
            );
        };
        return table_source(table, keys);
    }
    // Images with their labels in a table beside them (Kaggle's train/ and train.csv, or
    // the folder train/ given, train.csv beside it): the one table that names their classes.
    let beside = ["csv", "tsv"].map(|e| path.with_extension(e));
    let naming: Vec<&PathBuf> = tables
        .iter()
        .copied()
        .chain(beside.iter().filter(|t| t.is_file()))
        .filter(|table| keys.labels.is_none() && image_labels_file(path, table))
        .collect();
    let labels_file = match naming.as_slice() {
        [table] => Some((*table).clone()),
        _ => None,
    };
    Ok(SourceConfig::ImageFolder(ImageFolderConfig {
        path: path.to_path_buf(),
        resize: keys.resize,
        grayscale: keys.grayscale,
        labels: keys.labels,
        labels_file,
    }))
}

/// The one subfolder (hidden ones aside) of a folder none of whose own `files` is data (a
/// table, an image, an IDX or CIFAR file; a README or licence is not), or its one subfolder
/// of IDX files: where the data is.
fn only_data_folder(files: &[PathBuf], subfolders: &[PathBuf]) -> anyhow::Result<Option<PathBuf>> {
    let data = |f: &PathBuf| {
        let name = file_name(f);
        table::is_table_file(f)
            || image_folder::is_image_file(f)
            || name.contains("-ubyte")
            || name.ends_with(".bin")
    };
    if files.iter().any(data) {
        return Ok(None);
    }
    let subfolders: Vec<&PathBuf> = subfolders
        .iter()
        .filter(|p| !file_name(p).starts_with('.'))
        .collect();
    if let [only] = subfolders.as_slice() {
        return Ok(Some((*only).clone()));
    }
    // torchvision's older layout: `raw/` holding the IDX files beside `processed/` holding
    // its own `.pt` copies, which this tool does not read. The one subfolder of IDX files,
    // when no subfolder holds images or tables of its own.
    let mut idx_folders = Vec::new();
    for subfolder in subfolders {
        let (inner, _) = folder_entries(subfolder)?;
        if inner
            .iter()
            .any(|f| table::is_table_file(f) || image_folder::is_image_file(f))
        {
            return Ok(None);
        }
        if inner.iter().any(|f| file_name(f).contains("idx3-ubyte")) {
            idx_folders.push(subfolder.clone());
        }
    }
    Ok(match idx_folders.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })
}

/// A folder's tables as one split a file ([`TableConfig::split_files`]): two or more of one
/// format, each named as a split, each with its labels beside it or none with them.
fn split_tables(
    folder: &Path,
    tables: &[&PathBuf],
    keys: &SourceKeys,
) -> anyhow::Result<Option<SourceConfig>> {
    let labels: Vec<(&PathBuf, Option<PathBuf>)> = tables
        .iter()
        .map(|t| (*t, labels_beside(t).filter(|l| tables.contains(&l))))
        .collect();
    let samples: Vec<&(&PathBuf, Option<PathBuf>)> = labels
        .iter()
        .filter(|(t, _)| !labels.iter().any(|(_, l)| l.as_ref() == Some(*t)))
        .collect();
    let Some(&&(first, _)) = samples.first() else {
        return Ok(None);
    };
    let with_labels = samples.iter().filter(|(_, l)| l.is_some()).count();
    if samples.len() < 2
        || !samples
            .iter()
            .all(|(t, _)| table_extension_of(t) == table_extension_of(first))
        || !samples.iter().all(|(t, _)| names_a_split_file(t))
        || !(with_labels == 0 || with_labels == samples.len())
    {
        return Ok(None);
    }
    let SourceConfig::Table(first) = table_source(first, keys)? else {
        return Ok(None);
    };
    Ok(Some(SourceConfig::Table(TableConfig {
        path: folder.to_path_buf(),
        split_files: Some(samples.iter().map(|(t, _)| (*t).clone()).collect()),
        split_labels: (with_labels > 0 && keys.labels.is_none())
            .then(|| samples.iter().filter_map(|(_, l)| l.clone()).collect()),
        labels_path: None,
        ..first
    })))
}

/// A folder's tables as one class a file ([`TableConfig::class_files`]): two or more of one
/// format and one width (`.npy` arrays of samples of one shape; text or Parquet tables of
/// as many columns, none of them labels), read with the first file's keys.
fn class_tables(
    folder: &Path,
    tables: &[&PathBuf],
    keys: &SourceKeys,
) -> anyhow::Result<Option<SourceConfig>> {
    let [first, ..] = tables else {
        return Ok(None);
    };
    let format = table_extension_of(first);
    if tables.len() < 2
        || keys.labels.is_some()
        || !tables.iter().all(|t| table_extension_of(t) == format)
    {
        return Ok(None);
    }
    // What sets a file's rows apart from the others': its width (a text table's columns
    // counted header or not).
    let width = |table: &Path| -> anyhow::Result<Option<Vec<usize>>> {
        Ok(match format.as_str() {
            "npy" => table::npy_shape(table)
                .filter(|s| table::holds_samples(s))
                .map(|s| s[1..].to_vec()),
            _ => feature_column_names(&TableConfig {
                header: Some(false),
                ..TableConfig::at(table)
            })?
            .map(|columns| vec![columns.len()]),
        })
    };
    let first_width = width(first)?;
    if first_width.is_none() {
        return Ok(None);
    }
    for table in &tables[1..] {
        if width(table)? != first_width {
            return Ok(None);
        }
    }
    let SourceConfig::Table(first) = table_source(first, keys)? else {
        return Ok(None);
    };
    if first.label_column.is_some() || first.labels_path.is_some() {
        return Ok(None);
    }
    Ok(Some(SourceConfig::Table(TableConfig {
        path: folder.to_path_buf(),
        class_files: Some(tables.iter().map(|t| (*t).clone()).collect()),
        ..first
    })))
}

/// Whether a table's file name holds a split among its words (`mnist_train.csv`,
/// `fashion-mnist_test.csv`, `test.csv`; [`image_folder::names_a_split`]).
fn names_a_split_file(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|stem| {
            stem.split(['-', '_', '.', ' '])
                .any(|word| word.len() >= 3 && image_folder::names_a_split(word))
        })
}

/// The folder of the images a CSV names with their classes, when the CSV is given as the
/// data (Kaggle's `train.csv` of `id,label`): the folder named as the CSV beside it
/// (`train/`), else the CSV's own folder when the names it lists are image files
/// (`img_001.png`), whichever holds the images it lists ([`image_labels_file`]). `None`
/// for tables of samples. The CSV's own folder is not searched for names without an image
/// extension: a table of samples with an `id` column would have every folder above it
/// walked.
fn images_named_by(table: &Path, keys: &SourceKeys) -> Option<PathBuf> {
    if keys.labels.is_some() || !matches!(table_extension_of(table).as_str(), "csv" | "tsv") {
        return None;
    }
    let listed = image_folder::read_labels_file(table).ok()?;
    let names_images = listed
        .keys()
        .take(20)
        .any(|name| image_folder::has_image_extension(Path::new(name)));
    let parent = table
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty() && names_images)
        .map(Path::to_path_buf);
    let beside = table.with_extension("");
    [Some(beside), parent]
        .into_iter()
        .flatten()
        .filter(|folder| folder.is_dir())
        .find(|folder| image_labels_file(folder, table))
}

/// Whether `table` names the classes of the images under `folder`
/// ([`image_folder::read_labels_file`]): it reads as a labels file, gives two classes or
/// more, and lists at least half of the images.
fn image_labels_file(folder: &Path, table: &Path) -> bool {
    let config = ImageFolderConfig {
        path: folder.to_path_buf(),
        resize: None,
        grayscale: None,
        labels: None,
        labels_file: Some(table.to_path_buf()),
    };
    let Ok(Layout::Classes {
        classes, left_out, ..
    }) = image_folder::layout_of(&config)
    else {
        return false;
    };
    let read: usize = classes.iter().map(|(_, images)| images.len()).sum();
    classes.len() >= 2 && read >= left_out
}

/// A file of labels beside a file of samples (`.npy`, `.npz` or a text table), as people
/// save them apart: named like it with `y` for `X` (`X.npy` → `y.npy`, `X_train.csv` →
/// `y_train.csv`), `labels` for `images`, `imgs`, `features`, `samples` or `data` (KMNIST's
/// `kmnist-test-imgs.npz` → `kmnist-test-labels.npz`), its name and `_target`, `_labels`,
/// `_y` (`olivetti_faces_target.npy`), or [`LABELS_FILE_STEMS`] outright;
/// `.npy`, `.npz`, or text of one label a line (`.txt`, `.csv`, `.tsv`, `.dat`). Taken when
/// it holds one value a sample (`(N,)` or `(N, 1)`; N lines, or a header line and N).
pub fn labels_beside(samples: &Path) -> Option<PathBuf> {
    let stem = samples.file_stem()?.to_str()?;
    let mut stems: Vec<String> = Vec::new();
    for from in ["images", "imgs", "features", "samples", "data"] {
        if stem.contains(from) {
            stems.push(stem.replace(from, "labels"));
        }
    }
    for (x, y) in [("X", "y"), ("X", "Y"), ("x", "y")] {
        if stem == x {
            stems.push(y.into());
        } else if let Some(rest) = stem.strip_prefix(&format!("{x}_")) {
            stems.push(format!("{y}_{rest}"));
        } else if let Some(rest) = stem.strip_suffix(&format!("_{x}")) {
            stems.push(format!("{rest}_{y}"));
        }
    }
    // The samples' name with a suffix (scikit-learn's `olivetti_faces_target.npy` beside
    // `olivetti_faces.npy`).
    for suffix in ["target", "targets", "labels", "label", "y"] {
        stems.extend(["_", "-"].map(|sep| format!("{stem}{sep}{suffix}")));
    }
    stems.extend(LABELS_FILE_STEMS.map(String::from));
    let candidates: Vec<PathBuf> = stems
        .iter()
        .flat_map(|stem| {
            LABELS_FILE_EXTENSIONS.map(|e| samples.with_file_name(format!("{stem}.{e}")))
        })
        .filter(|candidate| candidate != samples && candidate.is_file())
        .collect();
    // Counted only when a candidate is there: a text table's rows take a whole read.
    if candidates.is_empty() {
        return None;
    }
    let n_rows = sample_rows(samples)?;
    candidates
        .into_iter()
        .find(|candidate| match table_extension_of(candidate).as_str() {
            "npy" | "npz" => match label_rows(candidate) {
                Some(rows) => rows == n_rows,
                // One-hot rows (Keras' to_categorical), read to be sure.
                None => table::array_labels_fit(candidate, n_rows),
            },
            _ => table::text_labels_fit(candidate, n_rows),
        })
}

/// Names a labels file has beside samples of any name (`labels.txt`, `y.npy`).
const LABELS_FILE_STEMS: [&str; 7] = [
    "labels", "label", "y", "targets", "target", "classes", "gnd",
];

/// What a labels file saved apart may be.
const LABELS_FILE_EXTENSIONS: [&str; 6] = ["npy", "npz", "txt", "csv", "tsv", "dat"];

/// The shapes of a `.npy` file's array (one) or of an `.npz` archive's arrays.
fn array_shapes(path: &Path) -> Option<Vec<Vec<usize>>> {
    match table_extension_of(path).as_str() {
        "npy" => Some(vec![table::npy_shape(path)?]),
        _ => Some(
            table::npz_array_shapes(path)
                .ok()?
                .into_iter()
                .map(|(_, shape)| shape)
                .collect(),
        ),
    }
}

/// The sample count of a `.npy` of 2 or more dimensions, of an `.npz` with one array of
/// samples, or of a text table (its data rows).
fn sample_rows(path: &Path) -> Option<usize> {
    if !matches!(table_extension_of(path).as_str(), "npy" | "npz") {
        return table::text_rows(path);
    }
    let shapes = array_shapes(path)?;
    match shapes
        .iter()
        .filter(|s| table::holds_samples(s))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [shape] => Some(shape[0]),
        _ => None,
    }
}

/// The value count of a labels file: a `.npy` (or an `.npz` of one array) of `(N,)` or
/// `(N, 1)`.
fn label_rows(path: &Path) -> Option<usize> {
    match array_shapes(path)?.as_slice() {
        [shape] => match shape.as_slice() {
            [n] | [n, 1] => Some(*n),
            _ => None,
        },
        _ => None,
    }
}

/// A table's format by its file name, as the reader tells it (lower-cased; a text table's
/// `.gz` stripped).
fn table_extension_of(path: &Path) -> String {
    table::table_extension(path).0
}

/// The set an IDX images file belongs to: its name before the split (`train`, `test`,
/// `t10k`) or `images`, without a trailing `-`: `emnist-letters` for
/// `emnist-letters-train-images-idx3-ubyte`, empty for MNIST's `train-images-idx3-ubyte`.
fn idx_set_name(images: &Path) -> String {
    let name = file_name(images);
    let end = ["train", "test", "t10k", "images"]
        .iter()
        .filter_map(|word| name.find(word))
        .min()
        .unwrap_or(name.len());
    name[..end].trim_end_matches(['-', '_', '.']).to_string()
}

/// `x-labels-idx1-ubyte[.gz]` beside `x-images-idx3-ubyte[.gz]`.
fn idx_labels_beside(images: &Path) -> anyhow::Result<PathBuf> {
    let name = images
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let candidates = [
        name.replace("images", "labels").replace("idx3", "idx1"),
        name.replace("idx3", "idx1"),
    ];
    candidates
        .iter()
        .map(|c| images.with_file_name(c))
        .find(|p| p != images && p.is_file())
        .with_context(|| {
            format!(
                "{}: no labels file beside it (expected {})",
                images.display(),
                images.with_file_name(&candidates[0]).display()
            )
        })
}

fn table_source(path: &Path, keys: &SourceKeys) -> anyhow::Result<SourceConfig> {
    let name = file_name(path);
    let mut config = TableConfig {
        label_column: keys.label_column.clone(),
        id_column: keys.id_column.clone(),
        tensor: keys.tensor.clone(),
        image_shape: keys.image_shape_given(),
        ..TableConfig::at(path)
    };
    let text_layout = table::text_format(path)?;
    let text = text_layout.is_some();
    let named_columns = if let Some((format, lines)) = text_layout {
        // A first row of data: no header, columns are column_1, column_2, ….
        let columns = table::names_columns(format.delimiter, &lines).then(|| {
            format
                .delimiter
                .split(lines.first().map_or("", String::as_str))
        });
        config.header = match columns {
            Some(_) => keys.header,
            None => Some(keys.header.unwrap_or(false)),
        };
        columns
    } else if name.ends_with(".parquet") {
        Some(parquet_columns(path)?)
    } else {
        None
    };
    // `labels=none`: the table has no label column, whatever its columns are named.
    let find_labels = keys.labels.is_none();
    if let Some(columns) = named_columns {
        if config.label_column.is_none() && find_labels {
            config.label_column = find_label(&columns);
        }
        if config.id_column.is_none() {
            config.id_column = find_name(&ID_NAMES, &columns)
                .filter(|id| config.label_column.as_ref() != Some(id));
        }
    } else if name.ends_with(".safetensors") && config.label_column.is_none() && find_labels {
        config.label_column = find_label(&safetensors_names(path)?);
    } else if name.ends_with(".npz")
        && config.tensor.is_none()
        && config.label_column.is_none()
        && let Some(splits) = split_arrays(&table::npz_array_shapes(path)?)
    {
        config.label_arrays = splits.labels.filter(|_| find_labels);
        config.tensors = Some(splits.samples);
    } else if name.ends_with(".npz") && config.label_column.is_none() && find_labels {
        config.label_column = find_label(&table::npz_array_names(path)?);
    }
    if (name.ends_with(".npy") || name.ends_with(".npz") || text)
        && config.label_column.is_none()
        && config.tensors.is_none()
        && find_labels
    {
        config.labels_path = labels_beside(path);
    } else if name.ends_with(".mat") && config.label_column.is_none() && find_labels {
        // Only a vector can hold labels (SSC's data names its sample matrix `Y`).
        let vectors: Vec<String> = table::mat_vectors(path)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        config.label_column = find_label(&vectors);
    }
    Ok(SourceConfig::Table(config))
}

/// The arrays of an archive of splits: each split's samples, and their labels when every
/// split has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitArrays {
    pub samples: Vec<String>,
    pub labels: Option<Vec<String>>,
}

/// An archive of splits, by its arrays' names and shapes: two or more arrays of samples (2
/// or more dimensions), each named `<split>_images` (MedMNIST: labels `<split>_labels`) or
/// `x_<split>` (Keras: labels `y_<split>`), in archive order. The labels count when every
/// split has an array of its name with one value a sample, or a row a sample (one-hot).
/// `None` when any array of samples is named otherwise.
pub fn split_arrays(shapes: &[(String, Vec<usize>)]) -> Option<SplitArrays> {
    let shape_of = |name: &str| {
        shapes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, shape)| shape.as_slice())
    };
    let label_name = |name: &str| {
        if let Some(split) = name.strip_suffix("_images") {
            Some(format!("{split}_labels"))
        } else {
            name.strip_prefix("x_")
                .or(name.strip_prefix("X_"))
                .map(|split| format!("y_{split}"))
        }
    };
    // One-hot labels (Keras' `to_categorical`) have two dimensions, as samples do.
    let label_names: Vec<String> = shapes.iter().filter_map(|(n, _)| label_name(n)).collect();
    let mut samples = Vec::new();
    let mut labels = Vec::new();
    for (name, shape) in shapes
        .iter()
        .filter(|(name, shape)| table::holds_samples(shape) && !label_names.contains(name))
    {
        let label = label_name(name)?;
        let n = shape[0];
        let fits = matches!(shape_of(&label), Some([m]) | Some([m, _]) if *m == n);
        samples.push(name.clone());
        labels.push(fits.then_some(label));
    }
    if samples.len() < 2 {
        return None;
    }
    let labels: Option<Vec<String>> = labels.into_iter().collect();
    Some(SplitArrays { samples, labels })
}

/// Most rows one value of a guessed label column may hold: a column that is nearly constant
/// (an image's border pixel) is a feature.
const LABEL_MAX_MODE_SHARE: f64 = 0.9;
/// Most distinct values a guessed label column may hold.
const LABEL_MAX_CLASSES: usize = 1_000;

/// A column of a header-less table that holds class labels, as `np.savetxt` writes `[X, y]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLikeColumn {
    /// 0-based; the table reader names it `column_{index + 1}`.
    pub index: usize,
    pub n_classes: usize,
    pub min: i64,
    pub max: i64,
}

/// Whether `n_classes` distinct labels over `n_rows` rows read as classes: 2 or more, at
/// most one per two rows (a column of ids or measurements gives nearly one per row).
pub fn reads_as_classes(n_classes: usize, n_rows: usize) -> bool {
    (2..=n_rows / 2).contains(&n_classes)
}

/// The last column of a header-less table, else its first, when its values look like class
/// labels: consecutive integers, 2 to [`LABEL_MAX_CLASSES`] of them and at most half the
/// rows, each on two rows or more and none on more than [`LABEL_MAX_MODE_SHARE`] of them.
/// `data` is `[n, dim]` row-major; a table of one column has no label to spare.
pub fn label_like_column(data: &[f32], dim: usize) -> Option<LabelLikeColumn> {
    if dim < 2 {
        return None;
    }
    let n_rows = data.len() / dim;
    [dim - 1, 0].into_iter().find_map(|index| {
        let mut counts = std::collections::BTreeMap::<i64, usize>::new();
        for row in data.chunks_exact(dim) {
            let value = row[index];
            if value.fract() != 0.0 || value.abs() > 1e6 {
                return None;
            }
            *counts.entry(value as i64).or_default() += 1;
            if counts.len() > LABEL_MAX_CLASSES {
                return None;
            }
        }
        let (&min, &max) = (counts.keys().next()?, counts.keys().next_back()?);
        let n_classes = counts.len();
        let largest = counts.values().copied().max()?;
        let label_like = reads_as_classes(n_classes, n_rows)
            && (max - min + 1) as usize == n_classes
            && counts.values().all(|&count| count >= 2)
            && largest as f64 <= LABEL_MAX_MODE_SHARE * n_rows as f64;
        label_like.then_some(LabelLikeColumn {
            index,
            n_classes,
            min,
            max,
        })
    })
}

/// The names of a text table's or a Parquet file's columns as the reader names them, in
/// order, its id column left out (the features' names, when each column is one feature):
/// a header's, or `column_1`, `column_2`, … for a text table read without one (`header =
/// false`). `None` for other tables, or a text table whose first line names no columns
/// though it is read as a header.
pub fn feature_column_names(table: &TableConfig) -> anyhow::Result<Option<Vec<String>>> {
    let columns = if let Some((format, lines)) = table::text_format(&table.path)? {
        let first = format
            .delimiter
            .split(lines.first().map_or("", String::as_str));
        match table.header {
            Some(false) => (1..=first.len()).map(|i| format!("column_{i}")).collect(),
            _ if table::names_columns(format.delimiter, &lines) => first,
            _ => return Ok(None),
        }
    } else if file_name(&table.path).ends_with(".parquet") {
        parquet_columns(&table.path)?
    } else {
        return Ok(None);
    };
    Ok(Some(
        columns
            .into_iter()
            .filter(|name| table.id_column.as_ref() != Some(name))
            .collect(),
    ))
}

fn find_label(columns: &[String]) -> Option<String> {
    find_name(&LABEL_NAMES, columns)
}

/// The first of `names` (in their order) that a column has, ignoring case.
fn find_name(names: &[&str], columns: &[String]) -> Option<String> {
    names.iter().find_map(|name| {
        columns
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .cloned()
    })
}

fn parquet_columns(path: &Path) -> anyhow::Result<Vec<String>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let reader = SerializedFileReader::new(file)
        .with_context(|| format!("{}: not a Parquet file", path.display()))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    Ok(schema
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect())
}

fn safetensors_names(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    Ok(metadata
        .tensors()
        .into_iter()
        .filter(|(_, info)| info.shape.len() == 1)
        .map(|(name, _)| name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn archives_of_splits_are_named_by_their_arrays() {
        let shapes = |list: &[(&str, &[usize])]| -> Vec<(String, Vec<usize>)> {
            list.iter()
                .map(|(n, s)| (n.to_string(), s.to_vec()))
                .collect()
        };
        let names = |list: &[&str]| -> Vec<String> { list.iter().map(|n| n.to_string()).collect() };
        // MedMNIST: labels as (N, 1) columns; Keras: in any order.
        let medmnist = shapes(&[
            ("train_images", &[5, 28, 28]),
            ("val_images", &[2, 28, 28]),
            ("train_labels", &[5, 1]),
            ("val_labels", &[2, 1]),
        ]);
        assert_eq!(
            split_arrays(&medmnist),
            Some(SplitArrays {
                samples: names(&["train_images", "val_images"]),
                labels: Some(names(&["train_labels", "val_labels"])),
            })
        );
        let keras = shapes(&[
            ("x_test", &[2, 784]),
            ("x_train", &[5, 784]),
            ("y_train", &[5]),
            ("y_test", &[2]),
        ]);
        assert_eq!(
            split_arrays(&keras),
            Some(SplitArrays {
                samples: names(&["x_test", "x_train"]),
                labels: Some(names(&["y_test", "y_train"])),
            })
        );
        // One-hot labels, two-dimensional as the samples are.
        let one_hot = shapes(&[
            ("x_train", &[5, 28, 28]),
            ("y_train", &[5, 10]),
            ("x_test", &[2, 28, 28]),
            ("y_test", &[2, 10]),
        ]);
        assert_eq!(
            split_arrays(&one_hot),
            Some(SplitArrays {
                samples: names(&["x_train", "x_test"]),
                labels: Some(names(&["y_train", "y_test"])),
            })
        );
        // Labels of the wrong length, or missing for one split: no labels.
        let unlabelled = shapes(&[
            ("x_a", &[2, 3]),
            ("x_b", &[4, 3]),
            ("y_a", &[2]),
            ("y_b", &[3]),
        ]);
        assert_eq!(split_arrays(&unlabelled).unwrap().labels, None);
        // One array of samples, or one named otherwise: no archive of splits.
        assert_eq!(
            split_arrays(&shapes(&[("x_train", &[5, 3]), ("y_train", &[5])])),
            None
        );
        assert_eq!(
            split_arrays(&shapes(&[("x_train", &[5, 3]), ("features", &[5, 3])])),
            None
        );
    }

    #[test]
    fn idx_files_are_paired_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("t10k-images-idx3-ubyte.gz");
        touch(&images, b"");
        let err = detect(&images, &SourceKeys::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("t10k-labels-idx1-ubyte.gz"), "{err}");
        touch(&dir.path().join("t10k-labels-idx1-ubyte.gz"), b"");
        for path in [images.as_path(), dir.path()] {
            let SourceConfig::Idx(c) = detect(path, &SourceKeys::default()).unwrap() else {
                panic!("expected idx");
            };
            assert_eq!(c.images.to_vec(), vec![images.clone()]);
            assert_eq!(
                c.labels.to_vec(),
                vec![dir.path().join("t10k-labels-idx1-ubyte.gz")]
            );
        }
    }

    #[test]
    fn a_folder_of_nothing_but_one_folder_is_read_there() {
        let dir = tempfile::tempdir().unwrap();
        // A dataset repository's snapshot: its README and the folder of IDX files.
        let root = dir.path().join("snapshot");
        touch(&root.join("README.md"), b"# a data set");
        touch(&root.join(".gitattributes"), b"");
        touch(&root.join(".cache/x/lock"), b"");
        let images = root.join("mnist/t10k-images-idx3-ubyte.gz");
        touch(&images, b"");
        touch(&root.join("mnist/t10k-labels-idx1-ubyte.gz"), b"");
        let SourceConfig::Idx(c) = detect(&root, &SourceKeys::default()).unwrap() else {
            panic!("expected idx");
        };
        assert_eq!(c.images.to_vec(), vec![images]);
        // Two folders: which holds the data is the user's to say (read as an image folder).
        touch(&root.join("other/notes.txt"), b"");
        let source = detect(&root, &SourceKeys::default()).unwrap();
        assert!(matches!(source, SourceConfig::ImageFolder(_)), "{source:?}");
    }

    #[test]
    fn idx_files_beside_their_gzipped_copies_are_read_once() {
        // torchvision's `FashionMNIST/raw/`: every file plain and gzipped.
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("FashionMNIST/raw");
        for split in ["train", "t10k"] {
            for kind in ["images-idx3", "labels-idx1"] {
                touch(&raw.join(format!("{split}-{kind}-ubyte")), b"");
                touch(&raw.join(format!("{split}-{kind}-ubyte.gz")), b"");
            }
        }
        // Older torchvision: `processed/` of `.pt` files beside `raw/`.
        touch(&dir.path().join("FashionMNIST/processed/training.pt"), b"");
        for path in [raw.clone(), dir.path().join("FashionMNIST")] {
            let SourceConfig::Idx(c) = detect(&path, &SourceKeys::default()).unwrap() else {
                panic!("expected idx");
            };
            assert_eq!(
                c.images.to_vec(),
                vec![
                    raw.join("t10k-images-idx3-ubyte"),
                    raw.join("train-images-idx3-ubyte")
                ]
            );
            assert_eq!(
                c.labels.to_vec(),
                vec![
                    raw.join("t10k-labels-idx1-ubyte"),
                    raw.join("train-labels-idx1-ubyte")
                ]
            );
        }
    }

    #[test]
    fn a_folder_of_several_idx_sets_is_an_error_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        for set in ["emnist-letters", "emnist-digits"] {
            for split in ["train", "test"] {
                touch(
                    &dir.path().join(format!("{set}-{split}-images-idx3-ubyte")),
                    b"",
                );
                touch(
                    &dir.path().join(format!("{set}-{split}-labels-idx1-ubyte")),
                    b"",
                );
            }
        }
        let error = detect(dir.path(), &SourceKeys::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("holds the IDX files of 2 sets (emnist-digits, emnist-letters)"),
            "{error}"
        );
        assert_eq!(idx_set_name(Path::new("t10k-images-idx3-ubyte.gz")), "");
        assert_eq!(
            idx_set_name(Path::new("letters-images-idx3-ubyte")),
            "letters"
        );
    }

    #[test]
    fn folders_are_cifar_or_image_folders() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("cifar/data_batch_1.bin"), b"");
        let source = detect(&dir.path().join("cifar"), &SourceKeys::default()).unwrap();
        assert!(matches!(source, SourceConfig::Cifar(_)));
        touch(&dir.path().join("images/cats/a.png"), b"");
        let keys = SourceKeys {
            resize: Some([8, 8]),
            ..SourceKeys::default()
        };
        let SourceConfig::ImageFolder(c) = detect(&dir.path().join("images"), &keys).unwrap()
        else {
            panic!("expected an image folder");
        };
        assert_eq!((c.resize, c.grayscale), (Some([8, 8]), None));
    }

    #[test]
    fn large_or_mixed_images_get_a_fitting_size() {
        let dir = tempfile::tempdir().unwrap();
        let save = |path: &str, width: u32, height: u32| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::GrayImage::new(width, height).save(path).unwrap();
        };
        save("small/a/1.png", 16, 8);
        save("small/b/2.png", 16, 8);
        let fit = |name: &str| {
            fitting_resize(&ImageFolderConfig {
                path: dir.path().join(name),
                resize: None,
                grayscale: None,
                labels: None,
                labels_file: None,
            })
        };
        assert_eq!(fit("small"), None);
        // 112×92 (height×width) faces: the longer side down to 64.
        save("faces/s1/1.pgm", 92, 112);
        save("faces/s2/1.pgm", 92, 112);
        assert_eq!(fit("faces"), Some([64, 53]));
        // Mixed small sizes: the median one.
        save("mixed/a/1.png", 10, 10);
        save("mixed/a/2.png", 12, 12);
        save("mixed/b/3.png", 20, 20);
        assert_eq!(fit("mixed"), Some([12, 12]));
        // Without labels, every image under the folder counts.
        save("flat/1.png", 100, 50);
        save("flat/deeper/2.png", 100, 50);
        assert_eq!(fit("flat"), Some([32, 64]));
    }

    #[test]
    fn feature_column_names_come_from_a_header_or_a_parquet_schema() {
        use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "id,a,which\nr1,1.5,0\nr2,2.5,1\n").unwrap();
        let config = TableConfig {
            id_column: Some("id".into()),
            ..TableConfig::at(&csv)
        };
        assert_eq!(
            feature_column_names(&config).unwrap(),
            Some(vec!["a".to_string(), "which".to_string()])
        );
        // Without a header there are no names to give.
        std::fs::write(&csv, "1.5,0\n2.5,1\n").unwrap();
        assert_eq!(feature_column_names(&TableConfig::at(&csv)).unwrap(), None);
        let parquet = dir.path().join("t.parquet");
        let batch = RecordBatch::try_from_iter([
            (
                "a",
                std::sync::Arc::new(Float32Array::from(vec![1.5, 2.5])) as ArrayRef,
            ),
            (
                "grp",
                std::sync::Arc::new(Int64Array::from(vec![0, 1])) as ArrayRef,
            ),
        ])
        .unwrap();
        let file = std::fs::File::create(&parquet).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        assert_eq!(
            feature_column_names(&TableConfig::at(&parquet)).unwrap(),
            Some(vec!["a".to_string(), "grp".to_string()])
        );
    }

    #[test]
    fn tables_find_their_label_column_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("named.csv");
        touch(&named, b"f1,f2,Label\n1,2,a\n");
        let SourceConfig::Table(c) = detect(&named, &SourceKeys::default()).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!((c.label_column.as_deref(), c.header), (Some("Label"), None));
        let bare = dir.path().join("bare.csv");
        touch(&bare, b"1,2,3\n4,5,6\n");
        let SourceConfig::Table(c) = detect(&bare, &SourceKeys::default()).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!((c.label_column, c.header), (None, Some(false)));
        let with_ids = dir.path().join("ids.csv");
        touch(&with_ids, b"ID,f1,class\nx,1,a\n");
        let SourceConfig::Table(c) = detect(&with_ids, &SourceKeys::default()).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(
            (c.label_column.as_deref(), c.id_column.as_deref()),
            (Some("class"), Some("ID"))
        );
        // A column named like an id that the user made the label stays the label.
        let keys = SourceKeys {
            label_column: Some("name".into()),
            ..SourceKeys::default()
        };
        let names = dir.path().join("names.csv");
        touch(&names, b"f1,name\n1,a\n");
        let SourceConfig::Table(c) = detect(&names, &keys).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(
            (c.label_column.as_deref(), c.id_column),
            (Some("name"), None)
        );
        // `labels=none`: no label column, even one named like it.
        let keys = SourceKeys {
            labels: Some(FolderLabels::None),
            ..SourceKeys::default()
        };
        let SourceConfig::Table(c) = detect(&named, &keys).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(c.label_column, None);
        // Whitespace-separated text, np.savetxt's default: no header; a named tab-separated
        // table: a header.
        let spaced = dir.path().join("points.txt");
        touch(&spaced, b"1.0e+00 2.5e-01 0.0e+00\n");
        let SourceConfig::Table(c) = detect(&spaced, &SourceKeys::default()).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(c.header, Some(false));
        let tabbed = dir.path().join("points.tsv");
        touch(&tabbed, b"f1\tf2\ty\n1\t2\t0\n");
        let SourceConfig::Table(c) = detect(&tabbed, &SourceKeys::default()).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!((c.label_column.as_deref(), c.header), (Some("y"), None));
        // An .npz archive's label array is found by its name, as a table's column.
        let archive = dir.path().join("points.npz");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
        for name in ["X.npy", "labels.npy"] {
            zip.start_file(name, zip::write::FileOptions::default())
                .unwrap();
        }
        zip.finish().unwrap();
        let SourceConfig::Table(c) = detect(&archive, &SourceKeys::default()).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(c.label_column.as_deref(), Some("labels"));
        // A folder that holds one table and no images is that table; two are named.
        let folder = dir.path().join("export");
        std::fs::create_dir(&folder).unwrap();
        touch(&folder.join("points.csv"), b"f1,label\n1,a\n");
        let SourceConfig::Table(c) = detect(&folder, &SourceKeys::default()).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(
            (c.path, c.label_column.as_deref()),
            (folder.join("points.csv"), Some("label"))
        );
        touch(&folder.join("more.txt"), b"1 2\n");
        let err = detect(&folder, &SourceKeys::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("holds 2 tables (more.txt, points.csv) and no images"),
            "{err}"
        );
        let other = dir.path().join("notes.docx");
        touch(&other, b"x");
        let err = detect(&other, &SourceKeys::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a data set this tool reads"), "{err}");
    }

    /// `[n, dim]` rows with `column` set from `values` and the other columns 0.5, 1.5, ….
    fn table_with(values: &[f32], dim: usize, column: usize) -> Vec<f32> {
        values
            .iter()
            .enumerate()
            .flat_map(|(row, &value)| {
                (0..dim).map(move |c| {
                    if c == column {
                        value
                    } else {
                        (row + c) as f32 + 0.5
                    }
                })
            })
            .collect()
    }

    #[test]
    fn a_header_less_tables_label_column_is_told_by_its_values() {
        let labels: Vec<f32> = (0..20).map(|i| (i % 4) as f32).collect();
        // np.savetxt of [X, y]: the last column.
        assert_eq!(
            label_like_column(&table_with(&labels, 5, 4), 5),
            Some(LabelLikeColumn {
                index: 4,
                n_classes: 4,
                min: 0,
                max: 3
            })
        );
        // Labels first (1 to 4), the last column a feature.
        let from_one: Vec<f32> = labels.iter().map(|l| l + 1.0).collect();
        let found = label_like_column(&table_with(&from_one, 5, 0), 5).unwrap();
        assert_eq!((found.index, found.min, found.max), (0, 1, 4));
        // Not labels: fractions, gaps between the values, a value on one row only, a nearly
        // constant column, as many values as rows, one column in all.
        let fractions: Vec<f32> = labels.iter().map(|l| l + 0.25).collect();
        let gaps: Vec<f32> = labels.iter().map(|l| l * 2.0).collect();
        let mut single = labels.clone();
        single[0] = 4.0;
        let mut constant = vec![0.0; 40];
        constant[..3].fill(1.0);
        let distinct: Vec<f32> = (0..20).map(|i| i as f32).collect();
        for values in [&fractions, &gaps, &single, &constant, &distinct] {
            assert_eq!(
                label_like_column(&table_with(values, 3, 2), 3),
                None,
                "{values:?}"
            );
        }
        assert_eq!(label_like_column(&labels, 1), None);
    }
}
