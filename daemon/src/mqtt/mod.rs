//! Publishing on MQTT: the connection options from the config (`options`), the topic names
//! and payloads (`topics`, `discovery`), the handle the pipeline hands its output to (`bus`),
//! and the task that owns the connection and delivers the outbox (`publisher`).

pub mod bus;
pub mod discovery;
pub mod options;
pub mod publisher;
pub mod topics;

pub use bus::Bus;
pub use topics::Topics;
