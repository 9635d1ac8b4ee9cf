//! Home Assistant reads dinoedge's entities through the Jinja2 templates of its discovery
//! messages. This renders each of them with Jinja2 itself (`$DINOEDGE_TOOLS_PYTHON`, which
//! tools/test.sh sets up with jinja2 from PyPI; else `python3`) on payloads made from
//! dinoedge's own wire types, and checks what Home Assistant would show: the alarm on while
//! raised, the distance, and the entity unavailable while its camera is not `up` or its rule
//! is `down` (item 8 of the reliability issue: a camera that was down still showed `clear`).

use std::process::Command;

use dinoedge::mqtt::wire::{AlarmState, CameraState, CameraStatus, Discovery, Entity, RuleState};
use dinoedge::mqtt::{Topics, discovery};
use dinoedge_config::Severity;
use serde_json::{Value, json};

/// Each (template, payload) rendered as Home Assistant renders it: `value_json` is the payload.
fn render(cases: &[(&str, &Value)]) -> Vec<String> {
    let python = std::env::var("DINOEDGE_TOOLS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import json, sys, jinja2\n\
                  env = jinja2.Environment()\n\
                  cases = json.load(sys.stdin)\n\
                  print(json.dumps([env.from_string(t).render(value_json=v) for t, v in cases]))";
    let input = serde_json::to_vec(&cases.iter().map(|(t, v)| json!([t, v])).collect::<Vec<_>>()).unwrap();
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e} (tools/test.sh sets DINOEDGE_TOOLS_PYTHON up)"));
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &input).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{python} with jinja2: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn camera(state: CameraState) -> Value {
    let status = CameraStatus { state, since: std::time::SystemTime::now().into(), reason: None, fps: None };
    serde_json::to_value(status).unwrap()
}

fn rule(state: AlarmState, alarm: Option<&str>, distance_m: Option<f64>) -> Value {
    let now = std::time::SystemTime::now();
    let state = RuleState {
        state,
        distance_m,
        alarm_below_m: 1.5,
        clear_above_m: 1.8,
        since: now.into(),
        frame: 7,
        time: now.into(),
        alarm: alarm.map(String::from),
        severity: Severity::Critical,
        objects: None,
        reason: (state == AlarmState::Down).then(|| "the depth is not a number".into()),
    };
    serde_json::to_value(state).unwrap()
}

#[test]
fn home_assistant_shows_the_alarm_and_the_distance_and_an_unseeing_camera_or_rule_as_unavailable() {
    let text = "device_id = \"d\"\n[model]\nkind = \"sim-truth\"\n[mqtt]\nhome_assistant = true\n\
                [[camera]]\nname = \"dock1\"\n[camera.source]\nkind = \"images\"\npath = \"f\"\nfps = 10\n\
                [[rule]]\nname = \"forks\"\ncamera = \"dock1\"\nkind = \"min_distance\"\n\
                zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]\nalarm_below = 1.5\nclear_above = 1.8\n";
    let config = dinoedge_config::from_toml(text, std::path::Path::new("test.toml")).unwrap();
    let topics = Topics { prefix: "dinoedge/d".into() };
    let messages: Vec<Discovery> = discovery::messages(&config, &topics).into_iter().map(|(_, m)| m).collect();
    assert_eq!(messages.len(), 2, "a binary_sensor and a distance sensor");

    let (raised, clear, down) = (
        rule(AlarmState::Alarm, Some("e-3"), Some(1.27)),
        rule(AlarmState::Clear, None, Some(4.2)),
        rule(AlarmState::Down, Some("e-3"), None),
    );
    for message in &messages {
        // The daemon's own topic has no template: `online`/`offline` as published.
        assert_eq!(message.availability[0].topic, "dinoedge/d/availability");
        assert_eq!(message.availability[0].value_template, None);
        assert_eq!(message.availability_mode, "all");
        let template = |topic: &str| {
            let a = message.availability.iter().find(|a| a.topic == topic).unwrap_or_else(|| panic!("{topic}"));
            a.value_template.clone().unwrap()
        };
        let (of_camera, of_rule) = (template("dinoedge/d/dock1/status"), template("dinoedge/d/dock1/forks/state"));
        let cameras = [CameraState::Starting, CameraState::Up, CameraState::Down, CameraState::Ended].map(camera);
        let mut cases: Vec<(&str, &Value)> = cameras.iter().map(|c| (of_camera.as_str(), c)).collect();
        cases.extend([&raised, &clear, &down].map(|r| (of_rule.as_str(), r)));
        assert_eq!(
            render(&cases),
            ["offline", "online", "offline", "offline", "online", "online", "offline"],
            "a camera is seen only while up; a rule only while not down"
        );
        let value = match &message.entity {
            Entity::Safety { value_template, payload_on, payload_off } => {
                assert_eq!((payload_on, payload_off), (&AlarmState::Alarm, &AlarmState::Clear));
                render(&[(value_template, &raised), (value_template, &clear), (value_template, &down)])
            }
            Entity::Distance { value_template, .. } => render(&[(value_template, &raised), (value_template, &clear)]),
        };
        let expected: &[&str] = match message.entity {
            Entity::Safety { .. } => &["alarm", "clear", "alarm"],
            Entity::Distance { .. } => &["1.27", "4.2"],
        };
        assert_eq!(value, expected, "{}", message.name);
    }
}
