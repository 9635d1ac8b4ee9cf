//! The dinoedge configuration: one TOML file, read into serde types (`schema`), with values
//! that check themselves (`values`), checks across the file (`checks`), and errors that name
//! the file, line and column and say what is expected (`error`, `locate`).
//!
//! A [`Config`] holds the device, the [`Model`], the broker ([`Mqtt`]), the [`Outbox`], the
//! Prometheus endpoint ([`Metrics`]) and [`Pipeline`] settings, the [`Camera`]s (each a [`Source`]) and the [`Rule`]s (each a
//! [`Measure`] in a [`ZoneRef`], counting pixels of an [`ObjectClass`] where it says so, with [`Hysteresis`] and a [`Severity`]). Names in topics are
//! [`Name`]s; every error is one [`ConfigError`].
//!
//! ```no_run
//! let config = dinoedge_config::load(std::path::Path::new("/etc/dinoedge/dinoedge.toml"))?;
//! # Ok::<(), dinoedge_config::ConfigError>(())
//! ```
//!
//! Relative paths in the file are taken relative to the file's folder.

mod checks;
mod classes;
mod error;
mod locate;
mod schema;
pub mod shipped;
mod values;

use std::path::Path;

pub use checks::MAX_FRAME_SIDE;
pub use classes::{ClassSet, ObjectClass};
pub use error::ConfigError;
pub use schema::{
    Camera, Config, DEFAULT_HOLDS, DEFAULT_MARGIN_M, DEFAULT_REACTION_TIME, Foreground, Gate, Holds, Hysteresis,
    MAX_SIM_NOISE, Measure, Metrics, Model, Mqtt, Outbox, Pipeline, PixelFormat, Precision, Rule, RuleKind, Severity,
    SimTruth, Source,
};
pub use values::{BrokerUrl, DepthKind, Name, Zone, ZoneRef};

/// Reads, parses and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unlocated(path, e.to_string()))?;
    parse(&text, path)
}

/// Parses and checks `text`, read from `path` (which names the file in errors and anchors
/// relative paths).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut config: Config = from_toml(text, path)?;
    config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
    checks::check(&config).map_err(|invalid| {
        ConfigError::new(path, locate::find(text, &invalid.at).map(|s| locate::line_col(text, s)), invalid.message)
    })?;
    Ok(config)
}

/// Deserialises any TOML document `text` (read from `path`) into `T`, with errors at their
/// line and column: shared by the other files dinoedge reads (the calibration file).
pub fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| locate::line_col(text, locate::refine(text, s, e.message())));
        ConfigError::new(path, at, e.message().trim_end().to_string())
    })
}

/// An error about the value at the top-level `key` of `text` (read from `path`), at its line.
pub fn error_at_key(text: &str, path: &Path, key: &'static str, message: String) -> ConfigError {
    let at = locate::find(text, &[locate::Seg::Key(key)]).map(|s| locate::line_col(text, s));
    ConfigError::new(path, at, message)
}

impl Config {
    /// The topic prefix: `mqtt.prefix`, or `dinoedge/<device_id>`.
    pub fn topic_prefix(&self) -> String {
        self.mqtt.prefix.clone().unwrap_or_else(|| format!("dinoedge/{}", self.device_id))
    }

    /// The MQTT client id: `mqtt.client_id`, or `dinoedge-<device_id>`.
    pub fn client_id(&self) -> String {
        self.mqtt.client_id.clone().unwrap_or_else(|| format!("dinoedge-{}", self.device_id))
    }

    pub fn camera(&self, name: &Name) -> Option<&Camera> {
        self.cameras.iter().find(|c| &c.name == name)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut std::path::PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Model::Dinov2 { backbone, head, classes } = &mut self.model {
            fix(backbone);
            head.iter_mut().chain(classes.iter_mut()).for_each(fix);
        }
        self.state_dir.iter_mut().for_each(fix);
        let m = &mut self.mqtt;
        for p in [&mut m.password_file, &mut m.ca_file, &mut m.client_cert, &mut m.client_key] {
            p.iter_mut().for_each(fix);
        }
        for camera in &mut self.cameras {
            camera.calibration.iter_mut().for_each(fix);
            // Files (not stream URLs) are relative to the config file too.
            let (Source::Images { path, .. } | Source::Ffmpeg { url: path, .. }) = &mut camera.source else { continue };
            if !path.contains("://") && Path::new(path).is_relative() {
                *path = base.join(&*path).to_string_lossy().into_owned();
            }
        }
    }
}
