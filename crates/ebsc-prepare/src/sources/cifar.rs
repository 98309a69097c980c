//! CIFAR-10 and CIFAR-100, binary version (Krizhevsky 2009).
//!
//! CIFAR-10: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`, records of one label
//! byte and 3072 pixel bytes. CIFAR-100: `train.bin` and `test.bin`, records of a coarse byte,
//! a fine byte and 3072 pixel bytes. Pixels are the R, G and B planes of a 32×32 image, which is
//! already the `[C, H, W]` layout of [`Inputs::Images`].

use std::path::{Path, PathBuf};

use super::{file_error, read_whole_file, require_exists};
use crate::dataset::{Dataset, Inputs, SampleRecord};

/// A folder of CIFAR binary batches, e.g. `cifar-10-batches-bin`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CifarConfig {
    /// The folder holding the `.bin` files.
    pub path: PathBuf,
    /// CIFAR-100 only: which label to use, `fine` (100 classes, the default) or `coarse` (20).
    pub label_kind: Option<CifarLabelKind>,
}

/// CIFAR-100's two label sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CifarLabelKind {
    /// 100 classes.
    Fine,
    /// 20 superclasses.
    Coarse,
}

const IMAGE_SIDE: usize = 32;
const IMAGE_LEN: usize = 3 * IMAGE_SIDE * IMAGE_SIDE;

/// Which variant a folder holds, with its files per split and record layout.
struct Layout {
    name: &'static str,
    files: Vec<(&'static str, &'static str)>,
    /// Bytes before the pixels in each record.
    label_bytes: usize,
    /// Which of those bytes is the label used, and how many classes it has.
    label_offset: usize,
    n_classes: usize,
    /// Class counts of every label byte, for validation.
    label_limits: Vec<usize>,
    names_file: &'static str,
}

const CIFAR10_FILES: [(&str, &str); 6] = [
    ("data_batch_1.bin", "train"),
    ("data_batch_2.bin", "train"),
    ("data_batch_3.bin", "train"),
    ("data_batch_4.bin", "train"),
    ("data_batch_5.bin", "train"),
    ("test_batch.bin", "test"),
];
const CIFAR100_FILES: [(&str, &str); 2] = [("train.bin", "train"), ("test.bin", "test")];

/// Reads every record of the train and test files; see [`CifarConfig`].
pub fn read(config: &CifarConfig) -> anyhow::Result<Dataset> {
    let folder = &config.path;
    let layout = detect_layout(config)?;
    let class_names = read_class_names(&folder.join(layout.names_file), layout.n_classes)?;
    let record_len = layout.label_bytes + IMAGE_LEN;

    let mut pixels = Vec::new();
    let mut samples = Vec::new();
    for (file_name, split) in &layout.files {
        let path = folder.join(file_name);
        let bytes = read_whole_file(&path)?;
        if bytes.len() % record_len != 0 {
            return Err(file_error(
                &path,
                format_args!(
                    "truncated: {} bytes is not a whole number of {record_len}-byte {} records ({} records and {} bytes left over)",
                    bytes.len(),
                    layout.name,
                    bytes.len() / record_len,
                    bytes.len() % record_len
                ),
            ));
        }
        pixels.reserve(bytes.len() / record_len * IMAGE_LEN);
        for (record_index, record) in bytes.chunks_exact(record_len).enumerate() {
            check_labels(&path, &layout, record_index, &record[..layout.label_bytes])?;
            pixels.extend_from_slice(&record[layout.label_bytes..]);
            samples.push(SampleRecord {
                label: Some(i32::from(record[layout.label_offset])),
                source: format!("{}#{record_index}", path.display()),
                split: (*split).to_string(),
            });
        }
    }
    Ok(Dataset {
        inputs: Inputs::Images {
            data: pixels,
            channels: 3,
            height: IMAGE_SIDE,
            width: IMAGE_SIDE,
        },
        samples,
        class_names,
    })
}

fn check_labels(
    path: &Path,
    layout: &Layout,
    record_index: usize,
    labels: &[u8],
) -> anyhow::Result<()> {
    for (&value, &limit) in labels.iter().zip(&layout.label_limits) {
        if usize::from(value) >= limit {
            return Err(file_error(
                path,
                format_args!(
                    "record {record_index} has label {value}; expected < {limit} for {}",
                    layout.name
                ),
            ));
        }
    }
    Ok(())
}

/// CIFAR-100 when `train.bin` or `test.bin` is there, CIFAR-10 when any of its batches is.
fn detect_layout(config: &CifarConfig) -> anyhow::Result<Layout> {
    let folder = &config.path;
    require_exists(folder)?;
    if !folder.is_dir() {
        return Err(file_error(
            folder,
            "not a folder; expected a folder of CIFAR .bin files",
        ));
    }
    let has = |names: &[(&str, &str)]| names.iter().any(|(name, _)| folder.join(name).exists());
    let layout = if has(&CIFAR100_FILES) {
        let coarse = config.label_kind == Some(CifarLabelKind::Coarse);
        Layout {
            name: "CIFAR-100",
            files: CIFAR100_FILES.to_vec(),
            label_bytes: 2,
            label_offset: if coarse { 0 } else { 1 },
            n_classes: if coarse { 20 } else { 100 },
            label_limits: vec![20, 100],
            names_file: if coarse {
                "coarse_label_names.txt"
            } else {
                "fine_label_names.txt"
            },
        }
    } else if has(&CIFAR10_FILES) {
        if let Some(kind) = config.label_kind {
            return Err(file_error(
                folder,
                format_args!(
                    "label_kind = {:?} is for CIFAR-100 only, but this folder holds CIFAR-10; remove label_kind",
                    format!("{kind:?}").to_lowercase()
                ),
            ));
        }
        Layout {
            name: "CIFAR-10",
            files: CIFAR10_FILES.to_vec(),
            label_bytes: 1,
            label_offset: 0,
            n_classes: 10,
            label_limits: vec![10],
            names_file: "batches.meta.txt",
        }
    } else {
        return Err(file_error(
            folder,
            "no CIFAR files; expected data_batch_1.bin … data_batch_5.bin and test_batch.bin (CIFAR-10) or train.bin and test.bin (CIFAR-100)",
        ));
    };
    for (name, _) in &layout.files {
        let path = folder.join(name);
        if !path.exists() {
            let expected = layout
                .files
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(file_error(
                &path,
                format_args!("not found; {} needs {expected}", layout.name),
            ));
        }
    }
    Ok(layout)
}

/// One name per non-blank line when the file exists, else `0`…`K-1`.
fn read_class_names(path: &Path, n_classes: usize) -> anyhow::Result<Vec<String>> {
    if !path.exists() {
        return Ok((0..n_classes).map(|k| k.to_string()).collect());
    }
    let bytes = read_whole_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| file_error(path, "not UTF-8 text"))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != n_classes {
        return Err(file_error(
            path,
            format_args!("lists {} class names; expected {n_classes}", names.len()),
        ));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record whose pixels are all `fill`, after the given label bytes.
    fn record(labels: &[u8], fill: u8) -> Vec<u8> {
        let mut bytes = labels.to_vec();
        bytes.extend(std::iter::repeat_n(fill, IMAGE_LEN));
        bytes
    }

    fn write_cifar10(dir: &Path) {
        for (index, (name, _)) in CIFAR10_FILES.iter().enumerate() {
            // Batch i holds two records: labels i and 9 - i, pixels filled with 10·i and 10·i + 1.
            let i = index as u8;
            let mut bytes = record(&[i], 10 * i);
            bytes.extend(record(&[9 - i], 10 * i + 1));
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    fn write_cifar100(dir: &Path) {
        std::fs::write(
            dir.join("train.bin"),
            [record(&[1, 42], 5), record(&[19, 99], 6)].concat(),
        )
        .unwrap();
        std::fs::write(dir.join("test.bin"), record(&[0, 0], 7)).unwrap();
    }

    fn config(path: &Path, label_kind: Option<CifarLabelKind>) -> CifarConfig {
        CifarConfig {
            path: path.to_path_buf(),
            label_kind,
        }
    }

    #[test]
    fn reads_cifar10_with_meta_names() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path());
        let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
        std::fs::write(dir.path().join("batches.meta.txt"), names).unwrap();
        let dataset = read(&config(dir.path(), None)).unwrap();
        assert_eq!(dataset.len(), 12);
        assert_eq!(dataset.class_names[9], "truck");
        let Inputs::Images {
            data,
            channels,
            height,
            width,
        } = &dataset.inputs
        else {
            panic!("expected images");
        };
        assert_eq!((*channels, *height, *width), (3, 32, 32));
        // Sample 2k is batch k's first record (fill 10k), sample 2k+1 its second (10k + 1).
        let first_pixels: Vec<u8> = data.chunks_exact(IMAGE_LEN).map(|image| image[0]).collect();
        assert_eq!(
            first_pixels,
            vec![0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51]
        );
        assert!(
            data.chunks_exact(IMAGE_LEN)
                .all(|image| image.iter().all(|&p| p == image[0]))
        );
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label.unwrap()).collect();
        assert_eq!(labels, vec![0, 9, 1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
        assert_eq!(dataset.samples[9].split, "train");
        assert_eq!(dataset.samples[10].split, "test");
        assert_eq!(
            dataset.samples[11].source,
            format!("{}#1", dir.path().join("test_batch.bin").display())
        );
    }

    #[test]
    fn reads_cifar100_fine_and_coarse() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar100(dir.path());
        let fine = read(&config(dir.path(), None)).unwrap();
        assert_eq!(fine.class_names.len(), 100);
        assert_eq!(fine.class_names[42], "42");
        let labels: Vec<_> = fine.samples.iter().map(|s| s.label.unwrap()).collect();
        assert_eq!(labels, vec![42, 99, 0]);
        let splits: Vec<_> = fine.samples.iter().map(|s| s.split.as_str()).collect();
        assert_eq!(splits, ["train", "train", "test"]);
        let Inputs::Images { data, .. } = &fine.inputs else {
            panic!("expected images")
        };
        assert_eq!(data.len(), 3 * IMAGE_LEN);
        assert_eq!((data[0], data[IMAGE_LEN], data[2 * IMAGE_LEN]), (5, 6, 7));

        let coarse_names: String = (0..20).map(|k| format!("super{k}\n")).collect();
        std::fs::write(dir.path().join("coarse_label_names.txt"), coarse_names).unwrap();
        let coarse = read(&config(dir.path(), Some(CifarLabelKind::Coarse))).unwrap();
        let labels: Vec<_> = coarse.samples.iter().map(|s| s.label.unwrap()).collect();
        assert_eq!(labels, vec![1, 19, 0]);
        assert_eq!(coarse.class_names[19], "super19");
    }

    #[test]
    fn label_kind_parses_from_toml() {
        let config: CifarConfig = toml::from_str("path = \"x\"\nlabel_kind = \"coarse\"").unwrap();
        assert_eq!(config.label_kind, Some(CifarLabelKind::Coarse));
        assert!(toml::from_str::<CifarConfig>("path = \"x\"\nlabel_kind = \"medium\"").is_err());
    }

    #[test]
    fn label_kind_on_cifar10_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path());
        let error = read(&config(dir.path(), Some(CifarLabelKind::Fine)))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&dir.path().display().to_string()),
            "{error}"
        );
        assert!(error.contains("CIFAR-100 only"), "{error}");
    }

    #[test]
    fn missing_batch_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path());
        let missing = dir.path().join("data_batch_3.bin");
        std::fs::remove_file(&missing).unwrap();
        let error = read(&config(dir.path(), None)).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{}: not found", missing.display())),
            "{error}"
        );
    }

    #[test]
    fn missing_folder_and_empty_folder_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("cifar-10-batches-bin");
        let error = read(&config(&missing, None)).unwrap_err().to_string();
        assert_eq!(error, format!("{}: not found", missing.display()));
        let error = read(&config(dir.path(), None)).unwrap_err().to_string();
        assert!(error.contains("no CIFAR files"), "{error}");
    }

    #[test]
    fn partial_record_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar100(dir.path());
        let test = dir.path().join("test.bin");
        std::fs::write(&test, &record(&[0, 0], 7)[..100]).unwrap();
        let error = read(&config(dir.path(), None)).unwrap_err().to_string();
        assert!(error.starts_with(&test.display().to_string()), "{error}");
        assert!(
            error.contains("truncated: 100 bytes is not a whole number of 3074-byte"),
            "{error}"
        );
    }

    #[test]
    fn out_of_range_label_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path());
        let batch = dir.path().join("data_batch_2.bin");
        std::fs::write(&batch, [record(&[3], 0), record(&[10], 0)].concat()).unwrap();
        let error = read(&config(dir.path(), None)).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: record 1 has label 10; expected < 10 for CIFAR-10",
                batch.display()
            )
        );
        let dir100 = tempfile::tempdir().unwrap();
        write_cifar100(dir100.path());
        let train = dir100.path().join("train.bin");
        std::fs::write(&train, record(&[20, 5], 0)).unwrap();
        let error = read(&config(dir100.path(), None)).unwrap_err().to_string();
        assert!(
            error.contains("record 0 has label 20; expected < 20"),
            "{error}"
        );
    }

    #[test]
    fn wrong_number_of_class_names_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path());
        let meta = dir.path().join("batches.meta.txt");
        std::fs::write(&meta, "cat\ndog\n").unwrap();
        let error = read(&config(dir.path(), None)).unwrap_err().to_string();
        assert_eq!(
            error,
            format!("{}: lists 2 class names; expected 10", meta.display())
        );
    }
}
