//! Parquet and CSV tables through Arrow record batches (CSV parsed by `csv_batches`).
//!
//! Features are every numeric column but the label and id columns, in file order, or
//! exactly one list column of numbers with one length for all rows. A table whose one other
//! column holds encoded images (PNG, JPEG, … bytes: a binary column, or a struct with a
//! binary `bytes` field, as Hugging Face datasets store an `Image` column) holds images.

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::csv_batches::{self, CsvError};
use super::{ArrayImages, Delimiter, RawLabels, Table, TextFormat, cast, check_finite};
use crate::sources::decoded::{Channels, ImageStack, decode_bytes};
use crate::sources::{file_error, guard_panic, open_file};

/// How the feature columns are laid out.
enum FeatureLayout {
    /// One feature per column, these column indices in file order.
    Scalars(Vec<usize>),
    /// One list column holding each row's whole feature vector.
    List(usize),
    /// One column of encoded images, one a row.
    EncodedImages(usize),
}

/// The columns that are not features.
#[derive(Debug, Clone, Copy)]
pub(super) struct Columns<'a> {
    pub label: Option<&'a str>,
    pub id: Option<&'a str>,
}

/// A column's type as far as features are concerned.
enum ColumnKind {
    Number,
    NumberList,
    Text,
    /// Encoded images: binary, or a struct with a binary `bytes` field.
    EncodedImages,
    Other,
}

pub(super) fn read_parquet(path: &Path, columns: Columns<'_>) -> anyhow::Result<Table> {
    let file = open_file(path)?;
    let (schema, batches) = guard_panic(path, "the Parquet reader", || {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| file_error(path, format_args!("not a readable Parquet file: {e}")))?;
        let schema = builder.schema().clone();
        let reader = builder
            .build()
            .map_err(|e| file_error(path, format_args!("cannot read Parquet data: {e}")))?;
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_error(path, format_args!("cannot read Parquet data: {e}")))?;
        Ok((schema, batches))
    })?;
    from_batches(path, &schema, &batches, columns, false)
}

/// How a text table is laid out beyond its extension.
#[derive(Debug, Clone, Copy)]
pub(super) struct CsvLayout {
    /// The first row names the columns; otherwise they are `column_1`, `column_2`, ….
    pub header: bool,
    /// Gzipped or not, and the delimiter.
    pub format: TextFormat,
}

/// A spreadsheet's semicolon-separated text read as CSV: each comma (the decimal mark) a
/// point, each semicolon a comma.
fn semicolons_as_commas(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ',' => '.',
            ';' => ',',
            other => other,
        })
        .collect()
}

/// Each line's runs of spaces and tabs as single commas, leading and trailing ones dropped:
/// whitespace-separated text read as CSV.
fn whitespace_as_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        if let Some(first) = fields.next() {
            out.push_str(first);
            for field in fields {
                out.push(',');
                out.push_str(field);
            }
            out.push('\n');
        }
    }
    out
}

pub(super) fn read_csv(
    path: &Path,
    columns: Columns<'_>,
    layout: CsvLayout,
) -> anyhow::Result<Table> {
    let csv_error = |e: CsvError| file_error(path, format_args!("cannot parse CSV: {e}"));
    // The schema pass and the read pass each open the file afresh.
    let open = || -> anyhow::Result<Box<dyn Read>> {
        let reader: Box<dyn Read> = Box::new(BufReader::new(super::open_text(
            path,
            layout.format.gzipped,
        )?));
        let rewrite = match layout.format.delimiter {
            Delimiter::Whitespace => whitespace_as_commas,
            Delimiter::Semicolon => semicolons_as_commas,
            Delimiter::Comma | Delimiter::Tab => return Ok(reader),
        };
        let mut text = String::new();
        BufReader::new(reader)
            .read_to_string(&mut text)
            .map_err(|e| file_error(path, format_args!("cannot read the text: {e}")))?;
        Ok(Box::new(std::io::Cursor::new(rewrite(&text))))
    };
    let delimiter = match layout.format.delimiter {
        Delimiter::Tab => b'\t',
        Delimiter::Comma | Delimiter::Whitespace | Delimiter::Semicolon => b',',
    };
    let (schema, batches) = guard_panic(path, "the CSV reader", || {
        let schema =
            csv_batches::infer_schema(open()?, layout.header, delimiter).map_err(csv_error)?;
        if layout.header {
            check_csv_header(path, &schema)?;
        } else if schema.fields().is_empty() {
            return Err(file_error(path, "empty CSV file; expected data rows"));
        }
        let schema = Arc::new(schema);
        let batches = csv_batches::read_batches(open()?, &schema, layout.header, delimiter)
            .map_err(csv_error)?;
        Ok((schema, batches))
    })?;
    from_batches(path, &schema, &batches, columns, true)
}

/// The first CSV row must name the columns.
fn check_csv_header(path: &Path, schema: &Schema) -> anyhow::Result<()> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    if names.is_empty() || names == [""] {
        return Err(file_error(
            path,
            "empty CSV file; expected a header row and data rows",
        ));
    }
    if names.iter().all(|name| name.trim().parse::<f64>().is_ok()) {
        return Err(file_error(
            path,
            format_args!(
                "the first row holds numbers ({}); a header row with column names is required",
                names.iter().take(4).copied().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(())
}

/// `text_numbers`: text columns whose every value parses as a number count as numbers (CSV
/// infers padded numbers and spellings such as `Infinity` as text; those must read as numbers,
/// and non-finite ones be reported as such, not as text).
fn from_batches(
    path: &Path,
    schema: &Schema,
    batches: &[RecordBatch],
    columns: Columns<'_>,
    text_numbers: bool,
) -> anyhow::Result<Table> {
    let find = |key: &str, name: &str| {
        schema.index_of(name).map_err(|_| {
            file_error(
                path,
                format_args!(
                    "{key} {name:?} not found; columns are {}",
                    column_list(schema)
                ),
            )
        })
    };
    let label_index = columns.label.map(|n| find("label_column", n)).transpose()?;
    let id_index = columns.id.map(|n| find("id_column", n)).transpose()?;
    if let (Some(label), Some(id)) = (label_index, id_index)
        && label == id
    {
        return Err(file_error(
            path,
            format_args!(
                "label_column and id_column both name {:?}; a column is one or the other",
                schema.field(id).name()
            ),
        ));
    }
    let n_rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if n_rows == 0 {
        return Err(file_error(path, "the table has no rows"));
    }
    let skipped = [label_index, id_index];
    let layout = feature_layout(path, schema, batches, &skipped, text_numbers)?;
    let (features, dim, images) = match &layout {
        FeatureLayout::Scalars(columns) => {
            let (features, dim) = scalar_features(path, schema, batches, columns, n_rows)?;
            (features, dim, None)
        }
        FeatureLayout::List(column) => {
            let (features, dim) = list_features(path, schema, batches, *column, n_rows)?;
            (features, dim, None)
        }
        FeatureLayout::EncodedImages(column) => {
            let images = encoded_images(path, schema, batches, *column)?;
            (Vec::new(), 0, Some(images))
        }
    };
    let labels = match label_index {
        None => RawLabels::None,
        Some(column) => read_labels(path, schema, batches, column)?,
    };
    let ids = id_index
        .map(|column| read_ids(path, schema, batches, column))
        .transpose()?;
    Ok(Table {
        features,
        dim,
        n_rows,
        labels,
        ids,
        images,
    })
}

fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{:?}", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_type(data_type: &DataType) -> &DataType {
    match data_type {
        DataType::Dictionary(_, value) => value,
        other => other,
    }
}

fn column_kind(data_type: &DataType) -> ColumnKind {
    match value_type(data_type) {
        t if t.is_numeric() => ColumnKind::Number,
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _)
            if item.data_type().is_numeric() =>
        {
            ColumnKind::NumberList
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Text,
        t if is_binary(t) => ColumnKind::EncodedImages,
        DataType::Struct(fields) if encoded_bytes_field(fields).is_some() => {
            ColumnKind::EncodedImages
        }
        _ => ColumnKind::Other,
    }
}

fn feature_layout(
    path: &Path,
    schema: &Schema,
    batches: &[RecordBatch],
    skipped: &[Option<usize>],
    text_numbers: bool,
) -> anyhow::Result<FeatureLayout> {
    let mut scalars = Vec::new();
    let mut lists = Vec::new();
    let mut encoded = Vec::new();
    for (index, field) in schema.fields().iter().enumerate() {
        if skipped.contains(&Some(index)) {
            continue;
        }
        match column_kind(field.data_type()) {
            ColumnKind::Number => scalars.push(index),
            ColumnKind::NumberList => lists.push(index),
            ColumnKind::EncodedImages => encoded.push(index),
            ColumnKind::Text => match first_non_number(batches, index) {
                Some((row, value)) => {
                    return Err(file_error(
                        path,
                        format_args!(
                            "column {:?} holds text (row {row}: {value:?}); features must be numeric (if it is the label, set label_column = {:?}; if it names the rows, id_column = {:?})",
                            field.name(),
                            field.name(),
                            field.name()
                        ),
                    ));
                }
                None if text_numbers => scalars.push(index),
                None => {
                    return Err(file_error(
                        path,
                        format_args!(
                            "column {:?} holds numbers stored as text; features must be a numeric type",
                            field.name()
                        ),
                    ));
                }
            },
            ColumnKind::Other => {
                return Err(file_error(
                    path,
                    format_args!(
                        "column {:?} has type {}; features must be numeric columns or one list of numbers",
                        field.name(),
                        field.data_type()
                    ),
                ));
            }
        }
    }
    if let [column] = encoded.as_slice()
        && scalars.is_empty()
        && lists.is_empty()
    {
        return Ok(FeatureLayout::EncodedImages(*column));
    }
    if !encoded.is_empty() {
        let names = |columns: &[usize]| -> String {
            columns
                .iter()
                .map(|&i| format!("{:?}", schema.field(i).name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let others: Vec<usize> = scalars.iter().chain(&lists).copied().collect();
        let what = match others.as_slice() {
            [] => format!("columns {} all hold encoded images", names(&encoded)),
            _ => format!(
                "{} {} {} encoded images beside the feature columns {}",
                if encoded.len() == 1 {
                    "column"
                } else {
                    "columns"
                },
                names(&encoded),
                if encoded.len() == 1 { "holds" } else { "hold" },
                names(&others)
            ),
        };
        return Err(file_error(
            path,
            format_args!(
                "{what}; a table of images has one column of images and at most a column of labels and one of names (label_column = \"COL\", id_column = \"COL\")"
            ),
        ));
    }
    match (scalars.len(), lists.as_slice()) {
        (0, []) => Err(file_error(
            path,
            format_args!("no feature columns; columns are {}", column_list(schema)),
        )),
        (_, []) => Ok(FeatureLayout::Scalars(scalars)),
        (0, [list]) => Ok(FeatureLayout::List(*list)),
        _ => {
            let names: Vec<String> = scalars
                .iter()
                .chain(&lists)
                .map(|&i| format!("{:?}", schema.field(i).name()))
                .collect();
            Err(file_error(
                path,
                format_args!(
                    "feature columns {} mix list and other columns; expected numeric columns or exactly one list column (label_column = \"COL\" or id_column = \"COL\" sets a column of labels or names apart)",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// The first (row, value) of a text column that does not parse as a number.
fn first_non_number(batches: &[RecordBatch], column: usize) -> Option<(usize, String)> {
    let mut first_row = 0;
    for batch in batches {
        let text = cast::to_utf8(batch.column(column).as_ref()).ok()?;
        for (i, value) in text.iter().enumerate() {
            if let Some(value) = value
                && value.trim().parse::<f64>().is_err()
            {
                return Some((first_row + i, value.to_string()));
            }
        }
        first_row += batch.num_rows();
    }
    None
}

/// Errors on the first null of `array`, naming the column and the row.
fn check_no_nulls(
    path: &Path,
    name: &str,
    array: &dyn Array,
    first_row: usize,
) -> anyhow::Result<()> {
    if array.null_count() == 0 {
        return Ok(());
    }
    let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
    Err(file_error(
        path,
        format_args!(
            "column {name:?} is null at row {}; features must not be missing",
            first_row + row
        ),
    ))
}

/// Casts a numeric (or numeric-text) column to f32.
fn to_f32(path: &Path, name: &str, array: &dyn Array) -> anyhow::Result<Float32Array> {
    cast::to_f32(array).map_err(|e| {
        file_error(
            path,
            format_args!("column {name:?} cannot be read as f32: {e}"),
        )
    })
}

fn scalar_features(
    path: &Path,
    schema: &Schema,
    batches: &[RecordBatch],
    columns: &[usize],
    n_rows: usize,
) -> anyhow::Result<(Vec<f32>, usize)> {
    let dim = columns.len();
    let mut features = vec![0.0f32; n_rows * dim];
    let mut first_row = 0;
    for batch in batches {
        for (feature, &column) in columns.iter().enumerate() {
            let name = schema.field(column).name();
            let array = batch.column(column);
            check_no_nulls(path, name, array.as_ref(), first_row)?;
            let floats = to_f32(path, name, array.as_ref())?;
            check_no_nulls(path, name, &floats, first_row)?;
            let values = floats.values();
            check_finite(path, &format!("column {name:?}"), values, 1, first_row)?;
            for (row, &value) in values.iter().enumerate() {
                features[(first_row + row) * dim + feature] = value;
            }
        }
        first_row += batch.num_rows();
    }
    Ok((features, dim))
}

/// Each row's `(start, end)` in the list's child values, or `None` for a null row.
fn list_ranges(array: &ArrayRef) -> (Vec<Option<(usize, usize)>>, ArrayRef) {
    let valid = |i: usize| array.is_valid(i);
    match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            let ranges = (0..list.len())
                .map(|i| valid(i).then(|| (offsets[i] as usize, offsets[i + 1] as usize)))
                .collect();
            (ranges, list.values().clone())
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let offsets = list.value_offsets();
            let ranges = (0..list.len())
                .map(|i| valid(i).then(|| (offsets[i] as usize, offsets[i + 1] as usize)))
                .collect();
            (ranges, list.values().clone())
        }
        _ => {
            let list = array.as_fixed_size_list();
            let length = list.value_length() as usize;
            let ranges = (0..list.len())
                .map(|i| {
                    valid(i).then(|| (list.value_offset_at(i), list.value_offset_at(i) + length))
                })
                .collect();
            (ranges, list.values().clone())
        }
    }
}

fn list_features(
    path: &Path,
    schema: &Schema,
    batches: &[RecordBatch],
    column: usize,
    n_rows: usize,
) -> anyhow::Result<(Vec<f32>, usize)> {
    let name = schema.field(column).name();
    let mut features = Vec::new();
    let mut dim = None;
    let mut first_row = 0;
    for batch in batches {
        let (ranges, values) = list_ranges(batch.column(column));
        let floats = to_f32(path, name, values.as_ref())?;
        for (i, range) in ranges.into_iter().enumerate() {
            let row = first_row + i;
            let Some((start, end)) = range else {
                return Err(file_error(
                    path,
                    format_args!(
                        "column {name:?} is null at row {row}; features must not be missing"
                    ),
                ));
            };
            let length = end - start;
            match dim {
                None if length == 0 => {
                    return Err(file_error(
                        path,
                        format_args!("column {name:?} row {row} is an empty list"),
                    ));
                }
                None => {
                    dim = Some(length);
                    features.reserve(n_rows * length);
                }
                Some(expected) if expected != length => {
                    return Err(file_error(
                        path,
                        format_args!(
                            "column {name:?} row {row} has {length} values but row 0 has {expected}; every row needs the same length"
                        ),
                    ));
                }
                Some(_) => {}
            }
            if (start..end).any(|j| floats.is_null(j)) {
                return Err(file_error(
                    path,
                    format_args!(
                        "column {name:?} row {row} holds a null element; features must not be missing"
                    ),
                ));
            }
            let row_values = &floats.values()[start..end];
            check_finite(path, &format!("column {name:?}"), row_values, length, row)?;
            features.extend_from_slice(row_values);
        }
        first_row += batch.num_rows();
    }
    // n_rows > 0 was checked, so the first row set `dim`.
    Ok((features, dim.unwrap_or(0)))
}

/// Whether values of this type are raw bytes (an encoded image each, in an image column).
fn is_binary(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// The index of a struct's binary `bytes` field: Hugging Face datasets store an `Image`
/// column as `{bytes: binary, path: string}`.
fn encoded_bytes_field(fields: &arrow_schema::Fields) -> Option<usize> {
    fields
        .iter()
        .position(|f| f.name() == "bytes" && is_binary(f.data_type()))
}

/// The images of an encoded-image column, decoded and stacked (gray when every image is
/// gray, RGB when any has colour), all of one size.
fn encoded_images(
    path: &Path,
    schema: &Schema,
    batches: &[RecordBatch],
    column: usize,
) -> anyhow::Result<ArrayImages> {
    let name = schema.field(column).name();
    let mut stack = ImageStack::default();
    let mut first_row = 0;
    for batch in batches {
        let array = batch.column(column);
        // A struct's row is its image when the struct and its `bytes` are both there.
        let bytes: &dyn Array = match array.data_type() {
            DataType::Struct(fields) => {
                let field = encoded_bytes_field(fields).expect("an encoded-image column");
                array.as_struct().column(field).as_ref()
            }
            _ => array.as_ref(),
        };
        let valid = |i: usize| array.is_valid(i) && bytes.is_valid(i);
        for i in 0..batch.num_rows() {
            let row = first_row + i;
            let what = format!("row {row} of column {name:?}");
            if !valid(i) {
                return Err(file_error(
                    path,
                    format_args!("{what} holds no image (null); every row needs one"),
                ));
            }
            let encoded = match bytes.data_type() {
                DataType::Binary => bytes.as_binary::<i32>().value(i),
                DataType::LargeBinary => bytes.as_binary::<i64>().value(i),
                _ => bytes.as_binary_view().value(i),
            };
            let image = decode_bytes(path, &what, encoded, Channels::AsFile)?;
            stack
                .check_same_size(
                    &image,
                    &format!("row 0 of column {name:?}"),
                    "every image of a table must have one size",
                )
                .map_err(|message| file_error(path, format_args!("{what}: {message}")))?;
            stack.push(image);
        }
        first_row += batch.num_rows();
    }
    let (height, width) = stack.size().expect("a table with rows");
    let (data, channels) = stack.finish().expect("a table with rows");
    Ok(ArrayImages {
        data,
        channels,
        height: height as usize,
        width: width as usize,
    })
}

fn read_labels(
    path: &Path,
    schema: &Schema,
    batches: &[RecordBatch],
    column: usize,
) -> anyhow::Result<RawLabels> {
    let field = schema.field(column);
    let label_type = value_type(field.data_type());
    let cast_error = |e: arrow_schema::ArrowError| {
        file_error(path, format_args!("label column {:?}: {e}", field.name()))
    };
    if label_type.is_integer() {
        let mut labels = Vec::new();
        for batch in batches {
            let values = cast::to_i64(batch.column(column).as_ref()).map_err(cast_error)?;
            labels.extend(values.iter());
        }
        return Ok(RawLabels::Integers(labels));
    }
    if label_type.is_floating() {
        // Whole numbers written as floats, as `np.savetxt` writes labels
        // (`3.000000000000000000e+00`); f32 holds every whole number up to 2^24 exactly.
        let mut labels = Vec::new();
        for batch in batches {
            let values = cast::to_f32(batch.column(column).as_ref()).map_err(cast_error)?;
            for value in values.iter() {
                labels.push(match value {
                    None => None,
                    Some(v) if v.fract() == 0.0 && v.abs() <= 16_777_216.0 => Some(v as i64),
                    Some(v) => {
                        return Err(file_error(
                            path,
                            format_args!(
                                "label column {:?} row {} holds {v}; expected integers, whole numbers or text",
                                field.name(),
                                labels.len()
                            ),
                        ));
                    }
                });
            }
        }
        return Ok(RawLabels::Integers(labels));
    }
    if matches!(column_kind(field.data_type()), ColumnKind::Text) {
        let mut labels = Vec::new();
        for batch in batches {
            let values = cast::to_utf8(batch.column(column).as_ref()).map_err(cast_error)?;
            labels.extend(values.iter().map(|v| v.map(str::to_string)));
        }
        return Ok(RawLabels::Text(labels));
    }
    Err(file_error(
        path,
        format_args!(
            "label column {:?} has type {}; expected integers, whole numbers or text",
            field.name(),
            field.data_type()
        ),
    ))
}

/// The id column's values as text: integers or text, none missing, no two alike.
fn read_ids(
    path: &Path,
    schema: &Schema,
    batches: &[RecordBatch],
    column: usize,
) -> anyhow::Result<Vec<String>> {
    let field = schema.field(column);
    let id_type = value_type(field.data_type());
    if !id_type.is_integer() && !matches!(column_kind(field.data_type()), ColumnKind::Text) {
        return Err(file_error(
            path,
            format_args!(
                "id column {:?} has type {}; expected text or integers",
                field.name(),
                field.data_type()
            ),
        ));
    }
    let mut ids = Vec::new();
    for batch in batches {
        let values = cast::to_utf8(batch.column(column).as_ref())
            .map_err(|e| file_error(path, format_args!("id column {:?}: {e}", field.name())))?;
        for value in values.iter() {
            let Some(value) = value else {
                return Err(file_error(
                    path,
                    format_args!(
                        "id column {:?} is null at row {}; every row needs an id",
                        field.name(),
                        ids.len()
                    ),
                ));
            };
            ids.push(value.to_string());
        }
    }
    let mut first_row = std::collections::HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(earlier) = first_row.insert(id.as_str(), row) {
            return Err(file_error(
                path,
                format_args!(
                    "id column {:?} holds {id:?} at rows {earlier} and {row}; ids must be distinct (a column that groups rows is a label: label_column = {:?})",
                    field.name(),
                    field.name()
                ),
            ));
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, ListBuilder};
    use arrow_array::{BooleanArray, Float64Array, Int32Array, StringArray};
    use ebsc_test_support::images::png;
    use parquet::arrow::ArrowWriter;

    use super::super::{TableConfig, read};
    use super::*;
    use crate::dataset::{Dataset, Inputs};

    fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn read_table(path: &Path, label_column: Option<&str>) -> anyhow::Result<Dataset> {
        read_columns(path, label_column, None)
    }

    fn read_columns(path: &Path, label: Option<&str>, id: Option<&str>) -> anyhow::Result<Dataset> {
        read(&TableConfig {
            label_column: label.map(str::to_string),
            id_column: id.map(str::to_string),
            ..TableConfig::at(path)
        })
    }

    fn features(dataset: &Dataset) -> (Vec<f32>, usize) {
        match &dataset.inputs {
            Inputs::Features { data, dim } => (data.clone(), *dim),
            Inputs::Images { .. } => panic!("expected features"),
        }
    }

    fn labels(dataset: &Dataset) -> Vec<Option<i32>> {
        dataset.samples.iter().map(|s| s.label).collect()
    }

    fn expect_error(result: anyhow::Result<Dataset>, path: &Path, needles: &[&str]) {
        let error = result.unwrap_err().to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(!error.contains('\n'), "{error}");
        for needle in needles {
            assert!(error.contains(needle), "{error} should contain {needle}");
        }
    }

    #[test]
    fn parquet_scalar_columns_with_integer_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(
            &path,
            vec![
                (
                    "a",
                    Arc::new(Float64Array::from(vec![1.5, 2.5, 3.5])) as ArrayRef,
                ),
                (
                    "y",
                    Arc::new(Int32Array::from(vec![Some(7), None, Some(-2)])),
                ),
                ("b", Arc::new(Int32Array::from(vec![10, 20, 30]))),
            ],
        );
        let dataset = read_table(&path, Some("y")).unwrap();
        assert_eq!(
            features(&dataset),
            (vec![1.5, 10.0, 2.5, 20.0, 3.5, 30.0], 2)
        );
        assert_eq!(dataset.class_names, vec!["-2", "7"]);
        assert_eq!(labels(&dataset), vec![Some(1), None, Some(0)]);
        assert_eq!(dataset.samples[1].source, format!("{}#1", path.display()));
        assert_eq!(dataset.samples[1].split, "all");
    }

    #[test]
    fn parquet_list_column_with_text_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut list = ListBuilder::new(Float32Builder::new());
        for row in [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]] {
            list.values().append_slice(&row);
            list.append(true);
        }
        write_parquet(
            &path,
            vec![
                (
                    "label",
                    Arc::new(StringArray::from(vec!["dog", "cat", "dog"])) as ArrayRef,
                ),
                ("embedding", Arc::new(list.finish())),
            ],
        );
        let dataset = read_table(&path, Some("label")).unwrap();
        assert_eq!(features(&dataset), (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2));
        assert_eq!(dataset.class_names, vec!["cat", "dog"]);
        assert_eq!(labels(&dataset), vec![Some(1), Some(0), Some(1)]);
    }

    #[test]
    fn parquet_fixed_size_list_without_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut list = FixedSizeListBuilder::new(Float32Builder::new(), 3);
        for row in [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] {
            list.values().append_slice(&row);
            list.append(true);
        }
        write_parquet(&path, vec![("x", Arc::new(list.finish()) as ArrayRef)]);
        let dataset = read_table(&path, None).unwrap();
        assert_eq!(features(&dataset), (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3));
        assert_eq!(labels(&dataset), vec![None, None]);
        assert!(dataset.class_names.is_empty());
    }

    /// A `height`×`width` gray PNG whose pixels count up from `first`.
    fn gray_png(height: u32, width: u32, first: u8) -> Vec<u8> {
        png(&image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(
            width,
            height,
            |x, y| image::Luma([first.wrapping_add((y * width + x) as u8)]),
        )))
    }

    /// A Hugging Face `Image` column: `{bytes, path}` structs.
    fn image_structs(images: Vec<Option<Vec<u8>>>) -> ArrayRef {
        let n = images.len();
        let bytes = arrow_array::BinaryArray::from_iter(images);
        let paths = StringArray::from(vec![None::<&str>; n]);
        Arc::new(arrow_array::StructArray::from(vec![
            (
                Arc::new(arrow_schema::Field::new("bytes", DataType::Binary, true)),
                Arc::new(bytes) as ArrayRef,
            ),
            (
                Arc::new(arrow_schema::Field::new("path", DataType::Utf8, true)),
                Arc::new(paths) as ArrayRef,
            ),
        ]))
    }

    #[test]
    fn a_column_of_encoded_images_reads_as_images() {
        let dir = tempfile::tempdir().unwrap();
        // Hugging Face's layout: an `image` struct of PNG bytes and a `label` column.
        let path = dir.path().join("test-00000-of-00001.parquet");
        let pngs = (0..3).map(|i| Some(gray_png(2, 3, 10 * i))).collect();
        write_parquet(
            &path,
            vec![
                ("image", image_structs(pngs)),
                (
                    "label",
                    Arc::new(Int32Array::from(vec![1, 0, 1])) as ArrayRef,
                ),
            ],
        );
        let dataset = read_table(&path, Some("label")).unwrap();
        let Inputs::Images {
            data,
            channels,
            height,
            width,
        } = &dataset.inputs
        else {
            panic!("expected images");
        };
        assert_eq!((*channels, *height, *width), (1, 2, 3));
        let expected: Vec<u8> = (0..3u8)
            .flat_map(|i| (0..6).map(move |p| 10 * i + p))
            .collect();
        assert_eq!(data, &expected);
        assert_eq!(labels(&dataset), vec![Some(1), Some(0), Some(1)]);
        assert_eq!(dataset.samples[2].source, format!("{}#2", path.display()));
        // A plain binary column, a colour image among gray ones: every image RGB.
        let path = dir.path().join("binary.parquet");
        let colour = png(&image::DynamicImage::ImageRgb8(
            image::RgbImage::from_pixel(3, 2, image::Rgb([1, 2, 3])),
        ));
        let column = arrow_array::BinaryArray::from_iter_values([gray_png(2, 3, 0), colour]);
        write_parquet(&path, vec![("img", Arc::new(column) as ArrayRef)]);
        let dataset = read_table(&path, None).unwrap();
        let Inputs::Images { data, channels, .. } = &dataset.inputs else {
            panic!("expected images");
        };
        assert_eq!(*channels, 3);
        let gray: Vec<u8> = (0..6).collect();
        assert_eq!(&data[..18], [gray.clone(), gray.clone(), gray].concat());
        assert_eq!(&data[18..], [[1u8; 6], [2; 6], [3; 6]].concat());
    }

    #[test]
    fn a_column_of_encoded_images_names_the_row_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let cases: [(Vec<Option<Vec<u8>>>, &str); 3] = [
            (
                vec![Some(gray_png(2, 2, 0)), None],
                "row 1 of column \"image\" holds no image (null)",
            ),
            (
                vec![Some(gray_png(2, 2, 0)), Some(b"not an image".to_vec())],
                "row 1 of column \"image\": cannot",
            ),
            (
                vec![Some(gray_png(2, 2, 0)), Some(gray_png(3, 2, 0))],
                "row 1 of column \"image\": image is 3×2 (height×width) but row 0 of column \"image\" is 2×2",
            ),
        ];
        for (images, needle) in cases {
            write_parquet(&path, vec![("image", image_structs(images))]);
            expect_error(read_table(&path, None), &path, &[needle]);
        }
        // Images beside another feature column: which is which is the user's to say.
        let pngs = vec![Some(gray_png(2, 2, 0)), Some(gray_png(2, 2, 1))];
        write_parquet(
            &path,
            vec![
                ("image", image_structs(pngs)),
                (
                    "x",
                    Arc::new(Float64Array::from(vec![0.5, 1.5])) as ArrayRef,
                ),
            ],
        );
        expect_error(
            read_table(&path, None),
            &path,
            &[
                "column \"image\" holds encoded images beside the feature columns \"x\"",
                "label_column",
            ],
        );
    }

    #[test]
    fn ragged_list_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut list = ListBuilder::new(Float32Builder::new());
        list.values().append_slice(&[1.0, 2.0]);
        list.append(true);
        list.values().append_slice(&[1.0]);
        list.append(true);
        write_parquet(&path, vec![("x", Arc::new(list.finish()) as ArrayRef)]);
        expect_error(
            read_table(&path, None),
            &path,
            &["column \"x\" row 1 has 1 values but row 0 has 2"],
        );
    }

    #[test]
    fn null_list_element_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut list = ListBuilder::new(Float32Builder::new());
        list.values().append_slice(&[1.0, 2.0]);
        list.append(true);
        list.values().append_value(1.0);
        list.values().append_null();
        list.append(true);
        write_parquet(&path, vec![("x", Arc::new(list.finish()) as ArrayRef)]);
        expect_error(
            read_table(&path, None),
            &path,
            &["row 1 holds a null element"],
        );
    }

    #[test]
    fn list_mixed_with_scalars_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut list = ListBuilder::new(Float32Builder::new());
        list.values().append_slice(&[1.0]);
        list.append(true);
        write_parquet(
            &path,
            vec![
                ("x", Arc::new(list.finish()) as ArrayRef),
                ("a", Arc::new(Float64Array::from(vec![1.0]))),
            ],
        );
        expect_error(
            read_table(&path, None),
            &path,
            &["mix list and other columns"],
        );
    }

    #[test]
    fn parquet_text_feature_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(
            &path,
            vec![
                (
                    "a",
                    Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
                ),
                ("name", Arc::new(StringArray::from(vec![None, Some("bob")]))),
            ],
        );
        expect_error(
            read_table(&path, None),
            &path,
            &["column \"name\" holds text (row 1: \"bob\")"],
        );
    }

    #[test]
    fn parquet_nan_and_null_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(
            &path,
            vec![(
                "a",
                Arc::new(Float64Array::from(vec![1.0, 2.0, f64::NAN])) as ArrayRef,
            )],
        );
        expect_error(
            read_table(&path, None),
            &path,
            &["column \"a\" row 2 holds NaN"],
        );
        write_parquet(
            &path,
            vec![(
                "a",
                Arc::new(Float64Array::from(vec![Some(1.0), None])) as ArrayRef,
            )],
        );
        expect_error(
            read_table(&path, None),
            &path,
            &["column \"a\" is null at row 1"],
        );
        // 1e300 fits f64 but not f32.
        write_parquet(
            &path,
            vec![("a", Arc::new(Float64Array::from(vec![1e300])) as ArrayRef)],
        );
        expect_error(read_table(&path, None), &path, &["row 0 holds inf"]);
    }

    #[test]
    fn missing_or_fractional_label_column_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(
            &path,
            vec![
                (
                    "a",
                    Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
                ),
                ("b", Arc::new(Float64Array::from(vec![1.0, 2.5]))),
            ],
        );
        expect_error(
            read_table(&path, Some("y")),
            &path,
            &["label_column \"y\" not found; columns are \"a\", \"b\""],
        );
        expect_error(
            read_table(&path, Some("b")),
            &path,
            &["label column \"b\" row 1 holds 2.5; expected integers, whole numbers or text"],
        );
        // Whole numbers stored as floats (np.savetxt's labels) are integer labels.
        let dataset = read_table(&path, Some("a")).unwrap();
        assert_eq!(dataset.class_names, vec!["1", "2"]);
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, vec![Some(0), Some(1)]);
        write_parquet(
            &path,
            vec![
                ("a", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
                ("b", Arc::new(BooleanArray::from(vec![true]))),
            ],
        );
        expect_error(
            read_table(&path, Some("b")),
            &path,
            &["label column \"b\" has type Boolean; expected integers, whole numbers or text"],
        );
    }

    #[test]
    fn corrupt_parquet_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        std::fs::write(&path, b"PAR1 this is not really parquet PAR1").unwrap();
        expect_error(
            read_table(&path, None),
            &path,
            &["not a readable Parquet file"],
        );
    }

    #[test]
    fn csv_with_header_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "x,label,y\n1,b,0.5\n2,a,-1.5\n3,,2\n").unwrap();
        let dataset = read_table(&path, Some("label")).unwrap();
        assert_eq!(features(&dataset), (vec![1.0, 0.5, 2.0, -1.5, 3.0, 2.0], 2));
        assert_eq!(dataset.class_names, vec!["a", "b"]);
        assert_eq!(labels(&dataset), vec![Some(1), Some(0), None]);
    }

    fn read_with_ids(path: &Path, label: Option<&str>, id: &str) -> anyhow::Result<Dataset> {
        read_columns(path, label, Some(id))
    }

    #[test]
    fn id_columns_name_the_rows_and_are_not_features() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "name,x,label,y\nalice,1,b,0.5\nbob,2,a,-1.5\n").unwrap();
        let dataset = read_with_ids(&path, Some("label"), "name").unwrap();
        assert_eq!(features(&dataset), (vec![1.0, 0.5, 2.0, -1.5], 2));
        let sources: Vec<&str> = dataset.samples.iter().map(|s| s.source.as_str()).collect();
        let file = path.display();
        assert_eq!(sources, [format!("{file}#alice"), format!("{file}#bob")]);

        // Integer ids in Parquet read as their decimal text.
        let parquet = dir.path().join("t.parquet");
        write_parquet(
            &parquet,
            vec![
                (
                    "a",
                    Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
                ),
                ("key", Arc::new(Int32Array::from(vec![70, 7]))),
            ],
        );
        let dataset = read_with_ids(&parquet, None, "key").unwrap();
        assert_eq!(features(&dataset), (vec![1.0, 2.0], 1));
        assert!(dataset.samples[1].source.ends_with("t.parquet#7"));
    }

    #[test]
    fn bad_id_columns_are_errors_naming_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "id,x,y\na,1,2\nb,3,4\na,5,6\n").unwrap();
        expect_error(
            read_with_ids(&path, None, "id"),
            &path,
            &["id column \"id\" holds \"a\" at rows 0 and 2; ids must be distinct"],
        );
        expect_error(
            read_with_ids(&path, None, "ident"),
            &path,
            &["id_column \"ident\" not found; columns are \"id\", \"x\", \"y\""],
        );
        expect_error(
            read_with_ids(&path, Some("id"), "id"),
            &path,
            &["label_column and id_column both name \"id\""],
        );
        std::fs::write(&path, "id,x\na,1\n,3\n").unwrap();
        expect_error(
            read_with_ids(&path, None, "id"),
            &path,
            &["id column \"id\" is null at row 1"],
        );
        // Without id_column the text column is refused, and the message says how to keep it.
        expect_error(
            read_table(&path, None),
            &path,
            &["if it names the rows, id_column = \"id\""],
        );
    }

    #[test]
    fn csv_schema_is_inferred_over_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        // Integers for many rows, then a float at the end: the column must be a float column.
        let mut text = "v\n".to_string();
        for i in 0..2000 {
            text.push_str(&format!("{i}\n"));
        }
        text.push_str("0.25\n");
        std::fs::write(&path, text).unwrap();
        let (data, dim) = features(&read_table(&path, None).unwrap());
        assert_eq!((data.len(), dim, data[2000]), (2001, 1, 0.25));
    }

    #[test]
    fn csv_text_nan_and_null_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a,b\n1,x\n2,y\n").unwrap();
        expect_error(
            read_table(&path, None),
            &path,
            &["column \"b\" holds text (row 0: \"x\")"],
        );
        std::fs::write(&path, "a,b\n1,2\n2,NaN\n").unwrap();
        expect_error(
            read_table(&path, None),
            &path,
            &["column \"b\" row 1 holds NaN"],
        );
        std::fs::write(&path, "a,b\n1,2\n2,\n").unwrap();
        expect_error(
            read_table(&path, None),
            &path,
            &["column \"b\" is null at row 1"],
        );
    }

    #[test]
    fn csv_without_header_or_rows_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "1,2\n3,4\n").unwrap();
        expect_error(
            read_table(&path, None),
            &path,
            &["a header row with column names is required"],
        );
        std::fs::write(&path, "").unwrap();
        expect_error(read_table(&path, None), &path, &["empty CSV file"]);
        std::fs::write(&path, "a,b\n").unwrap();
        expect_error(read_table(&path, None), &path, &["no rows"]);
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        expect_error(read_table(&path, None), &path, &["cannot parse CSV"]);
    }
}
