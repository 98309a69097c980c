//! A folder of images: one subfolder per class (torchvision's `ImageFolder` layout), or
//! images without labels, directly in the folder or anywhere in a tree of subfolders.
//!
//! What a subfolder means is `labels`:
//! - `"folders"`: every first-level subfolder is a class, named after the folder, of the
//!   images directly in it; images elsewhere (in the folder itself, or deeper) are left out.
//! - `"none"`: no labels; every image under the folder, at any depth, is one sample.
//! - `"names"`: every image directly in the folder is of the class its file name starts
//!   with, up to the first `.` (Yale's `subject01.happy`) or a closing number after `_`,
//!   `__` or `-` (COIL-20's `obj1__0.png`); images in subfolders are left out.
//! - `"split-folders"`: every first-level subfolder is a split (`train`, `test`), every
//!   subfolder of it a class of the images directly in it, the same class in every split
//!   (`mnist_png/training/7/…`, `testing/7/…`); each sample's split is its first-level
//!   folder's name. Images elsewhere are left out.
//! - unset: `"folders"` when every image sits directly in a first-level subfolder (the
//!   class layout), `"none"` for any other layout (images directly in the folder, or below
//!   the first level of subfolders). `ebsc-pipeline new` writes `"names"` and
//!   `"split-folders"` where the layout shows them ([`split_tree`]).
//!
//! Names starting with `.` (hidden files and folders) are skipped, and folders reached
//! through a symbolic link are not entered (symbolic links to image files are read).
//! Classes are sorted by name, images by their path inside the folder. Every image ends up
//! as `[C, H, W]` u8, all of one size: one gray channel when every file is grayscale (or
//! holds only grays, R = G = B),
//! three RGB channels when any file has colour, unless `grayscale` asks for one or the
//! other.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::decoded::{Channels, ImageStack, decode_file};
use super::{file_error, io_error, require_exists};
use crate::dataset::{Dataset, Inputs, SampleRecord};

/// A folder of images, in class subfolders or without labels.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolderConfig {
    /// The folder holding the images (or the class subfolders).
    pub path: PathBuf,
    /// Resize every image to `[height, width]` (bilinear); without it all images must share
    /// one size.
    pub resize: Option<[u32; 2]>,
    /// `true`: one gray channel; `false`: three RGB channels. Unset (the default): the
    /// files' own channels (gray when every file is gray, RGB when any has colour).
    pub grayscale: Option<bool>,
    /// What the subfolders mean ([`FolderLabels`]); unset: worked out from the layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<FolderLabels>,
    /// Instead of `labels`: a CSV naming each image's class ([`read_labels_file`]: a header,
    /// a column of file names and one of labels, as Kaggle ships `train/` with
    /// `train.csv`). Every image under the folder, at any depth, whose path inside it, file
    /// name or name without its extension is listed gets that class; the others are left
    /// out. Relative paths are read from where the stages run, as `path` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_file: Option<PathBuf>,
}

/// `labels` of an image folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FolderLabels {
    /// Every first-level subfolder is a class of the images directly in it.
    Folders,
    /// No labels: every image under the folder, at any depth.
    None,
    /// Every image directly in the folder is of the class its file name starts with, up to
    /// the first `.`: Yale's `subject01.happy`, JAFFE's `KA.AN1.39.tiff`, `cat.0.jpg`.
    Names,
    /// Every first-level subfolder is a split, every subfolder of it a class of the images
    /// directly in it: `train/cat/1.png`, `test/cat/2.png`.
    SplitFolders,
}

impl FolderLabels {
    /// The setting's value as written.
    pub fn name(self) -> &'static str {
        match self {
            FolderLabels::Folders => "folders",
            FolderLabels::None => "none",
            FolderLabels::Names => "names",
            FolderLabels::SplitFolders => "split-folders",
        }
    }
}

const IMAGE_EXTENSIONS: [&str; 12] = [
    "png", "jpg", "jpeg", "pgm", "ppm", "pbm", "pnm", "gif", "bmp", "tif", "tiff", "webp",
];

/// What gives the classes of a [`Layout::Classes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassesBy {
    /// First-level subfolders.
    Folders,
    /// The file names' first parts (`labels = "names"`).
    Names,
    /// Second-level subfolders, under split folders (`labels = "split-folders"`).
    SplitFolders,
    /// A CSV of file names and labels (`labels_file`).
    LabelsFile,
}

/// How the images of a folder are read: which files, with which labels.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// (class name, its images), classes sorted by name.
    Classes {
        classes: Vec<(String, Vec<PathBuf>)>,
        /// Images under the folder outside any class folder (in the folder itself, or
        /// deeper than a class folder; with `labels = "names"`, in any subfolder), which are
        /// not read; counted where `labels` is set only.
        left_out: usize,
        /// What gives the classes.
        by: ClassesBy,
    },
    /// Every image under the folder, sorted by its path inside it.
    Unlabelled {
        images: Vec<PathBuf>,
        /// Why there are no labels: the setting, or what the layout showed.
        reason: String,
    },
}

impl Layout {
    /// One line for people: what the folder was read as.
    pub fn describe(&self) -> String {
        match self {
            Layout::Classes {
                classes,
                left_out,
                by,
            } => {
                let names: Vec<&str> = classes.iter().map(|(n, _)| n.as_str()).take(5).collect();
                let more = if classes.len() > 5 { ", …" } else { "" };
                let (what, outside) = match by {
                    ClassesBy::Names => (
                        "classes by the file names up to their first '.' or closing number"
                            .to_string(),
                        "in subfolders",
                    ),
                    ClassesBy::Folders => {
                        ("class subfolders".to_string(), "outside the class folders")
                    }
                    ClassesBy::LabelsFile => (
                        "classes from the labels file".to_string(),
                        "not listed in it",
                    ),
                    ClassesBy::SplitFolders => {
                        let splits = split_names(classes);
                        (
                            format!(
                                "class subfolders in {} split folders ({})",
                                splits.len(),
                                splits.join(", ")
                            ),
                            "outside the class folders",
                        )
                    }
                };
                let left = match left_out {
                    0 => String::new(),
                    n => format!("; {n} images {outside} are left out"),
                };
                format!(
                    "{} {what} ({}{more}){left}",
                    classes.len(),
                    names.join(", ")
                )
            }
            Layout::Unlabelled { images, reason } => {
                format!("no labels, {} images ({reason})", images.len())
            }
        }
    }
}

/// How a folder is read under its config: its `labels_file` when it has one, else
/// [`layout`].
pub fn layout_of(config: &ImageFolderConfig) -> anyhow::Result<Layout> {
    match &config.labels_file {
        Some(file) => labels_file_layout(&config.path, file),
        None => layout(&config.path, config.labels),
    }
}

/// How `root` is read under `labels` (see the module's documentation).
pub fn layout(root: &Path, labels: Option<FolderLabels>) -> anyhow::Result<Layout> {
    require_exists(root)?;
    if !root.is_dir() {
        return Err(file_error(
            root,
            "not a folder; expected a folder of images, or of class subfolders of images",
        ));
    }
    if labels == Some(FolderLabels::Folders) {
        return class_layout(root, true);
    }
    if labels == Some(FolderLabels::Names) {
        return name_layout(root);
    }
    let images = images_under(root)?;
    if labels == Some(FolderLabels::SplitFolders) {
        return split_layout(root, images);
    }
    if images.is_empty() {
        return Err(file_error(
            root,
            format_args!(
                "no images in it or its subfolders; expected files ending in .{}",
                IMAGE_EXTENSIONS.join(", .")
            ),
        ));
    }
    let reason = match labels {
        Some(FolderLabels::None) => "labels = \"none\"".to_string(),
        _ => {
            let depth = |relative: &Path| relative.components().count();
            let example = |wanted: fn(usize) -> bool| {
                images
                    .iter()
                    .map(|(relative, _)| relative)
                    .find(|relative| wanted(depth(relative)))
            };
            if let Some(relative) = example(|d| d == 1) {
                format!(
                    "images sit directly in the folder, e.g. {}",
                    relative.display()
                )
            } else if let Some(relative) = example(|d| d > 2) {
                format!(
                    "images sit below the first level of subfolders, e.g. {}",
                    relative.display()
                )
            } else {
                return class_layout(root, false);
            }
        }
    };
    Ok(Layout::Unlabelled {
        images: images.into_iter().map(|(_, path)| path).collect(),
        reason,
    })
}

/// The class layout: every first-level subfolder a class of the images directly in it.
/// `count_left_out`: walk the tree to count the images outside the class folders.
fn class_layout(root: &Path, count_left_out: bool) -> anyhow::Result<Layout> {
    let mut classes = Vec::new();
    for (name, folder) in list_class_folders(root)? {
        classes.push((name, list_images(&folder)?));
    }
    let left_out = if count_left_out {
        let read: usize = classes.iter().map(|(_, images)| images.len()).sum();
        images_under(root)?.len().saturating_sub(read)
    } else {
        0
    };
    Ok(Layout::Classes {
        classes,
        left_out,
        by: ClassesBy::Folders,
    })
}

/// The name layout: the images directly in the folder, each of the class its file name
/// starts with ([`class_of_name`]).
fn name_layout(root: &Path) -> anyhow::Result<Layout> {
    let images = list_images(root)?;
    let mut classes = std::collections::BTreeMap::<String, Vec<PathBuf>>::new();
    for image in &images {
        classes
            .entry(class_of_name(image))
            .or_default()
            .push(image.clone());
    }
    let left_out = images_under(root)?.len().saturating_sub(images.len());
    Ok(Layout::Classes {
        classes: classes.into_iter().collect(),
        left_out,
        by: ClassesBy::Names,
    })
}

/// The split layout: the images two levels down (`images` as [`images_under`] lists them),
/// each of the class its second-level folder names; images at any other depth left out.
fn split_layout(root: &Path, images: Vec<(PathBuf, PathBuf)>) -> anyhow::Result<Layout> {
    let mut classes = std::collections::BTreeMap::<String, Vec<PathBuf>>::new();
    let mut left_out = 0;
    for (relative, path) in images {
        let parts: Vec<_> = relative.components().collect();
        let [_, class, _] = parts.as_slice() else {
            left_out += 1;
            continue;
        };
        let Some(class) = class.as_os_str().to_str() else {
            return Err(file_error(
                path.parent().unwrap_or(root),
                "folder name is not UTF-8; class names must be text",
            ));
        };
        classes.entry(class.to_string()).or_default().push(path);
    }
    if classes.is_empty() {
        return Err(file_error(
            root,
            "no images two levels down; with labels = \"split-folders\" every first-level subfolder is a split, every subfolder of it a class of images",
        ));
    }
    Ok(Layout::Classes {
        classes: classes.into_iter().collect(),
        left_out,
        by: ClassesBy::SplitFolders,
    })
}

/// The layout of `labels_file`: every image under `root` listed in it, by its path inside
/// `root`, its file name or its name without the extension, of the class listed.
fn labels_file_layout(root: &Path, labels_file: &Path) -> anyhow::Result<Layout> {
    let listed = read_labels_file(labels_file)?;
    let images = images_under(root)?;
    let mut classes = std::collections::BTreeMap::<String, Vec<PathBuf>>::new();
    let mut left_out = 0;
    for (relative, path) in images {
        let keys = [
            relative.to_string_lossy().replace('\\', "/"),
            file_name_of(&path),
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ];
        match keys.iter().find_map(|key| listed.get(key)) {
            Some(class) => classes.entry(class.clone()).or_default().push(path),
            None => left_out += 1,
        }
    }
    if classes.is_empty() {
        return Err(file_error(
            labels_file,
            format_args!(
                "names none of the images under {} (by their path inside it, file name or name without extension)",
                root.display()
            ),
        ));
    }
    Ok(Layout::Classes {
        classes: classes.into_iter().collect(),
        left_out,
        by: ClassesBy::LabelsFile,
    })
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Column names of a labels file's file names, in the order they are looked for
/// (case-insensitive).
const FILE_COLUMNS: [&str; 10] = [
    "filename",
    "file_name",
    "file",
    "image",
    "image_id",
    "img",
    "path",
    "id",
    "name",
    "fname",
];
/// Column names of a labels file's labels, in the order they are looked for.
const LABEL_COLUMNS: [&str; 6] = ["label", "labels", "class", "target", "category", "y"];

/// A labels file: a CSV (or TSV) with a header, one column of file names ([`FILE_COLUMNS`])
/// and one of labels ([`LABEL_COLUMNS`]), as a map from file name to label. Fields are
/// trimmed and unquoted; blank lines skipped.
pub fn read_labels_file(path: &Path) -> anyhow::Result<std::collections::HashMap<String, String>> {
    use std::io::BufRead;
    let Some((format, _)) = super::table::text_format(path)? else {
        return Err(file_error(
            path,
            "a labels file is a CSV or TSV (.csv, .tsv, .txt) with a header",
        ));
    };
    let reader = std::io::BufReader::new(super::table::open_text(path, format.gzipped)?);
    let mut lines = reader.lines();
    let header = match lines.next() {
        Some(line) => {
            let line = line.map_err(|e| io_error(path, &e))?;
            // A byte-order mark (Excel's "CSV UTF-8") is no part of the first name.
            format.delimiter.split(line.trim_start_matches('\u{feff}'))
        }
        None => {
            return Err(file_error(
                path,
                "is empty; expected a header and a row an image",
            ));
        }
    };
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            header
                .iter()
                .position(|column| column.eq_ignore_ascii_case(name))
        })
    };
    let (Some(file_column), Some(label_column)) = (find(&FILE_COLUMNS), find(&LABEL_COLUMNS))
    else {
        return Err(file_error(
            path,
            format_args!(
                "header {:?}: expected a column of file names ({}) and one of labels ({})",
                header.join(","),
                FILE_COLUMNS.join(", "),
                LABEL_COLUMNS.join(", ")
            ),
        ));
    };
    let mut listed = std::collections::HashMap::new();
    for (row, line) in lines.enumerate() {
        let line = line.map_err(|e| io_error(path, &e))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields = format.delimiter.split(&line);
        let (Some(file), Some(label)) = (fields.get(file_column), fields.get(label_column)) else {
            return Err(file_error(
                path,
                format_args!(
                    "row {row} has {} fields; the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        };
        if !label.is_empty() {
            listed.insert(file.clone(), label.clone());
        }
    }
    Ok(listed)
}

/// Whether a folder's name says it holds a split of a data set: `train`, `training`,
/// `trainingSet`, `test`, `testing`, `val`, `valid`, `validation`, `dev`, `eval`, … (the
/// name, lower-cased, starts with one of them).
pub fn names_a_split(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["train", "test", "val", "dev", "eval", "holdout"]
        .iter()
        .any(|split| name.starts_with(split))
}

/// Whether a folder is laid out as splits of classes (`mnist_png/training/7/…`): every
/// image under it two levels down, in first-level subfolders each named as a split
/// ([`names_a_split`]; folders without images, as a `__MACOSX` beside them, aside).
pub fn split_tree(root: &Path) -> anyhow::Result<bool> {
    let images = images_under(root)?;
    Ok(!images.is_empty()
        && images.iter().all(|(relative, _)| {
            let parts: Vec<_> = relative.components().collect();
            parts.len() == 3 && parts[0].as_os_str().to_str().is_some_and(names_a_split)
        }))
}

/// The split folders a split layout's images sit in, sorted.
fn split_names(classes: &[(String, Vec<PathBuf>)]) -> Vec<String> {
    let splits: std::collections::BTreeSet<String> = classes
        .iter()
        .flat_map(|(_, images)| images)
        .filter_map(|image| image.parent()?.parent()?.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    splits.into_iter().collect()
}

/// The class a file's name gives (`labels = "names"`): the name up to its first `.`
/// (`subject01` of `subject01.happy`), the whole name when it has none, less a number after
/// `_`, `__` or `-` at its end (`obj1` of COIL-20's `obj1__0.png`, `s1` of `s1_10.pgm`).
pub fn class_of_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let head = name.split_once('.').map_or(name.as_str(), |(head, _)| head);
    without_number(head).unwrap_or(head).to_string()
}

/// `stem` less a number at its end after `_`, `__` or `-` (`obj1` of `obj1__0`); `None`
/// when it ends otherwise or nothing is left before it.
fn without_number(stem: &str) -> Option<&str> {
    let digits_off = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    let prefix = digits_off.trim_end_matches(['_', '-']);
    (digits_off.len() < stem.len() && prefix.len() < digits_off.len() && !prefix.is_empty())
        .then_some(prefix)
}

/// Whether a file's name holds a class before a further part: a `.` left once an image
/// extension is taken off (`subject01.happy`, `cat.0.jpg`), after a non-empty first part;
/// or a number after `_`, `__` or `-` ending the name (`obj1__0.png`, `img_001.png`).
pub fn names_a_class(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = if has_image_extension(path) {
        name.rsplit_once('.')
            .map_or(name.as_str(), |(stem, _)| stem)
    } else {
        name.as_str()
    };
    stem.split_once('.')
        .is_some_and(|(class, rest)| !class.is_empty() && !rest.is_empty())
        || without_number(stem).is_some()
}

/// Reads every image of the folder, split `all`; see [`ImageFolderConfig`].
pub fn read(config: &ImageFolderConfig) -> anyhow::Result<Dataset> {
    let root = &config.path;
    if let Some([height, width]) = config.resize
        && (height == 0 || width == 0)
    {
        return Err(file_error(
            root,
            format_args!("resize = [{height}, {width}]; expected [height, width], both positive"),
        ));
    }
    let channels_wanted = Channels::from_grayscale(config.grayscale);
    let layout = layout_of(config)?;
    let split_folders = matches!(
        layout,
        Layout::Classes {
            by: ClassesBy::SplitFolders,
            ..
        }
    );
    let (files, class_names): (Vec<(Option<i32>, PathBuf)>, Vec<String>) = match layout {
        Layout::Classes { classes, .. } => {
            let mut files = Vec::new();
            let mut names = Vec::with_capacity(classes.len());
            for (label, (name, images)) in (0i32..).zip(classes) {
                files.extend(images.into_iter().map(|file| (Some(label), file)));
                names.push(name);
            }
            (files, names)
        }
        Layout::Unlabelled { images, .. } => (
            images.into_iter().map(|file| (None, file)).collect(),
            Vec::new(),
        ),
    };

    let mut stack = ImageStack::default();
    let mut samples = Vec::with_capacity(files.len());
    for (label, file) in files {
        let mut image = decode_file(&file, channels_wanted)?;
        match config.resize {
            Some([height, width]) => {
                image = image.resize_exact(width, height, FilterType::Triangle);
            }
            None => stack
                .check_same_size(
                    &image,
                    &file.display().to_string(),
                    "set resize = [height, width] to use mixed sizes",
                )
                .map_err(|message| file_error(&file, message))?,
        }
        stack.push(image);
        // A split layout's sample is of its first-level folder's split.
        let split = match split_folders {
            true => file
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .map_or("all".into(), |name| name.to_string_lossy().into_owned()),
            false => "all".to_string(),
        };
        samples.push(SampleRecord {
            label,
            source: file.display().to_string(),
            split,
        });
    }

    let (height, width) = match config.resize {
        Some([height, width]) => (height, width),
        None => stack
            .size()
            .expect("every layout holds an image, checked by `layout`"),
    };
    let (data, channels) = stack
        .finish()
        .expect("every layout holds an image, checked by `layout`");
    Ok(Dataset {
        inputs: Inputs::Images {
            data,
            channels,
            height: height as usize,
            width: width as usize,
        },
        samples,
        class_names,
    })
}

/// The class subfolders (name, path), sorted by name; hidden folders (`.name`) are skipped.
pub(crate) fn list_class_folders(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    require_exists(root)?;
    if !root.is_dir() {
        return Err(file_error(
            root,
            "not a folder; expected a folder of class subfolders",
        ));
    }
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|e| io_error(root, &e))? {
        let entry = entry.map_err(|e| io_error(root, &e))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(file_error(
                &path,
                "folder name is not UTF-8; class names must be text",
            ));
        };
        if !name.starts_with('.') {
            folders.push((name, path));
        }
    }
    if folders.is_empty() {
        return Err(file_error(
            root,
            "no class subfolders; with labels = \"folders\" every first-level subfolder is a class of images (labels = \"none\" reads images without classes)",
        ));
    }
    folders.sort();
    Ok(folders)
}

/// The image files directly in one class folder, sorted by file name; hidden files skipped.
pub(crate) fn list_images(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(|e| io_error(folder, &e))? {
        let entry = entry.map_err(|e| io_error(folder, &e))?;
        let path = entry.path();
        if !is_hidden(&entry.file_name()) && path.is_file() && is_image_file(&path) {
            files.push((entry.file_name(), path));
        }
    }
    if files.is_empty() {
        return Err(file_error(
            folder,
            format_args!(
                "no images; expected files ending in .{} (every first-level subfolder is read as a class; set labels = \"none\" in [prepare] when the subfolders are not classes)",
                IMAGE_EXTENSIONS.join(", .")
            ),
        ));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Every image file under `root`, at any depth, as (path inside `root`, path), sorted by
/// the path inside `root`. Hidden files and folders are skipped; symbolic links are
/// followed, each folder entered once (so a link cannot loop).
pub fn images_under(root: &Path) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let mut images = Vec::new();
    let mut entered = std::collections::HashSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let real = std::fs::canonicalize(&folder).map_err(|e| io_error(&folder, &e))?;
        if !entered.insert(real) {
            continue;
        }
        for entry in std::fs::read_dir(&folder).map_err(|e| io_error(&folder, &e))? {
            let entry = entry.map_err(|e| io_error(&folder, &e))?;
            if is_hidden(&entry.file_name()) {
                continue;
            }
            // Follows links; a dangling link is neither and is skipped.
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() && is_image_file(&path) {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                images.push((relative, path));
            }
        }
    }
    images.sort();
    Ok(images)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().starts_with(b".")
}

/// An image file: one with an image extension, or one whose first bytes are an image's
/// (Yale's faces are GIF files named `subject01.happy`).
pub(crate) fn is_image_file(path: &Path) -> bool {
    has_image_extension(path) || sniffs_as_image(path)
}

/// Whether the file starts as a PNG, JPEG, GIF, TIFF, BMP or PNM image does.
fn sniffs_as_image(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 12];
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(n) = file.read(&mut head) else {
        return false;
    };
    let head = &head[..n];
    let bmp_size = || {
        // "BM" is text too: a BMP's next four bytes are its file size.
        let size = head
            .get(2..6)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        size.is_some_and(|size| std::fs::metadata(path).is_ok_and(|m| m.len() == u64::from(size)))
    };
    head.starts_with(b"\x89PNG")
        || head.starts_with(&[0xFF, 0xD8, 0xFF])
        || head.starts_with(b"GIF87a")
        || head.starts_with(b"GIF89a")
        || head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || (head.starts_with(b"BM") && bmp_size())
        || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP".as_slice()))
        || matches!(head, [b'P', b'1'..=b'6', b' ' | b'\t' | b'\n' | b'\r', ..])
}

pub(crate) fn has_image_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| e.eq_ignore_ascii_case(known))
    })
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, Luma, Rgb, RgbImage};

    use super::*;

    fn config(path: &Path) -> ImageFolderConfig {
        ImageFolderConfig {
            path: path.to_path_buf(),
            resize: None,
            grayscale: None,
            labels: None,
            labels_file: None,
        }
    }

    /// A 2×3 (height×width) RGB image whose pixel (x, y) is (base + x, base + 10y, 200).
    fn rgb_image(base: u8) -> RgbImage {
        RgbImage::from_fn(3, 2, |x, y| Rgb([base + x as u8, base + 10 * y as u8, 200]))
    }

    /// cats/{a.png, b.PPM, notes.txt}, dogs/{c.png}, .cache/ (hidden, ignored).
    fn write_folder(root: &Path) {
        for class in ["dogs", "cats", ".cache"] {
            std::fs::create_dir_all(root.join(class)).unwrap();
        }
        rgb_image(0).save(root.join("cats/a.png")).unwrap();
        rgb_image(50)
            .save_with_format(root.join("cats/b.PPM"), image::ImageFormat::Pnm)
            .unwrap();
        std::fs::write(root.join("cats/notes.txt"), "not an image").unwrap();
        rgb_image(100).save(root.join("dogs/c.png")).unwrap();
        rgb_image(0).save(root.join(".cache/x.png")).unwrap();
    }

    #[test]
    fn files_without_an_image_extension_are_sniffed() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        assert!(is_image_file(&write("subject01.happy", b"GIF89a\x06\x00")));
        assert!(is_image_file(&write("face", b"P5\n6 4\n255\n")));
        assert!(is_image_file(&write("photo.jpg", b"not checked")));
        // "BM" is text unless the next four bytes are the file's size.
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&10u32.to_le_bytes());
        bmp.extend_from_slice(&[0; 4]);
        assert!(is_image_file(&write("icon", &bmp)));
        assert!(!is_image_file(&write("notes", b"BMW and Audi\n")));
        assert!(!is_image_file(&write(
            "Readme.txt",
            b"The Yale face database\n"
        )));
        assert!(!is_image_file(&write("P5.txt", b"P5x")));
    }

    #[test]
    fn classes_from_names_stop_at_the_first_dot_or_a_closing_number() {
        for (name, class, names_one) in [
            ("subject01.happy", "subject01", true),
            ("KA.AN1.39.tiff", "KA", true),
            ("cat.0.jpg", "cat", true),
            ("img_001.png", "img", true),
            ("obj1__0.png", "obj1", true),
            ("s12-3.pgm", "s12", true),
            ("subject01.gif", "subject01", false),
            ("photo2023.jpg", "photo2023", false),
            ("_7.png", "_7", false),
            (".hidden", "", false),
        ] {
            let path = Path::new("faces").join(name);
            assert_eq!(class_of_name(&path), class, "{name}");
            assert_eq!(names_a_class(&path), names_one, "{name}");
        }
    }

    #[test]
    fn reads_rgb_classes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let dataset = read(&config(dir.path())).unwrap();
        assert_eq!(dataset.class_names, vec!["cats", "dogs"]);
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, vec![Some(0), Some(0), Some(1)]);
        assert_eq!(
            dataset.samples[1].source,
            dir.path().join("cats/b.PPM").display().to_string()
        );
        assert!(dataset.samples.iter().all(|s| s.split == "all"));
        let Inputs::Images {
            data,
            channels,
            height,
            width,
        } = &dataset.inputs
        else {
            panic!("expected images");
        };
        assert_eq!((*channels, *height, *width), (3, 2, 3));
        // First image, planes R, G, B of 2 rows × 3 columns.
        assert_eq!(
            &data[..18],
            &[
                0, 1, 2, 0, 1, 2, 0, 0, 0, 10, 10, 10, 200, 200, 200, 200, 200, 200
            ]
        );
        assert_eq!(data[18], 50);
        assert_eq!(data[36], 100);
        assert_eq!(data.len(), 3 * 18);
    }

    #[test]
    fn grayscale_and_resize() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("only")).unwrap();
        GrayImage::from_pixel(4, 6, Luma([77]))
            .save(dir.path().join("only/a.pgm"))
            .unwrap();
        GrayImage::from_pixel(2, 2, Luma([77]))
            .save(dir.path().join("only/b.png"))
            .unwrap();
        let dataset = read(&ImageFolderConfig {
            path: dir.path().to_path_buf(),
            resize: Some([3, 5]),
            grayscale: Some(true),
            labels: None,
            labels_file: None,
        })
        .unwrap();
        let Inputs::Images {
            data,
            channels,
            height,
            width,
        } = &dataset.inputs
        else {
            panic!("expected images");
        };
        assert_eq!((*channels, *height, *width), (1, 3, 5));
        // A constant image stays constant under bilinear resizing.
        assert_eq!(data, &vec![77u8; 2 * 15]);
    }

    fn images_of(dataset: &Dataset) -> (&[u8], usize) {
        match &dataset.inputs {
            Inputs::Images { data, channels, .. } => (data, *channels),
            _ => panic!("expected images"),
        }
    }

    #[test]
    fn gif_bmp_and_tiff_files_of_grays_are_one_channel() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        // GIF stores a palette (decoded as RGBA, written here from RGB); these hold grays only.
        RgbImage::from_pixel(3, 2, Rgb([40, 40, 40]))
            .save(dir.path().join("a/1.gif"))
            .unwrap();
        for (name, value) in [("2.bmp", 90u8), ("3.tif", 140), ("4.TIFF", 190)] {
            GrayImage::from_pixel(3, 2, Luma([value]))
                .save_with_format(
                    dir.path().join("a").join(name),
                    image::ImageFormat::from_extension(name.rsplit('.').next().unwrap()).unwrap(),
                )
                .unwrap();
        }
        RgbImage::from_pixel(3, 2, Rgb([7, 7, 7]))
            .save(dir.path().join("a/5.png"))
            .unwrap();
        // WebP (lossless), and the same bytes without an extension: sniffed.
        RgbImage::from_pixel(3, 2, Rgb([230, 230, 230]))
            .save(dir.path().join("a/6.webp"))
            .unwrap();
        std::fs::copy(dir.path().join("a/6.webp"), dir.path().join("a/7")).unwrap();
        let dataset = read(&config(dir.path())).unwrap();
        let (data, channels) = images_of(&dataset);
        assert_eq!(channels, 1);
        assert_eq!(
            data,
            [
                [40u8; 6], [90; 6], [140; 6], [190; 6], [7; 6], [230; 6], [230; 6]
            ]
            .concat()
        );
    }

    #[test]
    fn gray_files_stay_one_channel_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        GrayImage::from_pixel(3, 2, Luma([9]))
            .save(dir.path().join("a/1.pgm"))
            .unwrap();
        GrayImage::from_pixel(3, 2, Luma([7]))
            .save(dir.path().join("a/2.png"))
            .unwrap();
        let dataset = read(&config(dir.path())).unwrap();
        let (data, channels) = images_of(&dataset);
        assert_eq!(channels, 1);
        assert_eq!(data, [[9u8; 6], [7u8; 6]].concat());
        let rgb = read(&ImageFolderConfig {
            grayscale: Some(false),
            ..config(dir.path())
        })
        .unwrap();
        let (data, channels) = images_of(&rgb);
        assert_eq!((data.len(), channels), (36, 3));
        assert_eq!(&data[..18], &[9u8; 18]);
    }

    #[test]
    fn a_colour_file_after_gray_ones_makes_every_image_rgb() {
        let dir = tempfile::tempdir().unwrap();
        for class in ["a", "b", "c"] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
        }
        GrayImage::from_pixel(3, 2, Luma([5]))
            .save(dir.path().join("a/1.pgm"))
            .unwrap();
        rgb_image(0).save(dir.path().join("b/2.png")).unwrap();
        GrayImage::from_pixel(3, 2, Luma([8]))
            .save(dir.path().join("c/3.pgm"))
            .unwrap();
        let dataset = read(&config(dir.path())).unwrap();
        let (data, channels) = images_of(&dataset);
        assert_eq!((data.len(), channels), (3 * 18, 3));
        assert_eq!(&data[..18], &[5u8; 18]);
        assert_eq!(&data[18..24], &[0, 1, 2, 0, 1, 2]);
        assert_eq!(&data[36..], &[8u8; 18]);
    }

    #[test]
    fn mixed_sizes_without_resize_name_both() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        GrayImage::new(4, 4)
            .save(dir.path().join("a/1.png"))
            .unwrap();
        GrayImage::new(5, 4)
            .save(dir.path().join("a/2.png"))
            .unwrap();
        let error = read(&config(dir.path())).unwrap_err().to_string();
        let second = dir.path().join("a/2.png").display().to_string();
        assert!(error.starts_with(&second), "{error}");
        assert!(error.contains("image is 4×5 (height×width)"), "{error}");
        assert!(error.contains("1.png is 4×4"), "{error}");
    }

    #[test]
    fn missing_and_empty_folders_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nowhere");
        assert_eq!(
            read(&config(&missing)).unwrap_err().to_string(),
            format!("{}: not found", missing.display())
        );
        let error = read(&config(dir.path())).unwrap_err().to_string();
        assert!(
            error.contains("no images in it or its subfolders"),
            "{error}"
        );
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        std::fs::write(dir.path().join("empty/readme.md"), "x").unwrap();
        let error = read(&config(dir.path())).unwrap_err().to_string();
        assert!(
            error.starts_with(&dir.path().display().to_string()),
            "{error}"
        );
        assert!(error.contains("no images"), "{error}");
        // Class folders, one of them without images: named, with the way out.
        std::fs::create_dir(dir.path().join("cats")).unwrap();
        GrayImage::new(2, 2)
            .save(dir.path().join("cats/1.png"))
            .unwrap();
        let error = read(&config(dir.path())).unwrap_err().to_string();
        assert!(
            error.starts_with(&dir.path().join("empty").display().to_string()),
            "{error}"
        );
        assert!(error.contains("set labels = \"none\""), "{error}");
        let with_folders = ImageFolderConfig {
            labels: Some(FolderLabels::Folders),
            ..config(&dir.path().join("cats"))
        };
        let error = read(&with_folders).unwrap_err().to_string();
        assert!(error.contains("no class subfolders"), "{error}");
    }

    fn labels_and_sources(dataset: &Dataset, root: &Path) -> Vec<(Option<i32>, String)> {
        dataset
            .samples
            .iter()
            .map(|s| {
                let relative = Path::new(&s.source).strip_prefix(root).unwrap();
                (s.label, relative.display().to_string())
            })
            .collect()
    }

    fn gray(root: &Path, relative: &str, value: u8) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        GrayImage::from_pixel(3, 2, Luma([value]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn images_in_the_folder_itself_are_read_without_labels_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        gray(root, "b.png", 1);
        gray(root, "a.png", 2);
        gray(root, "2024/march/c.png", 3);
        gray(root, "2024/.thumbs/x.png", 4);
        gray(root, ".hidden.png", 5);
        std::fs::write(root.join("notes.txt"), "x").unwrap();
        let dataset = read(&config(root)).unwrap();
        assert!(dataset.class_names.is_empty());
        assert_eq!(
            labels_and_sources(&dataset, root),
            vec![
                (None, "2024/march/c.png".to_string()),
                (None, "a.png".to_string()),
                (None, "b.png".to_string()),
            ]
        );
        assert_eq!(images_of(&dataset).0, [[3u8; 6], [2; 6], [1; 6]].concat());
        let Layout::Unlabelled { reason, .. } = layout(root, None).unwrap() else {
            panic!("expected no labels");
        };
        assert_eq!(reason, "images sit directly in the folder, e.g. a.png");
    }

    #[test]
    fn split_folders_of_class_folders_read_as_classes_with_their_splits() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // mnist_png's layout: training/<digit>/…, testing/<digit>/…
        gray(root, "training/7/a.png", 1);
        gray(root, "training/1/b.png", 2);
        gray(root, "testing/7/c.png", 3);
        gray(root, "testing/3/d.png", 4);
        std::fs::create_dir_all(root.join("__MACOSX/training")).unwrap();
        assert!(split_tree(root).unwrap());
        // Unset, the tree reads as before (no labels): `new` writes the setting.
        assert!(matches!(
            layout(root, None).unwrap(),
            Layout::Unlabelled { .. }
        ));
        let labels = Some(FolderLabels::SplitFolders);
        let layout = layout(root, labels).unwrap();
        assert_eq!(
            layout.describe(),
            "3 class subfolders in 2 split folders (testing, training) (1, 3, 7)"
        );
        let dataset = read(&ImageFolderConfig {
            labels,
            ..config(root)
        })
        .unwrap();
        assert_eq!(dataset.class_names, ["1", "3", "7"]);
        assert_eq!(
            labels_and_sources(&dataset, root),
            vec![
                (Some(0), "training/1/b.png".to_string()),
                (Some(1), "testing/3/d.png".to_string()),
                (Some(2), "testing/7/c.png".to_string()),
                (Some(2), "training/7/a.png".to_string()),
            ]
        );
        let splits: Vec<&str> = dataset.samples.iter().map(|s| s.split.as_str()).collect();
        assert_eq!(splits, ["training", "testing", "testing", "training"]);
        assert_eq!(
            images_of(&dataset).0,
            [[2u8; 6], [4; 6], [3; 6], [1; 6]].concat()
        );
        // A first level not named as splits is no split layout (years, then months).
        let other = tempfile::tempdir().unwrap();
        gray(other.path(), "2023/01/a.png", 1);
        gray(other.path(), "2024/01/b.png", 2);
        assert!(!split_tree(other.path()).unwrap());
        // Set outright, it reads any first level as splits and names what it leaves out.
        gray(other.path(), "c.png", 3);
        let set = self::layout(other.path(), Some(FolderLabels::SplitFolders)).unwrap();
        assert_eq!(
            set.describe(),
            "1 class subfolders in 2 split folders (2023, 2024) (01); 1 images outside the class folders are left out"
        );
        let flat = tempfile::tempdir().unwrap();
        gray(flat.path(), "a.png", 1);
        let error = self::layout(flat.path(), Some(FolderLabels::SplitFolders))
            .unwrap_err()
            .to_string();
        assert!(error.contains("no images two levels down"), "{error}");
        assert!(names_a_split("trainingSet") && names_a_split("Validation"));
        assert!(!names_a_split("cats") && !names_a_split("2023"));
    }

    #[test]
    fn a_labels_file_names_the_classes_of_the_images_it_lists() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("train");
        gray(&root, "0001.png", 1);
        gray(&root, "0002.png", 2);
        gray(&root, "more/0003.png", 3);
        gray(&root, "0004.png", 4);
        let labels = dir.path().join("train.csv");
        // By name without extension, by file name, by path inside the folder; 0004 is not
        // listed, 0009 is no image.
        // Excel's byte-order mark before the header.
        std::fs::write(
            &labels,
            "\u{feff}ID,Label\n0001,dog\n0002.png,cat\nmore/0003.png,dog\n0009,cat\n\n",
        )
        .unwrap();
        let config = ImageFolderConfig {
            labels_file: Some(labels.clone()),
            ..config(&root)
        };
        assert_eq!(
            layout_of(&config).unwrap().describe(),
            "2 classes from the labels file (cat, dog); 1 images not listed in it are left out"
        );
        let dataset = read(&config).unwrap();
        assert_eq!(dataset.class_names, ["cat", "dog"]);
        assert_eq!(
            labels_and_sources(&dataset, &root),
            vec![
                (Some(0), "0002.png".to_string()),
                (Some(1), "0001.png".to_string()),
                (Some(1), "more/0003.png".to_string()),
            ]
        );
        // A header without the two columns, a short row, or no image listed: named.
        let error = |text: &str| {
            std::fs::write(&labels, text).unwrap();
            layout_of(&config).unwrap_err().to_string()
        };
        let message = error("name,kind\n0001,dog\n");
        assert!(
            message.contains("expected a column of file names"),
            "{message}"
        );
        assert!(
            message.starts_with(&labels.display().to_string()),
            "{message}"
        );
        let message = error("label,file\ndog\n");
        assert!(
            message.contains("row 0 has 1 fields; the header has 2"),
            "{message}"
        );
        let message = error("file,label\nzzz,dog\n");
        assert!(
            message.contains("names none of the images under"),
            "{message}"
        );
    }

    #[test]
    fn a_tree_deeper_than_one_level_has_no_labels() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        gray(root, "2023/01/a.png", 1);
        gray(root, "2023/b.png", 2);
        let layout = layout(root, None).unwrap();
        let Layout::Unlabelled { images, reason } = &layout else {
            panic!("expected no labels, got {layout:?}");
        };
        assert_eq!(images.len(), 2);
        assert!(
            reason.contains("below the first level of subfolders, e.g. 2023/01/a.png"),
            "{reason}"
        );
        assert!(
            layout.describe().starts_with("no labels, 2 images"),
            "{}",
            layout.describe()
        );
    }

    #[test]
    fn the_labels_setting_overrides_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        gray(root, "cats/1.png", 1);
        gray(root, "dogs/2.png", 2);
        // Every image directly in a first-level subfolder: classes.
        let dataset = read(&config(root)).unwrap();
        assert_eq!(dataset.class_names, vec!["cats", "dogs"]);
        // labels = "none": the subfolders are only places.
        let unlabelled = read(&ImageFolderConfig {
            labels: Some(FolderLabels::None),
            ..config(root)
        })
        .unwrap();
        assert_eq!(
            labels_and_sources(&unlabelled, root),
            vec![(None, "cats/1.png".into()), (None, "dogs/2.png".into())]
        );
        // A stray image in the folder itself: no labels, unless labels = "folders", which
        // leaves it (and anything deeper) out.
        gray(root, "stray.png", 3);
        gray(root, "dogs/old/3.png", 4);
        assert!(read(&config(root)).unwrap().class_names.is_empty());
        let folders = ImageFolderConfig {
            labels: Some(FolderLabels::Folders),
            ..config(root)
        };
        let dataset = read(&folders).unwrap();
        assert_eq!(
            labels_and_sources(&dataset, root),
            vec![
                (Some(0), "cats/1.png".into()),
                (Some(1), "dogs/2.png".into())
            ]
        );
        let described = layout(root, Some(FolderLabels::Folders))
            .unwrap()
            .describe();
        assert_eq!(
            described,
            "2 class subfolders (cats, dogs); 2 images outside the class folders are left out"
        );
    }

    #[cfg(unix)]
    #[test]
    fn linked_folders_are_read_once_and_cannot_loop() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        gray(&root, "a.png", 1);
        gray(dir.path(), "elsewhere/b.png", 2);
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("linked")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("loop")).unwrap();
        let dataset = read(&config(&root)).unwrap();
        assert_eq!(
            labels_and_sources(&dataset, &root),
            vec![(None, "a.png".into()), (None, "linked/b.png".into())]
        );
    }

    #[test]
    fn labels_setting_reads_and_writes_as_text() {
        let config: ImageFolderConfig =
            toml::from_str("path = \"x\"\nlabels = \"none\"\n").unwrap();
        assert_eq!(config.labels, Some(FolderLabels::None));
        assert_eq!(
            toml::to_string(&config).unwrap(),
            "path = \"x\"\nlabels = \"none\"\n"
        );
        let error = toml::from_str::<ImageFolderConfig>("path = \"x\"\nlabels = \"no\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("expected one of `folders`, `none`, `names`"),
            "{error}"
        );
        // Unset, it is not written: the stage key of pipelines without it stays as it was.
        let config: ImageFolderConfig = toml::from_str("path = \"x\"\n").unwrap();
        assert_eq!(toml::to_string(&config).unwrap(), "path = \"x\"\n");
    }

    #[test]
    fn undecodable_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let broken = dir.path().join("dogs/d.jpg");
        std::fs::write(&broken, b"\xff\xd8\xff\xe0 definitely not a jpeg").unwrap();
        let error = read(&config(dir.path())).unwrap_err().to_string();
        assert!(error.starts_with(&broken.display().to_string()), "{error}");
        assert!(error.contains("cannot decode image"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn zero_resize_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let error = read(&ImageFolderConfig {
            path: dir.path().to_path_buf(),
            resize: Some([0, 4]),
            grayscale: None,
            labels: None,
            labels_file: None,
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("resize = [0, 4]"), "{error}");
    }
}
