//! Labels saved apart as text: one value a line (`np.savetxt("y.txt", y)`, a `labels.csv`
//! of one column, class names as `labels.txt`), an optional header line first.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::RawLabels;
use crate::sources::{file_error, io_error};

/// Values that mark a missing label.
const MISSING: [&str; 6] = ["", "nan", "NaN", "NA", "null", "None"];

/// The lines of a text labels file that hold a value (or a header): each trimmed, quotes
/// stripped; blank lines and `#` comment lines (`np.savetxt`'s header) left out. An error
/// where a line holds more than one field (a comma or a tab): a labels file holds one
/// value a line. Class names may hold spaces (`Ankle boot`).
pub(super) fn value_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let reader = super::open_text(path, super::table_extension(path).1)?;
    let mut lines = Vec::new();
    for (number, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| io_error(path, &e))?;
        // A byte-order mark (Excel's "CSV UTF-8") is no part of the first value.
        let value = line.trim_start_matches('\u{feff}').trim();
        if value.is_empty() || value.starts_with('#') {
            continue;
        }
        if value.contains([',', '\t']) {
            return Err(file_error(
                path,
                format_args!(
                    "line {}: {:?} holds more than one field; a labels file holds one value a line",
                    number + 1,
                    truncated(value)
                ),
            ));
        }
        lines.push(value.trim_matches('"').to_string());
    }
    Ok(lines)
}

/// Whether `lines` ([`value_lines`]) are the labels of `n_rows` samples: one a sample,
/// or a header and then one a sample.
pub(super) fn fits(lines: &[String], n_rows: usize) -> bool {
    values(lines, n_rows).is_some()
}

/// The `n_rows` labels of a text labels file ([`value_lines`]): integers (whole-number
/// floats, as `np.savetxt` writes them, included) when every value is one, else the values
/// as class names. A first line more is a header when it is no number where the values
/// are numbers, or when the values are names.
pub(super) fn read(path: &Path, n_rows: usize) -> anyhow::Result<RawLabels> {
    let lines = value_lines(path)?;
    let Some(values) = values(&lines, n_rows) else {
        return Err(file_error(
            path,
            format_args!(
                "holds {} labels (one a line, a header line aside); the samples are {n_rows} rows",
                lines.len()
            ),
        ));
    };
    let missing = |v: &str| MISSING.contains(&v);
    let integers: Option<Vec<Option<i64>>> = values
        .iter()
        .map(|v| match missing(v) {
            true => Some(None),
            false => whole_number(v).map(Some),
        })
        .collect();
    Ok(match integers {
        Some(integers) => RawLabels::Integers(integers),
        None => RawLabels::Text(
            values
                .iter()
                .map(|v| (!missing(v)).then(|| v.clone()))
                .collect(),
        ),
    })
}

/// The values among `lines`: all of them when they are `n_rows`; all but a header line
/// when they are one more and the first is no number while the rest are (or the rest are
/// names, which a header cannot be told from).
fn values(lines: &[String], n_rows: usize) -> Option<&[String]> {
    if lines.len() == n_rows {
        return Some(lines);
    }
    let (first, rest) = lines.split_first()?;
    let numbers = rest.iter().all(|v| whole_number(v).is_some());
    (rest.len() == n_rows && (!numbers || whole_number(first).is_none())).then_some(rest)
}

/// `3`, `-1` or `3.000000000000000000e+00`, as an integer.
fn whole_number(value: &str) -> Option<i64> {
    if let Ok(integer) = value.parse::<i64>() {
        return Some(integer);
    }
    let float = value.parse::<f64>().ok()?;
    (float.is_finite() && float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
}

fn truncated(value: &str) -> String {
    value.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn integers(labels: RawLabels) -> Vec<Option<i64>> {
        match labels {
            RawLabels::Integers(v) => v,
            _ => panic!("expected integers"),
        }
    }

    fn names(labels: RawLabels) -> Vec<Option<String>> {
        match labels {
            RawLabels::Text(v) => v,
            _ => panic!("expected names"),
        }
    }

    #[test]
    fn numbers_a_line_read_as_integers_with_or_without_a_header() {
        let dir = tempfile::tempdir().unwrap();
        // np.savetxt("y.txt", y): floats; a header line; a blank line at the end.
        let savetxt = written(
            dir.path(),
            "y.txt",
            "0.000000000000000000e+00\n2.000000000000000000e+00\n1.000000000000000000e+00\n",
        );
        assert_eq!(
            integers(read(&savetxt, 3).unwrap()),
            [Some(0), Some(2), Some(1)]
        );
        let headed = written(dir.path(), "labels.csv", "label\n4\n\n-1\nnan\n\n");
        assert_eq!(
            integers(read(&headed, 3).unwrap()),
            [Some(4), Some(-1), None]
        );
        let commented = written(dir.path(), "y2.txt", "# label\r\n7\r\n8\r\n");
        assert_eq!(integers(read(&commented, 2).unwrap()), [Some(7), Some(8)]);
        // Excel's byte-order mark before the first value.
        let marked = written(dir.path(), "y3.txt", "\u{feff}0\n1\n");
        assert_eq!(integers(read(&marked, 2).unwrap()), [Some(0), Some(1)]);
    }

    #[test]
    fn names_a_line_read_as_class_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = written(
            dir.path(),
            "labels.txt",
            "class\n\"Ankle boot\"\nShirt\n1.5\n",
        );
        assert_eq!(
            names(read(&path, 3).unwrap()),
            [
                Some("Ankle boot".into()),
                Some("Shirt".into()),
                Some("1.5".into())
            ]
        );
        // Without the header line, the same count reads every line as a name.
        assert_eq!(names(read(&path, 4).unwrap()).len(), 4);
    }

    #[test]
    fn a_count_that_is_not_the_samples_or_two_fields_a_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let numbers = written(dir.path(), "y.txt", "1\n2\n3\n");
        let error = format!("{:#}", read(&numbers, 2).unwrap_err());
        assert!(error.contains("holds 3 labels"), "{error}");
        assert!(error.contains("the samples are 2 rows"), "{error}");
        assert!(!fits(&value_lines(&numbers).unwrap(), 5));
        let two = written(dir.path(), "pairs.csv", "id,label\n1,2\n");
        let error = format!("{:#}", value_lines(&two).unwrap_err());
        assert!(
            error.contains("line 1: \"id,label\" holds more than one field"),
            "{error}"
        );
    }

    #[test]
    fn gzipped_labels_read_the_same() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(b"3\n5\n").unwrap();
        gz.finish().unwrap();
        assert_eq!(integers(read(&path, 2).unwrap()), [Some(3), Some(5)]);
    }
}
