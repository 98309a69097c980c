//! Choosing samples: by split, then a seeded subset. Results keep the original order, so
//! a subset of a subset stays predictable.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::config::{SelectionConfig, SubsetConfig};
use crate::dataset::Dataset;

/// Stream id that separates the subset's random draws from every other use of the seed.
const SUBSET_STREAM: u64 = 0x5355_4253_4554; // "SUBSET"

pub fn apply(dataset: Dataset, selection: &SelectionConfig, seed: u64) -> anyhow::Result<Dataset> {
    let mut rows: Vec<usize> = (0..dataset.len()).collect();
    if let Some(splits) = &selection.splits {
        let present: BTreeSet<&str> = dataset.samples.iter().map(|s| s.split.as_str()).collect();
        for split in splits {
            anyhow::ensure!(
                present.contains(split.as_str()),
                "[prepare] splits: no split `{split}` in the data; it has {}",
                present.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        rows.retain(|&r| splits.contains(&dataset.samples[r].split));
    }
    if let Some(subset) = &selection.subset {
        rows = subset_rows(&dataset, &rows, subset, seed)?;
    }
    if rows.len() == dataset.len() {
        return Ok(dataset);
    }
    Ok(dataset.select(&rows))
}

fn subset_rows(
    dataset: &Dataset,
    rows: &[usize],
    subset: &SubsetConfig,
    seed: u64,
) -> anyhow::Result<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(SUBSET_STREAM);
    let mut chosen = match (subset.total, subset.per_class) {
        (Some(total), _) => {
            anyhow::ensure!(
                total <= rows.len(),
                "[prepare] subset.total = {total} but only {} samples are selected",
                rows.len()
            );
            let mut shuffled = rows.to_vec();
            shuffled.shuffle(&mut rng);
            shuffled.truncate(total);
            shuffled
        }
        (None, Some(per_class)) => {
            let mut by_class: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
            for &r in rows {
                if let Some(label) = dataset.samples[r].label {
                    by_class.entry(label).or_default().push(r);
                }
            }
            anyhow::ensure!(
                !by_class.is_empty(),
                "[prepare] subset.per_class needs labels, and the selected samples have none"
            );
            // Classes in label order, each shuffled by the one stream: reproducible.
            let mut chosen = Vec::new();
            for (_, mut members) in by_class {
                members.shuffle(&mut rng);
                members.truncate(per_class);
                chosen.extend(members);
            }
            chosen
        }
        (None, None) => rows.to_vec(),
    };
    chosen.sort_unstable();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Inputs, SampleRecord};

    fn dataset(labels: &[i32], splits: &[&str]) -> Dataset {
        Dataset {
            inputs: Inputs::Features {
                data: (0..labels.len()).map(|i| i as f32).collect(),
                dim: 1,
            },
            samples: labels
                .iter()
                .zip(splits)
                .enumerate()
                .map(|(i, (&label, &split))| SampleRecord {
                    label: Some(label),
                    source: format!("t#{i}"),
                    split: split.into(),
                })
                .collect(),
            class_names: vec!["a".into(), "b".into(), "c".into()],
        }
    }

    fn features(d: &Dataset) -> Vec<f32> {
        match &d.inputs {
            Inputs::Features { data, .. } => data.clone(),
            Inputs::Images { .. } => unreachable!(),
        }
    }

    #[test]
    fn split_filter_keeps_order_and_rejects_unknown_splits() {
        let d = dataset(&[0, 1, 2, 0], &["train", "test", "train", "test"]);
        let selection = SelectionConfig {
            splits: Some(vec!["test".into()]),
            subset: None,
        };
        let kept = apply(d.clone(), &selection, 0).unwrap();
        assert_eq!(features(&kept), vec![1.0, 3.0]);
        let selection = SelectionConfig {
            splits: Some(vec!["val".into()]),
            subset: None,
        };
        let err = apply(d, &selection, 0).unwrap_err().to_string();
        assert!(
            err.contains("no split `val`") && err.contains("test, train"),
            "{err}"
        );
    }

    #[test]
    fn per_class_subset_is_balanced_sorted_and_seeded() {
        let labels: Vec<i32> = (0..300).map(|i| i % 3).collect();
        let d = dataset(&labels, &vec!["all"; 300]);
        let selection = SelectionConfig {
            splits: None,
            subset: Some(SubsetConfig {
                total: None,
                per_class: Some(10),
            }),
        };
        let a = apply(d.clone(), &selection, 7).unwrap();
        let b = apply(d.clone(), &selection, 7).unwrap();
        let c = apply(d, &selection, 8).unwrap();
        assert_eq!(a, b, "same seed, same subset");
        assert_ne!(features(&a), features(&c), "another seed, another subset");
        assert_eq!(a.len(), 30);
        for class in 0..3 {
            assert_eq!(
                a.samples.iter().filter(|s| s.label == Some(class)).count(),
                10
            );
        }
        let values = features(&a);
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "original order kept"
        );
    }

    #[test]
    fn total_subset_checks_its_size() {
        let d = dataset(&[0, 1, 2, 0, 1], &["all"; 5]);
        let selection = |total| SelectionConfig {
            splits: None,
            subset: Some(SubsetConfig {
                total: Some(total),
                per_class: None,
            }),
        };
        assert_eq!(apply(d.clone(), &selection(3), 1).unwrap().len(), 3);
        let err = apply(d, &selection(6), 1).unwrap_err().to_string();
        assert!(err.contains("subset.total = 6 but only 5 samples"), "{err}");
    }
}
