//! Conversions of Arrow arrays to the three types the table reader consumes: text (labels,
//! ids, numbers stored as text), `i64` (integer labels) and `f32` (features).
//!
//! A stand-in for arrow-cast's `cast`, whose full matrix of types costs over a minute of
//! compile time for these few conversions. Nulls stay nulls; dictionaries convert their
//! values and are expanded. Where arrow-cast (with its default, "safe" options) would turn a
//! value that does not fit into a null, these return an error instead: a label or a feature
//! that silently went missing would be harder to trace than the error.

use std::fmt::Display;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, DecimalType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, Float32Array, Int64Array, PrimitiveArray, StringArray};
use arrow_schema::{ArrowError, DataType};

/// The array as UTF-8 text (`Utf8`): text of any kind, integers in decimal, booleans as
/// `true`/`false`. Floats are an error: no caller needs them as text (float labels and ids
/// are refused before), and their spelling would be one more thing to keep like arrow-cast's.
pub(super) fn to_utf8(array: &dyn Array) -> Result<StringArray, ArrowError> {
    use DataType as T;
    Ok(match array.data_type() {
        T::Utf8 => array.as_string::<i32>().clone(),
        T::LargeUtf8 => {
            let text = array.as_string::<i64>();
            let offsets = text.value_offsets();
            check_utf8_size(offsets[text.len()] - offsets[0])?;
            text.iter().collect()
        }
        T::Utf8View => {
            let text = array.as_string_view();
            check_utf8_size(text.iter().flatten().map(|v| v.len() as i64).sum())?;
            text.iter().collect()
        }
        T::Int8 => display::<Int8Type>(array),
        T::Int16 => display::<Int16Type>(array),
        T::Int32 => display::<Int32Type>(array),
        T::Int64 => display::<Int64Type>(array),
        T::UInt8 => display::<UInt8Type>(array),
        T::UInt16 => display::<UInt16Type>(array),
        T::UInt32 => display::<UInt32Type>(array),
        T::UInt64 => display::<UInt64Type>(array),
        T::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map(|v| if v { "true" } else { "false" }))
            .collect(),
        T::Null => StringArray::new_null(array.len()),
        T::Dictionary(_, _) => {
            let values = to_utf8(array.as_any_dictionary().values().as_ref())?;
            dictionary_keys(array)
                .into_iter()
                .map(|key| key.filter(|&k| values.is_valid(k)).map(|k| values.value(k)))
                .collect()
        }
        other => return Err(unsupported(other, "Utf8")),
    })
}

/// The array as `i64`: integers (an error for a `u64` above `i64::MAX`), floats truncated
/// toward zero like arrow-cast (an error for NaN, infinities and values out of range),
/// booleans as 0 and 1.
pub(super) fn to_i64(array: &dyn Array) -> Result<Int64Array, ArrowError> {
    use DataType as T;
    Ok(match array.data_type() {
        T::Int8 => widen::<Int8Type>(array),
        T::Int16 => widen::<Int16Type>(array),
        T::Int32 => widen::<Int32Type>(array),
        T::Int64 => array.as_primitive::<Int64Type>().clone(),
        T::UInt8 => widen::<UInt8Type>(array),
        T::UInt16 => widen::<UInt16Type>(array),
        T::UInt32 => widen::<UInt32Type>(array),
        T::UInt64 => array
            .as_primitive::<UInt64Type>()
            .try_unary(|v| i64::try_from(v).map_err(|_| does_not_fit(v, "Int64")))?,
        T::Float16 => array
            .as_primitive::<Float16Type>()
            .try_unary(|v| float_to_i64(v.to_f64()))?,
        T::Float32 => array
            .as_primitive::<Float32Type>()
            .try_unary(|v| float_to_i64(f64::from(v)))?,
        T::Float64 => array
            .as_primitive::<Float64Type>()
            .try_unary(float_to_i64)?,
        T::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        T::Null => Int64Array::new_null(array.len()),
        T::Dictionary(_, _) => {
            let values = to_i64(array.as_any_dictionary().values().as_ref())?;
            take(&values, &dictionary_keys(array))
        }
        other => return Err(unsupported(other, "Int64")),
    })
}

/// The array as `f32`, each value rounded once to the nearest `f32` (an `f64` beyond the
/// range of `f32` becomes an infinity, as with arrow-cast, so the caller can report it).
/// Text is trimmed and parsed as `f64` first, as the CSV reader parses numbers, so a
/// number reads the same whether it was stored as text or not; text that is not a number
/// is an error. Booleans are 0 and 1.
pub(super) fn to_f32(array: &dyn Array) -> Result<Float32Array, ArrowError> {
    use DataType as T;
    Ok(match array.data_type() {
        T::Int8 => array.as_primitive::<Int8Type>().unary(f32::from),
        T::Int16 => array.as_primitive::<Int16Type>().unary(f32::from),
        T::Int32 => array.as_primitive::<Int32Type>().unary(|v| v as f32),
        T::Int64 => array.as_primitive::<Int64Type>().unary(|v| v as f32),
        T::UInt8 => array.as_primitive::<UInt8Type>().unary(f32::from),
        T::UInt16 => array.as_primitive::<UInt16Type>().unary(f32::from),
        T::UInt32 => array.as_primitive::<UInt32Type>().unary(|v| v as f32),
        T::UInt64 => array.as_primitive::<UInt64Type>().unary(|v| v as f32),
        T::Float16 => array.as_primitive::<Float16Type>().unary(|v| v.to_f32()),
        T::Float32 => array.as_primitive::<Float32Type>().clone(),
        T::Float64 => array.as_primitive::<Float64Type>().unary(|v| v as f32),
        T::Decimal32(_, scale) => decimal_to_f32::<Decimal32Type>(array, *scale)?,
        T::Decimal64(_, scale) => decimal_to_f32::<Decimal64Type>(array, *scale)?,
        T::Decimal128(_, scale) => decimal_to_f32::<Decimal128Type>(array, *scale)?,
        T::Decimal256(_, scale) => decimal_to_f32::<Decimal256Type>(array, *scale)?,
        T::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map(|v| if v { 1.0 } else { 0.0 }))
            .collect(),
        T::Utf8 | T::LargeUtf8 | T::Utf8View => {
            let text = to_utf8(array)?;
            let mut values = Vec::with_capacity(text.len());
            for value in text.iter() {
                values.push(match value {
                    None => None,
                    Some(v) => Some(
                        v.trim()
                            .parse::<f64>()
                            .map_err(|_| ArrowError::CastError(format!("{v:?} is not a number")))?
                            as f32,
                    ),
                });
            }
            Float32Array::from(values)
        }
        T::Null => Float32Array::new_null(array.len()),
        T::Dictionary(_, _) => {
            let values = to_f32(array.as_any_dictionary().values().as_ref())?;
            take(&values, &dictionary_keys(array))
        }
        other => return Err(unsupported(other, "Float32")),
    })
}

fn unsupported(from: &DataType, to: &str) -> ArrowError {
    ArrowError::CastError(format!("cannot convert {from} to {to}"))
}

fn does_not_fit(value: impl Display, to: &str) -> ArrowError {
    ArrowError::CastError(format!("value {value} does not fit {to}"))
}

/// `Utf8` arrays address their bytes with `i32` offsets.
fn check_utf8_size(bytes: i64) -> Result<(), ArrowError> {
    if bytes > i64::from(i32::MAX) {
        return Err(ArrowError::CastError(format!(
            "{bytes} bytes of text do not fit one Utf8 array"
        )));
    }
    Ok(())
}

fn display<T: ArrowPrimitiveType>(array: &dyn Array) -> StringArray
where
    T::Native: Display,
{
    array
        .as_primitive::<T>()
        .iter()
        .map(|v| v.map(|v| v.to_string()))
        .collect()
}

fn widen<T: ArrowPrimitiveType>(array: &dyn Array) -> Int64Array
where
    T::Native: Into<i64>,
{
    array.as_primitive::<T>().unary(Into::into)
}

fn float_to_i64(value: f64) -> Result<i64, ArrowError> {
    // 2^63 is exact in f64; `as` would saturate instead of failing.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let truncated = value.trunc();
    if (-LIMIT..LIMIT).contains(&truncated) {
        Ok(truncated as i64)
    } else {
        Err(does_not_fit(value, "Int64"))
    }
}

/// Decimal text parsed as `f32` rounds once, where scaling the unscaled integer in floating
/// point could round twice.
fn decimal_to_f32<D: DecimalType>(
    array: &dyn Array,
    scale: i8,
) -> Result<Float32Array, ArrowError> {
    array.as_primitive::<D>().try_unary(|v| {
        let text = D::format_decimal(v, u8::MAX, scale);
        text.parse::<f32>()
            .map_err(|_| ArrowError::CastError(format!("decimal {text} is not a number")))
    })
}

/// Each row's index into the dictionary's values, `None` where the key is null.
fn dictionary_keys(array: &dyn Array) -> Vec<Option<usize>> {
    let dictionary = array.as_any_dictionary();
    let keys = dictionary.keys();
    // `normalized_keys` panics on empty values; then every key is null.
    if dictionary.values().is_empty() {
        return vec![None; keys.len()];
    }
    dictionary
        .normalized_keys()
        .into_iter()
        .enumerate()
        .map(|(row, key)| keys.is_valid(row).then_some(key))
        .collect()
}

fn take<T: ArrowPrimitiveType>(
    values: &PrimitiveArray<T>,
    keys: &[Option<usize>],
) -> PrimitiveArray<T> {
    keys.iter()
        .map(|key| key.filter(|&k| values.is_valid(k)).map(|k| values.value(k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int8Type;
    use arrow_array::{
        ArrayRef, BooleanArray, Decimal64Array, Decimal128Array, DictionaryArray, Float16Array,
        Float64Array, Int32Array, LargeStringArray, NullArray, StringViewArray, UInt8Array,
        UInt64Array,
    };

    use super::*;

    fn text(array: &dyn Array) -> Vec<Option<String>> {
        to_utf8(array)
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    fn owned(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_string)).collect()
    }

    fn floats(array: &dyn Array) -> Vec<Option<f32>> {
        to_f32(array).unwrap().iter().collect()
    }

    fn integers(array: &dyn Array) -> Vec<Option<i64>> {
        to_i64(array).unwrap().iter().collect()
    }

    #[test]
    fn text_of_every_kind_and_integers_become_utf8_keeping_nulls() {
        let expected = owned(&[Some("a"), None, Some("")]);
        let values = vec![Some("a"), None, Some("")];
        assert_eq!(text(&StringArray::from(values.clone())), expected);
        assert_eq!(text(&LargeStringArray::from(values.clone())), expected);
        assert_eq!(text(&StringViewArray::from(values)), expected);
        assert_eq!(
            text(&Int32Array::from(vec![Some(-7), None, Some(70)])),
            owned(&[Some("-7"), None, Some("70")])
        );
        assert_eq!(
            text(&UInt64Array::from(vec![u64::MAX])),
            owned(&[Some("18446744073709551615")])
        );
        assert_eq!(
            text(&BooleanArray::from(vec![Some(true), None, Some(false)])),
            owned(&[Some("true"), None, Some("false")])
        );
        assert_eq!(text(&NullArray::new(2)), owned(&[None, None]));
    }

    #[test]
    fn dictionaries_expand_and_null_keys_stay_null() {
        let dictionary: DictionaryArray<Int8Type> =
            vec![Some("dog"), None, Some("cat"), Some("dog")]
                .into_iter()
                .collect();
        assert_eq!(
            text(&dictionary),
            owned(&[Some("dog"), None, Some("cat"), Some("dog")])
        );
        let keys = arrow_array::Int8Array::from(vec![Some(1), Some(0), None]);
        let numbers = DictionaryArray::new(keys, Arc::new(Int32Array::from(vec![5, -3])));
        assert_eq!(integers(&numbers), vec![Some(-3), Some(5), None]);
        assert_eq!(floats(&numbers), vec![Some(-3.0), Some(5.0), None]);
        // A null among the dictionary's values is a null where a key points at it.
        let keys = arrow_array::Int8Array::from(vec![0, 1]);
        let values: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None]));
        let with_null = DictionaryArray::new(keys, values);
        assert_eq!(integers(&with_null), vec![Some(1), None]);
    }

    #[test]
    fn integers_to_i64_and_overflow_is_an_error() {
        assert_eq!(
            integers(&UInt8Array::from(vec![Some(255), None])),
            vec![Some(255), None]
        );
        assert_eq!(
            integers(&UInt64Array::from(vec![Some(1), None])),
            vec![Some(1), None]
        );
        let error = to_i64(&UInt64Array::from(vec![u64::MAX])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("18446744073709551615 does not fit Int64"),
            "{error}"
        );
        // A null slot holding an out-of-range value is not looked at.
        let masked = UInt64Array::new(vec![u64::MAX].into(), Some(vec![false].into()));
        assert_eq!(integers(&masked), vec![None]);
    }

    #[test]
    fn floats_to_i64_truncate_toward_zero() {
        assert_eq!(
            integers(&Float64Array::from(vec![Some(2.7), Some(-2.7), None])),
            vec![Some(2), Some(-2), None]
        );
        for bad in [f64::NAN, f64::INFINITY, 1e19, -1e19] {
            assert!(to_i64(&Float64Array::from(vec![bad])).is_err(), "{bad}");
        }
        assert_eq!(
            integers(&Float64Array::from(vec![-9_223_372_036_854_775_808.0])),
            vec![Some(i64::MIN)]
        );
    }

    #[test]
    fn numbers_to_f32_round_once_and_overflow_to_infinity() {
        assert_eq!(
            floats(&Int32Array::from(vec![Some(3), None, Some(-16_777_217)])),
            vec![Some(3.0), None, Some(-16_777_216.0)]
        );
        assert_eq!(
            floats(&Float64Array::from(vec![0.1, 1e300, f64::NAN]))[..2],
            [Some(0.1), Some(f32::INFINITY)]
        );
        assert!(
            floats(&Float64Array::from(vec![f64::NAN]))[0]
                .unwrap()
                .is_nan()
        );
        type F16 = <Float16Type as ArrowPrimitiveType>::Native;
        let halves = Float16Array::from(vec![F16::from_f32(1.5)]);
        assert_eq!(floats(&halves), vec![Some(1.5)]);
        assert_eq!(
            floats(&BooleanArray::from(vec![Some(true), None, Some(false)])),
            vec![Some(1.0), None, Some(0.0)]
        );
        assert_eq!(floats(&NullArray::new(1)), vec![None]);
    }

    #[test]
    fn decimals_to_f32_use_their_scale() {
        let decimals = Decimal128Array::from(vec![Some(12_345), None, Some(-5)])
            .with_precision_and_scale(10, 2)
            .unwrap();
        assert_eq!(floats(&decimals), vec![Some(123.45), None, Some(-0.05)]);
        let narrow = Decimal64Array::from(vec![3])
            .with_precision_and_scale(18, 1)
            .unwrap();
        assert_eq!(floats(&narrow), vec![Some(0.3)]);
        // 2^24 + 1 is not an f32; at scale 0 it rounds to the nearest one, like an integer.
        let large = Decimal64Array::from(vec![16_777_217])
            .with_precision_and_scale(18, 0)
            .unwrap();
        assert_eq!(floats(&large), vec![Some(16_777_216.0)]);
    }

    #[test]
    fn text_to_f32_parses_trimmed_f64_and_refuses_words() {
        let values = StringArray::from(vec![Some(" 1.5 "), None, Some("NaN"), Some("1e300")]);
        let parsed = floats(&values);
        assert_eq!(parsed[..2], [Some(1.5), None]);
        assert!(parsed[2].unwrap().is_nan());
        assert_eq!(parsed[3], Some(f32::INFINITY));
        let error = to_f32(&StringArray::from(vec!["1", "bob"])).unwrap_err();
        assert!(
            error.to_string().contains("\"bob\" is not a number"),
            "{error}"
        );
    }

    #[test]
    fn unsupported_types_are_errors_naming_both_types() {
        let error = to_utf8(&Float64Array::from(vec![1.0])).unwrap_err();
        assert!(
            error.to_string().contains("cannot convert Float64 to Utf8"),
            "{error}"
        );
        let error = to_i64(&StringArray::from(vec!["1"])).unwrap_err();
        assert!(
            error.to_string().contains("cannot convert Utf8 to Int64"),
            "{error}"
        );
    }
}
