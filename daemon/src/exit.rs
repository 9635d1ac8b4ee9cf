//! Exit codes, after sysexits(3): scripts and systemd tell a bad input file from a
//! missing network; a bad config or calibration file exits with 78 (EX_CONFIG), which
//! the systemd unit does not restart on.

use std::process::ExitCode;

use dinoedge_backbone::ModelError;

pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_UNAVAILABLE: u8 = 69;
pub const EX_SOFTWARE: u8 = 70;
pub const EX_IOERR: u8 = 74;
pub const EX_TEMPFAIL: u8 = 75;
pub const EX_CONFIG: u8 = 78;

/// Input files that are readable but wrong (a points file whose points cannot be fitted).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// A model file the config names that cannot be used as it is (corrupt, of another
/// architecture, a head beside a depth model that has its own): a mistake in the site's files
/// that a restart cannot mend, so it exits like a bad config (78), and systemd stops.
#[derive(Debug, thiserror::Error)]
#[error("the model the config names cannot be used")]
pub struct UnusableModel;

/// A command line that asks for something refused (exit 64).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn code_for(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|e| e.is::<UsageError>()) {
        return ExitCode::from(EX_USAGE);
    }
    if err.chain().any(|e| e.is::<crate::outbox::Busy>()) {
        return ExitCode::from(EX_TEMPFAIL);
    }
    if err.chain().any(|e| e.is::<crate::internal::Died>()) {
        return ExitCode::from(EX_SOFTWARE);
    }
    if err.chain().any(|e| e.is::<InputError>() || e.is::<crate::outbox::UnknownFormat>()) {
        return ExitCode::from(EX_DATAERR);
    }
    // (A context such as UnusableModel is found by anyhow's downcast, not in the chain.)
    if err.chain().any(|e| e.is::<dinoedge_config::ConfigError>()) || err.downcast_ref::<UnusableModel>().is_some() {
        return ExitCode::from(EX_CONFIG);
    }
    let code = match err.chain().find_map(|e| e.downcast_ref::<ModelError>()) {
        Some(ModelError::Io { .. }) => EX_IOERR,
        Some(ModelError::InputSize { .. }) => EX_USAGE,
        Some(ModelError::Download { .. }) => EX_UNAVAILABLE,
        Some(ModelError::Inference(_)) => EX_SOFTWARE,
        Some(
            ModelError::NotWeights { .. }
            | ModelError::MissingTensor { .. }
            | ModelError::TensorShape { .. }
            | ModelError::TensorDtype { .. }
            | ModelError::Onnx { .. }
            | ModelError::Checksum { .. }
            | ModelError::Config { .. }
            | ModelError::Data { .. },
        ) => EX_DATAERR,
        // Any other file that could not be read or written.
        None if err.chain().any(|e| e.is::<std::io::Error>()) => EX_IOERR,
        None => 1,
    };
    ExitCode::from(code)
}
