//! Publishing on MQTT: the connection options from the config (`options`), the topic names
//! (`topics`), the payloads as serde types (`wire`; Home Assistant's in `discovery`), the
//! handle the pipeline hands its output to (`bus`), and the task that owns the connection and
//! delivers the outbox (`publisher`).

pub mod bus;
pub mod discovery;
pub mod options;
pub mod publisher;
pub mod topics;
pub mod wire;

pub use bus::Bus;
pub use topics::Topics;
