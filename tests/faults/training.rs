//! Scenarios on the training stages, on `FULL`: damaged artifacts, `kill -9`, a full
//! disk during training, a non-finite loss.

//! (`cargo test -p ebsc-tests --test faults -- NAME` runs those whose name contains NAME).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Instant;

use ebsc_test_support::cli::Output;

use crate::STAGES;
use crate::harness::*;

pub(crate) fn damaged_training_artifacts_are_named_refused_downstream_and_rebuilt() {
    let project = Project::with(FULL);
    project.run_stages(&STAGES);
    for i in 1..=3 {
        let stage = STAGES[i];
        let next = STAGES[i + 1];
        let names: Vec<String> = project.manifest(stage).outputs.keys().cloned().collect();
        for (j, name) in names.iter().enumerate() {
            // One damage per file, in turn: each stage with three outputs meets all three,
            // and each process start costs about a second in a debug build.
            let damages = [[Damage::Delete, Damage::Truncate, Damage::FlipByte][(i + j) % 3]];
            for damage in damages {
                let what = format!("{damage:?} {stage}/{name}");
                let next_files = project.snapshot(next);
                let reproducible = project.reproducible(stage);
                let key = project.manifest(stage).key;
                let stage_files = project.snapshot(stage);
                let problem = damage.apply(&project.stage_dir(stage).join(name), name);
                if name.starts_with("report/") {
                    report_is_redrawn(&project, i, name, &problem, &stage_files, &next_files);
                    continue;
                }

                project.run(next, &[]).expect_error(
                    next,
                    &[
                        &format!("upstream stage {stage}: {problem}"),
                        &format!("run `just {stage} p` first"),
                    ],
                );
                assert_same(
                    &project.snapshot(next),
                    &next_files,
                    &format!("{next} folder after {what}"),
                );
                // The stage right above stays up to date (which verifies its own upstream
                // outputs on the way).
                let above = STAGES[i - 1];
                project.run(above, &[]).expect_up_to_date(above);
                project.run(stage, &[]).expect_ran(stage, &problem);
                assert_eq!(project.manifest(stage).key, key, "{what}");
                assert_same(
                    &project.reproducible(stage),
                    &reproducible,
                    &format!("{stage} rebuilt after {what}"),
                );
                assert!(!project.stage_dir(stage).join(".work").exists());
                // Downstream: the same bytes of every file it reads (a rebuilt
                // metrics.parquet differs in its timings, and no stage reads it), so the same
                // key, up to date.
                for down in &STAGES[i + 1..] {
                    project.run(down, &[]).expect_up_to_date(down);
                }
            }
        }
    }
}

/// A damaged `report/` file of the training stage `STAGES[i]`: downstream stages do not read
/// it and stay up to date; the stage draws it again from `metrics.parquet` without
/// training, and its folder is the same bytes as before the damage, manifest included.
fn report_is_redrawn(
    project: &Project,
    i: usize,
    name: &str,
    problem: &str,
    stage_files: &BTreeMap<String, Vec<u8>>,
    next_files: &BTreeMap<String, Vec<u8>>,
) {
    let (stage, next) = (STAGES[i], STAGES[i + 1]);
    project.run(next, &[]).expect_up_to_date(next);
    assert_same(
        &project.snapshot(next),
        next_files,
        &format!("{next} folder after {stage}/{name} was damaged"),
    );
    project
        .run(STAGES[i - 1], &[])
        .expect_up_to_date(STAGES[i - 1]);
    let out = project.run(stage, &[]);
    out.expect_up_to_date(stage);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("{stage}: {problem}")))
        .unwrap_or_else(|| panic!("{stage} did not name {problem}:\n{}", out.stderr));
    assert!(
        line.ends_with(": redrawn from metrics.parquet (the stage's outputs are up to date)"),
        "{line}"
    );
    assert!(!out.stderr.contains("running ("), "{}", out.stderr);
    // Not retrained: metrics.parquet (whose timings differ on every run) and every other
    // byte are as they were; the redrawn figure is the original one.
    assert_same(
        &project.snapshot(stage),
        stage_files,
        &format!("{stage} after redrawing {name}"),
    );
    for down in &STAGES[i + 1..] {
        project.run(down, &[]).expect_up_to_date(down);
    }
}

pub(crate) fn killed_training_stages_resume_to_the_same_bytes() {
    // 180 pretrain steps and 160 train steps, a checkpoint after each: about half a second
    // of training loop each after a second or less of start-up (libtorch, debug build).
    let pipeline = FULL
        .replace("[pretrain]\nepochs = 3\n", "[pretrain]\nepochs = 60\n")
        .replace(
            "epochs = 3\nbatch_size = 30",
            "epochs = 80\nbatch_size = 30",
        );
    let seed = std::env::var("EBSC_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_127);
    println!("kill -9 at random moments: seed {seed} (EBSC_FAULTS_SEED={seed} replays it)");
    let mut rng = SplitMix64(seed);
    const KILLS: u32 = 3;
    for (i, stage) in [(1, "pretrain"), (2, "train")] {
        let project = Project::with(&pipeline);
        project.run_stages(&STAGES[..i + 1]);
        let expected = project.reproducible(stage);
        // A forced run, as the killed ones will be (measured: a project's first run of a
        // stage is slower); it reproduces the first run's bytes too. Timed twice: T, the
        // whole run, and L, from its first checkpoint to its end (the training loop).
        let started = Instant::now();
        let mut child = spawn_forced(&project, stage);
        let first_checkpoint = wait_for_checkpoint(&project, stage, &mut child);
        let status = child.wait().unwrap();
        let whole = started.elapsed();
        assert!(status.success(), "the forced {stage} run failed");
        let first_checkpoint = first_checkpoint
            .unwrap_or_else(|| panic!("the forced {stage} run wrote no checkpoint"));
        let training = whole.saturating_sub(first_checkpoint);
        assert_same(&project.reproducible(stage), &expected, "a forced rerun");

        let mut between_checkpoints = 0;
        for kill in 0..KILLS {
            let mut child = spawn_forced(&project, stage);
            // The first kill lands anywhere in [0, T): start-up, loop or write-out. The
            // others wait for the run's first checkpoint and land in the first half of L,
            // so they interrupt the training loop however long start-up takes on this
            // machine (a fixed share of T did not: start-up varies more than the loop).
            let (after, delay) = if kill == 0 {
                ("start", whole.mul_f64(rng.next_f64()))
            } else {
                wait_for_checkpoint(&project, stage, &mut child);
                ("first checkpoint", training.mul_f64(rng.next_f64() / 2.0))
            };
            std::thread::sleep(delay);
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            // The forced run removes the manifest before it starts work: none now means
            // the kill interrupted it.
            let mid_run = !project.stage_dir(stage).join("manifest.json").exists();
            let checkpoints = project.checkpoints(stage);
            println!(
                "  {stage}: killed {:.3} s after its {after} (run {:.3} s, loop {:.3} s): {}, \
                 checkpoints {checkpoints:?}",
                delay.as_secs_f64(),
                whole.as_secs_f64(),
                training.as_secs_f64(),
                if mid_run {
                    "mid-run"
                } else {
                    "not started or finished"
                }
            );
            let out = project.run(stage, &[]);
            if mid_run {
                out.expect_ran(stage, "no previous run");
                if let Some(step) = checkpoints.iter().max() {
                    between_checkpoints += 1;
                    assert!(
                        out.stderr
                            .contains(&format!("resuming from the checkpoint at step {step} of")),
                        "{}",
                        out.stderr
                    );
                }
            } else {
                out.expect_up_to_date(stage);
            }
            assert_same(
                &project.reproducible(stage),
                &expected,
                &format!("{stage} after a kill {delay:?} after its {after}"),
            );
            let files = project.snapshot(stage);
            assert!(unfinished(&files).is_empty(), "{:?}", unfinished(&files));
            assert!(!project.stage_dir(stage).join(".work").exists());
        }
        assert!(
            between_checkpoints > 0,
            "no kill landed in the training loop: the {stage} run needs more steps"
        );
    }
}

/// A `--force` run of `stage` in the background, its output discarded.
fn spawn_forced(project: &Project, stage: &str) -> std::process::Child {
    project
        .command(stage, &["--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Polls `<stage>/.work/` until a complete checkpoint is there and returns the time that
/// took, or `None` when the child exits first.
fn wait_for_checkpoint(
    project: &Project,
    stage: &str,
    child: &mut std::process::Child,
) -> Option<std::time::Duration> {
    let started = Instant::now();
    loop {
        if project.has_checkpoint(stage) {
            return Some(started.elapsed());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

pub(crate) fn a_full_disk_during_training_fails_cleanly_and_resumes() {
    // 300 samples: features.safetensors (300 × 16 floats) outgrows a checkpoint (the MLP's
    // weights and two Adam moments), so a limit can fail the output while checkpoints fit.
    let project = Project::with(
        &FULL
            .replace("points_per_subspace = 20", "points_per_subspace = 100")
            .replace("[pretrain]\nepochs = 3\n", "[pretrain]\nepochs = 1\n"),
    );
    project.run_stages(&STAGES[..1]);
    let prepare_files = project.snapshot("prepare");
    let after_failure = |out: &Output, needles: &[&str]| {
        out.expect_error("pretrain", needles);
        assert_same(
            &project.snapshot("prepare"),
            &prepare_files,
            "prepare folder",
        );
        project.assert_consistent("prepare");
        let files = project.snapshot("pretrain");
        assert!(unfinished(&files).is_empty(), "{:?}", unfinished(&files));
        assert!(
            !files.contains_key("manifest.json"),
            "no manifest that lies"
        );
        project.run("train", &[]).expect_error(
            "train",
            &[
                "upstream stage pretrain has not completed",
                "run `just pretrain p` first",
            ],
        );
    };

    // 1 KiB: the first checkpoint does not fit.
    let out = project.run_with_file_limit("pretrain", 1, &[]);
    // e.g. "pretrain: error: data/runs/p/pretrain/.work/<key>/ckpt-0000000001.tmp/
    // tensors.safetensors: writing checkpoint tensors: ... File too large ..."
    after_failure(
        &out,
        &[
            "data/runs/p/pretrain/.work/",
            "/ckpt-0000000001.tmp/tensors.safetensors: writing checkpoint tensors",
            "File too large",
        ],
    );
    assert!(project.checkpoints("pretrain").is_empty());

    // 12 KiB: every checkpoint fits, the encoder too, features.safetensors does not.
    let out = project.run_with_file_limit("pretrain", LIMIT_KIB, &[]);
    after_failure(
        &out,
        &["data/runs/p/pretrain/features.safetensors: cannot write: File too large"],
    );
    assert_eq!(project.checkpoints("pretrain"), vec![15]);

    // With room again it resumes from the last checkpoint (the end of training) and writes
    // the outputs an uninterrupted run writes.
    let out = project.run("pretrain", &[]);
    out.expect_ran("pretrain", "no previous run");
    assert!(
        out.stderr
            .contains("resuming from the checkpoint at step 15 of 15"),
        "{}",
        out.stderr
    );
    let resumed = project.reproducible("pretrain");
    let sizes: BTreeMap<&String, usize> = resumed.iter().map(|(k, v)| (k, v.len())).collect();
    assert!(
        resumed["encoder.safetensors"].len() < LIMIT_KIB as usize * 1024
            && resumed["features.safetensors"].len() > LIMIT_KIB as usize * 1024,
        "{sizes:?}"
    );
    project
        .run("pretrain", &["--force"])
        .expect_ran("pretrain", "--force");
    assert_same(
        &project.reproducible("pretrain"),
        &resumed,
        "resumed against uninterrupted",
    );
    project
        .run("train", &[])
        .expect_ran("train", "no previous run");
}

pub(crate) const LIMIT_KIB: u64 = 12;

pub(crate) fn a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint() {
    let project = Project::with(&FULL.replace("lr = 1e-2", "lr = 1e30"));
    project.run_stages(&STAGES[..1]);
    let out = project.run("pretrain", &[]);
    // e.g. "pretrain: error: step 3 (epoch 1): loss term `ssl` is NaN; training stopped,
    // the last good checkpoint (after step 2) is kept in data/runs/p/pretrain/.work/<key>"
    let line = out.expect_error(
        "pretrain",
        &[
            "loss term `ssl` is",
            "training stopped, the last good checkpoint (after step ",
            ") is kept in data/runs/p/pretrain/.work/",
        ],
    );
    println!("  {line}");
    let number_after = |marker: &str| -> u64 {
        let rest = &line[line.find(marker).unwrap() + marker.len()..];
        rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap()]
            .parse()
            .unwrap()
    };
    let (step, kept) = (
        number_after(": step "),
        number_after("checkpoint (after step "),
    );
    assert!(line.contains(&format!("step {step} (epoch ")), "{line}");
    assert!(kept >= 1 && kept < step, "{line}");
    let dir = &line[line.find("is kept in ").unwrap() + "is kept in ".len()..];
    assert!(
        project
            .dir
            .path()
            .join(dir.trim())
            .join(format!("ckpt-{kept:010}/tensors.safetensors"))
            .is_file(),
        "{line}"
    );
    let files = project.snapshot("pretrain");
    assert!(!files.contains_key("manifest.json"), "no manifest");
    assert!(unfinished(&files).is_empty(), "{:?}", unfinished(&files));

    // A sane learning rate: a new key, so it runs from the start (the failed run left no
    // manifest to compare with) and succeeds; the stale checkpoint is never resumed.
    project.write_pipeline(FULL);
    let out = project.run("pretrain", &[]);
    out.expect_ran("pretrain", "no previous run");
    assert!(!out.stderr.contains("resuming"), "{}", out.stderr);
    project.assert_consistent("pretrain");
    assert!(!project.stage_dir("pretrain").join(".work").exists());
}
