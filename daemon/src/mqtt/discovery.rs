//! Home Assistant MQTT discovery: for each rule, a `binary_sensor` (on while the alarm is
//! raised) and a distance `sensor`, both reading the rule's retained state topic and sharing
//! the daemon's availability topic. Published retained when `mqtt.home_assistant` is on.

use dinoedge_config::{Config, Rule};
use serde_json::{Value, json};

use super::topics::{OFFLINE, ONLINE, Topics};

/// (topic, payload) of every discovery message of `config`.
pub fn messages(config: &Config, topics: &Topics) -> Vec<(String, Value)> {
    let device = json!({
        "identifiers": [format!("dinoedge_{}", config.device_id)],
        "name": format!("dinoedge {}", config.device_id),
        "manufacturer": "dinoedge",
        "model": "dinoedge",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let base = |rule: &Rule, suffix: &str, name: String| {
        json!({
            "unique_id": format!("dinoedge_{}_{}_{}{suffix}", config.device_id, rule.camera, rule.name),
            "name": name,
            "state_topic": topics.rule_state(&rule.camera, &rule.name),
            "availability_topic": topics.availability(),
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": device,
        })
    };
    let prefix = &config.mqtt.discovery_prefix;
    let mut out = Vec::new();
    for rule in &config.rules {
        let object = format!("{}_{}", rule.camera, rule.name);
        let mut alarm = base(rule, "", format!("{} {}", rule.camera, rule.name));
        merge(
            &mut alarm,
            json!({
                "device_class": "safety",
                "value_template": "{{ value_json.state }}",
                "payload_on": "alarm",
                "payload_off": "clear",
            }),
        );
        out.push((format!("{prefix}/binary_sensor/{}/{object}/config", config.device_id), alarm));
        let mut distance = base(rule, "_distance", format!("{} {} distance", rule.camera, rule.name));
        merge(
            &mut distance,
            json!({
                "device_class": "distance",
                "unit_of_measurement": "m",
                "state_class": "measurement",
                "value_template": "{{ value_json.distance_m }}",
            }),
        );
        out.push((format!("{prefix}/sensor/{}/{object}_distance/config", config.device_id), distance));
    }
    out
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}
