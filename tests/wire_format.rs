//! The README's MQTT section against the wire types: every JSON example there parses into the
//! type of its topic (`dinoedge::mqtt::wire`) and serialises back to the same JSON, so a field
//! renamed, added or dropped on either side fails here. The discovery example is also what
//! the code publishes for the example config.

use std::path::Path;

use dinoedge::mqtt::wire::{CameraStatus, Discovery, Event, RuleState, Stats};
use dinoedge::mqtt::{Topics, discovery};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON example of the README's MQTT section and the topic named on the line before it.
struct Example {
    topic: String,
    line: usize,
    json: Value,
}

fn readme_examples() -> Vec<Example> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("\n### MQTT topics\n").expect("README has a section `### MQTT topics`");
    let first_line = readme[..start].lines().count() + 1;
    let section = &readme[start + 1..];
    let section = &section[..section[1..].find("\n### ").map_or(section.len(), |end| end + 1)];
    let lines: Vec<&str> = section.lines().collect();
    let mut examples = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "```json" {
            i += 1;
            continue;
        }
        let before = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).expect("a line before the example");
        let topic = before.split('`').nth(1).unwrap_or_else(|| panic!("no `topic` on the line before: {before}"));
        let end = i + lines[i..].iter().position(|l| l.trim() == "```").expect("the example's closing fence");
        let text = lines[i + 1..end].join("\n");
        let line = first_line + i + 1;
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("README.md:{line}: not JSON: {e}"));
        examples.push(Example { topic: topic.to_owned(), line, json });
        i = end + 1;
    }
    examples
}

/// Parses `example` into `T` and back; the JSON must come back as it was.
fn round_trip<T: DeserializeOwned + Serialize>(example: &Example) -> T {
    let typed: T = serde_json::from_value(example.json.clone())
        .unwrap_or_else(|e| panic!("README.md:{}: `{}` example: {e}", example.line, example.topic));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(back, example.json, "README.md:{}: `{}` example changed in a round trip", example.line, example.topic);
    typed
}

#[test]
fn every_json_example_of_the_readme_mqtt_section_round_trips_through_its_wire_type() {
    let examples = readme_examples();
    let mut seen = Vec::new();
    for example in &examples {
        let t = example.topic.as_str();
        let kind = match t {
            "events" => {
                round_trip::<Event>(example);
                "Event"
            }
            "<camera>/<rule>/state" => {
                round_trip::<RuleState>(example);
                "RuleState"
            }
            "<camera>/status" => {
                round_trip::<CameraStatus>(example);
                "CameraStatus"
            }
            "stats" => {
                round_trip::<Stats>(example);
                "Stats"
            }
            _ if t.ends_with("/config") => {
                round_trip::<Discovery>(example);
                "Discovery"
            }
            _ => panic!("README.md:{}: an example for `{t}`, which has no wire type here", example.line),
        };
        seen.push(kind);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["CameraStatus", "Discovery", "Event", "RuleState", "Stats"], "an example of each payload");
}

#[test]
fn a_field_the_type_does_not_know_fails_the_round_trip() {
    let mut example = readme_examples().into_iter().find(|e| e.topic == "<camera>/status").unwrap();
    example.json["colour"] = "blue".into();
    let result = std::panic::catch_unwind(|| round_trip::<CameraStatus>(&example));
    assert!(result.is_err(), "an unknown field must not survive unnoticed");
}

#[test]
fn the_readme_discovery_example_is_what_the_example_config_publishes() {
    let example = readme_examples().into_iter().find(|e| e.topic.ends_with("/config")).unwrap();
    // The example's model and calibration files are on the box, not here; discovery reads
    // none of them, and the config's checks only want them to exist.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/dock.toml");
    let mut example_config: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| {
        std::fs::write(dir.path().join(name), "").unwrap();
        toml::Value::from(dir.path().join(name).to_str().unwrap())
    };
    let model = example_config.get_mut("model").unwrap().as_table_mut().unwrap();
    model.insert("backbone".into(), file("backbone.onnx"));
    let camera = example_config.get_mut("camera").unwrap().as_array_mut().unwrap()[0].as_table_mut().unwrap();
    camera.insert("calibration".into(), file("dock1.calibration.toml"));
    let config = dinoedge_config::parse(&example_config.to_string(), &path).unwrap();
    let topics = Topics { prefix: config.topic_prefix() };
    let messages = discovery::messages(&config, &topics);
    let (_, published) = messages
        .iter()
        .find(|(topic, _)| *topic == example.topic)
        .unwrap_or_else(|| panic!("no discovery message on {}", example.topic));
    assert_eq!(serde_json::to_value(published).unwrap(), example.json);
}
