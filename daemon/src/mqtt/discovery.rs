//! Home Assistant MQTT discovery: for each rule, a `binary_sensor` (on while the alarm is
//! raised) and a distance `sensor`, both reading the rule's retained state topic and sharing
//! the daemon's availability topic. Published retained when `mqtt.home_assistant` is on. A
//! rule that counts classes says which in its entities' names.

use dinoedge_config::{Config, Measure, Rule};

use super::topics::{OFFLINE, ONLINE, Topics};
use super::wire::{AlarmState, Device, Discovery, Entity};

/// (topic, payload) of every discovery message of `config`.
pub fn messages(config: &Config, topics: &Topics) -> Vec<(String, Discovery)> {
    let device = Device {
        identifiers: vec![format!("dinoedge_{}", config.device_id)],
        name: format!("dinoedge {}", config.device_id),
        manufacturer: "dinoedge".into(),
        model: "dinoedge".into(),
        sw_version: env!("CARGO_PKG_VERSION").into(),
    };
    let message = |rule: &Rule, suffix: &str, name: String, entity: Entity| Discovery {
        unique_id: format!("dinoedge_{}_{}{suffix}", config.device_id, rule.object_id()),
        name,
        state_topic: topics.rule_state(&rule.camera, &rule.name),
        availability_topic: topics.availability(),
        payload_available: ONLINE.into(),
        payload_not_available: OFFLINE.into(),
        device: device.clone(),
        entity,
    };
    let prefix = &config.mqtt.discovery_prefix;
    let mut out = Vec::new();
    for rule in &config.rules {
        let object = rule.object_id();
        let title = format!("{} {}{}", rule.camera, rule.name, classes(&rule.measure));
        let alarm = Entity::Safety {
            value_template: "{{ value_json.state }}".into(),
            payload_on: AlarmState::Alarm,
            payload_off: AlarmState::Clear,
        };
        out.push((
            format!("{prefix}/binary_sensor/{}/{object}/config", config.device_id),
            message(rule, "", title.clone(), alarm),
        ));
        let distance = Entity::Distance {
            unit_of_measurement: "m".into(),
            state_class: "measurement".into(),
            value_template: "{{ value_json.distance_m }}".into(),
        };
        out.push((
            format!("{prefix}/sensor/{}/{object}_distance/config", config.device_id),
            message(rule, "_distance", format!("{title} distance"), distance),
        ));
    }
    out
}

/// The classes a rule counts, for a name: ` (forklift)`, ` (person to forklift)`, or nothing.
fn classes(measure: &Measure) -> String {
    let names = |classes: Vec<dinoedge_config::ObjectClass>, between: &str| {
        classes.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(between)
    };
    match (measure, measure.objects()) {
        (_, None) => String::new(),
        (Measure::ObjectDistance { .. }, Some(pair)) => format!(" ({})", names(pair, " to ")),
        (_, Some(set)) => format!(" ({})", names(set, ", ")),
    }
}
