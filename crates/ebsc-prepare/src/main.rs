use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_prepare::Args::parse();
    ebsc_core::cli::finish(ebsc_prepare::STAGE, ebsc_prepare::run(&args))
}
