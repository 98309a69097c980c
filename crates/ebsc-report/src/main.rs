use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_report::Args::parse();
    ebsc_report::finish(ebsc_report::run(&args))
}
