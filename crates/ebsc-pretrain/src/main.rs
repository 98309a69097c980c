use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ebsc_pretrain::Args::parse();
    ebsc_core::cli::finish_members(ebsc_pretrain::STAGE, ebsc_pretrain::run(&args))
}
