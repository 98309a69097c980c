//! What a trained pipeline gives the assignment, read through the artifact catalogue:
//! train's encoder and energy (`model.safetensors`), its dictionary (`features.safetensors`,
//! the landmarks), cluster's `assignments.parquet` (the landmarks' clusters), and of the
//! config `[train] dictionary` and the affinity stage's `top_k` (as fitted, when the
//! affinity manifest records a fitted one), `residual` and `refine`.

use std::path::Path;

use anyhow::Context;
use ebsc_affinity::config::{AffinityConfig, Refine};
use ebsc_affinity::solve::ElasticNet;
use ebsc_core::Pipeline;
use ebsc_core::hash::{KeyHasher, sha256_file};
use ebsc_core::manifest::{MANIFEST_FILE, Manifest};
use ebsc_io::artifacts::{affinity, cluster, train};
use ebsc_io::assignments::read_assignment_rows;
use ebsc_nn::dictionary::DictionarySource;
use ebsc_nn::encoders::Model;
use ebsc_nn::ridge::RidgeFactor;
use ebsc_nn::trained::{EnergyModel, load_dictionary, load_encoder};
use serde::Deserialize;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// The keys of `[train]` the assignment reads (the rest of the section is train's).
#[derive(Deserialize)]
struct TrainKeys {
    dictionary: DictionarySource,
}

/// Train, affinity and cluster of one chain: the key each stage's manifest records for its
/// upstream is that upstream's own key, so the clusters belong to this dictionary. Links
/// whose manifests are missing are not checked (the files' own checks remain).
fn check_chain(dir: &Path, pipeline: &str) -> anyhow::Result<()> {
    let read = |stage: &str| -> anyhow::Result<Option<Manifest>> {
        let path = dir.join(stage).join(MANIFEST_FILE);
        path.exists().then(|| Manifest::read(&path)).transpose()
    };
    let (train_m, affinity_m, cluster_m) = (
        read(train::STAGE)?,
        read(affinity::STAGE)?,
        read(cluster::STAGE)?,
    );
    for (up, down, up_stage, down_stage) in [
        (&train_m, &affinity_m, train::STAGE, affinity::STAGE),
        (&affinity_m, &cluster_m, affinity::STAGE, cluster::STAGE),
    ] {
        if let (Some(up), Some(down)) = (up, down)
            && down.upstream.get(up_stage) != Some(&up.key)
        {
            anyhow::bail!(
                "{}: ran on another {up_stage} run than the one in {}; run the pipeline again (`just run {pipeline}`)",
                dir.join(down_stage).display(),
                dir.join(up_stage).display()
            );
        }
    }
    Ok(())
}

pub struct Trained {
    pub encoder: Model,
    _encoder_vars: VarStore,
    pub energy: EnergyModel,
    pub source: DictionarySource,
    /// `v'` of every landmark, `[L, m (+ D)]`, on the device.
    pub landmark_keys: Tensor,
    /// Each landmark's cluster.
    pub clusters: Vec<u32>,
    pub n_clusters: usize,
    pub top_k: usize,
    /// Where the affinity stage ran the ridge solve (`refine = "ridge"`, or its candidates
    /// for the elastic-net solve): new samples get the same coefficients over the
    /// landmarks (and the same elastic-net solve over the largest) instead of the energy's.
    pub ridge: Option<LandmarkRidge>,
    /// A hash of everything read here that decides an assignment.
    pub fingerprint: String,
}

/// The ridge solve over the landmarks (`ebsc_nn::ridge`): a new sample's coefficients are
/// `argmin γ/2‖d_x − Σ_j c_j d_j‖² + ½‖c‖²`, as each landmark's were over the others.
pub struct LandmarkRidge {
    /// The landmarks' dictionary rows, `[L, D]`, f64 on the CPU.
    pub landmarks: Tensor,
    pub factor: RidgeFactor,
    /// Where the ridge solve picked the elastic-net solve's candidates
    /// (`refine_candidates_by = "ridge"`): that solve, repeated for new samples.
    pub elastic_net: Option<LandmarkElasticNet>,
}

/// The elastic-net solve over a new sample's `candidates` largest ridge coefficients, as
/// the affinity stage solved each landmark's (`ebsc_affinity::solve`).
pub struct LandmarkElasticNet {
    pub candidates: usize,
    pub weights: ElasticNet,
    /// The landmarks' atoms, row-major `[L, dim]`, as the affinity stage read them.
    pub atoms: Vec<f32>,
    pub dim: usize,
}

impl Trained {
    pub fn load(pipeline: &Pipeline, runs_dir: &Path, device: Device) -> anyhow::Result<Trained> {
        let dir = runs_dir.join(&pipeline.name);
        let (train_dir, affinity_dir, cluster_dir) = (
            dir.join(train::STAGE),
            dir.join(affinity::STAGE),
            dir.join(cluster::STAGE),
        );
        let model_path = train::MODEL.path(&train_dir);
        let features_path = train::FEATURES.path(&train_dir);
        let clusters_path = cluster::ASSIGNMENTS.path(&cluster_dir);
        for path in [&model_path, &features_path, &clusters_path] {
            anyhow::ensure!(
                path.exists(),
                "{}: not found; run the pipeline first (`just run {}`)",
                path.display(),
                pipeline.name
            );
        }
        check_chain(&dir, &pipeline.name)?;
        let source = pipeline.section::<TrainKeys>(train::STAGE)?.dictionary;
        let affinity_config = AffinityConfig::from_pipeline(pipeline)?;
        let mut top_k = affinity_config.top_k;
        let manifest_path = affinity_dir.join(MANIFEST_FILE);
        if manifest_path.exists() {
            let manifest = Manifest::read(&manifest_path)?;
            if let Some(fitted) = manifest.stats.get("fitted_top_k").and_then(|v| v.as_u64()) {
                top_k = fitted as usize;
            }
        }
        anyhow::ensure!(top_k >= 1, "[affinity] top_k must be at least 1");

        let (encoder, encoder_vars) = load_encoder(&model_path, device)?;
        let mut energy = EnergyModel::load(&model_path, device)?;
        if !affinity_config.residual {
            energy.score_cosine_only(&model_path)?;
        }
        let width = match source {
            DictionarySource::Backbone => encoder.backbone_dim(),
            DictionarySource::Head => encoder.head_dim(),
        };
        anyhow::ensure!(
            width == energy.input_dim(),
            "{}: the encoder's {source:?} is {width} wide, the energy reads {}",
            model_path.display(),
            energy.input_dim()
        );
        let (dictionary, host_dictionary) =
            load_dictionary(&features_path, energy.input_dim(), device)?;
        let n_landmarks = dictionary.size()[0] as usize;
        anyhow::ensure!(
            n_landmarks > 0,
            "{}: the dictionary is empty",
            features_path.display()
        );
        let (_, landmark_keys) = energy.towers(&dictionary, 0..0);

        let clusters: Vec<u32> = read_assignment_rows(&clusters_path)?
            .into_iter()
            .map(|row| row.cluster)
            .collect();
        anyhow::ensure!(
            clusters.len() == n_landmarks,
            "{}: {} rows, but the dictionary in {} has {} landmarks",
            clusters_path.display(),
            clusters.len(),
            features_path.display(),
            n_landmarks
        );
        let n_clusters = clusters.iter().max().map_or(0, |&c| c as usize + 1);
        let ridge = match affinity_config.refine.and_then(Refine::ridge_gamma) {
            Some(gamma) => {
                let landmarks = Tensor::from_slice(&host_dictionary)
                    .to_kind(Kind::Double)
                    .view([n_landmarks as i64, -1]);
                let factor = RidgeFactor::new(&landmarks, gamma)
                    .with_context(|| format!("the ridge solve over {}", features_path.display()))?;
                let elastic_net = affinity_config
                    .refine
                    .and_then(Refine::elastic_net_over_ridge)
                    .map(|(candidates, weights)| LandmarkElasticNet {
                        candidates,
                        weights,
                        dim: host_dictionary.len() / n_landmarks,
                        atoms: host_dictionary,
                    });
                Some(LandmarkRidge {
                    landmarks,
                    factor,
                    elastic_net,
                })
            }
            None => None,
        };

        let mut key = KeyHasher::new("assign");
        key.part("version", &crate::VERSION.to_string())
            .part("dictionary", &format!("{source:?}"))
            .part("top_k", &top_k.to_string());
        if !affinity_config.residual {
            key.part("residual", "false");
        }
        if let Some(gamma) = affinity_config.refine.and_then(Refine::ridge_gamma) {
            key.part("ridge_gamma", &gamma.to_string());
        }
        if let Some(elastic_net) = ridge.as_ref().and_then(|r| r.elastic_net.as_ref()) {
            let ElasticNet { gamma, lambda } = elastic_net.weights;
            key.part(
                "elastic_net",
                &format!("{} {gamma} {lambda}", elastic_net.candidates),
            );
        }
        for (name, path) in [
            ("model", &model_path),
            ("features", &features_path),
            ("clusters", &clusters_path),
        ] {
            let (hash, _) = sha256_file(path).with_context(|| format!("hashing {name}"))?;
            key.part(name, &hash);
        }
        Ok(Trained {
            encoder,
            _encoder_vars: encoder_vars,
            energy,
            source,
            landmark_keys,
            clusters,
            n_clusters,
            top_k: top_k.min(n_landmarks),
            ridge,
            fingerprint: key.finish(),
        })
    }

    pub fn n_landmarks(&self) -> usize {
        self.clusters.len()
    }
}
