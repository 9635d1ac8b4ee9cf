//! Topic names under the prefix (`dinoedge/<device_id>` by default) and the JSON payloads
//! published on them. The README's topic table documents exactly these.

use dinoedge_config::Name;

pub const ONLINE: &str = "online";
pub const OFFLINE: &str = "offline";

#[derive(Debug, Clone)]
pub struct Topics {
    pub prefix: String,
}

impl Topics {
    /// `online` / `offline`, retained; the last will is `offline`.
    pub fn availability(&self) -> String {
        format!("{}/availability", self.prefix)
    }

    /// One JSON message per alarm transition (start, update, end), QoS 1, from the outbox.
    pub fn events(&self) -> String {
        format!("{}/events", self.prefix)
    }

    /// A rule's current state, retained.
    pub fn rule_state(&self, camera: &Name, rule: &Name) -> String {
        format!("{}/{camera}/{rule}/state", self.prefix)
    }

    /// A camera's up/down and frame rate, retained.
    pub fn camera_status(&self, camera: &Name) -> String {
        format!("{}/{camera}/status", self.prefix)
    }

    /// A JPEG of the frame with the zone and distance drawn, at each alarm start.
    pub fn snapshot(&self, camera: &Name) -> String {
        format!("{}/{camera}/snapshot", self.prefix)
    }

    /// Periodic pipeline statistics.
    pub fn stats(&self) -> String {
        format!("{}/stats", self.prefix)
    }
}
