use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_prepare::pipeline_cli::Args::parse();
    match ebsc_prepare::pipeline_cli::run(&args, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // `ebsc-pipeline show x | head`: the reader stopped reading, having what it wanted.
        Err(error) if ebsc_core::cli::is_closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ebsc-pipeline: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
