//! The subcommands, one module each.

mod bench;
mod calibrate;
mod demo;
mod heads;
mod man;
mod model;
mod progress;
mod run;
mod sim;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Model(cmd) => model::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Sim(cmd) => sim::run(cmd),
        Command::Heads(cmd) => heads::run(cmd),
        Command::Run { config } => run::run(&config),
        Command::CheckConfig { config } => run::check_config(&config),
        Command::Man { out } => man::write_pages(&out),
        Command::Demo { scenario, mqtt, out } => demo::demo(scenario, &mqtt, &out),
        Command::Calibrate { config, camera, out, ui, listen, allow_remote, frames, points } => {
            let how = match points {
                Some(points) if !ui => calibrate::How::Scripted { frames, points },
                _ => calibrate::How::Ui { listen, allow_remote },
            };
            calibrate::run(calibrate::Args { config, camera, out, how })
        }
    }
}
