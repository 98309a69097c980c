//! A `DataFrame` as a GitHub Markdown table: columns padded to one width so the text reads
//! as a table too, numbers right-aligned, nulls as `–`.

use polars::prelude::*;

/// How a null cell reads.
pub const NULL: &str = "–";

/// `decimals(column)` is the number of decimals of a float column.
pub fn render(frame: &DataFrame, decimals: impl Fn(&str) -> usize) -> PolarsResult<String> {
    let mut header = Vec::new();
    let mut right = Vec::new();
    let mut columns = Vec::new();
    for column in frame.columns() {
        header.push(escape(column.name()));
        right.push(column.dtype().is_primitive_numeric());
        columns.push(cells(column, decimals(column.name()))?);
    }
    let widths: Vec<usize> = header
        .iter()
        .zip(&columns)
        .map(|(name, cells)| {
            cells
                .iter()
                .chain([name])
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&right)
            .map(|((cell, &width), &right)| {
                if right {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut text = line(header);
    // Each rule cell spans its column and the spaces either side; `:` at the right end
    // right-aligns the column.
    let rule: Vec<String> = widths
        .iter()
        .zip(&right)
        .map(|(&width, &right)| {
            if right {
                format!("{}:", "-".repeat(width + 1))
            } else {
                "-".repeat(width + 2)
            }
        })
        .collect();
    text.push_str(&format!("|{}|\n", rule.join("|")));
    for row in 0..frame.height() {
        text.push_str(&line(columns.iter().map(|c| c[row].clone()).collect()));
    }
    Ok(text)
}

/// The column's cells as text: floats with their decimals, everything else as polars casts
/// it to a string.
fn cells(column: &Column, decimals: usize) -> PolarsResult<Vec<String>> {
    let show = |v: Option<String>| v.unwrap_or_else(|| NULL.to_string());
    Ok(match column.dtype() {
        DataType::Float64 => column
            .f64()?
            .iter()
            .map(|v| show(v.map(|x| format!("{x:.decimals$}"))))
            .collect(),
        _ => column
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| show(v.map(escape)))
            .collect(),
    })
}

/// A `|` inside a cell would end it.
fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_rows_with_a_null() {
        let frame = DataFrame::new(
            2,
            vec![
                Column::new("run".into(), ["a/cluster", "b|x"]),
                Column::new("n".into(), [10u64, 7]),
                Column::new("acc".into(), [Some(0.912345), None]),
                Column::new("total_s".into(), [Some(12.26), Some(3.0)]),
            ],
        )
        .unwrap();
        let text = render(&frame, |c| if c.ends_with("_s") { 1 } else { 4 }).unwrap();
        // Widths: run 9 ("a/cluster"), n 3 (minimum), acc 6 ("0.9123"), total_s 7 (the
        // name); 0.912345 → 0.9123, 12.26 → 12.3.
        let expected = "\
| run       |   n |    acc | total_s |
|-----------|----:|-------:|--------:|
| a/cluster |  10 | 0.9123 |    12.3 |
| b\\|x      |   7 |      – |     3.0 |
";
        assert_eq!(text, expected);
    }
}
