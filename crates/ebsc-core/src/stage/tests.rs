use std::io::Write;

use ebsc_io::artifacts::Format;

use super::*;

#[derive(Serialize)]
struct Config {
    size: u32,
}

fn pipeline(dir: &Path, seed: u64) -> Pipeline {
    let path = dir.join("demo.toml");
    Pipeline::parse(&path, &format!("[pipeline]\nseed = {seed}\n")).unwrap()
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
            run.write_output("out.bin", &vec![1u8; size as usize])
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
            .run(false, |run| run.write_output("x", b"x"))
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
            .run(false, |run| run.write_output("x", b"x"))
            .unwrap(),
    );
    assert_ne!(k1, k2);
}

/// A two-output stage (`a.bin`, `b.bin` of `size` bytes) whose body fails after
/// committing `commit_first` outputs: a run killed part-way, or a disk that filled up.
fn failing_run(
    p: &Pipeline,
    runs: &Path,
    size: u32,
    commit_first: usize,
) -> anyhow::Result<Outcome> {
    StageRunner::new(p, runs, "pair", 1)
        .config(&Config { size })
        .progress(ProgressMode::None)
        .run(false, |run| {
            std::fs::write(run.work_dir().join("checkpoint"), b"step 5")?;
            for name in ["a.bin", "b.bin"].into_iter().take(commit_first) {
                run.write_output(name, &vec![2u8; size as usize])?;
            }
            let mut file = run.create_output("b.bin")?;
            file.write_all(b"par")?;
            anyhow::bail!("no space left on device")
        })
}

fn pair_runner<'a>(p: &'a Pipeline, runs: &Path, size: u32) -> StageRunner<'a> {
    StageRunner::new(p, runs, "pair", 1).config(&Config { size })
}

fn run_pair(p: &Pipeline, runs: &Path, size: u32) {
    pair_runner(p, runs, size)
        .progress(ProgressMode::None)
        .run(false, |run| {
            run.write_output("a.bin", &vec![1u8; size as usize])?;
            run.write_output("b.bin", &vec![1u8; size as usize])
        })
        .unwrap();
}

#[test]
fn a_failed_run_that_replaced_an_output_leaves_no_manifest_and_keeps_its_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    run_pair(&p, &runs, 8);
    let err = failing_run(&p, &runs, 3, 1).unwrap_err();
    assert_eq!(err.to_string(), "no space left on device");
    let stage_dir = runs.join("demo/pair");
    assert!(
        !stage_dir.join("manifest.json").exists(),
        "a.bin was replaced: the old manifest would lie"
    );
    assert_eq!(
        std::fs::read(stage_dir.join("a.bin")).unwrap(),
        vec![2u8; 3]
    );
    assert_eq!(
        std::fs::read(stage_dir.join("b.bin")).unwrap(),
        vec![1u8; 8]
    );
    let work: Vec<_> = std::fs::read_dir(stage_dir.join(".work"))
        .unwrap()
        .collect();
    assert_eq!(work.len(), 1, "the checkpoint folder survives for a resume");
    assert_eq!(
        pair_runner(&p, &runs, 3).freshness().unwrap(),
        Freshness::Missing
    );
}

#[test]
fn a_failed_run_that_replaced_nothing_puts_the_previous_manifest_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    run_pair(&p, &runs, 8);
    let manifest_path = runs.join("demo/pair/manifest.json");
    let before = Manifest::read(&manifest_path).unwrap();
    // A new config whose first output never landed (the half-written temp file is gone).
    failing_run(&p, &runs, 3, 0).unwrap_err();
    let after = Manifest::read(&manifest_path).expect("the previous manifest is back");
    assert_eq!(after.key, before.key);
    assert_eq!(after.outputs, before.outputs);
    // It is as true as before: fresh for the old config, stale for the new one.
    assert_eq!(
        pair_runner(&p, &runs, 8).freshness().unwrap(),
        Freshness::Fresh
    );
    assert_eq!(
        pair_runner(&p, &runs, 3).freshness().unwrap(),
        Freshness::Stale {
            reason: "config changed: size".into()
        }
    );
    let names: Vec<String> = std::fs::read_dir(runs.join("demo/pair"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
}

#[test]
fn a_damaged_upstream_output_stops_downstream_until_it_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let mut count = 0;
    run_stage(&p, &runs, 8, false, &mut count);
    let downstream = || {
        StageRunner::new(&p, &runs, "second", 1)
            .config(&Config { size: 1 })
            .upstream("first")
            .progress(ProgressMode::None)
    };
    downstream()
        .run(false, |run| run.write_output("x", b"x"))
        .unwrap();
    let out = runs.join("demo/first/out.bin");
    std::fs::write(&out, [1u8; 7]).unwrap();
    let err = downstream().freshness().unwrap_err().to_string();
    assert_eq!(
        err,
        "upstream stage first: out.bin has 7 bytes, the manifest says 8; run `just first demo` first"
    );
    let err = downstream()
        .run(false, |_| panic!("must not run on a damaged upstream"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("out.bin has 7 bytes"), "{err}");
    assert!(
        runs.join("demo/second/manifest.json").exists(),
        "a refused run leaves its own manifest alone"
    );
    // The upstream stage rebuilds the same bytes: downstream's key is unchanged, so it is
    // fresh again without running.
    run_stage(&p, &runs, 8, false, &mut count);
    assert_eq!(count, 2);
    assert_eq!(downstream().freshness().unwrap(), Freshness::Fresh);
}

#[test]
fn a_damaged_manifest_makes_the_stage_stale_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let mut count = 0;
    run_stage(&p, &runs, 8, false, &mut count);
    let path = runs.join("demo/first/manifest.json");
    std::fs::write(&path, b"{\"format\": 1,").unwrap();
    let runner = StageRunner::new(&p, &runs, "first", 1).config(&Config { size: 8 });
    let Freshness::Stale { reason } = runner.freshness().unwrap() else {
        panic!("a damaged manifest is stale");
    };
    assert!(
        reason.starts_with(&format!("{}: not a valid manifest", path.display())),
        "{reason}"
    );
    run_stage(&p, &runs, 8, false, &mut count);
    assert_eq!(count, 2);
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

#[test]
fn only_the_upstream_outputs_read_feed_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    // The upstream stage rebuilt (forced) with the same data and another log, as a training
    // stage's timings differ from run to run.
    let first = |log: &[u8]| {
        StageRunner::new(&p, &runs, "first", 1)
            .progress(ProgressMode::None)
            .run(true, |run| {
                run.write_output("data.bin", b"data")?;
                run.write_output("log.bin", log)
            })
            .unwrap()
    };
    let reading = |files: &[&'static str]| {
        let artifacts: Vec<Artifact> = files
            .iter()
            .map(|file| Artifact {
                stage: "first",
                file,
                format: Format::Json,
            })
            .collect();
        StageRunner::new(&p, &runs, "second", 1)
            .upstream_reading(&artifacts)
            .progress(ProgressMode::None)
    };
    first(b"log 1");
    let k1 = key_of(&reading(&["data.bin"]).run(false, |_| Ok(())).unwrap());
    first(b"log 2");
    assert_eq!(
        reading(&["data.bin"]).freshness().unwrap(),
        Freshness::Fresh
    );
    // Reading the log as well: its new bytes make the stage stale, with the reason.
    let k2 = key_of(
        &reading(&["data.bin", "log.bin"])
            .run(false, |_| Ok(()))
            .unwrap(),
    );
    assert_ne!(k1, k2);
    first(b"log 3");
    assert_eq!(
        reading(&["data.bin", "log.bin"]).freshness().unwrap(),
        Freshness::Stale {
            reason: "the bytes of an upstream output changed".into()
        }
    );
    // A file the upstream stage does not write is an error naming it.
    let err = reading(&["model.bin"]).freshness().unwrap_err().to_string();
    assert!(
        err.contains(
            "upstream stage first has no output model.bin (its manifest lists data.bin, log.bin)"
        ),
        "{err}"
    );
}

#[test]
fn temp_files_of_a_killed_writer_are_removed_when_the_stage_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let stage = runs.join("demo/first");
    std::fs::create_dir_all(stage.join("report")).unwrap();
    // pid 4294967295 runs nowhere (Linux pids stay below 2^22); this process does.
    let dead = [
        ".manifest.json.tmp-4294967295-3",
        "report/.figure.png.tmp-4294967295-0",
    ];
    let live = format!("report/.other.png.tmp-{}-0", std::process::id());
    for name in dead.iter().copied().chain([live.as_str(), "notes.tmp-1-2"]) {
        std::fs::write(stage.join(name), b"half").unwrap();
    }
    let mut count = 0;
    run_stage(&p, &runs, 8, false, &mut count);
    for name in dead {
        assert!(!stage.join(name).exists(), "{name} is left");
    }
    // A writer that still runs, and a name that is not a temp file, are left alone.
    assert!(stage.join(&live).exists());
    assert!(stage.join("notes.tmp-1-2").exists());
}
