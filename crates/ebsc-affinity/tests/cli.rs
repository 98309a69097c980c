//! The `ebsc-affinity` binary as a user meets it, on a hand-made upstream (a prepare and a
//! train stage folder with manifests, written through the stage runner): the whole export,
//! sharded export + merge giving the same files, the cache, and bad input.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use ebsc_core::{Pipeline, StageRunner};
use ebsc_io::{SampleRow, TensorData, read_triplets, write_samples, write_tensors};
use ebsc_nn::coefficients::CoefficientKind;
use ebsc_nn::energy::{ENERGY_METADATA_KEY, EnergyMetadata, EnergyNet, EnergyShape};
use tch::{Device, Kind, Tensor, nn};

const N: usize = 300;
const DIM: i64 = 8;

struct Project {
    dir: tempfile::TempDir,
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Project {
    fn new(affinity_section: &str) -> Project {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        let text = format!("[pipeline]\nseed = 5\n\n[affinity]\n{affinity_section}");
        std::fs::create_dir_all(p.path("pipelines")).unwrap();
        std::fs::write(p.path("pipelines/p.toml"), text).unwrap();
        p
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// prepare (labels: 3 classes) and train (random towers, m = 16, shrink with b = 0.5).
    fn write_upstream(&self) {
        self.write_upstream_with_geometry(0.0);
    }

    /// The same with a cosine term of weight κ = `geometry` in the energy.
    fn write_upstream_with_geometry(&self, geometry: f64) {
        let pipeline = Pipeline::load(&self.path("pipelines/p.toml")).unwrap();
        let runs = self.path("data/runs");
        StageRunner::new(&pipeline, &runs, "prepare", 1)
            .run(false, |run| {
                let rows: Vec<SampleRow> = (0..N as u32)
                    .map(|i| SampleRow {
                        index: i,
                        label: Some((i % 3) as i32),
                        label_name: None,
                        source: "test".into(),
                        split: "test".into(),
                    })
                    .collect();
                let mut file = run.create_output("samples.parquet")?;
                write_samples(file.writer(), &rows)?;
                file.commit()
            })
            .unwrap();
        StageRunner::new(&pipeline, &runs, "train", 1)
            .upstream("prepare")
            .run(false, |run| {
                tch::manual_seed(3);
                let shape = EnergyShape {
                    input_dim: DIM,
                    hidden: vec![12],
                    out_dim: 16,
                };
                let meta = EnergyMetadata {
                    shape: shape.clone(),
                    coefficients: CoefficientKind::Shrink,
                    temperature: Some(0.1),
                    geometry,
                    encoder: None,
                };
                let vs = nn::VarStore::new(Device::Cpu);
                let _net = EnergyNet::new(&(vs.root() / "energy"), &shape, geometry);
                let mut named: Vec<(String, Vec<usize>, TensorData)> = vs
                    .variables()
                    .into_iter()
                    .map(|(name, t)| {
                        let shape = t.size().iter().map(|&d| d as usize).collect();
                        let data = Vec::<f32>::try_from(t.reshape([-1])).unwrap();
                        (name, shape, TensorData::F32(data))
                    })
                    .collect();
                named.push((
                    "energy.threshold".into(),
                    vec![1],
                    TensorData::F32(vec![0.5]),
                ));
                let tensors: Vec<(&str, Vec<usize>, &TensorData)> = named
                    .iter()
                    .map(|(n, s, d)| (n.as_str(), s.clone(), d))
                    .collect();
                let metadata = HashMap::from([(
                    ENERGY_METADATA_KEY.to_string(),
                    serde_json::to_string(&meta).unwrap(),
                )]);
                let mut file = run.create_output("model.safetensors")?;
                write_tensors(file.writer(), &tensors, &metadata)?;
                file.commit()?;
                let d = Tensor::randn([N as i64, DIM], (Kind::Float, Device::Cpu));
                let d = Vec::<f32>::try_from(d.reshape([-1])).unwrap();
                let d = TensorData::F32(d);
                let mut file = run.create_output("features.safetensors")?;
                write_tensors(
                    file.writer(),
                    &[("dictionary", vec![N, DIM as usize], &d)],
                    &HashMap::new(),
                )?;
                file.commit()
            })
            .unwrap();
    }

    fn affinity(&self, extra: &[&str]) -> Output {
        self.affinity_with_env(extra, &[])
    }

    /// The stage with `vars` set in its environment (and the scheduler variables of the
    /// test's own environment removed).
    fn affinity_with_env(&self, extra: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ebsc-affinity"));
        for name in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_ARRAY_TASK_MIN",
            "SLURM_ARRAY_TASK_MAX",
            "JOB_COMPLETION_INDEX",
            "EBSC_SHARD_COUNT",
        ] {
            command.env_remove(name);
        }
        let output = command
            .envs(vars.iter().copied())
            .arg("pipelines/p.toml")
            .args(["--device", "cpu", "--threads", "1", "--progress", "none"])
            .args(extra)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        Output {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The dictionary train wrote, `[N][DIM]`.
    fn dictionary(&self) -> Vec<Vec<f32>> {
        let path = self.path("data/runs/p/train/features.safetensors");
        let (_, values) = ebsc_io::TensorFile::open(&path)
            .unwrap()
            .f32("dictionary")
            .unwrap();
        values.chunks(DIM as usize).map(<[f32]>::to_vec).collect()
    }

    fn stage_file(&self, name: &str) -> PathBuf {
        self.path(&format!("data/runs/p/affinity/{name}"))
    }

    fn manifest(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.stage_file("manifest.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

fn expect_one_error_line(out: &Output, needles: &[&str]) {
    assert!(!out.ok, "expected failure: {}", out.stdout);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{}", out.stderr);
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "`{needle}` not in {}",
            errors[0]
        );
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

const SYMMETRIC: &str =
    "top_k = 6\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"\n";

#[test]
fn whole_export_then_sharded_export_and_merge_give_the_same_files() {
    let p = Project::new(SYMMETRIC);
    p.write_upstream();
    let first = p.affinity(&[]);
    assert!(first.ok, "{}", first.stderr);
    assert!(
        first.stdout.starts_with("affinity: done in"),
        "{}",
        first.stdout
    );
    let whole_c = read_triplets(&p.stage_file("coefficients.parquet")).unwrap();
    let whole_w = read_triplets(&p.stage_file("affinity.parquet")).unwrap();
    // At most top_k per row, never the diagonal, sorted by (row, col).
    assert!(whole_c.len() <= N * 6 && whole_c.len() > N);
    let pairs: Vec<(u32, u32)> = whole_c
        .rows
        .iter()
        .copied()
        .zip(whole_c.cols.iter().copied())
        .collect();
    assert!(pairs.windows(2).all(|w| w[0] < w[1]));
    assert!(pairs.iter().all(|(r, c)| r != c));
    // W is symmetric: every (r, c, v) has its (c, r, v).
    let w: HashMap<(u32, u32), f32> = whole_w
        .rows
        .iter()
        .zip(&whole_w.cols)
        .zip(&whole_w.values)
        .map(|((&r, &c), &v)| ((r, c), v))
        .collect();
    assert!(w.iter().all(|(&(r, c), v)| w.get(&(c, r)) == Some(v)));
    let manifest = p.manifest();
    let error = manifest["stats"]["subspace_preserving_error"]
        .as_f64()
        .unwrap();
    assert!((0.0..=1.0).contains(&error), "{error}");

    let again = p.affinity(&[]);
    assert!(
        again.stdout.starts_with("affinity: up to date"),
        "{}",
        again.stdout
    );

    for shard in ["0/3", "1/3", "2/3"] {
        let out = p.affinity(&["--shard", shard]);
        assert!(out.ok, "{}", out.stderr);
    }
    assert!(p.stage_file("coefficients/part-2-of-3.parquet").exists());
    let merged = p.affinity(&["--merge", "--force"]);
    assert!(merged.ok, "{}", merged.stderr);
    assert_eq!(
        read_triplets(&p.stage_file("coefficients.parquet")).unwrap(),
        whole_c
    );
    assert_eq!(
        read_triplets(&p.stage_file("affinity.parquet")).unwrap(),
        whole_w
    );
    assert_eq!(p.manifest()["outputs"], manifest["outputs"]);
}

#[test]
fn shards_from_slurm_or_kubernetes_merge_to_the_same_bytes() {
    let p = Project::new(SYMMETRIC);
    p.write_upstream();
    assert!(p.affinity(&[]).ok);
    let whole: Vec<Vec<u8>> = ["coefficients.parquet", "affinity.parquet"]
        .iter()
        .map(|f| std::fs::read(p.stage_file(f)).unwrap())
        .collect();
    let merged_bytes = |p: &Project| -> Vec<Vec<u8>> {
        let merged = p.affinity(&["--merge", "--force"]);
        assert!(merged.ok, "{}", merged.stderr);
        ["coefficients.parquet", "affinity.parquet"]
            .iter()
            .map(|f| std::fs::read(p.stage_file(f)).unwrap())
            .collect()
    };

    // A Slurm array --array=1-3.
    for id in ["1", "2", "3"] {
        let out = p.affinity_with_env(
            &["--shard", "auto"],
            &[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
            ],
        );
        assert!(out.ok, "{}", out.stderr);
        assert!(
            out.stderr.contains("from the Slurm job array"),
            "{}",
            out.stderr
        );
    }
    assert!(p.stage_file("coefficients/part-2-of-3.parquet").exists());
    assert_eq!(merged_bytes(&p), whole);

    // A Kubernetes Indexed Job of 2 completions, its count from --shards and from the env.
    std::fs::remove_dir_all(p.stage_file("coefficients")).unwrap();
    let first = p.affinity_with_env(
        &["--shard", "auto", "--shards", "2"],
        &[("JOB_COMPLETION_INDEX", "0")],
    );
    assert!(first.ok, "{}", first.stderr);
    let second = p.affinity_with_env(
        &["--shard", "auto"],
        &[("JOB_COMPLETION_INDEX", "1"), ("EBSC_SHARD_COUNT", "2")],
    );
    assert!(second.ok, "{}", second.stderr);
    assert_eq!(merged_bytes(&p), whole);

    // Neither, or a count that disagrees: one error line, no part written.
    let out = p.affinity_with_env(&["--shard", "auto"], &[]);
    expect_one_error_line(&out, &["neither SLURM_ARRAY_TASK_ID", "--shard i/n"]);
    let out = p.affinity_with_env(
        &["--shard", "auto", "--shards", "3"],
        &[("JOB_COMPLETION_INDEX", "0"), ("EBSC_SHARD_COUNT", "2")],
    );
    expect_one_error_line(&out, &["disagree"]);
    assert!(!p.stage_file("coefficients/part-0-of-3.parquet").exists());
}

#[test]
fn knn_affinity_has_unit_weights_halved_when_one_sided() {
    let p = Project::new(
        "top_k = 6\nblock_size = 50\nnormalize_rows = false\naffinity = \"knn\"\nknn_k = 3\n",
    );
    p.write_upstream();
    let out = p.affinity(&[]);
    assert!(out.ok, "{}", out.stderr);
    let w = read_triplets(&p.stage_file("affinity.parquet")).unwrap();
    assert!(
        w.values.iter().all(|&v| v == 0.5 || v == 1.0),
        "{:?}",
        &w.values[..10]
    );
    // Each row names at most 3 neighbours, so each row of (A + Aᵀ)/2 holds ≥ its own.
    assert!(w.len() >= N * 3 / 2 && w.len() <= 2 * N * 3);
}

#[test]
fn bad_input_is_one_error_line_and_no_manifest() {
    let p = Project::new(SYMMETRIC);
    let out = p.affinity(&[]);
    expect_one_error_line(&out, &["upstream stage train", "just train p"]);

    p.write_upstream();
    let out = p.affinity(&["--merge"]);
    expect_one_error_line(&out, &["no parts", "--shard"]);
    assert!(!p.stage_file("manifest.json").exists());

    let out = p.affinity(&["--shard", "3/3"]);
    assert!(
        !out.ok && out.stderr.contains("0 ≤ i < n"),
        "{}",
        out.stderr
    );

    let bad =
        Project::new("top_k = 6\nblock_size = 64\nnormalize_rows = true\naffinity = \"dense\"\n");
    let out = bad.affinity(&[]);
    expect_one_error_line(&out, &["pipelines/p.toml", "[affinity]", "dense"]);

    // A dictionary of the wrong width.
    let path = p.path("data/runs/p/train/features.safetensors");
    let d = TensorData::F32(vec![0.0; N * 3]);
    write_tensors(
        std::fs::File::create(&path).unwrap(),
        &[("dictionary", vec![N, 3], &d)],
        &HashMap::new(),
    )
    .unwrap();
    let out = p.affinity(&[]);
    // The upstream manifest no longer verifies: the run says to rerun train.
    expect_one_error_line(&out, &["train"]);
}

#[test]
fn small_classes_fit_top_k_and_the_graph_and_n_clusters_is_in_the_key() {
    // 300 samples in 60 classes: classes of 5, under 2 × top_k = 12.
    let knn = "top_k = 6\nblock_size = 64\nnormalize_rows = true\naffinity = \"knn\"\nknn_k = 3\n\
               fit_class_size = true\n\n[cluster]\nn_clusters = 60\n";
    let p = Project::new(knn);
    p.write_upstream();
    let out = p.affinity(&[]);
    assert!(out.ok, "{}", out.stderr);
    let log = format!("{}{}", out.stdout, out.stderr);
    assert!(
        log.contains("fit_class_size: mean class size 5 (300 samples / 60 clusters)")
            && log.contains("top 3 coefficients a row, the symmetric graph"),
        "{log}"
    );
    assert_eq!(p.manifest()["stats"]["fitted_top_k"], 3);
    let c = read_triplets(&p.stage_file("coefficients.parquet")).unwrap();
    let mut per_row = vec![0; N];
    c.rows.iter().for_each(|&r| per_row[r as usize] += 1);
    assert!(per_row.iter().all(|&n| n <= 3), "{per_row:?}");
    // Symmetric (|C| + |C|ᵀ)/2, not the kNN graph's 0.5 / 1.0 weights.
    let w = read_triplets(&p.stage_file("affinity.parquet")).unwrap();
    assert!(w.values.iter().any(|&v| v != 0.5 && v != 1.0));
    // Sharded export and merge fit the same way.
    for shard in ["0/2", "1/2"] {
        let out = p.affinity(&["--shard", shard]);
        assert!(out.ok, "{}", out.stderr);
    }
    let merged = p.affinity(&["--merge", "--force"]);
    assert!(merged.ok, "{}", merged.stderr);
    assert_eq!(
        read_triplets(&p.stage_file("coefficients.parquet")).unwrap(),
        c
    );
    assert_eq!(read_triplets(&p.stage_file("affinity.parquet")).unwrap(), w);

    // Another class count is another key: classes of 10 keep top 5.
    let text = std::fs::read_to_string(p.path("pipelines/p.toml")).unwrap();
    std::fs::write(
        p.path("pipelines/p.toml"),
        text.replace("n_clusters = 60", "n_clusters = 30"),
    )
    .unwrap();
    let out = p.affinity(&[]);
    assert!(
        out.ok && !out.stdout.contains("up to date"),
        "{}",
        out.stdout
    );
    assert_eq!(p.manifest()["stats"]["fitted_top_k"], 5);
}

#[test]
fn perplexity_calibrates_the_graph_and_leaves_the_coefficients() {
    let p = Project::new(SYMMETRIC);
    p.write_upstream();
    let out = p.affinity(&[]);
    assert!(out.ok, "{}", out.stderr);
    let c = read_triplets(&p.stage_file("coefficients.parquet")).unwrap();
    let plain = read_triplets(&p.stage_file("affinity.parquet")).unwrap();

    let text = std::fs::read_to_string(p.path("pipelines/p.toml")).unwrap();
    std::fs::write(
        p.path("pipelines/p.toml"),
        format!("{text}perplexity = 2.5\n"),
    )
    .unwrap();
    let out = p.affinity(&[]);
    assert!(out.ok, "{}", out.stderr);
    let log = format!("{}{}", out.stdout, out.stderr);
    assert!(
        log.contains("config changed: perplexity") && log.contains("perplexity 2.5: each row's"),
        "{log}"
    );
    assert!(p.manifest()["stats"]["perplexity_power_median"].is_number());
    // The coefficients are the energy's own; the graph is built from the calibrated ones.
    assert_eq!(
        read_triplets(&p.stage_file("coefficients.parquet")).unwrap(),
        c
    );
    let mut calibrated = c.clone();
    ebsc_affinity::graph::calibrate_perplexity(&mut calibrated, 2.5);
    ebsc_affinity::graph::normalize_rows(&mut calibrated);
    let w = read_triplets(&p.stage_file("affinity.parquet")).unwrap();
    assert_eq!(w, ebsc_affinity::graph::symmetric(&calibrated));
    assert_ne!(w, plain);
}

#[test]
fn without_the_residual_pairs_are_scored_by_the_cosine_term_alone() {
    // An energy without a cosine term has nothing to score with: one clear error.
    let p = Project::new(&format!("{SYMMETRIC}residual = false\n"));
    p.write_upstream();
    let out = p.affinity(&[]);
    expect_one_error_line(&out, &["residual = false", "geometry = 0"]);
    assert!(!p.stage_file("manifest.json").exists());

    // κ = 2: each row keeps the atoms of largest |κ·⟨d_i, d_j⟩|, with the shrink map's
    // weights (1/m)·sign(s)·max(|s| − b, 0), m = 16, b = 0.5; the towers play no part.
    let (kappa, top_k) = (2.0f32, 4);
    let p = Project::new(&format!(
        "top_k = {top_k}\nblock_size = 64\nnormalize_rows = false\naffinity = \"symmetric\"\n\
         residual = false\n"
    ));
    p.write_upstream_with_geometry(kappa as f64);
    let out = p.affinity(&[]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("cosine term alone"), "{}", out.stderr);
    let d = p.dictionary();
    let c = read_triplets(&p.stage_file("coefficients.parquet")).unwrap();
    assert_eq!(c.len(), N * top_k);
    for i in 0..N {
        let s = |j: usize| kappa * d[i].iter().zip(&d[j]).map(|(a, b)| a * b).sum::<f32>();
        let mut order: Vec<usize> = (0..N).filter(|&j| j != i).collect();
        order.sort_by(|&a, &b| s(b).abs().total_cmp(&s(a).abs()));
        let kept: Vec<(u32, f32)> = (0..c.len())
            .filter(|&e| c.rows[e] as usize == i)
            .map(|e| (c.cols[e], c.values[e]))
            .collect();
        let mut expected: Vec<u32> = order[..top_k].iter().map(|&j| j as u32).collect();
        let mut got: Vec<u32> = kept.iter().map(|&(j, _)| j).collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "row {i}");
        for (j, value) in kept {
            let s = s(j as usize);
            let want = s.signum() * (s.abs() - 0.5).max(0.0) / 16.0;
            assert!(
                (value - want).abs() < 1e-4,
                "row {i}, atom {j}: {value} vs {want}"
            );
        }
    }
}
