//! Reading the few fields the report needs out of a JSON file, with errors that name the
//! file and the field. Going through `serde_json::Value` rather than a derived struct is
//! deliberate: serde's type errors say "invalid type ... at line 4 column 9" without the
//! field's name, and these files grow fields the report must ignore.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;

/// A parsed JSON file; field names may be dotted (`provenance.wall_seconds`).
pub struct JsonFile {
    path: PathBuf,
    root: Value,
}

impl JsonFile {
    pub fn read(path: &Path) -> anyhow::Result<JsonFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let root: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        if !root.is_object() {
            bail!(
                "{}: expected a JSON object, found {}",
                path.display(),
                kind(&root)
            );
        }
        Ok(JsonFile {
            path: path.to_path_buf(),
            root,
        })
    }

    /// The value at a dotted field name; `null` counts as absent.
    fn get(&self, field: &str) -> Option<&Value> {
        field
            .split('.')
            .try_fold(&self.root, |value, key| value.get(key))
            .filter(|value| !value.is_null())
    }

    fn missing(&self, field: &str) -> anyhow::Error {
        anyhow::anyhow!("{}: missing field `{field}`", self.path.display())
    }

    fn wrong_type(&self, field: &str, expected: &str, found: &Value) -> anyhow::Error {
        anyhow::anyhow!(
            "{}: field `{field}`: expected {expected}, found {}",
            self.path.display(),
            kind(found)
        )
    }

    pub fn count(&self, field: &str) -> anyhow::Result<u64> {
        let value = self.get(field).ok_or_else(|| self.missing(field))?;
        value
            .as_u64()
            .ok_or_else(|| self.wrong_type(field, "a non-negative integer", value))
    }

    /// A non-negative integer, or `None` when the field is absent or `null`.
    pub fn optional_count(&self, field: &str) -> anyhow::Result<Option<u64>> {
        self.get(field)
            .map(|value| {
                value
                    .as_u64()
                    .ok_or_else(|| self.wrong_type(field, "a non-negative integer", value))
            })
            .transpose()
    }

    /// A finite number, or `None` when the field is absent or `null` (scores are absent
    /// without labels).
    pub fn optional_number(&self, field: &str) -> anyhow::Result<Option<f64>> {
        self.get(field)
            .map(|value| {
                value
                    .as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| self.wrong_type(field, "a number", value))
            })
            .transpose()
    }

    pub fn seconds(&self, field: &str) -> anyhow::Result<f64> {
        let value = self.get(field).ok_or_else(|| self.missing(field))?;
        value
            .as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| self.wrong_type(field, "a non-negative number of seconds", value))
    }

    pub fn string(&self, field: &str) -> anyhow::Result<&str> {
        let value = self.get(field).ok_or_else(|| self.missing(field))?;
        value
            .as_str()
            .ok_or_else(|| self.wrong_type(field, "a string", value))
    }
}

/// What a JSON value is, for error messages ("a string", not the whole value).
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.as_f64().is_some_and(|x| x < 0.0) => "a negative number",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn error(result: anyhow::Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", result.unwrap_err())
    }

    #[test]
    fn reads_present_absent_and_null_fields() {
        let (_dir, path) =
            file(r#"{"n": 7, "acc": 0.5, "ari": null, "p": {"w": 2.5, "d": "cpu"}}"#);
        let json = JsonFile::read(&path).unwrap();
        assert_eq!(json.count("n").unwrap(), 7);
        assert_eq!(json.optional_number("acc").unwrap(), Some(0.5));
        assert_eq!(json.optional_number("ari").unwrap(), None);
        assert_eq!(json.optional_number("nmi").unwrap(), None);
        assert_eq!(json.optional_count("n").unwrap(), Some(7));
        assert_eq!(json.optional_count("ari").unwrap(), None);
        assert!(json.optional_count("acc").is_err());
        assert_eq!(json.seconds("p.w").unwrap(), 2.5);
        assert_eq!(json.string("p.d").unwrap(), "cpu");
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let (_dir, path) = file(r#"{"n": -3, "acc": "high", "p": {"w": -1}}"#);
        let json = JsonFile::read(&path).unwrap();
        let shown = path.display().to_string();
        let e = error(json.count("n"));
        assert!(e.starts_with(&shown), "{e}");
        assert!(
            e.ends_with("field `n`: expected a non-negative integer, found a negative number"),
            "{e}"
        );
        let e = error(json.optional_number("acc"));
        assert!(
            e.ends_with("field `acc`: expected a number, found a string"),
            "{e}"
        );
        let e = error(json.seconds("p.w"));
        assert!(
            e.contains("field `p.w`: expected a non-negative number"),
            "{e}"
        );
        let e = error(json.string("p.d"));
        assert!(e.ends_with("missing field `p.d`"), "{e}");
    }

    #[test]
    fn rejects_what_is_not_a_json_object() {
        let (_dir, path) = file("{\"n\": 1,");
        let e = error(JsonFile::read(&path).map(|_| ()));
        assert!(e.contains("x.json: not valid JSON"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let (_dir, path) = file("[1, 2]");
        let e = error(JsonFile::read(&path).map(|_| ()));
        assert!(
            e.ends_with("x.json: expected a JSON object, found an array"),
            "{e}"
        );
    }
}
