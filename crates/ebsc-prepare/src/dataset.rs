//! The in-memory result of reading a source: inputs plus one record per sample.
//! Every source produces a `Dataset`; selection (splits, subsets) and writing act on it.

/// The sample tensor, row-major, one row per sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// `[n, channels, height, width]`, 0–255.
    Images {
        data: Vec<u8>,
        channels: usize,
        height: usize,
        width: usize,
    },
    /// `[n, dim]`, finite values.
    Features { data: Vec<f32>, dim: usize },
}

impl Inputs {
    /// Number of scalars in one sample.
    pub fn row_len(&self) -> usize {
        match self {
            Inputs::Images {
                channels,
                height,
                width,
                ..
            } => channels * height * width,
            Inputs::Features { dim, .. } => *dim,
        }
    }

    pub fn n_rows(&self) -> usize {
        let row_len = self.row_len();
        if row_len == 0 {
            return 0;
        }
        match self {
            Inputs::Images { data, .. } => data.len() / row_len,
            Inputs::Features { data, .. } => data.len() / row_len,
        }
    }

    /// Keeps the rows in `rows` (ascending), in that order.
    pub fn select_rows(&self, rows: &[usize]) -> Inputs {
        let row_len = self.row_len();
        match self {
            Inputs::Images {
                data,
                channels,
                height,
                width,
            } => Inputs::Images {
                data: gather(data, rows, row_len),
                channels: *channels,
                height: *height,
                width: *width,
            },
            Inputs::Features { data, dim } => Inputs::Features {
                data: gather(data, rows, row_len),
                dim: *dim,
            },
        }
    }
}

fn gather<T: Copy>(data: &[T], rows: &[usize], row_len: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(rows.len() * row_len);
    for &row in rows {
        out.extend_from_slice(&data[row * row_len..(row + 1) * row_len]);
    }
    out
}

/// Where one sample came from and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRecord {
    /// Index into `Dataset::class_names`, or `None` when unknown.
    pub label: Option<i32>,
    /// Human-readable origin: `file#record` for packed formats, the file path for images.
    pub source: String,
    /// Split name (`train`, `test`, …) or `all` when the format has none.
    pub split: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub inputs: Inputs,
    pub samples: Vec<SampleRecord>,
    /// `class_names[label]` is the name of a label.
    pub class_names: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Keeps the samples at `rows` (ascending indices).
    pub fn select(&self, rows: &[usize]) -> Dataset {
        Dataset {
            inputs: self.inputs.select_rows(rows),
            samples: rows.iter().map(|&r| self.samples[r].clone()).collect(),
            class_names: self.class_names.clone(),
        }
    }

    pub fn label_name(&self, label: Option<i32>) -> Option<&str> {
        label.and_then(|l| self.class_names.get(l as usize).map(String::as_str))
    }
}
