//! What the demo's two runs measured, beside the simulator's truth: `distances.csv`, the
//! plot, and the summary printed at the end (each run's error against the truth, where its
//! alarms started against the truth's crossing).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use dinoedge_sim::clip::FrameTruth;

use super::config::{DemoRule, Pass, RULES};
use super::plot::{Line, Panel, Style, plot};
use crate::percentile::nearest_rank;

/// One run of the clip.
pub struct PassRun {
    pub pass: Pass,
    /// Each processed frame's distances, in the order of [`RULES`].
    pub distances: BTreeMap<u64, Vec<Option<f64>>>,
    /// The frames each rule's alarms started on, in the order of [`RULES`].
    pub starts: Vec<Vec<u64>>,
    /// Alarm events queued (starts, updates, ends).
    pub events: usize,
}

/// How far a run's measurement of one rule was from the truth.
#[derive(Debug, PartialEq)]
struct Errors {
    /// Median and largest |measured − true|, metres, over the frames with both.
    median_m: Option<f64>,
    worst_m: Option<f64>,
    /// Frames with a true value, and how many of them were measured.
    true_frames: usize,
    measured: usize,
    /// Frames measured where the truth has nothing (the object is not in view).
    phantom: usize,
}

fn errors(truth: &[Option<f64>], measured: &[Option<f64>]) -> Errors {
    let mut abs: Vec<f64> =
        truth.iter().zip(measured).filter_map(|(t, m)| Some((m.as_ref()? - t.as_ref()?).abs())).collect();
    Errors {
        worst_m: abs.iter().copied().reduce(f64::max),
        median_m: nearest_rank(&mut abs, 50.0),
        true_frames: truth.iter().flatten().count(),
        measured: abs.len(),
        phantom: truth.iter().zip(measured).filter(|(t, m)| t.is_none() && m.is_some()).count(),
    }
}

/// Writes `distances.csv` and `distance.svg` into `out`; returns the summary to print.
pub fn write(out: &Path, frames: &[FrameTruth], fps: f64, runs: &[PassRun]) -> Result<String> {
    let truth: Vec<Vec<Option<f64>>> = RULES.iter().map(|r| frames.iter().map(r.truth).collect()).collect();
    let measured = |run: &PassRun, rule: usize| -> Vec<Option<f64>> {
        (0..frames.len() as u64).map(|seq| run.distances.get(&seq).and_then(|d| d[rule])).collect()
    };
    let csv_path = out.join("distances.csv");
    std::fs::write(&csv_path, csv(frames, fps, &truth, runs, &measured))
        .with_context(|| format!("writing {}", csv_path.display()))?;

    let seconds = frames.len() as f64 / fps;
    let series = |values: &[Option<f64>]| -> Vec<(f64, f64)> {
        values.iter().enumerate().filter_map(|(i, d)| Some((i as f64 / fps, (*d)?))).collect()
    };
    let mut summary = String::new();
    let mut panels = Vec::new();
    for (i, rule) in RULES.iter().enumerate() {
        let mut lines = vec![Line { label: "true (simulator)".into(), style: Style::Truth, points: series(&truth[i]) }];
        writeln!(summary, "\n{} ({}; alarm below {} m):", rule.name, rule.measures, rule.alarm_below)?;
        writeln!(summary, "  truth  {}", crossing(rule, &truth[i], fps))?;
        for run in runs {
            let values = measured(run, i);
            let e = errors(&truth[i], &values);
            let line = describe(&e, &run.starts[i], fps);
            writeln!(summary, "  {:<6} {line}", run.pass.name())?;
            lines.push(Line {
                label: format!("{}: {}", legend(run.pass), short(&e)),
                style: Style::Run(run.pass),
                points: series(&values),
            });
        }
        panels.push(Panel {
            title: format!("{}: {} (m)", rule.name, rule.measures),
            alarm_below: rule.alarm_below,
            clear_above: rule.clear_above,
            lines,
        });
    }
    let svg_path = out.join("distance.svg");
    std::fs::write(&svg_path, plot(&panels, seconds)).with_context(|| format!("writing {}", svg_path.display()))?;
    Ok(summary)
}

fn csv(
    frames: &[FrameTruth],
    fps: f64,
    truth: &[Vec<Option<f64>>],
    runs: &[PassRun],
    measured: &dyn Fn(&PassRun, usize) -> Vec<Option<f64>>,
) -> String {
    let mut header = vec!["frame".to_string(), "t_s".to_string()];
    let mut columns: Vec<Vec<Option<f64>>> = Vec::new();
    for (i, rule) in RULES.iter().enumerate() {
        let name = rule.name.replace('-', "_");
        header.push(format!("{name}_true_m"));
        columns.push(truth[i].clone());
        for run in runs {
            header.push(format!("{name}_{}_m", run.pass.name()));
            columns.push(measured(run, i));
        }
    }
    let mut csv = header.join(",") + "\n";
    for seq in 0..frames.len() {
        let cells: Vec<String> =
            columns.iter().map(|c| c[seq].map_or_else(String::new, |d| format!("{d:.3}"))).collect();
        csv += &format!("{seq},{:.2},{}\n", seq as f64 / fps, cells.join(","));
    }
    csv
}

/// When the truth first falls below the rule's alarm distance.
fn crossing(rule: &DemoRule, truth: &[Option<f64>], fps: f64) -> String {
    match truth.iter().position(|d| d.is_some_and(|d| d < rule.alarm_below)) {
        Some(frame) => {
            format!("below {} m from frame {frame} ({:.1} s): an alarm is due", rule.alarm_below, frame as f64 / fps)
        }
        None if truth.iter().all(Option::is_none) => "nothing to measure in this clip: no alarm is due".into(),
        None => format!("never below {} m: no alarm is due", rule.alarm_below),
    }
}

fn describe(e: &Errors, starts: &[u64], fps: f64) -> String {
    let mut text = match (e.median_m, e.worst_m) {
        (Some(median), Some(worst)) => {
            format!("|error| median {median:.3} m, worst {worst:.3} m over {} of {} frames", e.measured, e.true_frames)
        }
        _ if e.true_frames > 0 => format!("measured on none of the {} frames", e.true_frames),
        _ => "nothing to compare".into(),
    };
    if e.phantom > 0 {
        text += &format!("; measured on {} frames without the object", e.phantom);
    }
    let starts: Vec<String> = starts.iter().map(|f| format!("{f} ({:.1} s)", *f as f64 / fps)).collect();
    text += &match starts.as_slice() {
        [] => "; no alarm".to_string(),
        [one] => format!("; alarm started at frame {one}"),
        many => format!("; alarms started at frames {}", many.join(", ")),
    };
    text
}

fn short(e: &Errors) -> String {
    match (e.median_m, e.worst_m) {
        (Some(median), Some(worst)) => format!("median |error| {median:.2} m, worst {worst:.2} m"),
        _ => "not measured".into(),
    }
}

fn legend(pass: Pass) -> &'static str {
    match pass {
        Pass::Exact => "exact depth and classes",
        Pass::Model => "model",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_count_what_was_measured_against_what_was_true() {
        let truth = [Some(2.0), Some(1.0), None, Some(3.0), None];
        let measured = [Some(2.5), None, Some(4.0), Some(2.9), None];
        let e = errors(&truth, &measured);
        assert_eq!(e.true_frames, 3);
        assert_eq!(e.measured, 2);
        assert_eq!(e.phantom, 1);
        assert!((e.worst_m.unwrap() - 0.5).abs() < 1e-12);
        assert!((e.median_m.unwrap() - 0.5).abs() < 1e-12, "rank round(0.5) = 1 of [0.1, 0.5]");
        let none = errors(&truth, &[None; 5]);
        assert_eq!((none.median_m, none.measured), (None, 0));
        assert_eq!(describe(&none, &[], 10.0), "measured on none of the 3 frames; no alarm");
        assert!(describe(&e, &[12, 40], 10.0).ends_with("alarms started at frames 12 (1.2 s), 40 (4.0 s)"));
    }
}
