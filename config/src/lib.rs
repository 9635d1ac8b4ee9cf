//! The dinoedge configuration: the TOML schema as serde types, its defaults and its
//! validation, with error messages that name the file, line and column.
//!
//! The schema arrives with the daemon (issue 5); until then this crate only reserves its
//! place in the workspace map (`../shared/ARCHITECTURE.md`).
