use std::io::Write;

use super::*;

#[derive(Serialize)]
struct Config {
    size: u32,
}

fn pipeline(dir: &Path, seed: u64) -> Pipeline {
    let path = dir.join("demo.toml");
    Pipeline::parse(&path, &format!("[pipeline]\nseed = {seed}\n")).unwrap()
}

fn write_output(run: &mut StageRun, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = run.create_output(name)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A stage that writes one file and counts its runs.
fn run_stage(p: &Pipeline, runs: &Path, size: u32, force: bool, runs_count: &mut u32) -> Outcome {
    StageRunner::new(p, runs, "first", 1)
        .config(&Config { size })
        .progress(ProgressMode::None)
        .run(force, |run| {
            *runs_count += 1;
            assert!(
                run.work_dir().is_dir(),
                "the checkpoint folder exists during a run"
            );
            write_output(run, "out.bin", &vec![1u8; size as usize])
        })
        .unwrap()
}

fn key_of(outcome: &Outcome) -> String {
    match outcome {
        Outcome::UpToDate { key } | Outcome::Ran { key, .. } => key.clone(),
    }
}

#[test]
fn second_run_is_up_to_date_and_leaves_the_manifest_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let mut count = 0;
    let first = run_stage(&p, &runs, 8, false, &mut count);
    assert!(matches!(first, Outcome::Ran { .. }));
    let manifest_path = runs.join("demo/first/manifest.json");
    let mtime = std::fs::metadata(&manifest_path)
        .unwrap()
        .modified()
        .unwrap();
    let manifest = Manifest::read(&manifest_path).unwrap();
    assert_eq!(manifest.outputs["out.bin"].size, 8);
    assert_eq!(
        manifest.outputs["out.bin"].sha256,
        crate::hash::sha256_bytes(&[1u8; 8])
    );

    let second = run_stage(&p, &runs, 8, false, &mut count);
    assert_eq!(
        second,
        Outcome::UpToDate {
            key: key_of(&first)
        }
    );
    assert_eq!(count, 1);
    assert!(second.summary("first").starts_with("first: up to date"));
    assert_eq!(
        std::fs::metadata(&manifest_path)
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert!(
        !runs.join("demo/first/.work").exists(),
        "checkpoints removed after success"
    );

    let forced = run_stage(&p, &runs, 8, true, &mut count);
    assert!(matches!(forced, Outcome::Ran { .. }));
    assert_eq!(
        key_of(&forced),
        key_of(&first),
        "--force does not change the key"
    );
    assert_eq!(count, 2);
}

#[test]
fn key_is_stable_and_follows_config_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let mut count = 0;
    let a = key_of(&run_stage(
        &pipeline(dir.path(), 1),
        &runs,
        8,
        false,
        &mut count,
    ));
    let b = key_of(&run_stage(
        &pipeline(dir.path(), 1),
        &runs,
        9,
        false,
        &mut count,
    ));
    let c = key_of(&run_stage(
        &pipeline(dir.path(), 2),
        &runs,
        9,
        false,
        &mut count,
    ));
    assert_ne!(a, b);
    assert_ne!(b, c);
    assert_eq!(count, 3);
    // The same inputs give the same key in a fresh folder, i.e. across runs and machines.
    let other = tempfile::tempdir().unwrap();
    let again = key_of(&run_stage(
        &pipeline(dir.path(), 1),
        &other.path().join("runs"),
        8,
        false,
        &mut count,
    ));
    assert_eq!(a, again);
}

#[test]
fn stale_reasons_name_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let mut count = 0;
    run_stage(&p, &runs, 8, false, &mut count);
    let runner = StageRunner::new(&p, &runs, "first", 1).config(&Config { size: 9 });
    assert_eq!(
        runner.freshness().unwrap(),
        Freshness::Stale {
            reason: "config changed: size".into()
        }
    );
    let runner = StageRunner::new(&p, &runs, "first", 2).config(&Config { size: 8 });
    assert!(
        matches!(runner.freshness().unwrap(), Freshness::Stale { reason } if reason.contains("version"))
    );

    // A flipped byte in an output is caught by its hash even though the size is unchanged.
    let out = runs.join("demo/first/out.bin");
    std::fs::write(&out, [1u8, 1, 1, 2, 1, 1, 1, 1]).unwrap();
    let runner = StageRunner::new(&p, &runs, "first", 1).config(&Config { size: 8 });
    assert_eq!(
        runner.freshness().unwrap(),
        Freshness::Stale {
            reason: "out.bin does not match its recorded sha256 (modified or corrupt)".into()
        }
    );
    run_stage(&p, &runs, 8, false, &mut count);
    assert_eq!(count, 2, "a corrupt output makes the stage run again");
    assert_eq!(std::fs::read(&out).unwrap(), vec![1u8; 8]);
}

#[test]
fn upstream_outputs_feed_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let downstream = || {
        StageRunner::new(&p, &runs, "second", 1)
            .config(&Config { size: 1 })
            .upstream("first")
            .progress(ProgressMode::None)
    };
    let err = downstream().run(false, |_| Ok(())).unwrap_err().to_string();
    assert!(
        err.contains("upstream stage first has not completed"),
        "{err}"
    );
    assert!(err.contains("just first demo"), "{err}");

    let mut count = 0;
    run_stage(&p, &runs, 8, false, &mut count);
    let k1 = key_of(
        &downstream()
            .run(false, |run| write_output(run, "x", b"x"))
            .unwrap(),
    );
    assert_eq!(downstream().freshness().unwrap(), Freshness::Fresh);
    run_stage(&p, &runs, 9, false, &mut count);
    assert_eq!(
        downstream().freshness().unwrap(),
        Freshness::Stale {
            reason: "upstream stage first changed".into()
        }
    );
    let k2 = key_of(
        &downstream()
            .run(false, |run| write_output(run, "x", b"x"))
            .unwrap(),
    );
    assert_ne!(k1, k2);
}

#[test]
fn a_failed_run_leaves_no_manifest_and_keeps_its_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let mut count = 0;
    run_stage(&p, &runs, 8, false, &mut count);
    let result = StageRunner::new(&p, &runs, "first", 1)
        .config(&Config { size: 3 })
        .progress(ProgressMode::None)
        .run(false, |run| {
            std::fs::write(run.work_dir().join("checkpoint"), b"step 5")?;
            let mut file = run.create_output("out.bin")?;
            file.write_all(b"par")?;
            anyhow::bail!("killed midway")
        });
    assert!(result.is_err());
    let stage_dir = runs.join("demo/first");
    assert!(
        !stage_dir.join("manifest.json").exists(),
        "no manifest that lies"
    );
    assert_eq!(
        std::fs::read(stage_dir.join("out.bin")).unwrap(),
        vec![1u8; 8]
    );
    let work: Vec<_> = std::fs::read_dir(stage_dir.join(".work"))
        .unwrap()
        .collect();
    assert_eq!(work.len(), 1, "the checkpoint folder survives for a resume");
}

#[test]
fn a_held_lock_refuses_the_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(runs.join("demo/first")).unwrap();
    let _held = StageLock::acquire(&runs.join("demo/first/.lock"), "demo/first").unwrap();
    let err = StageRunner::new(&p, &runs, "first", 1)
        .config(&Config { size: 1 })
        .run(false, |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("demo/first is being run by another process (pid"),
        "{err}"
    );
}
