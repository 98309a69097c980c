//! `key=value` arguments of `ebsc-pipeline new`, and setting them in a pipeline's text
//! without losing the template's comments.

use anyhow::{Context, bail};

/// One `key=value` argument: the value is TOML (`50`, `[64, 64]`, `true`, `"x"`); text
/// that is not TOML is taken as a string.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub key: String,
    pub value: toml::Value,
}

impl Override {
    pub fn parse(argument: &str) -> anyhow::Result<Override> {
        let Some((key, value)) = argument.split_once('=') else {
            bail!("{argument:?}: expected key=value, e.g. n_clusters=10 or train.epochs=50");
        };
        let key = key.trim();
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !key.split('.').all(valid_part) {
            bail!("{argument:?}: {key:?} is not a key; expected e.g. n_clusters or train.epochs");
        }
        let value = value.trim();
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Override {
            key: key.to_string(),
            value: parsed,
        })
    }

    /// The value as text a pipeline file holds.
    pub fn value_text(&self) -> String {
        self.value.to_string()
    }
}

/// Whether `set` replaced a key the text had, or added one it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Replaced,
    Added,
}

/// Sets `section.key = value` in pipeline text: the key's line is replaced where the
/// section has it, else the key is added at the end of the section (or in a new section at
/// the end of the file).
pub fn set(text: &str, dotted: &str, value: &str) -> anyhow::Result<(String, Edit)> {
    let (section, key) = dotted
        .rsplit_once('.')
        .with_context(|| format!("{dotted:?}: expected section.key, e.g. train.epochs"))?;
    let header = format!("[{section}]");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let new_line = format!("{key} = {value}");
    let Some(start) = lines.iter().position(|l| l.trim() == header) else {
        if !text.ends_with("\n\n") {
            lines.push(String::new());
        }
        lines.push(header);
        lines.push(new_line);
        return Ok((join(lines), Edit::Added));
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |offset| start + 1 + offset);
    let assigns_key = |line: &str| {
        line.trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    if let Some(row) = (start + 1..end).find(|&i| assigns_key(&lines[i])) {
        lines[row] = new_line;
        return Ok((join(lines), Edit::Replaced));
    }
    // After the section's last key line, before the blank lines and comments that lead
    // into the next section.
    let last_key = (start + 1..end)
        .rev()
        .find(|&i| {
            let l = lines[i].trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .unwrap_or(start);
    lines.insert(last_key + 1, new_line);
    Ok((join(lines), Edit::Added))
}

fn join(lines: Vec<String>) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_toml_or_text() {
        let o = Override::parse("train.epochs=50").unwrap();
        assert_eq!(
            (o.key.as_str(), o.value_text()),
            ("train.epochs", "50".into())
        );
        let o = Override::parse("prepare.resize=[64, 64]").unwrap();
        assert_eq!(o.value_text(), "[64, 64]");
        let o = Override::parse("label_column=species").unwrap();
        assert_eq!(o.value, toml::Value::String("species".into()));
        assert_eq!(o.value_text(), "\"species\"");
        let err = Override::parse("epochs").unwrap_err().to_string();
        assert!(err.contains("expected key=value"), "{err}");
        let err = Override::parse("a b=1").unwrap_err().to_string();
        assert!(err.contains("is not a key"), "{err}");
    }

    const TEXT: &str =
        "[train]\n# c\nepochs = 3\nlr_x = 1\n\n# next\n[train.optimizer]\nlr = 1e-3\n";

    #[test]
    fn replaces_a_key_in_its_section_only() {
        let (text, edit) = set(TEXT, "train.optimizer.lr", "5e-3").unwrap();
        assert_eq!(edit, Edit::Replaced);
        assert!(text.contains("[train.optimizer]\nlr = 5e-3\n"), "{text}");
        assert!(text.contains("lr_x = 1"), "{text}");
        let (text, _) = set(TEXT, "train.epochs", "9").unwrap();
        assert!(text.contains("# c\nepochs = 9\nlr_x = 1"), "{text}");
    }

    #[test]
    fn adds_keys_and_sections() {
        let (text, edit) = set(TEXT, "train.min_steps", "600").unwrap();
        assert_eq!(edit, Edit::Added);
        assert!(
            text.contains("lr_x = 1\nmin_steps = 600\n\n# next"),
            "{text}"
        );
        let (text, edit) = set(TEXT, "affinity.top_k", "5").unwrap();
        assert_eq!(edit, Edit::Added);
        assert!(
            text.ends_with("lr = 1e-3\n\n[affinity]\ntop_k = 5\n"),
            "{text}"
        );
        text.parse::<toml::Table>().unwrap();
    }
}
