use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_prepare::pipeline_cli::Args::parse();
    match ebsc_prepare::pipeline_cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ebsc-pipeline: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
