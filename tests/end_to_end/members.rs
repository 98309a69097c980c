//! A pipeline of two members (`[pipeline] members = 2`) on `pipelines/subspaces.toml`:
//! prepare once, pretrain → train → affinity once a member from its own seed, one cluster
//! stage on the mean of the members' graphs; all of it cached and resumable per member.

use ebsc_core::Outcome;
use ebsc_tests::{accuracy, repo_root, run_all, stage_args};

fn manifest(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn two_members_train_apart_and_cluster_the_mean_of_their_graphs() {
    let work = tempfile::tempdir().unwrap();
    let pipeline = work.path().join("subspaces.toml");
    let text = std::fs::read_to_string(repo_root().join("pipelines/subspaces.toml")).unwrap();
    let one_member = "[pipeline]\nseed = 0\n";
    assert!(text.contains(one_member) && text.ends_with("kmeans_restarts = 10\n"));
    // Two members, and the eigenvector referee, which reads both members' dictionaries.
    let text = text.replacen(one_member, "[pipeline]\nseed = 0\nmembers = 2\n", 1)
        + "eigenvector_referee = { max_extra = 2, knn_graph = 10 }\n";
    std::fs::write(&pipeline, text).unwrap();
    let runs = work.path().join("runs");

    assert_eq!(run_all(&pipeline, &runs), vec![true; 5]);
    let dir = runs.join("subspaces");
    // Member 1 has its own folders and seed; prepare and cluster are the pipeline's.
    for stage in ["pretrain", "train", "affinity"] {
        assert_eq!(
            manifest(&dir.join(stage).join("manifest.json"))["config"]["seed"],
            0
        );
        let own = manifest(&dir.join("member-1").join(stage).join("manifest.json"));
        assert_eq!(own["config"]["seed"], 1, "member-1/{stage}");
    }
    assert!(!dir.join("member-1/prepare").exists());
    assert!(!dir.join("member-1/cluster").exists());
    let graph = |member: &str| std::fs::read(dir.join(member).join("affinity.parquet")).unwrap();
    assert_ne!(graph("affinity"), graph("member-1/affinity"));

    // The cluster stage read both members' graphs and dictionaries: all are upstream of
    // it, by key, and each dictionary refereed on its own.
    let cluster = manifest(&dir.join("cluster/manifest.json"));
    for upstream in ["affinity", "member-1/affinity", "train", "member-1/train"] {
        let key = manifest(&dir.join(upstream).join("manifest.json"))["key"].clone();
        assert_eq!(cluster["upstream"][upstream], key, "{upstream}");
    }
    let metrics = manifest(&dir.join("cluster/metrics.json"));
    let referee = &metrics["eigenvector_referee"];
    assert_eq!(
        referee["per_dictionary"].as_array().map(Vec::len),
        Some(2),
        "{referee}"
    );
    let acc = accuracy(&dir.join("cluster/metrics.json"));
    assert!(acc >= 0.98, "two members' ACC {acc:.4} < 0.98");

    // A second run is all cache.
    assert_eq!(run_all(&pipeline, &runs), vec![false; 5]);

    // `--member` runs one member; one out of range is refused, naming the count.
    let tensors = ["--device", "cpu", "--threads", "1"];
    let mut flags = vec!["--member", "1", "--force"];
    flags.extend(tensors);
    let outcomes = ebsc_train::run(&stage_args("ebsc-train", &pipeline, &runs, &flags)).unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].0, 1);
    assert!(matches!(outcomes[0].1, Outcome::Ran { .. }));
    let mut flags = vec!["--member", "2"];
    flags.extend(tensors);
    let error = ebsc_affinity::run(&stage_args("ebsc-affinity", &pipeline, &runs, &flags))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "--member 2: pipeline subspaces has 2 members (numbered 0 to 1)"
    );
}
