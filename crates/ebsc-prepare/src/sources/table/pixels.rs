//! A table whose rows are gray images: each row's `height × width` columns, in row-major
//! order (as `X.reshape(N, -1)` and Kaggle's `pixel1 … pixel784` CSVs lay them out), read as
//! 8-bit pixels.

/// How a table's values map to 8-bit pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelScale {
    /// Whole numbers 0–255, taken as they are.
    Bytes,
    /// Every value in [0, 1], times 255 and rounded (`x / 255` as many loaders write it).
    Unit,
    /// Every value in [−1, 1], some below 0: (v + 1) × 127.5, rounded (`x / 127.5 − 1`, as
    /// torchvision's `Normalize((0.5,), (0.5,))` leaves images).
    Signed,
}

/// Values that are neither whole numbers 0–255 nor all in [0, 1] or in [−1, 1]: the first
/// one, by its position in the row-major values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NotPixels {
    pub position: usize,
    pub value: f32,
}

impl PixelScale {
    /// The scale `values` are written in: [`PixelScale::Unit`] when every value lies in
    /// [0, 1], [`PixelScale::Signed`] when every value lies in [−1, 1], else
    /// [`PixelScale::Bytes`] when every value is a whole number 0–255.
    pub fn of(values: &[f32]) -> Result<PixelScale, NotPixels> {
        if values.iter().all(|v| (0.0..=1.0).contains(v)) {
            return Ok(PixelScale::Unit);
        }
        if values.iter().all(|v| (-1.0..=1.0).contains(v)) {
            return Ok(PixelScale::Signed);
        }
        match values.iter().position(|&v| !is_byte(v)) {
            None => Ok(PixelScale::Bytes),
            Some(position) => Err(NotPixels {
                position,
                value: values[position],
            }),
        }
    }

    /// Like [`PixelScale::of`], but only for values that were bytes before they were
    /// written: whole numbers 0–255 of which some exceed 1, or values in [0, 1] that are each
    /// a whole number of 255ths. `None` for anything else (measurements that happen to lie
    /// in [0, 1] are not pixels).
    pub fn exact(values: &[f32]) -> Option<PixelScale> {
        match PixelScale::of(values).ok()? {
            PixelScale::Bytes => Some(PixelScale::Bytes),
            // Signed values in a table are more often measurements than pixels.
            PixelScale::Signed => None,
            PixelScale::Unit => values
                .iter()
                .all(|&v| {
                    let scaled = v * 255.0;
                    (scaled - scaled.round()).abs() < 1e-3
                })
                .then_some(PixelScale::Unit),
        }
    }

    fn byte(self, value: f32) -> u8 {
        match self {
            PixelScale::Bytes => value as u8,
            PixelScale::Unit => (value * 255.0).round() as u8,
            PixelScale::Signed => ((value + 1.0) * 127.5).round() as u8,
        }
    }
}

fn is_byte(value: f32) -> bool {
    (0.0..=255.0).contains(&value) && value.fract() == 0.0
}

/// Row-major `values` as 8-bit pixels, in the scale [`PixelScale::of`] reads them in.
pub fn gray_pixels(values: &[f32]) -> Result<Vec<u8>, NotPixels> {
    let scale = PixelScale::of(values)?;
    Ok(values.iter().map(|&v| scale.byte(v)).collect())
}

/// The side of the square gray images a row of `dim` columns holds when `dim` is a square
/// of at least `min_side` (784 = 28 × 28), else `None`.
pub fn square_side(dim: usize, min_side: usize) -> Option<usize> {
    let side = (dim as f64).sqrt().round() as usize;
    (side >= min_side && side * side == dim).then_some(side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_taken_as_they_are() {
        assert_eq!(PixelScale::of(&[0.0, 3.0, 255.0]), Ok(PixelScale::Bytes));
        assert_eq!(gray_pixels(&[0.0, 3.0, 255.0]), Ok(vec![0, 3, 255]));
    }

    #[test]
    fn unit_values_are_scaled_by_255() {
        assert_eq!(PixelScale::of(&[0.0, 0.5, 1.0]), Ok(PixelScale::Unit));
        assert_eq!(
            gray_pixels(&[0.0, 0.5, 1.0, 0.2]),
            Ok(vec![0, 128, 255, 51])
        );
        // All 0s and 1s (binary images) are in [0, 1]: black and white.
        assert_eq!(gray_pixels(&[0.0, 1.0]), Ok(vec![0, 255]));
    }

    #[test]
    fn other_values_are_named_by_position() {
        assert_eq!(
            gray_pixels(&[0.0, 2.0, 300.0, -1.0]),
            Err(NotPixels {
                position: 2,
                value: 300.0
            })
        );
        assert_eq!(
            gray_pixels(&[0.0, 2.0, 2.5]),
            Err(NotPixels {
                position: 2,
                value: 2.5
            })
        );
        assert_eq!(
            gray_pixels(&[-1.5, 0.5]),
            Err(NotPixels {
                position: 0,
                value: -1.5
            })
        );
    }

    #[test]
    fn signed_values_are_shifted_and_scaled_but_not_taken_for_a_tables_pixels() {
        // x / 127.5 − 1 of bytes 0, 51, 128, 255.
        let signed = [-1.0, -0.6, 0.003_921_6, 1.0];
        assert_eq!(PixelScale::of(&signed), Ok(PixelScale::Signed));
        assert_eq!(gray_pixels(&signed), Ok(vec![0, 51, 128, 255]));
        assert_eq!(PixelScale::exact(&signed), None);
    }

    #[test]
    fn exact_scales_are_bytes_or_255ths() {
        assert_eq!(
            PixelScale::exact(&[0.0, 17.0, 255.0]),
            Some(PixelScale::Bytes)
        );
        let thirds: Vec<f32> = [0u8, 85, 170, 255]
            .iter()
            .map(|&b| b as f32 / 255.0)
            .collect();
        assert_eq!(PixelScale::exact(&thirds), Some(PixelScale::Unit));
        // Measurements in [0, 1] are not pixels.
        assert_eq!(PixelScale::exact(&[0.0, 0.123, 0.9]), None);
        assert_eq!(PixelScale::exact(&[0.0, 2.5]), None);
    }

    #[test]
    fn square_sides() {
        assert_eq!(square_side(784, 16), Some(28));
        assert_eq!(square_side(1024, 16), Some(32));
        assert_eq!(square_side(256, 16), Some(16));
        // 8 × 8 is under the least side; 785 and 10,304 (112 × 92) are not squares.
        assert_eq!(square_side(64, 16), None);
        assert_eq!(square_side(785, 16), None);
        assert_eq!(square_side(10_304, 16), None);
    }
}
