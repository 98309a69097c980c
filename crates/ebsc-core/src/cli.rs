//! What every stage binary shares on its command line, and how it ends.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::progress::ProgressMode;

/// Flags common to every stage. They change how a stage runs, never what it writes.
#[derive(Debug, Clone, clap::Args)]
pub struct StageArgs {
    /// Pipeline file, e.g. pipelines/mnist-demo.toml.
    pub pipeline: PathBuf,
    /// Where run folders go: <runs-dir>/<pipeline>/<stage>/.
    #[arg(long, default_value = "data/runs")]
    pub runs_dir: PathBuf,
    /// Run even when the outputs are up to date.
    #[arg(long)]
    pub force: bool,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// Prints the outcome line or the error (one line, with its context chain) and exits.
pub fn finish(stage: &str, result: anyhow::Result<crate::stage::Outcome>) -> ExitCode {
    finish_members(stage, result.map(|outcome| vec![(0, outcome)]))
}

/// [`finish`] for a stage that runs once a member: one outcome line per member run
/// (`train: …`, `member-1/train: …`).
pub fn finish_members(
    stage: &str,
    result: anyhow::Result<Vec<(usize, crate::stage::Outcome)>>,
) -> ExitCode {
    match result {
        Ok(outcomes) => {
            for (member, outcome) in outcomes {
                let label = crate::member::member_stage_label(member, stage);
                // The stage's work is done and written: a reader that stopped reading
                // (`… | head`) is no failure of it.
                let printed = writeln!(std::io::stdout(), "{}", outcome.summary(&label));
                if let Err(e) = printed
                    && e.kind() != std::io::ErrorKind::BrokenPipe
                {
                    eprintln!("{stage}: cannot print the outcome: {e}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{stage}: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether an error is a write to a closed pipe: the reader (`… | head`) stopped reading.
/// Rust ignores SIGPIPE, so the write fails instead of ending the program as it ends `cat`.
pub fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
