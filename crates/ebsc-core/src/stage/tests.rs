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
        Outcome::UpToDate { key } | Outcome::Ran { key, .. } | Outcome::Redrawn { key, .. } => {
            key.clone()
        }
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

/// Runs of a stage with a report drawn from its data, as the training stages draw their
/// figures from `metrics.parquet`: how often the body and the redraw ran.
#[derive(Default)]
struct Calls {
    body: u32,
    redraw: u32,
}

const DATA: Artifact = Artifact {
    stage: "drawn",
    file: "data.bin",
    format: Format::Json,
};

/// `report/figure.txt` from `data.bin`; `mark` tells a redrawn figure from the first one.
fn draw(run: &mut StageRun, mark: &str) -> anyhow::Result<()> {
    let data = std::fs::read(run.output_path(DATA.file))?;
    std::fs::create_dir_all(run.dir().join("report"))?;
    let figure = format!("figure of {} bytes{mark}", data.len());
    run.write_output("report/figure.txt", figure.as_bytes())?;
    run.write_output("report/notes.md", b"notes")
}

fn drawn_runner<'a>(
    p: &'a Pipeline,
    runs: &Path,
    calls: &'a std::cell::RefCell<Calls>,
    mark: &'a str,
) -> StageRunner<'a> {
    StageRunner::new(p, runs, "drawn", 1)
        .config(&Config { size: 4 })
        .progress(ProgressMode::None)
        .redraw_reports(&DATA, move |run| {
            calls.borrow_mut().redraw += 1;
            draw(run, mark)
        })
}

fn run_drawn(
    p: &Pipeline,
    runs: &Path,
    calls: &std::cell::RefCell<Calls>,
    mark: &str,
    force: bool,
) -> Outcome {
    drawn_runner(p, runs, calls, mark)
        .run(force, |run| {
            calls.borrow_mut().body += 1;
            // A value serde_json's default float parser reads back an ulp off.
            run.stat("loss", 1.949_793_202_864_741_3);
            run.write_output(DATA.file, b"data")?;
            draw(run, "")
        })
        .unwrap()
}

#[test]
fn a_damaged_report_is_redrawn_without_running_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let calls = std::cell::RefCell::new(Calls::default());
    let first = run_drawn(&p, &runs, &calls, "", false);
    assert!(matches!(first, Outcome::Ran { .. }));
    let stage = runs.join("demo/drawn");
    let manifest_path = stage.join("manifest.json");
    let before = Manifest::read(&manifest_path).unwrap();
    let manifest_bytes = std::fs::read(&manifest_path).unwrap();
    let figure = stage.join("report/figure.txt");

    // Deleted, then edited in place: drawn again from data.bin, the body left alone.
    for damage in [None, Some(b"figure of 9 bytes".as_slice())] {
        match damage {
            None => std::fs::remove_file(&figure).unwrap(),
            Some(bytes) => std::fs::write(&figure, bytes).unwrap(),
        }
        let outcome = run_drawn(&p, &runs, &calls, "", false);
        assert_eq!(
            outcome,
            Outcome::Redrawn {
                key: key_of(&first),
                files: vec!["report/figure.txt".into(), "report/notes.md".into()],
            }
        );
        assert!(
            outcome
                .summary("drawn")
                .starts_with("drawn: up to date, 2 report files redrawn (key "),
            "{}",
            outcome.summary("drawn")
        );
        assert_eq!(std::fs::read(&figure).unwrap(), b"figure of 4 bytes");
        // The same entries, stats and provenance, to the byte.
        assert_eq!(
            String::from_utf8(std::fs::read(&manifest_path).unwrap()).unwrap(),
            String::from_utf8(manifest_bytes.clone()).unwrap()
        );
        assert!(
            !stage.join(".work").exists(),
            "a redraw makes no checkpoints"
        );
    }
    assert_eq!((calls.borrow().body, calls.borrow().redraw), (1, 2));

    // A redraw whose bytes differ from the first drawing: the manifest records them, and
    // the next run is plainly up to date.
    std::fs::remove_file(stage.join("report/notes.md")).unwrap();
    let outcome = run_drawn(&p, &runs, &calls, " (redrawn)", false);
    assert!(matches!(outcome, Outcome::Redrawn { .. }), "{outcome:?}");
    let after = Manifest::read(&manifest_path).unwrap();
    assert_eq!(after.key, before.key);
    assert_eq!(after.outputs["data.bin"], before.outputs["data.bin"]);
    assert_eq!(
        after.outputs["report/figure.txt"],
        output_entry(&figure).unwrap()
    );
    assert_ne!(
        after.outputs["report/figure.txt"],
        before.outputs["report/figure.txt"]
    );
    assert_eq!(after.verify_outputs(&stage).unwrap(), Ok(()));
    let again = run_drawn(&p, &runs, &calls, " (redrawn)", false);
    assert!(matches!(again, Outcome::UpToDate { .. }), "{again:?}");
    assert_eq!((calls.borrow().body, calls.borrow().redraw), (1, 3));

    // `--force` runs the body even when only a report is damaged.
    std::fs::remove_file(&figure).unwrap();
    let forced = run_drawn(&p, &runs, &calls, "", true);
    assert!(matches!(forced, Outcome::Ran { .. }), "{forced:?}");
    assert_eq!((calls.borrow().body, calls.borrow().redraw), (2, 3));
}

#[test]
fn a_damaged_primary_output_runs_the_body_even_with_a_redraw() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let calls = std::cell::RefCell::new(Calls::default());
    run_drawn(&p, &runs, &calls, "", false);
    let stage = runs.join("demo/drawn");
    // Both data.bin and a report damaged: the data decides, the body runs.
    std::fs::write(stage.join("data.bin"), b"dat!").unwrap();
    std::fs::remove_file(stage.join("report/figure.txt")).unwrap();
    let runner = drawn_runner(&p, &runs, &calls, "");
    assert_eq!(
        runner.freshness().unwrap(),
        Freshness::Stale {
            reason: "data.bin does not match its recorded sha256 (modified or corrupt)".into()
        }
    );
    let outcome = run_drawn(&p, &runs, &calls, "", false);
    assert!(matches!(outcome, Outcome::Ran { .. }), "{outcome:?}");
    assert_eq!((calls.borrow().body, calls.borrow().redraw), (2, 0));
    assert_eq!(std::fs::read(stage.join("data.bin")).unwrap(), b"data");
    assert!(stage.join("report/figure.txt").exists());
}

#[test]
fn without_a_redraw_a_damaged_report_runs_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let mut count = 0;
    let plain = |count: &mut u32| {
        StageRunner::new(&p, &runs, "drawn", 1)
            .config(&Config { size: 4 })
            .progress(ProgressMode::None)
            .run(false, |run| {
                *count += 1;
                run.write_output(DATA.file, b"data")?;
                draw(run, "")
            })
            .unwrap()
    };
    plain(&mut count);
    std::fs::remove_file(runs.join("demo/drawn/report/figure.txt")).unwrap();
    let runner = StageRunner::new(&p, &runs, "drawn", 1).config(&Config { size: 4 });
    assert_eq!(
        runner.freshness().unwrap(),
        Freshness::Stale {
            reason: "report/figure.txt is missing".into()
        }
    );
    assert!(matches!(plain(&mut count), Outcome::Ran { .. }));
    assert_eq!(count, 2);
}

#[test]
fn a_failed_redraw_leaves_the_manifest_and_says_how_to_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let calls = std::cell::RefCell::new(Calls::default());
    run_drawn(&p, &runs, &calls, "", false);
    let manifest_path = runs.join("demo/drawn/manifest.json");
    let before = std::fs::read(&manifest_path).unwrap();
    std::fs::remove_file(runs.join("demo/drawn/report/figure.txt")).unwrap();
    let failing = |redraw: fn(&mut StageRun) -> anyhow::Result<()>| {
        StageRunner::new(&p, &runs, "drawn", 1)
            .config(&Config { size: 4 })
            .progress(ProgressMode::None)
            .redraw_reports(&DATA, redraw)
            .run(false, |_| panic!("the body must not run"))
            .unwrap_err()
    };
    let err = failing(|_| anyhow::bail!("no font"));
    assert_eq!(
        format!("{err:#}"),
        "report/figure.txt is missing: redrawing the reports failed; `--force` runs the stage \
         again: no font"
    );
    // A redraw that leaves out a report the manifest lists, or writes a primary output.
    let err = failing(|run| run.write_output("report/notes.md", b"notes"));
    assert_eq!(
        err.to_string(),
        "report/figure.txt is missing after redrawing the reports; `--force` runs the stage again"
    );
    let err = failing(|run| run.write_output("data.bin", b"data"));
    assert!(
        err.to_string()
            .contains("data.bin, which is not a derived output"),
        "{err}"
    );
    assert_eq!(std::fs::read(&manifest_path).unwrap(), before);
}

#[test]
fn downstream_neither_verifies_nor_hashes_upstream_reports() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1);
    let runs = dir.path().join("runs");
    let calls = std::cell::RefCell::new(Calls::default());
    run_drawn(&p, &runs, &calls, "", false);
    let downstream = || {
        StageRunner::new(&p, &runs, "second", 1)
            .upstream("drawn")
            .progress(ProgressMode::None)
    };
    let key = key_of(
        &downstream()
            .run(false, |run| run.write_output("x", b"x"))
            .unwrap(),
    );
    let figure = runs.join("demo/drawn/report/figure.txt");
    std::fs::remove_file(&figure).unwrap();
    assert_eq!(downstream().freshness().unwrap(), Freshness::Fresh);
    // Redrawn with other bytes: the same downstream key.
    run_drawn(&p, &runs, &calls, " (redrawn)", false);
    assert_eq!(downstream().key().unwrap(), key);
    assert_eq!(downstream().freshness().unwrap(), Freshness::Fresh);
    // A damaged primary output is refused as ever.
    std::fs::write(runs.join("demo/drawn/data.bin"), b"dat").unwrap();
    let err = downstream().freshness().unwrap_err().to_string();
    assert_eq!(
        err,
        "upstream stage drawn: data.bin has 3 bytes, the manifest says 4; run `just drawn demo` first"
    );
}

#[test]
fn only_files_under_report_are_derived() {
    assert!(crate::manifest::is_derived("report/training.png"));
    assert!(crate::manifest::is_derived("report/report.md"));
    for file in ["metrics.parquet", "report.md", "reports/x.png", "report"] {
        assert!(!crate::manifest::is_derived(file), "{file}");
    }
}

#[test]
fn members_run_in_their_own_folders_from_their_own_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let path = dir.path().join("demo.toml");
    let p = Pipeline::parse(&path, "[pipeline]\nseed = 5\nmembers = 2\n").unwrap();
    StageRunner::new(&p, &runs, "prepare", 1)
        .progress(ProgressMode::None)
        .run(false, |run| run.write_output("inputs.bin", b"in"))
        .unwrap();
    let dictionary = Artifact {
        stage: "train",
        file: "dictionary.bin",
        format: Format::Json,
    };
    let member = |m: usize| {
        StageRunner::new(&p, &runs, "train", 1)
            .member(m)
            .config(&Config { size: 1 })
            .upstream("prepare")
            .progress(ProgressMode::None)
    };
    let mut seen = Vec::new();
    for m in 0..2 {
        member(m)
            .run(false, |run| {
                seen.push((run.seed(), run.dir().to_path_buf()));
                run.write_output("dictionary.bin", format!("d{m}").as_bytes())
            })
            .unwrap();
    }
    assert_eq!(
        seen,
        vec![
            (5, runs.join("demo/train")),
            (6, runs.join("demo/member-1/train"))
        ]
    );
    assert_ne!(member(0).key().unwrap(), member(1).key().unwrap());
    let manifest = Manifest::read(&runs.join("demo/member-1/train/manifest.json")).unwrap();
    assert_eq!(manifest.config["seed"], 6);
    // Both members read the one prepare run.
    assert_eq!(
        member(1).upstream_dir("prepare"),
        member(0).upstream_dir("prepare")
    );
    // Member 0 is the one-member pipeline of the same seed: same folder, same key.
    let one = pipeline(dir.path(), 5);
    let alone = StageRunner::new(&one, &runs, "train", 1)
        .config(&Config { size: 1 })
        .upstream("prepare");
    assert_eq!(alone.freshness().unwrap(), Freshness::Fresh);
    assert_eq!(alone.key().unwrap(), member(0).key().unwrap());

    // The cluster stage reads every member's dictionary: another member's new bytes make
    // it stale, and a member that has not run is named with the recipe that runs it.
    let cluster = || {
        StageRunner::new(&p, &runs, "cluster", 1)
            .upstream_reading(&[dictionary])
            .member_upstream_reading(1, &[dictionary])
            .progress(ProgressMode::None)
    };
    assert_eq!(
        cluster().member_upstream_path(1, &dictionary),
        runs.join("demo/member-1/train/dictionary.bin")
    );
    cluster().run(false, |_| Ok(())).unwrap();
    assert_eq!(cluster().freshness().unwrap(), Freshness::Fresh);
    member(1)
        .run(true, |run| run.write_output("dictionary.bin", b"other"))
        .unwrap();
    assert_eq!(
        cluster().freshness().unwrap(),
        Freshness::Stale {
            reason: "the bytes of an upstream output changed".into()
        }
    );
    std::fs::remove_file(runs.join("demo/member-1/train/manifest.json")).unwrap();
    let err = cluster().freshness().unwrap_err().to_string();
    assert!(
        err.contains("upstream stage member-1/train has not completed")
            && err.contains("run `just train demo` first"),
        "{err}"
    );
}
