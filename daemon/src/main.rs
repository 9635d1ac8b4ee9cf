//! `dinoedge`: parses the command line, runs the subcommand, and turns its error into one
//! message and an exit code. Everything else is the library (`lib.rs`).

use clap::Parser;
use dinoedge::{cli, commands, exit, internal, logging};

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    logging::init();
    internal::install_hook();
    // A panic on this thread was logged by the hook; it exits 70, as a dead thread does.
    let ran = std::panic::catch_unwind(|| commands::run(cli)).unwrap_or_else(|panic| {
        Err(internal::Died(format!("the main thread panicked: {}", internal::message(panic.as_ref()))).into())
    });
    match ran {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dinoedge: error: {err:#}");
            exit::code_for(&err)
        }
    }
}
