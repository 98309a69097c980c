use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_affinity::Args::parse();
    ebsc_core::cli::finish_members(ebsc_affinity::STAGE, ebsc_affinity::run(&args))
}
