//! Faults and bad input across the pipeline, on all five stages as processes.
//! Two small projects: `PIPELINE`, a real `prepare` (synthetic subspaces), a hand-made
//! `affinity` stage folder (files and manifest, as the stage runner leaves them) and a real
//! `cluster`; and `FULL`, every stage for real on the same data (an MLP pretrained and
//! trained for a few steps, a checkpoint after each, `--device cpu --threads 1` so that the
//! outputs are the same bytes run to run). Each scenario is a temp folder:
//!
//! - a deleted, truncated or byte-flipped artifact is found from the manifest, named, and
//!   rebuilt by its own stage; downstream refuses to read it meanwhile, and is up to date
//!   again once the rebuilt bytes are the same; the stage above stays up to date. For
//!   pretrain, train and affinity too: their rebuilt models and graphs are byte-identical
//!   and `metrics.parquet` differs only in its timings (`samples_per_s`), which no stage
//!   reads, so no downstream key hashes it. A training stage's damaged `report/` file is
//!   the exception: downstream stages do not read it and go on, and the stage redraws it
//!   from `metrics.parquet`, without training, to the same bytes;
//! - a config edit re-runs exactly the stage it changes and those downstream; a cosmetic
//!   edit (comments, key order, description) re-runs nothing;
//! - a second run of a stage while one holds its lock is refused, naming the holder, and
//!   racing runs never leave outputs that disagree with their manifest;
//! - a full disk (a file-size limit, `ulimit -f`) gives one clear error line; upstream
//!   artifacts and manifests are intact and no half-written file lands under a final name.
//!   During pretrain: a checkpoint that does not fit, then an output that does not fit
//!   after the last checkpoint; the rerun resumes there and writes an uninterrupted run's
//!   bytes;
//! - `kill -9` of pretrain and of train at random moments (seeded; `EBSC_FAULTS_SEED`
//!   replays a run), each followed by a plain rerun, ends on the uninterrupted run's bytes;
//! - a loss that turns NaN (`lr = 1e30`) stops the stage with one line naming the step, the
//!   loss term and the checkpoint kept, no manifest; the fixed config runs from the start.
//!
//! Stage processes are this test binary re-executed as `faults --stage-child <stage> ARGS`,
//! which calls the stage library exactly as the stage's `main.rs` does; so the test needs no
//! binary built by another package. `harness = false`: `main` below runs the scenarios
//! (`artifacts.rs`, `training.rs`; the project, its damages and comparisons are in
//! `harness.rs`), as many at once as there are cores (`RUST_TEST_THREADS` to change).

mod artifacts;
mod harness;
mod training;

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::Parser;

use artifacts::*;
use training::*;

pub(crate) const CHILD_FLAG: &str = "--stage-child";

pub(crate) const STAGES: [&str; 5] = ["prepare", "pretrain", "train", "affinity", "cluster"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_FLAG) {
        return stage_child(&args[2..]);
    }
    let filter = args[1..].iter().find(|a| !a.starts_with('-'));
    // Longest first (about 45, 30, 12 s, then under 7 s each in a debug build), so that
    // the workers finish together.
    let scenarios: [(&str, fn()); 9] = [
        (
            "damaged_training_artifacts_are_named_refused_downstream_and_rebuilt",
            damaged_training_artifacts_are_named_refused_downstream_and_rebuilt,
        ),
        (
            "killed_training_stages_resume_to_the_same_bytes",
            killed_training_stages_resume_to_the_same_bytes,
        ),
        (
            "damaged_upstream_artifacts_are_named_refused_downstream_and_rebuilt",
            damaged_upstream_artifacts_are_named_refused_downstream_and_rebuilt,
        ),
        (
            "config_edits_rerun_exactly_the_stages_they_change",
            config_edits_rerun_exactly_the_stages_they_change,
        ),
        (
            "a_full_disk_fails_cleanly_and_keeps_earlier_artifacts",
            a_full_disk_fails_cleanly_and_keeps_earlier_artifacts,
        ),
        (
            "a_full_disk_during_training_fails_cleanly_and_resumes",
            a_full_disk_during_training_fails_cleanly_and_resumes,
        ),
        (
            "a_second_run_is_refused_while_the_lock_is_held",
            a_second_run_is_refused_while_the_lock_is_held,
        ),
        (
            "damaged_downstream_artifacts_rerun_only_their_stage",
            damaged_downstream_artifacts_rerun_only_their_stage,
        ),
        (
            "a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint",
            a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint,
        ),
    ];
    let total = scenarios.len();
    let selected: Vec<(&str, fn())> = scenarios
        .into_iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f.as_str())))
        .collect();
    let filtered = total - selected.len();
    let ran = selected.len();
    let started = Instant::now();
    let passed = run_side_by_side(selected, test_threads());
    let failed = ran - passed;
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered} filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// As many scenarios at once as libtest would run tests: `RUST_TEST_THREADS`, else one per
/// core. Each scenario's stage processes use one libtorch thread, so two of them keep a
/// 2-core machine busy where one left a core idle.
fn test_threads() -> usize {
    std::env::var("RUST_TEST_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs the scenarios on `threads` workers, each scenario on a thread named after it (a
/// panic message names its scenario); the order of `scenarios` is the order they start.
/// Returns how many passed.
fn run_side_by_side(scenarios: Vec<(&str, fn())>, threads: usize) -> usize {
    let queue = Mutex::new(scenarios.into_iter());
    let passed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let Some((name, scenario)) = queue.lock().unwrap().next() else {
                        return;
                    };
                    let scenario_started = Instant::now();
                    let ok = std::thread::Builder::new()
                        .name(name.to_string())
                        .spawn(scenario)
                        .expect("a thread for the scenario")
                        .join()
                        .is_ok();
                    println!(
                        "test {name} ... {} ({:.1} s)",
                        if ok { "ok" } else { "FAILED" },
                        scenario_started.elapsed().as_secs_f64()
                    );
                    if ok {
                        passed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    passed.into_inner()
}

fn stage_child(args: &[String]) -> ExitCode {
    let Some((stage, rest)) = args.split_first() else {
        eprintln!("{CHILD_FLAG} needs a stage name");
        return ExitCode::FAILURE;
    };
    let argv = std::iter::once(format!("ebsc-{stage}")).chain(rest.iter().cloned());
    match stage.as_str() {
        "prepare" => {
            let args = ebsc_prepare::Args::parse_from(argv);
            ebsc_core::cli::finish(ebsc_prepare::STAGE, ebsc_prepare::run(&args))
        }
        "pretrain" => {
            let args = ebsc_pretrain::Args::parse_from(argv);
            ebsc_core::cli::finish_members(ebsc_pretrain::STAGE, ebsc_pretrain::run(&args))
        }
        "train" => {
            let args = ebsc_train::Args::parse_from(argv);
            ebsc_core::cli::finish_members(ebsc_train::STAGE, ebsc_train::run(&args))
        }
        "affinity" => {
            let args = ebsc_affinity::Args::parse_from(argv);
            ebsc_core::cli::finish_members(ebsc_affinity::STAGE, ebsc_affinity::run(&args))
        }
        "cluster" => {
            let args = ebsc_cluster::Args::parse_from(argv);
            ebsc_cluster::finish(ebsc_cluster::run(&args))
        }
        other => {
            eprintln!("no stage {other} in this test");
            ExitCode::FAILURE
        }
    }
}
