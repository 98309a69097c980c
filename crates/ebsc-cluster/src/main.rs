use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_cluster::Args::parse();
    ebsc_cluster::finish(ebsc_cluster::run(&args))
}
