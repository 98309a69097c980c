use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_assign::Args::parse();
    ebsc_core::cli::finish(ebsc_assign::STAGE, ebsc_assign::run(&args))
}
