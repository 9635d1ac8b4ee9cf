//! `dinoedge`: parses the command line, runs the subcommand, and turns its error into one
//! message and an exit code. Everything else is the library (`lib.rs`).

use clap::Parser;
use dinoedge::{cli, commands, exit, logging};

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    logging::init();
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dinoedge: error: {err:#}");
            exit::code_for(&err)
        }
    }
}
