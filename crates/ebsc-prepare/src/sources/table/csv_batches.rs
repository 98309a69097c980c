//! CSV text as Arrow record batches: one pass over the file infers each column's type, a
//! second parses the rows into columns of those types.
//!
//! The inference is arrow-csv's for the types the table reader uses, over the whole file:
//! a column is `Int64` when every value is an integer that fits, `Float64` when every value
//! is a number (integers, decimals such as `1.5`, `.5`, `2e3`, and exactly `NaN`, `nan`,
//! `inf`, `-inf`), `Null` when every value is empty, and `Utf8` otherwise (booleans, dates
//! and padded numbers such as ` 1.5` included). Empty fields are nulls.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, NullArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use csv::StringRecord;

/// Rows per record batch, as arrow-csv's reader.
const BATCH_ROWS: usize = 1024;

/// A CSV file that cannot be read: malformed, not UTF-8, or rows of different lengths.
#[derive(Debug)]
pub(super) struct CsvError(String);

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<csv::Error> for CsvError {
    fn from(error: csv::Error) -> Self {
        Self(error.to_string())
    }
}

/// The columns' names and inferred types. With `header` the first row names the columns;
/// without, they are `column_1`, `column_2`, … and the first row is data. An empty file has
/// no columns.
pub(super) fn infer_schema(
    reader: impl Read,
    header: bool,
    delimiter: u8,
) -> Result<Schema, CsvError> {
    let mut reader = csv_reader(reader, header, delimiter);
    // Without a header this is the first data row, which `read_record` still yields.
    let first = reader.headers()?.clone();
    let names: Vec<String> = if header {
        first.iter().map(str::to_string).collect()
    } else {
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    };
    let mut seen = vec![Seen::default(); names.len()];
    let mut record = StringRecord::new();
    while reader.read_record(&mut record)? {
        check_width(&record, names.len(), header)?;
        for (value, seen) in record.iter().zip(&mut seen) {
            if !value.is_empty() {
                seen.update(value);
            }
        }
    }
    let fields: Vec<Field> = names
        .into_iter()
        .zip(seen)
        .map(|(name, seen)| Field::new(name, seen.data_type(), true))
        .collect();
    Ok(Schema::new(fields))
}

/// The rows parsed into `schema`'s columns, as [`infer_schema`] found it for the same text.
pub(super) fn read_batches(
    reader: impl Read,
    schema: &SchemaRef,
    header: bool,
    delimiter: u8,
) -> Result<Vec<RecordBatch>, CsvError> {
    let mut reader = csv_reader(reader, header, delimiter);
    let fields = schema.fields();
    let mut columns: Vec<Column> = fields.iter().map(|f| Column::new(f.data_type())).collect();
    let mut batches = Vec::new();
    let mut rows = 0;
    let mut record = StringRecord::new();
    while reader.read_record(&mut record)? {
        check_width(&record, fields.len(), header)?;
        for ((value, column), field) in record.iter().zip(&mut columns).zip(fields) {
            if !column.append(value) {
                return Err(CsvError(format!(
                    "{}: {value:?} in column {:?} is not of type {}, which the same file gave on a first pass; did it change while being read?",
                    line(&record),
                    field.name(),
                    field.data_type()
                )));
            }
        }
        rows += 1;
        if rows == BATCH_ROWS {
            batches.push(finish_batch(schema, &mut columns, rows)?);
            rows = 0;
        }
    }
    if rows > 0 {
        batches.push(finish_batch(schema, &mut columns, rows)?);
    }
    Ok(batches)
}

/// Quoting as RFC 4180 with `"`, fields split at `delimiter`; the row lengths are checked
/// here rather than by the `csv` crate (`flexible`), so the message can say which line and
/// what was expected.
fn csv_reader<R: Read>(reader: R, header: bool, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(header)
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(reader)
}

fn line(record: &StringRecord) -> String {
    match record.position() {
        Some(position) => format!("line {}", position.line()),
        None => "a row".to_string(),
    }
}

fn check_width(record: &StringRecord, width: usize, header: bool) -> Result<(), CsvError> {
    if record.len() == width {
        return Ok(());
    }
    let first = if header {
        "the header"
    } else {
        "the first row"
    };
    let noun = |n: usize| if n == 1 { "field" } else { "fields" };
    Err(CsvError(format!(
        "{} has {} {} but {first} has {width} {}; every row needs one value per column",
        line(record),
        record.len(),
        noun(record.len()),
        noun(width)
    )))
}

/// Which kinds of value a column has held.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    integer: bool,
    float: bool,
    text: bool,
}

impl Seen {
    fn update(&mut self, value: &str) {
        // arrow-csv's patterns through Rust's parsers: its integers (`[+-]?` ASCII digits)
        // are what `i64` parses, and one that overflows is text; its decimals are what `f64`
        // parses among values holding `.`, `e` or `E` (f64's other forms, plain integers and
        // the words inf, infinity and nan, hold none of them).
        if value.parse::<i64>().is_ok() {
            self.integer = true;
        } else if matches!(value, "NaN" | "nan" | "inf" | "-inf")
            || (value.contains(['.', 'e', 'E']) && value.parse::<f64>().is_ok())
        {
            self.float = true;
        } else {
            self.text = true;
        }
    }

    fn data_type(self) -> DataType {
        if self.text {
            DataType::Utf8
        } else if self.float {
            DataType::Float64
        } else if self.integer {
            DataType::Int64
        } else {
            DataType::Null
        }
    }
}

/// One column of the batch being built.
enum Column {
    Null(usize),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Utf8(StringBuilder),
}

impl Column {
    fn new(data_type: &DataType) -> Self {
        match data_type {
            DataType::Null => Self::Null(0),
            DataType::Int64 => Self::Int64(Int64Builder::new()),
            DataType::Float64 => Self::Float64(Float64Builder::new()),
            _ => Self::Utf8(StringBuilder::new()),
        }
    }

    /// Appends `value` (empty is null); false when it does not parse as the column's type.
    fn append(&mut self, value: &str) -> bool {
        if value.is_empty() {
            match self {
                Self::Null(n) => *n += 1,
                Self::Int64(b) => b.append_null(),
                Self::Float64(b) => b.append_null(),
                Self::Utf8(b) => b.append_null(),
            }
            return true;
        }
        match self {
            Self::Null(_) => return false,
            Self::Int64(b) => match value.parse() {
                Ok(v) => b.append_value(v),
                Err(_) => return false,
            },
            Self::Float64(b) => match value.parse() {
                Ok(v) => b.append_value(v),
                Err(_) => return false,
            },
            Self::Utf8(b) => b.append_value(value),
        }
        true
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Null(n) => Arc::new(NullArray::new(std::mem::take(n))),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Utf8(b) => Arc::new(b.finish()),
        }
    }
}

fn finish_batch(
    schema: &SchemaRef,
    columns: &mut [Column],
    rows: usize,
) -> Result<RecordBatch, CsvError> {
    let arrays = columns.iter_mut().map(Column::finish).collect();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
        .map_err(|e| CsvError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::{Array, RecordBatch};

    use super::*;

    /// Both passes over `text`.
    fn read(text: &str, header: bool) -> Result<(SchemaRef, Vec<RecordBatch>), CsvError> {
        let schema = Arc::new(infer_schema(text.as_bytes(), header, b',')?);
        let batches = read_batches(text.as_bytes(), &schema, header, b',')?;
        Ok((schema, batches))
    }

    fn types(text: &str) -> Vec<DataType> {
        let schema = infer_schema(text.as_bytes(), true, b',').unwrap();
        schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect()
    }

    #[test]
    fn column_types_follow_every_value() {
        use DataType::*;
        let text = "i,f,mixed,words,nan,empty,bool,date,padded,big\n\
                    1,1.5,1,a,NaN,,true,2024-01-02, 1,9223372036854775807\n\
                    -2,.5,2e3,1,inf,,false,2024-01-03,2,1\n\
                    +3,4.,x,2,-inf,,TRUE,2024-01-04,3,99999999999999999999\n";
        assert_eq!(
            types(text),
            [
                Int64, Float64, Utf8, Utf8, Float64, Null, Utf8, Utf8, Utf8, Utf8
            ]
        );
        // Integers and decimals make a float column; one word anywhere makes text.
        assert_eq!(types("a,b\n1,1\n2.5,x\n"), [Float64, Utf8]);
        // Spellings beyond arrow-csv's four are text (the table reader still reads them as
        // numbers through its numbers-as-text path).
        assert_eq!(types("a,b,c\nInfinity,NAN,+inf\n"), [Utf8, Utf8, Utf8]);
        assert_eq!(types("a,b\n1e5,1E-5\n"), [Float64, Float64]);
        assert_eq!(types("a\n.\n"), [Utf8]);
        assert_eq!(types("a\n1e\n"), [Utf8]);
    }

    #[test]
    fn values_parse_into_batches_with_empty_fields_as_nulls() {
        let (schema, batches) = read("n,x,name,none\n1,0.5,a,\n,2,,\n3,,\"b,c\",\n", true).unwrap();
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(schema.field(3).data_type(), &DataType::Null);
        let n: Vec<_> = batch.column(0).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(n, [Some(1), None, Some(3)]);
        let x: Vec<_> = batch
            .column(1)
            .as_primitive::<Float64Type>()
            .iter()
            .collect();
        assert_eq!(x, [Some(0.5), Some(2.0), None]);
        let name: Vec<_> = batch.column(2).as_string::<i32>().iter().collect();
        assert_eq!(name, [Some("a"), None, Some("b,c")]);
        assert_eq!(batch.column(3).len(), 3);
    }

    #[test]
    fn rows_split_into_batches_of_1024() {
        let mut text = "v\n".to_string();
        for i in 0..2500 {
            text.push_str(&format!("{i}\n"));
        }
        let (_, batches) = read(&text, true).unwrap();
        let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(sizes, [1024, 1024, 452]);
        let last = batches[2].column(0).as_primitive::<Int64Type>();
        assert_eq!(last.value(451), 2499);
    }

    #[test]
    fn without_a_header_columns_are_numbered_from_one_and_the_first_row_is_data() {
        let (schema, batches) = read("1,a\n2,b\n", false).unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["column_1", "column_2"]);
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    }

    #[test]
    fn empty_and_header_only_files_have_no_rows() {
        for header in [true, false] {
            let (schema, batches) = read("", header).unwrap();
            assert!(schema.fields().is_empty());
            assert!(batches.is_empty());
        }
        let (schema, batches) = read("a,b\n", true).unwrap();
        assert_eq!(schema.fields().len(), 2);
        assert!(batches.is_empty());
    }

    #[test]
    fn rows_of_the_wrong_length_name_the_line() {
        let error = read("a,b\n1,2\n3\n", true).unwrap_err().to_string();
        assert_eq!(
            error,
            "line 3 has 1 field but the header has 2 fields; every row needs one value per column"
        );
        let error = read("1,2\n3,4,5\n", false).unwrap_err().to_string();
        assert!(
            error.starts_with("line 2 has 3 fields but the first row has 2 fields"),
            "{error}"
        );
    }

    #[test]
    fn a_value_that_changed_between_the_passes_is_an_error() {
        let schema = Arc::new(infer_schema("a\n1\n".as_bytes(), true, b',').unwrap());
        let error = read_batches("a\nx\n".as_bytes(), &schema, true, b',')
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("line 2: \"x\" in column \"a\" is not of type Int64"),
            "{error}"
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let error = read_batches(
            &b"a\n\xff\n"[..],
            &Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)])),
            true,
            b',',
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("invalid utf-8"), "{error}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_name() {
        let schema = infer_schema("\u{feff}a,b\n1,2\n".as_bytes(), true, b',').unwrap();
        assert_eq!(schema.field(0).name(), "a");
    }

    #[test]
    fn gzip_is_read_through_the_decoder() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"a,b\n1,x\n").unwrap();
        let bytes = encoder.finish().unwrap();
        let open = || flate2::read::MultiGzDecoder::new(bytes.as_slice());
        let schema = Arc::new(infer_schema(open(), true, b',').unwrap());
        let batches = read_batches(open(), &schema, true, b',').unwrap();
        assert_eq!(batches[0].column(1).as_string::<i32>().value(0), "x");
    }
}
