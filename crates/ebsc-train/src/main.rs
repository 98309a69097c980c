use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_train::Args::parse();
    ebsc_core::cli::finish_members(ebsc_train::STAGE, ebsc_train::run(&args))
}
