//! `scripts/stages.sh`, which `just run`, `just <stage>` and `just from` call: the stages run
//! in order, `from` forces the named stage and the ones after it, and `--device` and
//! `--threads` reach only the stages that run tensors (prepare and cluster reject them).
//! The stage binaries are stand-ins that record their arguments.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use ebsc_tests::repo_root;

const STAGES: [&str; 5] = ["prepare", "pretrain", "train", "affinity", "cluster"];

/// A copy of the script in a project whose `target/release/ebsc-*` append their arguments
/// to `calls.log`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::copy(
        repo_root().join("scripts/stages.sh"),
        root.join("scripts/stages.sh"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("target/release")).unwrap();
    for stage in STAGES {
        std::fs::create_dir_all(root.join(format!("crates/ebsc-{stage}"))).unwrap();
        let bin = root.join(format!("target/release/ebsc-{stage}"));
        std::fs::write(
            &bin,
            format!("#!/usr/bin/env bash\necho \"{stage} $*\" >> calls.log\n"),
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(root.join("pipelines/p.toml"), "[pipeline]\nseed = 0\n").unwrap();
    dir
}

fn stages(root: &Path, args: &[&str]) -> Vec<String> {
    let _ = std::fs::remove_file(root.join("calls.log"));
    let status = Command::new("bash")
        .arg(root.join("scripts/stages.sh"))
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "stages.sh {args:?}");
    std::fs::read_to_string(root.join("calls.log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn device_flags_reach_only_the_tensor_stages() {
    let dir = project();
    let calls = stages(
        dir.path(),
        &[
            "run",
            "p",
            "--device",
            "cpu",
            "--threads=2",
            "--progress",
            "none",
        ],
    );
    assert_eq!(
        calls,
        vec![
            "prepare pipelines/p.toml --progress none",
            "pretrain pipelines/p.toml --device cpu --threads=2 --progress none",
            "train pipelines/p.toml --device cpu --threads=2 --progress none",
            "affinity pipelines/p.toml --device cpu --threads=2 --progress none",
            "cluster pipelines/p.toml --progress none",
        ]
    );
}

#[test]
fn member_flags_reach_only_the_stages_that_run_once_a_member() {
    let dir = project();
    let calls = stages(
        dir.path(),
        &["upto", "train", "p", "--member", "1", "--force"],
    );
    assert_eq!(
        calls,
        vec![
            "prepare pipelines/p.toml --force",
            "pretrain pipelines/p.toml --member 1 --force",
            "train pipelines/p.toml --member 1 --force",
        ]
    );
    let calls = stages(dir.path(), &["run", "p", "--member=1"]);
    assert_eq!(calls[0], "prepare pipelines/p.toml");
    assert_eq!(calls[3], "affinity pipelines/p.toml --member=1");
    assert_eq!(calls[4], "cluster pipelines/p.toml");
}

#[test]
fn upto_stops_and_from_forces_the_rest() {
    let dir = project();
    let calls = stages(dir.path(), &["upto", "train", "p"]);
    assert_eq!(
        calls,
        vec![
            "prepare pipelines/p.toml",
            "pretrain pipelines/p.toml",
            "train pipelines/p.toml"
        ]
    );
    let calls = stages(dir.path(), &["from", "affinity", "p"]);
    assert_eq!(calls[2], "train pipelines/p.toml");
    assert_eq!(calls[3], "affinity pipelines/p.toml --force");
    assert_eq!(calls[4], "cluster pipelines/p.toml --force");
}
