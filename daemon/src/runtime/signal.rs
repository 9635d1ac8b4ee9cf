//! The Unix signals the daemon acts on, turned into one enum before the control loop sees
//! them: SIGTERM and SIGINT stop it, SIGHUP reloads its files.

use std::fmt;

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal as Stream, SignalKind, signal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM (systemd's stop): finish, deliver, exit 0.
    Terminate,
    /// SIGINT (Ctrl-C): as SIGTERM.
    Interrupt,
    /// SIGHUP (systemd's reload): read the config and calibrations again.
    Reload,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
            Signal::Reload => "SIGHUP",
        })
    }
}

/// The handlers of the three signals, installed together.
pub struct Signals {
    terminate: Stream,
    interrupt: Stream,
    reload: Stream,
}

impl Signals {
    pub fn install() -> Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate()).context("SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("SIGINT handler")?,
            reload: signal(SignalKind::hangup()).context("SIGHUP handler")?,
        })
    }

    /// The next signal that arrives.
    pub async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.terminate.recv() => Signal::Terminate,
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.reload.recv() => Signal::Reload,
        }
    }
}
