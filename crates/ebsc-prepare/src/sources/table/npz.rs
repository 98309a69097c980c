//! NumPy `.npz` archives (`np.savez`, `np.savez_compressed`): a zip of `.npy` arrays. The
//! samples are a 2-D array of features (floats, integers or booleans) or a `uint8` array of images (`tensor`, or the
//! only array of 2 or more dimensions), the labels a 1-D array of integers, booleans or
//! whole-number floats (`label_column`), one a row.

use std::io::Read;
use std::path::Path;

use super::npy::NpyArray;
use super::{RawLabels, Table};
use crate::sources::{file_error, open_file};

pub(super) fn read(
    path: &Path,
    tensor: Option<&str>,
    label: Option<&str>,
) -> anyhow::Result<Table> {
    let members = members(path)?;
    Archive::parse(path, &members).table(tensor, label)
}

/// An archive's arrays, parsed (or the error each gave), in archive order.
struct Archive<'a> {
    path: &'a Path,
    arrays: Vec<(&'a str, anyhow::Result<NpyArray<'a>>)>,
}

impl<'a> Archive<'a> {
    fn parse(path: &'a Path, members: &'a [(String, Vec<u8>)]) -> Archive<'a> {
        let arrays = members
            .iter()
            .map(|(name, bytes)| {
                let what = format!("array {name:?}: ");
                (name.as_str(), NpyArray::parse(path, &what, bytes))
            })
            .collect();
        Archive { path, arrays }
    }

    /// `"X" <f8 [3, 2], "y" <i8 [3]`, for messages.
    fn describe(&self) -> String {
        let listed: Vec<String> = self
            .arrays
            .iter()
            .map(|(name, array)| match array {
                Ok(array) => format!("{name:?} {} {:?}", array.descr, array.shape),
                Err(_) => format!("{name:?} (unreadable)"),
            })
            .collect();
        if listed.is_empty() {
            "none".to_string()
        } else {
            listed.join(", ")
        }
    }

    fn named(&self, name: &str) -> anyhow::Result<&NpyArray<'a>> {
        match self.arrays.iter().find(|(n, _)| *n == name) {
            Some((_, Ok(array))) => Ok(array),
            Some((_, Err(error))) => Err(anyhow::anyhow!("{error:#}")),
            None => Err(file_error(
                self.path,
                format_args!("no array named {name:?}; arrays are {}", self.describe()),
            )),
        }
    }

    /// The samples of array `tensor` (default: the only one of 2 or more dimensions but the
    /// labels, which may be one-hot rows) with the labels of array `label`.
    fn table(&self, tensor: Option<&str>, label: Option<&str>) -> anyhow::Result<Table> {
        let path = self.path;
        let feature_name = match tensor {
            Some(name) => name.to_string(),
            None => {
                let matrices: Vec<&str> = self
                    .arrays
                    .iter()
                    .filter(|(name, a)| {
                        Some(*name) != label
                            && a.as_ref().is_ok_and(|a| super::holds_samples(&a.shape))
                    })
                    .map(|(name, _)| *name)
                    .collect();
                match matrices.as_slice() {
                    [only] => only.to_string(),
                    _ => {
                        return Err(file_error(
                            path,
                            format_args!(
                                "{} arrays of rows (2-D features or images); name one with tensor = NAME (arrays are {})",
                                if matrices.is_empty() { "no" } else { "several" },
                                self.describe()
                            ),
                        ));
                    }
                }
            }
        };
        let what = format!("array {feature_name:?}: ");
        let samples = self.named(&feature_name)?;
        let n_rows = samples.shape.first().copied().unwrap_or(0);
        let labels = match label {
            None => RawLabels::None,
            Some(name) => {
                let what = format!("array {name:?}: ");
                RawLabels::Integers(self.named(name)?.labels(path, &what, n_rows)?)
            }
        };
        samples.table(path, &what, labels)
    }
}

/// The labels of an archive that holds one array of `n_rows` values (KMNIST's
/// `kmnist-test-labels.npz`), `(N,)` or `(N, 1)`.
pub(super) fn read_labels(path: &Path, n_rows: usize) -> anyhow::Result<Vec<Option<i64>>> {
    let members = members(path)?;
    let archive = Archive::parse(path, &members);
    match archive.arrays.as_slice() {
        [(name, _)] => {
            let what = format!("array {name:?}: ");
            archive.named(name)?.labels(path, &what, n_rows)
        }
        _ => Err(file_error(
            path,
            format_args!(
                "a labels file holds one array; this one holds {}",
                archive.describe()
            ),
        )),
    }
}

/// The samples of several arrays of one archive, one after another (an archive of splits:
/// MedMNIST's `train_images`, `val_images`, `test_images`), with the labels of
/// `label_arrays` (one per array of samples, in the same order) or none; and each row's
/// split, the name of its array.
pub(super) fn read_splits(
    path: &Path,
    tensors: &[String],
    label_arrays: Option<&[String]>,
) -> anyhow::Result<(Table, Vec<String>)> {
    if let Some(labels) = label_arrays
        && labels.len() != tensors.len()
    {
        return Err(file_error(
            path,
            format_args!(
                "{} label arrays for {} arrays of samples; give one for each",
                labels.len(),
                tensors.len()
            ),
        ));
    }
    let members = members(path)?;
    let archive = Archive::parse(path, &members);
    let mut joined: Option<Table> = None;
    let mut splits = Vec::new();
    for (i, tensor) in tensors.iter().enumerate() {
        let label = label_arrays.map(|labels| labels[i].as_str());
        let part = archive.table(Some(tensor), label)?;
        splits.extend(std::iter::repeat_n(tensor.clone(), part.n_rows));
        joined = Some(match joined {
            None => part,
            Some(table) => table.append(path, part, "arrays").map_err(|e| {
                let message = format!("{e:#}");
                let what = message
                    .strip_prefix(&format!("{}: ", path.display()))
                    .unwrap_or(&message);
                file_error(path, format_args!("array {tensor:?} {what}"))
            })?,
        });
    }
    let table = joined.ok_or_else(|| file_error(path, "tensors = [] names no array"))?;
    Ok((table, splits))
}

/// The archive's arrays by name (the member's name without `.npy`), in archive order.
fn members(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let unreadable = |e: zip::result::ZipError| {
        file_error(path, format_args!("not a readable .npz (zip) file: {e}"))
    };
    let mut archive = zip::ZipArchive::new(open_file(path)?).map_err(unreadable)?;
    let mut members = Vec::new();
    for index in 0..archive.len() {
        let mut member = archive.by_index(index).map_err(unreadable)?;
        let Some(name) = member.name().strip_suffix(".npy").map(str::to_string) else {
            continue;
        };
        let mut bytes = Vec::new();
        member
            .read_to_end(&mut bytes)
            .map_err(|e| file_error(path, format_args!("array {name:?}: cannot read it: {e}")))?;
        members.push((name, bytes));
    }
    Ok(members)
}

/// The shapes of the arrays an `.npz` archive holds that parse, by name.
pub(super) fn array_shapes(path: &Path) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    Ok(members(path)?
        .iter()
        .filter_map(|(name, bytes)| {
            let array = NpyArray::parse(path, "", bytes).ok()?;
            Some((name.clone(), array.shape))
        })
        .collect())
}

/// The names of the arrays an `.npz` archive holds, for `new` to find a label array by.
pub(super) fn array_names(path: &Path) -> anyhow::Result<Vec<String>> {
    let unreadable = |e: zip::result::ZipError| {
        file_error(path, format_args!("not a readable .npz (zip) file: {e}"))
    };
    let archive = zip::ZipArchive::new(open_file(path)?).map_err(unreadable)?;
    Ok(archive
        .file_names()
        .filter_map(|name| name.strip_suffix(".npy"))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::CompressionMethod;
    use zip::write::{FileOptions, ZipWriter};

    use super::super::read_arrays as read;
    use crate::dataset::{Dataset, Inputs};

    /// A C-order `.npy` array as numpy writes it.
    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        ebsc_test_support::numpy::npy(descr, false, shape, data)
    }

    fn le<const N: usize>(values: &[[u8; N]]) -> Vec<u8> {
        values.concat()
    }

    /// `np.savez` (stored) or `np.savez_compressed` (deflated) of `arrays`.
    fn write_npz(path: &std::path::Path, compressed: bool, arrays: &[(&str, Vec<u8>)]) {
        let method = if compressed {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let mut zip = ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, bytes) in arrays {
            zip.start_file(
                format!("{name}.npy"),
                FileOptions::default().compression_method(method),
            )
            .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    fn features() -> Vec<u8> {
        le(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0].map(f64::to_le_bytes))
    }

    #[test]
    fn reads_savez_and_savez_compressed_with_their_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        let label_arrays = [
            ("<i8", le(&[2i64, 0, 2].map(i64::to_le_bytes))),
            ("|u1", vec![2, 0, 2]),
            ("<f8", le(&[2.0f64, 0.0, 2.0].map(f64::to_le_bytes))),
            ("|b1", vec![1, 0, 1]),
        ];
        for (compressed, (descr, labels)) in
            [false, true, false, true].into_iter().zip(label_arrays)
        {
            write_npz(
                &path,
                compressed,
                &[
                    ("X", npy("<f8", "(3, 2)", &features())),
                    ("y", npy(descr, "(3,)", &labels)),
                ],
            );
            let dataset = read(&path, None, Some("y")).unwrap_or_else(|e| panic!("{descr}: {e:#}"));
            assert_eq!(
                dataset.inputs,
                Inputs::Features {
                    data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                    dim: 2
                }
            );
            let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
            assert_eq!(labels, vec![Some(1), Some(0), Some(1)], "{descr}");
        }
        // Without labels, and with the features named.
        let dataset = read(&path, Some("X"), None).unwrap();
        assert_eq!(dataset.samples[2].label, None);
        // One-hot labels are two-dimensional, as the samples are: still the samples' array.
        let one_hot = le(&[0.0f64, 1.0, 1.0, 0.0, 0.0, 1.0].map(f64::to_le_bytes));
        write_npz(
            &path,
            false,
            &[
                ("X", npy("<f8", "(3, 2)", &features())),
                ("y", npy("<f8", "(3, 2)", &one_hot)),
            ],
        );
        let dataset = read(&path, None, Some("y")).unwrap();
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, vec![Some(1), Some(0), Some(1)]);
    }

    #[test]
    fn an_archive_of_splits_reads_one_after_another() {
        use super::super::{TableConfig, read as read_table};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("organ.npz");
        // MedMNIST's layout: uint8 images, labels as (N, 1) columns.
        write_npz(
            &path,
            true,
            &[
                ("train_images", npy("|u1", "(2, 1, 2)", &[1, 2, 3, 4])),
                ("test_images", npy("|u1", "(1, 1, 2)", &[5, 6])),
                ("train_labels", npy("|u1", "(2, 1)", &[7, 9])),
                ("test_labels", npy("|u1", "(1, 1)", &[9])),
            ],
        );
        let config = |tensors: &[&str], labels: Option<&[&str]>| TableConfig {
            tensors: Some(tensors.iter().map(|t| t.to_string()).collect()),
            label_arrays: labels.map(|l| l.iter().map(|t| t.to_string()).collect()),
            ..TableConfig::at(&path)
        };
        let dataset = read_table(&config(
            &["train_images", "test_images"],
            Some(&["train_labels", "test_labels"]),
        ))
        .unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Images {
                data: vec![1, 2, 3, 4, 5, 6],
                channels: 1,
                height: 1,
                width: 2
            }
        );
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, [Some(0), Some(1), Some(1)]);
        let splits: Vec<&str> = dataset.samples.iter().map(|s| s.split.as_str()).collect();
        assert_eq!(splits, ["train_images", "train_images", "test_images"]);
        // Without labels; and errors that name what does not fit.
        let dataset = read_table(&config(&["test_images", "train_images"], None)).unwrap();
        assert_eq!(dataset.samples[0].label, None);
        assert_eq!(dataset.samples[0].split, "test_images");
        let error = |config: TableConfig| format!("{:#}", read_table(&config).unwrap_err());
        assert!(
            error(config(&["train_images"], Some(&["a", "b"])))
                .contains("2 label arrays for 1 arrays of samples"),
        );
        write_npz(
            &path,
            false,
            &[
                ("x_train", npy("|u1", "(1, 1, 2)", &[1, 2])),
                ("x_test", npy("|u1", "(1, 2, 1)", &[3, 4])),
            ],
        );
        assert!(
            error(config(&["x_train", "x_test"], None))
                .contains("array \"x_test\" holds images 1×2×1, the arrays before it images 1×1×2"),
        );
        let mut both = config(&["x_train"], None);
        both.tensor = Some("x_train".into());
        assert!(error(both).contains("without tensor or label_column"));
    }

    #[test]
    fn arrays_that_do_not_fit_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        let expect = |result: anyhow::Result<Dataset>, needle: &str| {
            let error = format!("{:#}", result.unwrap_err());
            assert!(error.starts_with(&path.display().to_string()), "{error}");
            assert!(error.contains(needle), "{error} should contain {needle}");
        };
        let x = npy("<f8", "(3, 2)", &features());
        write_npz(&path, false, &[("a", x.clone()), ("b", x.clone())]);
        expect(
            read(&path, None, None),
            "several arrays of rows (2-D features or images); name one with tensor = NAME (arrays are \"a\" <f8 [3, 2], \"b\" <f8 [3, 2])",
        );
        expect(read(&path, Some("c"), None), "no array named \"c\"");
        let short = npy("<i8", "(2,)", &le(&[0i64, 1].map(i64::to_le_bytes)));
        let half = npy(
            "<f8",
            "(3,)",
            &le(&[0.5f64, 1.0, 0.0].map(f64::to_le_bytes)),
        );
        let text = npy("<U3", "(3,)", &[0; 36]);
        write_npz(
            &path,
            true,
            &[("X", x), ("short", short), ("half", half), ("text", text)],
        );
        expect(
            read(&path, None, Some("short")),
            "array \"short\": shape (2,) for labels; expected (3,)",
        );
        expect(
            read(&path, None, Some("half")),
            "array \"half\": row 0 holds 0.5",
        );
        expect(
            read(&path, None, Some("text")),
            "array \"text\": dtype \"<U3\" is not supported for labels",
        );
        write_npz(&path, false, &[("y", npy("<i8", "(3,)", &[0; 24]))]);
        expect(read(&path, None, None), "no arrays of rows");
        std::fs::write(&path, b"not a zip").unwrap();
        expect(read(&path, None, None), "not a readable .npz (zip) file");
    }
}
