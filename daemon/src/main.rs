//! `dinoedge`: the command line. Each subcommand lives in `commands/`; this file parses
//! the arguments, runs one, and turns its error into one message and an exit code.

mod cli;
mod commands;
mod exit;
mod logging;
mod mqtt;
mod outbox;
mod pipeline;
mod rules;
mod source;
mod systemd;

use clap::Parser;

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
