//! Reading and writing the pipeline's artifacts (docs/artifacts.md); [`artifacts`] is the
//! catalogue of every stage output. Writers take any `Write`, so stages pass an atomic temp
//! file; readers check the schema and say which column of which file is off.

pub mod artifacts;
pub mod assigned;
pub mod assignments;
pub mod labels;
pub mod metrics_log;
pub mod samples;
pub mod tensors;
pub mod triplets;

pub use metrics_log::{MetricKind, MetricValue, MetricsLog};
pub use samples::{SampleRow, read_samples, write_samples};
pub use tensors::{TensorData, TensorFile, write_tensors};
pub use triplets::{Triplets, read_triplets, write_triplets};
