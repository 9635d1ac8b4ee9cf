//! `dinoedge run --config FILE`: the daemon (`runtime::run`). `dinoedge check-config FILE`:
//! the same loading and checks without starting, the model files loaded as `run` loads them.
//! A bad config or calibration file, or a model file it names that cannot be used, exits with
//! 78 (EX_CONFIG), which the systemd unit does not restart on.

use std::path::Path;

use anyhow::Result;

use crate::runtime::{self, Hooks};

pub fn run(config: &Path) -> Result<()> {
    runtime::run(config, Hooks::default())
}

pub fn check_config(path: &Path) -> Result<()> {
    let site = runtime::load_site(path)?;
    runtime::load_provider(&site.config)?;
    println!(
        "{}: OK ({} cameras, {} rules, publishing to {} under {})",
        path.display(),
        site.config.cameras.len(),
        site.config.rules.len(),
        site.config.mqtt.url,
        site.config.topic_prefix()
    );
    Ok(())
}
