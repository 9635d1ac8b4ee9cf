//! The demo's config: the simulated dock camera replayed as a 10 fps recording, its two
//! rules (each with the simulator's truth of what it measures), and the model of each of the
//! demo's two runs: the simulator's exact depth and classes, then the depth model with its
//! class head.

use std::path::{Path, PathBuf};

use dinoedge_sim::clip::FrameTruth;

/// The clip's frame rate.
pub const FPS: f64 = 10.0;

/// One of the demo's rules, and the truth it is held to.
pub struct DemoRule {
    pub name: &'static str,
    /// What it measures, for the plot and the summary.
    pub measures: &'static str,
    pub zone: &'static [[f64; 2]],
    pub alarm_below: f64,
    pub clear_above: f64,
    /// The rule's own fields in the config (kind, classes, severity).
    fields: &'static str,
    /// The simulator's true value of what the rule measures, on one frame.
    pub truth: fn(&FrameTruth) -> Option<f64>,
}

/// The demo's rules, in the order of every per-rule list the demo keeps.
pub const RULES: [DemoRule; 2] = [
    DemoRule {
        name: "forks-near-dock",
        measures: "forklift to dock face",
        zone: &[[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]],
        alarm_below: 1.5,
        clear_above: 1.8,
        fields: "kind = \"plane_distance\"\nplane = \"dock_face\"\nobjects = [\"forklift\"]\n\
                 severity = \"critical\"",
        truth: dock_truth,
    },
    DemoRule {
        name: "person-near-forklift",
        measures: "person to forklift",
        zone: &[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
        alarm_below: 2.0,
        clear_above: 2.4,
        fields: "kind = \"object_distance\"\nfrom = \"person\"\nto = \"forklift\"",
        truth: person_truth,
    },
];

fn dock_truth(frame: &FrameTruth) -> Option<f64> {
    frame.truth.forklift_to_dock_face_m
}

fn person_truth(frame: &FrameTruth) -> Option<f64> {
    frame.truth.nearest_person_to_forklift_m()
}

/// The demo's two runs of one clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// On the simulator's exact depth and classes: what the rules do given right inputs.
    Exact,
    /// On the depth model and its class head.
    Model,
}

impl Pass {
    pub const BOTH: [Pass; 2] = [Pass::Exact, Pass::Model];

    /// Its output folder's name, its device id's suffix and its column in `distances.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Exact => "exact",
            Pass::Model => "model",
        }
    }
}

/// The model files of the model run.
pub struct ModelFiles {
    /// A DINOv2 backbone, or a depth model with its own depth output.
    pub backbone: PathBuf,
    /// The trained depth head, for a bare backbone.
    pub head: Option<PathBuf>,
    pub classes: PathBuf,
}

/// The config of one run: `state` is its state folder, `clip` the rendered clip.
pub fn text(pass: Pass, model: &ModelFiles, clip: &Path, mqtt: &str, state: &Path) -> String {
    let model = match pass {
        Pass::Exact => "kind = \"sim-truth\"".to_string(),
        Pass::Model => {
            let head = model.head.as_ref().map_or(String::new(), |h| format!("head = \"{}\"\n", h.display()));
            format!(
                "kind = \"dinov2\"\nbackbone = \"{}\"\n{head}classes = \"{}\"",
                model.backbone.display(),
                model.classes.display()
            )
        }
    };
    let rules: Vec<String> = RULES
        .iter()
        .map(|r| {
            format!(
                "[[rule]]\nname = \"{}\"\ncamera = \"dock1\"\n{}\nzone = {:?}\nalarm_below = {}\nclear_above = {}\n",
                r.name, r.fields, r.zone, r.alarm_below, r.clear_above
            )
        })
        .collect();
    format!(
        r#"# Written by `dinoedge demo`: the simulated dock camera through the real pipeline, {what}.
device_id = "demo-{pass}"
state_dir = "{state}"

[model]
{model}

[pipeline]
stats_interval = 5

[mqtt]
url = "{mqtt}"

[[camera]]
name = "dock1"
calibration = "{clip}/calibration.toml"

[camera.source]
kind = "images"
path = "{clip}/rgb"
fps = {FPS}
realtime = false

{rules}"#,
        what = match pass {
            Pass::Exact => "on the simulator's exact depth and classes",
            Pass::Model => "on the depth model and its class head",
        },
        pass = pass.name(),
        state = state.display(),
        clip = clip.display(),
        rules = rules.join("\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_runs_configs_are_valid_and_differ_in_their_model_alone() {
        let dir = tempfile::tempdir().unwrap();
        let model = ModelFiles {
            backbone: dir.path().join("b.onnx"),
            head: Some(dir.path().join("h.safetensors")),
            classes: dir.path().join("c.safetensors"),
        };
        for pass in Pass::BOTH {
            let text = text(pass, &model, Path::new("/clip"), "mqtt://127.0.0.1:1883", Path::new("/state"));
            let config: dinoedge_config::Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(config.device_id.as_str(), format!("demo-{}", pass.name()));
            let names: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, RULES.map(|r| r.name));
            assert!(config.rules.iter().all(|r| r.measure.needs_classes()), "{text}");
        }
    }
}
