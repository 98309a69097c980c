//! `ebsc-pipeline new`: a pipeline file for data on disk, written from the template that fits
//! the data, with batch sizes, step counts and `n_clusters` worked out from it; and
//! `ebsc-pipeline show`: the merged configuration a pipeline's stages read.

pub mod archive;
pub mod detect;
pub mod geometry;
pub mod overrides;
pub mod plan;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ebsc_core::Pipeline;

use crate::config::{PrepareConfig, SourceConfig};
use crate::scaffold::detect::{ImageShapeKey, SourceKeys};
use crate::scaffold::overrides::{Edit, Override};
use crate::scaffold::plan::{ClusterCount, DataSummary, Template};
use crate::sources::image_folder::{self, FolderLabels, ImageFolderConfig, Layout};
use crate::sources::table;

/// What `new` is asked to do.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// The pipeline's name: the file is `<pipelines_dir>/<name>.toml`.
    pub name: String,
    /// The data: an image folder, IDX files, a CIFAR folder or a feature table.
    pub data: PathBuf,
    /// `key=value` arguments.
    pub overrides: Vec<String>,
    pub pipelines_dir: PathBuf,
    /// Replace an existing pipeline file.
    pub force: bool,
}

/// What `new` wrote.
#[derive(Debug)]
pub struct Created {
    pub path: PathBuf,
    pub template: Template,
    pub summary: DataSummary,
    /// Lines for the user: keys added that the template does not hold, and the like.
    pub notes: Vec<String>,
}

/// Keys without a section, with the one they belong to.
const SHORT_KEYS: [(&str, &str); 12] = [
    ("n_clusters", "cluster"),
    ("seed", "pipeline"),
    ("description", "pipeline"),
    ("label_column", "prepare"),
    ("id_column", "prepare"),
    ("tensor", "prepare"),
    ("header", "prepare"),
    ("grayscale", "prepare"),
    ("resize", "prepare"),
    ("label_kind", "prepare"),
    ("labels", "prepare"),
    ("image_shape", "prepare"),
];

/// Inspects the data, picks a template and writes the pipeline file.
pub fn new_pipeline(request: &NewRequest) -> anyhow::Result<Created> {
    check_name(&request.name)?;
    let path = request.pipelines_dir.join(format!("{}.toml", request.name));
    if path.exists() && !request.force {
        bail!(
            "{} already exists; choose another name, or pass --force to replace it",
            path.display()
        );
    }
    let mut template = None;
    let mut keys = SourceKeys::default();
    let mut settings = plan::Settings::default();
    let mut dotted = Vec::new();
    for argument in &request.overrides {
        let o = Override::parse(argument)?;
        let key = match SHORT_KEYS.iter().find(|(short, _)| *short == o.key) {
            Some((short, section)) => format!("{section}.{short}"),
            None if o.key == "template" => {
                template = Some(Template::parse(&o.value)?);
                continue;
            }
            None if !o.key.contains('.') => bail!(
                "{argument:?}: unknown key {:?}; use section.key (e.g. train.epochs=50) or one of template, {}",
                o.key,
                SHORT_KEYS.map(|(k, _)| k).join(", ")
            ),
            None => o.key.clone(),
        };
        let bad = |expected: &str| anyhow::anyhow!("{argument:?}: expected {expected}");
        match key.as_str() {
            "cluster.n_clusters" => {
                let count = match &o.value {
                    toml::Value::String(text) if text == "auto" => Some(ClusterCount::Auto),
                    value => value
                        .as_integer()
                        .filter(|k| *k >= 2)
                        .map(|k| ClusterCount::Fixed(k as usize)),
                };
                settings.n_clusters = Some(count.ok_or_else(|| {
                    bad("an integer of at least 2, or auto (the largest eigengap)")
                })?);
            }
            "pipeline.seed" => {
                let seed = o.value.as_integer().filter(|s| *s >= 0);
                settings.seed = Some(seed.ok_or_else(|| bad("a non-negative integer"))? as u64);
            }
            "pipeline.description" => {
                settings.description =
                    Some(o.value.as_str().ok_or_else(|| bad("text"))?.to_string());
            }
            "prepare.label_column" => keys.label_column = Some(text_value(&o)),
            "prepare.id_column" => keys.id_column = Some(text_value(&o)),
            "prepare.tensor" => keys.tensor = Some(text_value(&o)),
            "prepare.header" => {
                keys.header = Some(o.value.as_bool().ok_or_else(|| bad("true or false"))?)
            }
            "prepare.grayscale" => {
                keys.grayscale = Some(o.value.as_bool().ok_or_else(|| bad("true or false"))?)
            }
            "prepare.resize" => {
                keys.resize = Some(
                    o.value
                        .clone()
                        .try_into()
                        .map_err(|_| bad("[height, width], e.g. resize=[64,64]"))?,
                )
            }
            "prepare.label_kind" => {
                keys.label_kind = Some(
                    o.value
                        .clone()
                        .try_into()
                        .map_err(|_| bad("\"fine\" or \"coarse\""))?,
                )
            }
            "prepare.labels" => {
                keys.labels = Some(o.value.clone().try_into().map_err(|_| {
                    bad("none (the subfolders are not classes), folders (they are), names (the file names up to their first '.' or closing number are) or split-folders (the subfolders are splits, their subfolders classes)")
                })?)
            }
            "prepare.image_shape" => {
                keys.image_shape = Some(match &o.value {
                    toml::Value::String(text) if text == "none" => ImageShapeKey::None,
                    value => ImageShapeKey::Shape(value.clone().try_into().map_err(|_| {
                        bad("[height, width] (the rows are gray images, e.g. image_shape=[28,28]) or none (they are features)")
                    })?),
                })
            }
            _ => dotted.push(Override { key, ..o }),
        }
    }

    let mut notes = Vec::new();
    // An archive is read from the folder it unpacks into beside it.
    let data = if archive::is_archive(&request.data) {
        let (folder, unpacked) = archive::unpack_beside(&request.data)?;
        notes.push(match unpacked {
            archive::Unpacked::Now { files } => format!(
                "unpacked {} into {} ({files} files); the pipeline reads that folder",
                request.data.display(),
                folder.display()
            ),
            archive::Unpacked::Before => format!(
                "{} is there beside {}: read as it is (remove it to unpack the archive again)",
                folder.display(),
                request.data.display()
            ),
        });
        folder
    } else {
        request.data.clone()
    };
    let mut source = detect::detect(&data, &keys)?;
    match (keys.labels, &source) {
        (None, _) | (Some(_), SourceConfig::ImageFolder(_)) => {}
        (Some(FolderLabels::None), SourceConfig::Table(_)) => {
            if let Some(column) = &keys.label_column {
                bail!(
                    "labels=none says the table has no labels, and label_column={column} names them; give one"
                );
            }
        }
        (Some(FolderLabels::None), _) => bail!(
            "labels=none is for image folders and tables, and {} is neither",
            data.display()
        ),
        (
            Some(
                labels @ (FolderLabels::Folders | FolderLabels::Names | FolderLabels::SplitFolders),
            ),
            _,
        ) => bail!(
            "labels={} is for image folders, and {} is not one (label_column=COL names a table's label column)",
            labels.name(),
            data.display()
        ),
    }
    if let SourceConfig::ImageFolder(folder) = &mut source {
        notes.push(folder_labels_note(folder)?);
    }
    if let SourceConfig::Table(table) = &source {
        notes.extend(table_notes(table));
    }
    if let SourceConfig::ImageFolder(folder) = &mut source
        && folder.resize.is_none()
        && let Some(resize) = detect::fitting_resize(folder)
    {
        folder.resize = Some(resize);
        notes.push(format!(
            "the images differ in size or are larger than {} pixels: resize = [{}, {}] (set resize=[H,W] to choose)",
            detect::MAX_SIDE,
            resize[0],
            resize[1]
        ));
    }
    let dataset = match crate::read_source(&source) {
        Ok(dataset) => dataset,
        Err(error) => match without_guessed_id(&mut source, &keys) {
            // A column named like an id that does not name the rows (repeated values): read
            // it as what it is, and say so.
            Some((dataset, column)) => {
                notes.push(format!(
                    "column {column:?} looks like an id but does not name the rows ({error:#}); read without id_column (id_column=COL names one)"
                ));
                dataset
            }
            None => match with_text_labels(&mut source, &keys) {
                Some((dataset, column, which)) => {
                    let unnamed = match &source {
                        SourceConfig::Table(table) => no_label_named(table),
                        _ => "no column is named like labels",
                    };
                    notes.push(format!(
                        "{unnamed}, and the {which} column ({column}) holds text: read as the labels, {} classes (label_column=COL names another)",
                        dataset.class_names.len()
                    ));
                    dataset
                }
                None => {
                    return Err(error).with_context(|| format!("reading {}", data.display()));
                }
            },
        },
    };
    anyhow::ensure!(!dataset.is_empty(), "{}: holds no samples", data.display());
    let dataset = with_guessed_labels(&mut source, &keys, dataset, &mut notes)
        .with_context(|| format!("reading {}", data.display()))?;
    let dataset = with_positional_labels(&mut source, &keys, dataset, &mut notes);
    let dataset = with_pixel_images(&mut source, &keys, dataset, &mut notes);
    if let Some(note) = units_note(&source, &dataset) {
        notes.push(note);
    }
    // prepare.splits / prepare.subset shrink the data before it is sized up.
    let mut selection = toml::Table::new();
    for o in &dotted {
        if let Some(key @ ("splits" | "subset")) = o.key.strip_prefix("prepare.") {
            selection.insert(key.to_string(), o.value.clone());
        }
    }
    let selection: crate::config::SelectionConfig = toml::Value::Table(selection)
        .try_into()
        .context("prepare.splits / prepare.subset")?;
    let dataset = crate::select::apply(dataset, &selection, settings.seed.unwrap_or(0))?;
    anyhow::ensure!(!dataset.is_empty(), "the selection keeps no samples");
    let summary = DataSummary::of(&dataset, &source);
    let template = template.unwrap_or_else(|| Template::fits(&summary));
    if let (ClusterCount::Auto, _) = plan::cluster_count(&settings, &summary) {
        notes.push(
            "n_clusters = \"auto\": the cluster stage picks the count at the largest eigengap (pass n_clusters=K when you know it)"
                .to_string(),
        );
    }
    if let (Template::Images, Some(ratio)) = (template, plan::mirrored_views(&summary)) {
        notes.push(format!(
            "the set holds its images' mirror images (mirror ratio {ratio:.2}): the joint stage learns from mirrored views too"
        ));
    }
    if let (Template::Images, Some(share)) = (template, plan::drawn_in_strokes(&summary)) {
        notes.push(match plan::stroke_views(&summary) {
            Some(_) => format!(
                "the images are drawn in strokes (stroke share {share:.2}): both stages' views are drawn thicker or thinner too"
            ),
            None => format!(
                "the images are drawn in strokes (stroke share {share:.2}), but their joint stage is mirrored: stroke width is left as it is (docs/method.md, \"Stroke width\")"
            ),
        });
    }
    let mut text = plan::render(&request.name, template, &summary, &source, &settings)?;

    for o in &dotted {
        let (edited, edit) = overrides::set(&text, &o.key, &o.value_text())?;
        text = edited;
        if edit == Edit::Added && !o.key.starts_with("prepare.") {
            notes.push(format!(
                "{} is not in the template: added; its stage checks it when it runs",
                o.key
            ));
        }
    }
    // The file must load, and its [prepare] section read, before it is written.
    let pipeline = Pipeline::parse(&path, &text)
        .map_err(|e| anyhow::anyhow!("the settings given make an invalid pipeline: {e}"))?;
    PrepareConfig::from_pipeline(&pipeline)?;
    // Said of the file as written, a `pipeline.members=` given included.
    let members = pipeline.settings.members;
    if members > 1 {
        let why = if template == Template::Images && plan::members(&summary) == members {
            format!("{} images drawn in strokes: ", summary.n_samples)
        } else {
            String::new()
        };
        notes.push(format!(
            "{why}{members} members, each pretrained and trained from its own seed, clustered on the mean of their graphs ({members}× the training time; docs/method.md, \"Members\")"
        ));
    }
    let n_clusters = pipeline
        .raw_section("cluster")
        .ok()
        .and_then(|cluster| cluster.get("n_clusters"));
    if pipeline.cluster_count().is_none() && n_clusters.and_then(|v| v.as_str()) != Some("auto") {
        bail!("[cluster] n_clusters must be a number of clusters, or \"auto\"");
    }
    std::fs::create_dir_all(&request.pipelines_dir).with_context(|| {
        format!(
            "{}: cannot create the folder",
            request.pipelines_dir.display()
        )
    })?;
    ebsc_core::atomic::write_atomic(&path, text.as_bytes())?;
    Ok(Created {
        path,
        template,
        summary,
        notes,
    })
}

/// Where a table's labels and samples come from when `new` found them apart: class files,
/// files of splits, a labels file, an archive of splits.
fn table_notes(table: &crate::sources::table::TableConfig) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(files) = &table.class_files {
        let format = files
            .first()
            .map(|f| table::table_extension(f).0)
            .unwrap_or_default();
        notes.push(format!(
            "labels: {} .{format} files, one class each, named by their files (give one file as the path to read it alone)",
            files.len()
        ));
    }
    if let Some(files) = &table.split_files {
        let labels = match &table.split_labels {
            Some(labels) => format!(
                ", each with its labels beside it ({})",
                labels
                    .iter()
                    .map(|l| l.file_name().unwrap_or_default().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        notes.push(format!(
            "{} tables of splits{labels}, read one after another, each sample's split its file's name (prepare.splits=[\"{}\"] keeps one; give one file as the path to read it alone)",
            files.len(),
            // The test file (the split benchmarks score), else the last.
            files
                .iter()
                .find(|f| table::split_name(f).to_ascii_lowercase().contains("test"))
                .or(files.last())
                .map(|f| table::split_name(f))
                .unwrap_or_default()
        ));
    }
    if let Some(labels) = &table.labels_path {
        notes.push(format!(
            "labels: {} beside the samples (labels_path; labels=none reads the samples without them)",
            labels.display()
        ));
    }
    if let Some(tensors) = &table.tensors {
        let labels = match &table.label_arrays {
            Some(labels) => format!("with the labels of {}", labels.join(", ")),
            None => "without labels".to_string(),
        };
        notes.push(format!(
            "an archive of splits: {} read one after another, {labels}; each sample's split is its array's name (prepare.splits=[\"{}\"] keeps one)",
            tensors.join(", "),
            tensors.last().map_or("", String::as_str)
        ));
    }
    notes
}

/// What an image folder's subfolders were read as, for the user; an unlabelled layout
/// found on its own is written down (`labels = "none"`, or `"names"` and `"split-folders"`
/// where the layout shows classes those read), so the file says how prepare reads the
/// folder.
fn folder_labels_note(folder: &mut ImageFolderConfig) -> anyhow::Result<String> {
    let layout = image_folder::layout_of(folder)?;
    let described = layout.describe();
    // Splits of classes (`training/7/…`): unset, `labels` reads them as no labels.
    let split_tree = folder.labels.is_none()
        && matches!(layout, Layout::Unlabelled { .. })
        && image_folder::split_tree(&folder.path)?;
    Ok(match (&layout, folder.labels) {
        (Layout::Unlabelled { images, .. }, None) if classes_by_name(&folder.path, images) => {
            folder.labels = Some(FolderLabels::Names);
            let described = image_folder::layout(&folder.path, folder.labels)?.describe();
            format!(
                "labels: {described} (labels = \"names\" written; labels=none reads the images without labels)"
            )
        }
        (Layout::Unlabelled { .. }, None) if split_tree => {
            folder.labels = Some(FolderLabels::SplitFolders);
            let described = image_folder::layout(&folder.path, folder.labels)?.describe();
            format!(
                "labels: {described} (labels = \"split-folders\" written: a sample's split is its first-level folder, prepare.splits=[\"NAME\"] keeps one; labels=none reads the images without labels)"
            )
        }
        (Layout::Unlabelled { .. }, None) => {
            folder.labels = Some(FolderLabels::None);
            format!("{described}: every image is one sample (labels = \"none\" written)")
        }
        (
            Layout::Classes {
                by: image_folder::ClassesBy::LabelsFile,
                ..
            },
            _,
        ) => format!(
            "labels: {described} ({}; labels=none reads the images without labels)",
            folder
                .labels_file
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
        ),
        (Layout::Classes { .. }, None) => {
            format!("labels: {described}; if the subfolders are not classes, pass labels=none")
        }
        _ => format!("labels: {described}"),
    })
}

/// Whether a folder's images, all directly in it, are named `<class>.<rest>` (Yale's
/// `subject01.happy`, JAFFE's `KA.AN1.39.tiff`, `cat.0.jpg`) with classes that read as
/// classes ([`detect::reads_as_classes`]), each on two images or more. An image named by
/// its class alone (Yale's `subject01.gif` beside `subject01.happy`) joins that class.
fn classes_by_name(root: &Path, images: &[PathBuf]) -> bool {
    if !images.iter().all(|image| image.parent() == Some(root)) {
        return false;
    }
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for image in images.iter().filter(|i| image_folder::names_a_class(i)) {
        *counts
            .entry(image_folder::class_of_name(image))
            .or_default() += 1;
    }
    for image in images.iter().filter(|i| !image_folder::names_a_class(i)) {
        match counts.get_mut(&image_folder::class_of_name(image)) {
            Some(count) => *count += 1,
            None => return false,
        }
    }
    detect::reads_as_classes(counts.len(), images.len()) && counts.values().all(|&n| n >= 2)
}

fn text_value(o: &Override) -> String {
    match &o.value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!(
            "{name:?} is not a pipeline name; use letters, digits, '-', '_' and '.', e.g. my-faces"
        );
    }
    Ok(())
}

/// The pipeline file a stage argument names: a path ending in `.toml`, or a name in
/// `pipelines_dir`.
pub fn pipeline_path(pipeline: &str, pipelines_dir: &Path) -> PathBuf {
    if pipeline.ends_with(".toml") {
        PathBuf::from(pipeline)
    } else {
        pipelines_dir.join(format!("{pipeline}.toml"))
    }
}

/// The merged configuration of a pipeline, as TOML with a comment naming the file.
pub fn show(path: &Path) -> anyhow::Result<String> {
    let pipeline = Pipeline::load(path)?;
    Ok(format!(
        "# {}: the settings its stages read, after `extends`\n\n{}",
        path.display(),
        pipeline.effective_toml()
    ))
}

/// A text table whose columns name no labels (header-less, as `np.savetxt` writes `[X, y]`,
/// or headed with a name `new` does not know, `cluster`): when its last (or first) column
/// holds class labels ([`detect::label_like_column`]), the table read again with that
/// column as the labels, and a note that says so. `labels=none` keeps every column a
/// feature.
fn with_guessed_labels(
    source: &mut SourceConfig,
    keys: &SourceKeys,
    dataset: crate::dataset::Dataset,
    notes: &mut Vec<String>,
) -> anyhow::Result<crate::dataset::Dataset> {
    let SourceConfig::Table(table) = source else {
        return Ok(dataset);
    };
    if !labels_left_to_guess(table, keys) {
        return Ok(dataset);
    }
    let crate::dataset::Inputs::Features { data, dim } = &dataset.inputs else {
        return Ok(dataset);
    };
    let names = match detect::feature_column_names(table)? {
        Some(names) if names.len() == *dim => names,
        _ => return Ok(dataset),
    };
    let Some(found) = detect::label_like_column(data, *dim) else {
        return Ok(dataset);
    };
    let which = if found.index == 0 { "first" } else { "last" };
    let column = names[found.index].clone();
    let unnamed = no_label_named(table);
    table.label_column = Some(column.clone());
    let relabelled = crate::read_source(source)?;
    notes.push(format!(
        "{unnamed}, and the {which} column ({column}) holds {} consecutive integers ({} to {}), each on 2 rows or more: read as the labels (labels=none keeps it a feature; label_column=COL names another)",
        found.n_classes, found.min, found.max
    ));
    Ok(relabelled)
}

/// An `.npz` archive whose arrays are named by position (`np.savez(path, X, y)`: `arr_0`,
/// `arr_1`), or a `.mat` file, with no array named like a label: when one 1-D array (a
/// numeric vector of a `.mat` file) has a value a sample and reads as labels, the file read
/// again with it as the labels, and a note that says so.
fn with_positional_labels(
    source: &mut SourceConfig,
    keys: &SourceKeys,
    dataset: crate::dataset::Dataset,
    notes: &mut Vec<String>,
) -> crate::dataset::Dataset {
    let SourceConfig::Table(table) = source else {
        return dataset;
    };
    if table.label_column.is_some()
        || table.tensors.is_some()
        || table.labels_path.is_some()
        || keys.labels.is_some()
    {
        return dataset;
    }
    let extension = table
        .path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    // A `.mat` file's samples may be its matrix's columns: a vector as long as either side.
    let sides = match &dataset.inputs {
        crate::dataset::Inputs::Features { dim, .. } => [dataset.len(), *dim],
        crate::dataset::Inputs::Images { .. } => [dataset.len(); 2],
    };
    let one_a_sample: Vec<String> = match extension.as_deref() {
        Some("npz") => crate::sources::table::npz_array_shapes(&table.path)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, shape)| shape.as_slice() == [dataset.len()])
            .map(|(name, _)| name)
            .collect(),
        Some("mat") => crate::sources::table::mat_vectors(&table.path)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, length)| sides.contains(length))
            .map(|(name, _)| name)
            .collect(),
        _ => return dataset,
    };
    let [name] = one_a_sample.as_slice() else {
        return dataset;
    };
    let name = name.clone();
    match read_with_labels(source, &name) {
        Some(labelled) => {
            notes.push(format!(
                "no array is named like labels, and {name:?} holds one value a sample: read as the labels, {} classes (labels=none keeps the file unlabelled; label_column=NAME names another)",
                labelled.class_names.len()
            ));
            labelled
        }
        None => dataset,
    }
}

/// A table whose rows are square gray images ([`detect::pixel_side`]: Kaggle's `pixel1 …
/// pixel784` CSVs, `X.reshape(N, -1)` saved as a table) is read as those images
/// (`image_shape` written), so it gets the recipe the same images get from a folder or IDX
/// files: Fashion-MNIST's test images as such a CSV scored 0.60 with the features template,
/// against 0.72 as images (RESULTS.md, "Images handed over as a table of pixels"). A few
/// thousand crowded images or fewer (mean cosine at or over [`plan::CROWDED_COSINE`], as
/// faces are; up to [`plan::SMALL_IMAGE_SET`]) stay features: the ORL faces at 32×32 scored
/// 0.870 / 0.950 / 0.887 as a table with the features template, 0.838 / 0.930 / 0.883 with
/// the image templates. Larger crowded sets were not measured and go as images, as they
/// would from a folder.
fn with_pixel_images(
    source: &mut SourceConfig,
    keys: &SourceKeys,
    mut dataset: crate::dataset::Dataset,
    notes: &mut Vec<String>,
) -> crate::dataset::Dataset {
    let SourceConfig::Table(table) = source else {
        return dataset;
    };
    let crate::dataset::Inputs::Features { data, dim } = &dataset.inputs else {
        return dataset;
    };
    if keys.image_shape.is_some() {
        return dataset;
    }
    let Some(side) = detect::pixel_side(data, *dim) else {
        return dataset;
    };
    let cosine = geometry::mean_cosine(&dataset.inputs);
    if cosine >= plan::CROWDED_COSINE && dataset.len() <= plan::SMALL_IMAGE_SET {
        notes.push(format!(
            "the {dim} columns hold {side}×{side} gray images, crowded ones (mean cosine {cosine:.2}, as faces are): kept as features, which score higher on crowded faces (image_shape=[{side},{side}] reads them as images)"
        ));
        return dataset;
    }
    let Ok(pixels) = crate::sources::table::gray_pixels(data) else {
        return dataset;
    };
    notes.push(format!(
        "the {dim} columns hold {side}×{side} gray images: read as images, image_shape = [{side}, {side}] (image_shape=none keeps them features)"
    ));
    dataset.inputs = crate::dataset::Inputs::Images {
        data: pixels,
        channels: 1,
        height: side,
        width: side,
    };
    table.image_shape = Some([side, side]);
    dataset
}

/// The table of `source` read again with `column` as its labels, when that reads and gives
/// classes ([`detect::reads_as_classes`]); otherwise `source` is left without a label column
/// and `None`.
fn read_with_labels(source: &mut SourceConfig, column: &str) -> Option<crate::dataset::Dataset> {
    let set_label = |source: &mut SourceConfig, column: Option<String>| {
        if let SourceConfig::Table(table) = source {
            table.label_column = column;
        }
    };
    set_label(source, Some(column.to_string()));
    match crate::read_source(source) {
        Ok(labelled) if detect::reads_as_classes(labelled.class_names.len(), labelled.len()) => {
            Some(labelled)
        }
        _ => {
            set_label(source, None);
            None
        }
    }
}

/// A note when a feature table's columns are in different units
/// ([`geometry::column_units_differ`]): the widest then decides every cosine, and the user
/// may want to scale the columns before `new`. Names the two columns.
fn units_note(source: &SourceConfig, dataset: &crate::dataset::Dataset) -> Option<String> {
    let ((widest, wide), (narrowest, narrow)) = geometry::column_units_differ(&dataset.inputs)?;
    let names: Option<Vec<String>> = match source {
        SourceConfig::Table(table) => {
            detect::feature_column_names(table)
                .ok()
                .flatten()
                .map(|names| {
                    names
                        .into_iter()
                        .filter(|name| table.label_column.as_ref() != Some(name))
                        .collect::<Vec<_>>()
                })
        }
        _ => None,
    };
    let name = |column: usize| match &names {
        Some(names) if names.len() == dataset.inputs.row_len() => format!("{:?}", names[column]),
        _ => format!("column {}", column + 1),
    };
    // Three significant digits or so: 4069, 1.25, 0.0291.
    let value = |v: f64| match v {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 1.0 => format!("{v:.2}"),
        v => format!("{v:.3e}")
            .parse::<f64>()
            .map_or(v.to_string(), |r| r.to_string()),
    };
    Some(format!(
        "the columns are in different units: {} spans {} and {} {} ({:.0}×), so the widest decide every cosine; if they are measurements of different kinds, scale each column (to mean 0 and variance 1, say) before `just new`",
        name(widest),
        value(wide),
        name(narrowest),
        value(narrow),
        wide / narrow
    ))
}

/// Whether a table's labels are still for `new` to guess from its columns: none named,
/// none saved apart, no files of splits (each read with the first one's keys) or of classes
/// (labelled by their names), and no `labels=` given.
fn labels_left_to_guess(table: &crate::sources::table::TableConfig, keys: &SourceKeys) -> bool {
    table.label_column.is_none()
        && table.labels_path.is_none()
        && table.split_files.is_none()
        && table.class_files.is_none()
        && keys.labels.is_none()
}

/// How a note says that no column of `table` is named as its labels.
fn no_label_named(table: &crate::sources::table::TableConfig) -> &'static str {
    match table.header {
        Some(false) => "no header names the columns",
        _ => "no column is named like labels",
    }
}

/// A table that does not read as features because its last (or first) column holds text,
/// as UCI's `iris.data` writes its classes (header-less) or a CSV whose header names that
/// column otherwise than `new` knows (`animal`): that reading with the column as the labels,
/// the column's name and which end it is, when it gives 2 classes or more, at most one per
/// two rows. `None` where it does not apply or that does not read either.
fn with_text_labels(
    source: &mut SourceConfig,
    keys: &SourceKeys,
) -> Option<(crate::dataset::Dataset, String, &'static str)> {
    let SourceConfig::Table(table) = source else {
        return None;
    };
    if !labels_left_to_guess(table, keys) {
        return None;
    }
    let names = detect::feature_column_names(table).ok()??;
    if names.len() < 2 {
        return None;
    }
    [(names.len() - 1, "last"), (0, "first")]
        .into_iter()
        .find_map(|(index, which)| {
            let column = names[index].clone();
            read_with_labels(source, &column).map(|dataset| (dataset, column, which))
        })
}

/// When the id column was guessed from its name (not given) and the table reads without
/// it, drops it from `source` and returns that reading and the column's name.
fn without_guessed_id(
    source: &mut SourceConfig,
    keys: &SourceKeys,
) -> Option<(crate::dataset::Dataset, String)> {
    let SourceConfig::Table(table) = source else {
        return None;
    };
    if keys.id_column.is_some() {
        return None;
    }
    let column = table.id_column.take()?;
    match crate::read_source(source) {
        Ok(dataset) => Some((dataset, column)),
        Err(_) => {
            if let SourceConfig::Table(table) = source {
                table.id_column = Some(column);
            }
            None
        }
    }
}
