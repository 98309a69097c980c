//! A synthetic union of random linear subspaces, the standard subspace-clustering fixture
//! (e.g. Elhamifar & Vidal, "Sparse Subspace Clustering", TPAMI 2013, §6.1).
//!
//! Each subspace has a random orthonormal basis `U` (`ambient_dim × subspace_dim`); each point
//! is `normalize(U a) + noise · ε` with `a ~ N(0, I)` and `ε ~ N(0, I / ambient_dim)`, so
//! `noise` is the expected norm of the noise next to unit-norm points. Outliers are uniform
//! random unit vectors with no label, appended after the inliers.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::dataset::{Dataset, Inputs, SampleRecord};

/// Sizes, noise and seed of a union of random subspaces.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of subspaces (classes).
    pub n_subspaces: usize,
    /// Dimension of each subspace.
    pub subspace_dim: usize,
    /// Dimension of the space the points live in.
    pub ambient_dim: usize,
    /// Points drawn from each subspace.
    pub points_per_subspace: usize,
    /// Expected norm of the Gaussian noise added to each unit-norm point (0 = exact).
    pub noise: f32,
    /// Outliers as a fraction of the inliers, in [0, 1); default 0.
    pub outlier_fraction: Option<f32>,
    /// Seed of the ChaCha8 generator; the same seed gives the same data.
    pub seed: u64,
}

/// Norms below this are treated as zero (a degenerate draw, redrawn).
const TINY_NORM: f64 = 1e-9;

/// Generates the points; see [`SyntheticConfig`].
pub fn read(config: &SyntheticConfig) -> anyhow::Result<Dataset> {
    let n_outliers = validate(config)?;
    let dim = config.ambient_dim;
    let n_inliers = config.n_subspaces * config.points_per_subspace;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut data = Vec::with_capacity((n_inliers + n_outliers) * dim);
    let mut samples = Vec::with_capacity(n_inliers + n_outliers);
    let noise_scale = f64::from(config.noise) / (dim as f64).sqrt();

    for subspace in 0..config.n_subspaces {
        let basis = orthonormal_basis(&mut rng, dim, config.subspace_dim);
        for _ in 0..config.points_per_subspace {
            let mut point = point_in_span(&mut rng, &basis, dim);
            for value in &mut point {
                *value += noise_scale * rng.sample::<f64, _>(StandardNormal);
            }
            data.extend(point.iter().map(|&v| v as f32));
            samples.push(SampleRecord {
                label: Some(subspace as i32),
                source: format!("synthetic#{}", samples.len()),
                split: "all".to_string(),
            });
        }
    }
    for _ in 0..n_outliers {
        let point = random_unit_vector(&mut rng, dim);
        data.extend(point.iter().map(|&v| v as f32));
        samples.push(SampleRecord {
            label: None,
            source: format!("synthetic#{}", samples.len()),
            split: "all".to_string(),
        });
    }
    Ok(Dataset {
        inputs: Inputs::Features { data, dim },
        samples,
        class_names: (0..config.n_subspaces)
            .map(|k| format!("subspace-{k}"))
            .collect(),
    })
}

/// Checks every key; returns the number of outliers.
fn validate(config: &SyntheticConfig) -> anyhow::Result<usize> {
    for (key, value) in [
        ("n_subspaces", config.n_subspaces),
        ("subspace_dim", config.subspace_dim),
        ("ambient_dim", config.ambient_dim),
        ("points_per_subspace", config.points_per_subspace),
    ] {
        anyhow::ensure!(value > 0, "synthetic: {key} = 0; expected a positive count");
    }
    anyhow::ensure!(
        config.subspace_dim <= config.ambient_dim,
        "synthetic: subspace_dim = {} is larger than ambient_dim = {}; expected subspace_dim ≤ ambient_dim",
        config.subspace_dim,
        config.ambient_dim
    );
    anyhow::ensure!(
        config.n_subspaces <= i32::MAX as usize,
        "synthetic: n_subspaces = {}; expected at most {}",
        config.n_subspaces,
        i32::MAX
    );
    anyhow::ensure!(
        config.noise.is_finite() && config.noise >= 0.0,
        "synthetic: noise = {}; expected a finite number ≥ 0",
        config.noise
    );
    let fraction = config.outlier_fraction.unwrap_or(0.0);
    anyhow::ensure!(
        (0.0..1.0).contains(&fraction),
        "synthetic: outlier_fraction = {fraction}; expected 0 ≤ outlier_fraction < 1"
    );
    let n_inliers = config
        .n_subspaces
        .checked_mul(config.points_per_subspace)
        .ok_or_else(|| anyhow::anyhow!("synthetic: n_subspaces × points_per_subspace overflows"))?;
    let n_outliers = (f64::from(fraction) * n_inliers as f64).round() as usize;
    n_inliers
        .checked_add(n_outliers)
        .and_then(|n| n.checked_mul(config.ambient_dim))
        .and_then(|n| n.checked_mul(std::mem::size_of::<f32>()))
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "synthetic: (points + outliers) × ambient_dim is too large to hold in memory"
            )
        })?;
    Ok(n_outliers)
}

/// `n_columns` orthonormal columns of length `dim`, each stored as a `Vec`: Gaussian draws
/// orthonormalised by modified Gram–Schmidt.
fn orthonormal_basis(rng: &mut ChaCha8Rng, dim: usize, n_columns: usize) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(n_columns);
    while basis.len() < n_columns {
        let mut column = gaussian_vector(rng, dim);
        for previous in &basis {
            let projection = dot(&column, previous);
            for (value, p) in column.iter_mut().zip(previous) {
                *value -= projection * p;
            }
        }
        let norm = dot(&column, &column).sqrt();
        if norm > TINY_NORM {
            column.iter_mut().for_each(|v| *v /= norm);
            basis.push(column);
        }
    }
    basis
}

/// `normalize(U a)` with `a ~ N(0, I)`.
fn point_in_span(rng: &mut ChaCha8Rng, basis: &[Vec<f64>], dim: usize) -> Vec<f64> {
    loop {
        let mut point = vec![0.0; dim];
        for column in basis {
            let coefficient: f64 = rng.sample(StandardNormal);
            for (value, c) in point.iter_mut().zip(column) {
                *value += coefficient * c;
            }
        }
        if let Some(unit) = normalized(point) {
            return unit;
        }
    }
}

/// Uniform on the unit sphere: a normalised Gaussian vector.
fn random_unit_vector(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f64> {
    loop {
        if let Some(unit) = normalized(gaussian_vector(rng, dim)) {
            return unit;
        }
    }
}

fn gaussian_vector(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f64> {
    (0..dim).map(|_| rng.sample(StandardNormal)).collect()
}

fn normalized(mut vector: Vec<f64>) -> Option<Vec<f64>> {
    let norm = dot(&vector, &vector).sqrt();
    if norm <= TINY_NORM {
        return None;
    }
    vector.iter_mut().for_each(|v| *v /= norm);
    Some(vector)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SyntheticConfig {
        SyntheticConfig {
            n_subspaces: 3,
            subspace_dim: 2,
            ambient_dim: 6,
            points_per_subspace: 10,
            noise: 0.0,
            outlier_fraction: None,
            seed: 7,
        }
    }

    fn features(dataset: &Dataset) -> (&[f32], usize) {
        match &dataset.inputs {
            Inputs::Features { data, dim } => (data, *dim),
            Inputs::Images { .. } => panic!("expected features"),
        }
    }

    #[test]
    fn shapes_labels_and_names() {
        let dataset = read(&SyntheticConfig {
            outlier_fraction: Some(0.25),
            ..config()
        })
        .unwrap();
        // 30 inliers + round(0.25 · 30) = 8 outliers (7.5 rounds away from zero).
        assert_eq!(dataset.len(), 38);
        let (data, dim) = features(&dataset);
        assert_eq!((data.len(), dim), (38 * 6, 6));
        assert_eq!(
            dataset.class_names,
            vec!["subspace-0", "subspace-1", "subspace-2"]
        );
        assert_eq!(dataset.samples[0].label, Some(0));
        assert_eq!(dataset.samples[29].label, Some(2));
        assert!(dataset.samples[30..].iter().all(|s| s.label.is_none()));
        assert_eq!(dataset.samples[37].source, "synthetic#37");
        assert!(dataset.samples.iter().all(|s| s.split == "all"));
    }

    #[test]
    fn deterministic_per_seed() {
        let a = read(&config()).unwrap();
        let b = read(&config()).unwrap();
        assert_eq!(a, b);
        let c = read(&SyntheticConfig {
            seed: 8,
            ..config()
        })
        .unwrap();
        assert_ne!(features(&a).0, features(&c).0);
    }

    #[test]
    fn noiseless_points_have_unit_norm_and_lie_in_their_subspace() {
        let dataset = read(&SyntheticConfig {
            outlier_fraction: Some(0.1),
            ..config()
        })
        .unwrap();
        let (data, dim) = features(&dataset);
        let points: Vec<Vec<f64>> = data
            .chunks_exact(dim)
            .map(|p| p.iter().map(|&v| f64::from(v)).collect())
            .collect();
        for point in &points {
            assert!((dot(point, point).sqrt() - 1.0).abs() < 1e-6);
        }
        // Points 0 and 1 of each subspace span it (2-D); every other point of that subspace
        // must have a zero residual after projecting onto their span.
        for subspace in 0..3 {
            let members = &points[subspace * 10..(subspace + 1) * 10];
            let span = orthonormalize(&members[..2]);
            for point in &members[2..] {
                assert!(residual_norm(point, &span) < 1e-5, "subspace {subspace}");
            }
            // A point of another subspace is far from this span (generic position).
            let other = &points[((subspace + 1) % 3) * 10];
            assert!(residual_norm(other, &span) > 1e-2);
        }
    }

    #[test]
    fn noise_has_the_requested_expected_norm() {
        let noisy_config = SyntheticConfig {
            ambient_dim: 50,
            subspace_dim: 3,
            points_per_subspace: 200,
            noise: 0.3,
            ..config()
        };
        let noisy = read(&noisy_config).unwrap();
        // Unit-norm x and independent ε with E|ε|² = noise² = 0.09 give E|x + ε|² = 1.09;
        // over 600 points the mean is within ~0.005 of that.
        let (data, dim) = features(&noisy);
        let mean_sq: f64 = data
            .chunks_exact(dim)
            .map(|p| p.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>())
            .sum::<f64>()
            / noisy.len() as f64;
        assert!((mean_sq - 1.09).abs() < 0.02, "{mean_sq}");
    }

    #[test]
    fn invalid_keys_are_named() {
        let cases = [
            (
                SyntheticConfig {
                    subspace_dim: 7,
                    ..config()
                },
                "subspace_dim = 7",
            ),
            (
                SyntheticConfig {
                    n_subspaces: 0,
                    ..config()
                },
                "n_subspaces = 0",
            ),
            (
                SyntheticConfig {
                    points_per_subspace: 0,
                    ..config()
                },
                "points_per_subspace = 0",
            ),
            (
                SyntheticConfig {
                    noise: -0.1,
                    ..config()
                },
                "noise = -0.1",
            ),
            (
                SyntheticConfig {
                    noise: f32::NAN,
                    ..config()
                },
                "noise = NaN",
            ),
            (
                SyntheticConfig {
                    outlier_fraction: Some(1.0),
                    ..config()
                },
                "outlier_fraction = 1",
            ),
            (
                SyntheticConfig {
                    ambient_dim: usize::MAX,
                    subspace_dim: 1,
                    ..config()
                },
                "too large",
            ),
        ];
        for (bad, expected) in cases {
            let error = read(&bad).unwrap_err().to_string();
            assert!(error.starts_with("synthetic: "), "{error}");
            assert!(
                error.contains(expected),
                "{error} should contain {expected}"
            );
        }
    }

    #[test]
    fn parses_from_toml() {
        let text = "n_subspaces = 2\nsubspace_dim = 1\nambient_dim = 3\npoints_per_subspace = 4\nnoise = 0.0\nseed = 1\n";
        let parsed: SyntheticConfig = toml::from_str(text).unwrap();
        assert_eq!(read(&parsed).unwrap().len(), 8);
        assert!(toml::from_str::<SyntheticConfig>(&format!("{text}colour = 1\n")).is_err());
    }

    /// Gram–Schmidt on a few vectors, for the tests' own projection.
    fn orthonormalize(vectors: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = Vec::new();
        for vector in vectors {
            let mut v = vector.clone();
            for q in &out {
                let p = dot(&v, q);
                v.iter_mut().zip(q).for_each(|(a, b)| *a -= p * b);
            }
            out.push(normalized(v).unwrap());
        }
        out
    }

    fn residual_norm(point: &[f64], span: &[Vec<f64>]) -> f64 {
        let mut residual = point.to_vec();
        for q in span {
            let p = dot(&residual, q);
            residual.iter_mut().zip(q).for_each(|(a, b)| *a -= p * b);
        }
        dot(&residual, &residual).sqrt()
    }
}
