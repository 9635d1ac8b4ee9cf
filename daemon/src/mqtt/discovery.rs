//! Home Assistant MQTT discovery: for each rule, a `binary_sensor` (on while an alarm is
//! raised) and a distance `sensor`, both reading the rule's retained state topic. They are
//! available while the daemon is online, the rule's camera is `up` and the rule is not `down`
//! (three availability topics, all required), so a camera or rule that cannot see never shows
//! a stale `clear`. Published retained when `mqtt.home_assistant` is on. A
//! rule that counts classes says which in its entities' names. On a reload, `changes` says
//! what to publish: the entities of rules added or changed, and an empty retained message
//! (which makes Home Assistant remove the entity) for those of rules removed.

use std::collections::BTreeMap;

use dinoedge_config::{Config, Measure, Rule};

use super::topics::{OFFLINE, ONLINE, Topics};
use super::wire::{AlarmState, Availability, Device, Discovery, Entity};

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
        availability: vec![
            Availability { topic: topics.availability(), value_template: None },
            Availability {
                topic: topics.camera_status(&rule.camera),
                value_template: Some(format!("{{{{ '{ONLINE}' if value_json.state == 'up' else '{OFFLINE}' }}}}")),
            },
            Availability {
                topic: topics.rule_state(&rule.camera, &rule.name),
                value_template: Some(format!("{{{{ '{OFFLINE}' if value_json.state == 'down' else '{ONLINE}' }}}}")),
            },
        ],
        availability_mode: "all".into(),
        device: device.clone(),
        entity,
    };
    let prefix = &config.mqtt.discovery_prefix;
    let mut out = Vec::new();
    for rule in &config.rules {
        let object = rule.object_id();
        let title = format!("{} {}{}", rule.camera, rule.name, classes(&rule.measure));
        // On while an alarm is raised, also while the rule is down (then unavailable, too).
        let alarm = Entity::Safety {
            value_template: "{{ 'alarm' if value_json.alarm else 'clear' }}".into(),
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

/// What a reload from `old` to `new` changes in discovery: (topic, `Some(message)`) for each
/// message that is new or different, (topic, `None`) for each topic only `old` had, whose
/// retained message is to be cleared.
pub fn changes(old: &Config, new: &Config, topics: &Topics) -> Vec<(String, Option<Discovery>)> {
    let mut out: BTreeMap<String, Option<Discovery>> =
        messages(new, topics).into_iter().map(|(topic, message)| (topic, Some(message))).collect();
    for (topic, before) in messages(old, topics) {
        match out.get(&topic) {
            Some(Some(after)) if *after == before => _ = out.remove(&topic),
            Some(_) => {}
            None => _ = out.insert(topic, None),
        }
    }
    out.into_iter().collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rules: &[(&str, f64)]) -> Config {
        let mut text = String::from(
            "device_id = \"d\"\n[model]\nkind = \"sim-truth\"\n[mqtt]\nhome_assistant = true\n\
             [[camera]]\nname = \"dock1\"\n[camera.source]\nkind = \"images\"\npath = \"f\"\nfps = 10\n",
        );
        for (name, below) in rules {
            text += &format!(
                "[[rule]]\nname = \"{name}\"\ncamera = \"dock1\"\nkind = \"min_distance\"\n\
                 zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]\nalarm_below = {below}\nclear_above = 9.0\n"
            );
        }
        dinoedge_config::from_toml(&text, std::path::Path::new("test.toml")).unwrap()
    }

    #[test]
    fn a_reload_publishes_added_rules_and_clears_removed_ones_only() {
        let topics = Topics { prefix: "dinoedge/d".into() };
        let old = config(&[("kept", 1.0), ("gone", 1.0)]);
        // A changed threshold changes no discovery message; a new rule brings two.
        let new = config(&[("kept", 2.0), ("added", 1.0)]);
        let changes: Vec<(String, bool)> =
            changes(&old, &new, &topics).into_iter().map(|(topic, m)| (topic, m.is_some())).collect();
        assert_eq!(
            changes,
            [
                ("homeassistant/binary_sensor/d/dock1_added/config".to_string(), true),
                ("homeassistant/binary_sensor/d/dock1_gone/config".to_string(), false),
                ("homeassistant/sensor/d/dock1_added_distance/config".to_string(), true),
                ("homeassistant/sensor/d/dock1_gone_distance/config".to_string(), false),
            ]
        );
        assert!(super::changes(&old, &old, &topics).is_empty());
    }
}
