//! Scenarios on artifacts, configs, the lock and the disk, on `PIPELINE` (no training).

//! (`cargo test -p ebsc-tests --test faults -- NAME` runs those whose name contains NAME).

use std::process::Stdio;

use ebsc_core::lock::StageLock;
use ebsc_test_support::cli::Output;

use crate::harness::*;

// ---------------------------------------------------------------------------------------
// Scenarios

pub(crate) fn damaged_upstream_artifacts_are_named_refused_downstream_and_rebuilt() {
    let project = Project::new();
    project.run_all();
    let prepare_outputs = outputs(project.snapshot("prepare"));
    let prepare_key = project.manifest("prepare").key;
    let cluster_files = project.snapshot("cluster");

    for name in ["samples.parquet", "inputs.safetensors"] {
        for damage in [Damage::Delete, Damage::Truncate, Damage::FlipByte] {
            let problem = damage.apply(&project.stage_dir("prepare").join(name), name);
            // Downstream reads the upstream manifest, finds the damage and refuses,
            // touching nothing of its own.
            project.run("cluster", &[]).expect_error(
                "cluster",
                &[
                    &format!("upstream stage prepare: {problem}"),
                    "run `just prepare p` first",
                ],
            );
            assert_same(
                &project.snapshot("cluster"),
                &cluster_files,
                &format!("cluster folder after {damage:?} {name}"),
            );
            // The stage itself says what is wrong and rebuilds the same bytes.
            project.run("prepare", &[]).expect_ran("prepare", &problem);
            assert_same(
                &outputs(project.snapshot("prepare")),
                &prepare_outputs,
                "rebuilt prepare outputs",
            );
            assert_eq!(project.manifest("prepare").key, prepare_key);
            // Same upstream bytes, same downstream key: nothing else runs.
            project.run("cluster", &[]).expect_up_to_date("cluster");
        }
    }

    // A damaged manifest is no manifest: the stage runs again.
    let manifest = project.stage_dir("prepare").join("manifest.json");
    let text = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    project
        .run("cluster", &[])
        .expect_error("cluster", &["prepare/manifest.json: not a valid manifest"]);
    project
        .run("prepare", &[])
        .expect_ran("prepare", "manifest.json: not a valid manifest");
    project.run("cluster", &[]).expect_up_to_date("cluster");

    // The hand-made affinity stage: cluster names its file too.
    let problem = Damage::FlipByte.apply(
        &project.stage_dir("affinity").join("affinity.parquet"),
        "affinity.parquet",
    );
    project.run("cluster", &[]).expect_error(
        "cluster",
        &[
            &format!("upstream stage affinity: {problem}"),
            "run `just affinity p` first",
        ],
    );
    assert_same(
        &project.snapshot("cluster"),
        &cluster_files,
        "cluster folder",
    );
}

pub(crate) fn damaged_downstream_artifacts_rerun_only_their_stage() {
    let project = Project::new();
    project.run_all();
    let assignments = project.snapshot("cluster")["assignments.parquet"].clone();
    let cluster_key = project.manifest("cluster").key;
    for (name, damage) in [
        ("assignments.parquet", Damage::FlipByte),
        ("metrics.json", Damage::Truncate),
        ("report/report.md", Damage::Delete),
    ] {
        let problem = damage.apply(&project.stage_dir("cluster").join(name), name);
        project.run("prepare", &[]).expect_up_to_date("prepare");
        project.run("cluster", &[]).expect_ran("cluster", &problem);
        project.assert_consistent("cluster");
        assert_eq!(project.manifest("cluster").key, cluster_key);
        // Seeded: the rebuilt assignments are the same bytes.
        assert!(project.snapshot("cluster")["assignments.parquet"] == assignments);
    }
}

pub(crate) fn config_edits_rerun_exactly_the_stages_they_change() {
    let project = Project::new();
    project.run_all();
    let cluster_key = project.manifest("cluster").key;

    // Comments, key order, section order and the free-text description change nothing.
    let cosmetic = r#"# The same pipeline, written differently.
[cluster]
kmeans_restarts = 2   # fewer restarts: a small graph
n_clusters = 3

[prepare]
seed = 1
noise = 0.05
points_per_subspace = 20
ambient_dim = 6
subspace_dim = 2
n_subspaces = 3
source = "synthetic-subspaces"

[pipeline]
description = "another description"
seed = 0
"#;
    project.write_pipeline(cosmetic);
    project.run("prepare", &[]).expect_up_to_date("prepare");
    project.run("cluster", &[]).expect_up_to_date("cluster");

    // A cluster value: only cluster runs, and says which key changed.
    project.write_pipeline(&cosmetic.replace("kmeans_restarts = 2", "kmeans_restarts = 3"));
    project.run("prepare", &[]).expect_up_to_date("prepare");
    project
        .run("cluster", &[])
        .expect_ran("cluster", "config changed: kmeans_restarts");
    let cluster_key_3 = project.manifest("cluster").key;
    assert_ne!(cluster_key_3, cluster_key);

    // A prepare value: prepare runs, and cluster after it because its upstream changed.
    project.write_pipeline(
        &cosmetic
            .replace("kmeans_restarts = 2", "kmeans_restarts = 3")
            .replace("noise = 0.05", "noise = 0.06"),
    );
    project
        .run("prepare", &[])
        .expect_ran("prepare", "config changed: noise");
    project
        .run("cluster", &[])
        .expect_ran("cluster", "upstream stage prepare changed");
    assert_ne!(project.manifest("cluster").key, cluster_key_3);

    // The pipeline seed feeds every stage.
    project.write_pipeline(
        &cosmetic
            .replace("kmeans_restarts = 2", "kmeans_restarts = 3")
            .replace("noise = 0.05", "noise = 0.06")
            .replace("seed = 0", "seed = 5"),
    );
    project
        .run("prepare", &[])
        .expect_ran("prepare", "config changed: seed");
    project
        .run("cluster", &[])
        .expect_ran("cluster", "config changed: seed");
    project.run("prepare", &[]).expect_up_to_date("prepare");
    project.run("cluster", &[]).expect_up_to_date("cluster");
}

pub(crate) fn a_second_run_is_refused_while_the_lock_is_held() {
    let project = Project::new();
    project
        .run("prepare", &[])
        .expect_ran("prepare", "no previous run");
    let before = project.snapshot("prepare");

    // This process holds the lock, as a running stage would.
    let lock_path = project.stage_dir("prepare").join(".lock");
    let held = StageLock::acquire(&lock_path, "p/prepare").unwrap();
    let error = project.run("prepare", &["--force"]).expect_error(
        "prepare",
        &[
            "p/prepare is being run by another process",
            &format!("pid {}", std::process::id()),
            "lock file data/runs/p/prepare/.lock",
        ],
    );
    assert!(!error.contains('\n'));
    assert_same(
        &project.snapshot("prepare"),
        &before,
        "the refused run wrote nothing",
    );
    drop(held);
    project
        .run("prepare", &["--force"])
        .expect_ran("prepare", "--force");

    // Real races: two forced runs at once, a few times. Whichever way each race goes,
    // at least one run finishes, a refused one says why, and the outputs always match
    // the manifest.
    for _ in 0..4 {
        let mut first = project.command("prepare", &["--force"]);
        let mut second = project.command("prepare", &["--force"]);
        for command in [&mut first, &mut second] {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let (a, b) = (first.spawn().unwrap(), second.spawn().unwrap());
        let results = [
            Output::from_std(a.wait_with_output().unwrap()),
            Output::from_std(b.wait_with_output().unwrap()),
        ];
        assert!(results.iter().any(|r| r.ok), "neither run finished");
        for result in results.iter().filter(|r| !r.ok) {
            result.expect_error("prepare", &["p/prepare is being run by another process"]);
        }
        project.assert_consistent("prepare");
        assert!(temp_files(&project.snapshot("prepare")).is_empty());
        assert_same(
            &outputs(project.snapshot("prepare")),
            &outputs(before.clone()),
            "prepare outputs after a race",
        );
    }
}

pub(crate) fn a_full_disk_fails_cleanly_and_keeps_earlier_artifacts() {
    let project = Project::new();
    // 300 samples, so that samples.parquet is larger than the manifest: a limit can then
    // stop the first output while the manifest still fits.
    let pipeline = PIPELINE.replace("points_per_subspace = 20", "points_per_subspace = 100");
    project.write_pipeline(&pipeline);
    project.run_all();
    let prepare_files = project.snapshot("prepare");
    let cluster_files = project.snapshot("cluster");
    let largest_cluster_file = cluster_files.values().map(Vec::len).max().unwrap();
    assert!(
        largest_cluster_file > 8 << 10,
        "a cluster output bigger than the limit: {largest_cluster_file} bytes"
    );

    // cluster with every file limited to 8 KiB: its figures do not fit.
    let out = project.run_with_file_limit("cluster", 8, &["--force"]);
    // e.g. "cluster: error: data/runs/p/cluster/report/embedding.png: cannot write: File
    // too large (os error 27)".
    out.expect_error(
        "cluster",
        &["data/runs/p/cluster/", "cannot write: File too large"],
    );
    // Upstream untouched; downstream holds no temp file and no manifest, and every file
    // under a final name is whole (the old one, or the new one completely written).
    assert_same(
        &project.snapshot("prepare"),
        &prepare_files,
        "prepare folder",
    );
    project.assert_consistent("prepare");
    let after = project.snapshot("cluster");
    assert!(temp_files(&after).is_empty(), "{:?}", temp_files(&after));
    // assignments.parquet and metrics.json (new timings) landed before the figures
    // failed, so the previous manifest no longer holds and is not put back.
    assert!(
        !after.contains_key("manifest.json"),
        "no manifest that lies"
    );
    for (name, bytes) in &after {
        if name == "metrics.json" {
            serde_json::from_slice::<serde_json::Value>(bytes).expect("metrics.json is whole");
        } else {
            assert_eq!(Some(bytes), cluster_files.get(name), "{name} is whole");
        }
    }
    // With room again, it runs (there is no manifest) and writes the same assignments.
    project
        .run("cluster", &[])
        .expect_ran("cluster", "no previous run");
    assert!(
        project.snapshot("cluster")["assignments.parquet"] == cluster_files["assignments.parquet"]
    );
    let cluster_files = project.snapshot("cluster");

    // prepare with a limit that its manifest fits under but samples.parquet, its first
    // output, does not.
    let manifest_len = prepare_files["manifest.json"].len() as u64;
    let samples_len = prepare_files["samples.parquet"].len() as u64;
    let limit_kib = manifest_len.div_ceil(1024);
    assert!(
        limit_kib * 1024 < samples_len,
        "samples.parquet ({samples_len} bytes) must not fit under {limit_kib} KiB"
    );
    let out = project.run_with_file_limit("prepare", limit_kib, &["--force"]);
    out.expect_error(
        "prepare",
        &["data/runs/p/prepare/samples.parquet: cannot write: File too large"],
    );
    let after = project.snapshot("prepare");
    assert!(temp_files(&after).is_empty(), "{:?}", temp_files(&after));
    // samples.parquet, the first output, did not fit: nothing was replaced, so the runner
    // put the previous manifest back and the stage is exactly as before.
    assert_same(&after, &prepare_files, "prepare folder");
    project.assert_consistent("prepare");
    // Downstream goes on reading it: up to date, its outputs untouched.
    project.run("cluster", &[]).expect_up_to_date("cluster");
    assert_same(
        &project.snapshot("cluster"),
        &cluster_files,
        "cluster folder",
    );

    // A full disk after the first output landed, different from the old one (one sample
    // fewer per subspace): the old manifest no longer holds, so the stage keeps none, and
    // downstream refuses it until it is rebuilt. (A change that leaves samples.parquet
    // byte-identical, such as `noise`, would get the old manifest back, rightly.)
    project
        .write_pipeline(&pipeline.replace("points_per_subspace = 100", "points_per_subspace = 99"));
    let samples_len = prepare_files["samples.parquet"].len() as u64;
    let inputs_len = prepare_files["inputs.safetensors"].len() as u64;
    assert!(inputs_len > samples_len, "{inputs_len} ≤ {samples_len}");
    let limit_kib = samples_len.div_ceil(1024);
    assert!(
        limit_kib * 1024 < inputs_len,
        "inputs.safetensors must not fit"
    );
    let out = project.run_with_file_limit("prepare", limit_kib, &[]);
    out.expect_error(
        "prepare",
        &["data/runs/p/prepare/inputs.safetensors: cannot write: File too large"],
    );
    let after = project.snapshot("prepare");
    assert!(temp_files(&after).is_empty(), "{:?}", temp_files(&after));
    assert!(
        !after.contains_key("manifest.json"),
        "no manifest that lies"
    );
    assert!(after["inputs.safetensors"] == prepare_files["inputs.safetensors"]);
    project.run("cluster", &[]).expect_error(
        "cluster",
        &[
            "upstream stage prepare has not completed",
            "run `just prepare p` first",
        ],
    );
    assert_same(
        &project.snapshot("cluster"),
        &cluster_files,
        "cluster folder",
    );
    project.write_pipeline(&pipeline);
    project
        .run("prepare", &[])
        .expect_ran("prepare", "no previous run");
    assert_same(
        &outputs(project.snapshot("prepare")),
        &outputs(prepare_files),
        "rebuilt prepare outputs",
    );
    project.run("cluster", &[]).expect_up_to_date("cluster");
}
