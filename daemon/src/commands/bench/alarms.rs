//! `dinoedge bench alarms`: the rules a site gets out of the box — the shipped config's dock
//! rule as shipped (geometry alone), the same with its `objects = ["forklift"]` uncommented,
//! and its person-near-forklift rule uncommented — on every simulated scenario, through real
//! daemons (`dinoedge run`, child processes) publishing to a real broker, with the simulator's
//! truth made as wrong as a monocular model's (`[model] kind = "sim-truth"`, `noise`) at each
//! level, and each frame taking the model's time (`model_time`).
//!
//! - **Plays** (the lead): each scenario an alarm is due on, played live at the camera's 10
//!   frames a second, `--plays` times per level with fresh errors. A due alarm's lead is the
//!   time from its `start` reaching the subscriber here to the truth crossing the rule's
//!   distance (positive: before). The truth's crossing is placed on the daemon's clock by the
//!   event itself: a live frame `n` is captured `n / fps` after the first. A play with no
//!   start while the truth is below the distance is a missed alarm; every start after the
//!   first in a play is flicker. A rule's starts in a play of a scenario its alarm is not due
//!   on (the dock rules' on `forklift-meets-person`) are false starts.
//! - **Replays** (false starts): the scenarios no alarm is due on (`empty-lighting`,
//!   `forklift-parked`, `forklift-approach`, `person-between`; a rule's due scenarios are left
//!   out of its count), rendered at the pace's frame rate and replayed in a loop by `--jobs`
//!   daemons side by side, each with its own errors, for `--minutes` of simulated time per
//!   level. Each replayed frame takes the model's time, so a replay's timing is the live one's,
//!   and the daemons together run many times faster than real time. Their simulated time is
//!   counted from the frames their rules' states report.
//!
//! The calibration of each level is what `dinoedge calibrate` would record under those errors
//! (`dinoedge_sim::clip::write_calibration_with`): the empty scene's background and spread from
//! [`CALIBRATION_FRAMES`](dinoedge_calibration::background::CALIBRATION_FRAMES) frames with
//! fresh errors.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use dinoedge_config::shipped;
use dinoedge_sim::clip::{ClipTruth, FrameTruth, Scenario, write_calibration_with, write_clip};
use dinoedge_sim::noise::DepthNoise;

use super::cpu_model;
use crate::cli::BenchAlarmsArgs;
use crate::lock::lock;
use crate::mqtt::wire::{Change, Event};
use crate::percentile::nearest_rank;

/// The simulated camera's frame rate.
const CAMERA_FPS: f64 = 10.0;
/// The scenarios no alarm of the dock rules is due on.
const QUIET: [Scenario; 4] =
    [Scenario::EmptyLighting, Scenario::ForkliftParked, Scenario::ForkliftApproach, Scenario::PersonBetween];

/// A rule of the shipped config, and the truth it is held to.
struct BenchRule {
    name: String,
    /// Its `[[rule]]` table.
    text: String,
    alarm_below: f64,
    truth: fn(&FrameTruth) -> Option<f64>,
    /// Whether it counts classes: geometry alone cannot tell a person from a forklift, so its
    /// starts on `person-between` are not false ones.
    counts_classes: bool,
}

/// The shipped config's dock rule, as shipped and with its classes, and its person rule.
fn shipped_rules() -> Result<Vec<BenchRule>> {
    let dock_truth = |f: &FrameTruth| f.truth.forklift_to_dock_face_m;
    let person_truth = |f: &FrameTruth| f.truth.nearest_person_to_forklift_m();
    shipped::rules()
        .into_iter()
        .map(|rule| {
            let table: toml::Table =
                toml::from_str(&rule.table).with_context(|| format!("a shipped rule:\n{}", rule.table))?;
            let field = |key: &str| table.get("rule").and_then(|r| r.get(0)).and_then(|r| r.get(key));
            let alarm_below = field("alarm_below")
                .and_then(toml::Value::as_float)
                .with_context(|| format!("no alarm_below in {}", rule.table))?;
            let counts_classes =
                field("objects").is_some() || field("kind").and_then(toml::Value::as_str) == Some("object_distance");
            let truth: fn(&FrameTruth) -> Option<f64> =
                if rule.name.starts_with("person") { person_truth } else { dock_truth };
            Ok(BenchRule { name: rule.name, text: rule.table, alarm_below, truth, counts_classes })
        })
        .collect()
}

/// A rendered clip and its truth.
struct Clip {
    dir: PathBuf,
    truth: ClipTruth,
}

impl Clip {
    fn render(root: &Path, scenario: Scenario, fps: f64, size: (u32, u32)) -> Result<Clip> {
        let dir = root.join(format!("{}-{fps:.2}fps", scenario.name()));
        let truth = write_clip(&dir, scenario, fps, size, &|_, _| {}).with_context(|| format!("rendering {dir:?}"))?;
        Ok(Clip { dir, truth })
    }

    /// Whether `rule`'s truth goes below its distance in this clip.
    fn due(&self, rule: &BenchRule) -> bool {
        self.below(rule).is_some()
    }

    /// When `rule`'s truth first goes below its distance, and is next back above it.
    fn below(&self, rule: &BenchRule) -> Option<(f64, f64)> {
        self.truth.below(rule.truth, rule.alarm_below)
    }
}

/// What the subscriber saw of one daemon: its events (deduplicated) with their arrival, and
/// the highest frame its rules' states reported.
#[derive(Default)]
struct Seen {
    events: Vec<(Event, SystemTime)>,
    ids: HashSet<String>,
    frames: u64,
}

/// Subscribes to every event and rule state under `dinoedge/` at `url`.
fn subscribe(url: &str) -> Result<Arc<Mutex<HashMap<String, Seen>>>> {
    let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
    let into = seen.clone();
    let id = format!("dinoedge-bench-alarms-{}", std::process::id());
    super::subscribe(url, &id, ("dinoedge/#", rumqttc::QoS::AtLeastOnce), move |packet, arrived| {
        let mut levels = packet.topic.split('/');
        let (Some(_), Some(device)) = (levels.next(), levels.next()) else { return };
        let mut all = lock(&into);
        let seen = all.entry(device.to_string()).or_default();
        if packet.topic.ends_with("/events") {
            if let Ok(event) = serde_json::from_slice::<Event>(&packet.payload)
                && seen.ids.insert(event.id.clone())
            {
                seen.events.push((event, arrived));
            }
        } else if packet.topic.ends_with("/state")
            && let Ok(state) = serde_json::from_slice::<serde_json::Value>(&packet.payload)
            && let Some(frame) = state["frame"].as_u64()
        {
            seen.frames = seen.frames.max(frame);
        }
    })?;
    Ok(seen)
}

/// A daemon's config: one camera on `clip` (live or replayed in a loop), the simulated model
/// at `level`, the shipped rules.
struct Daemon<'a> {
    device: String,
    clip: &'a Clip,
    calibration: &'a Path,
    level: f64,
    seed: u64,
    live: bool,
}

impl Daemon<'_> {
    /// Starts `dinoedge run` on this daemon's config (written under `root`).
    fn start(&self, o: &BenchAlarmsArgs, rules: &[BenchRule], root: &Path) -> Result<Child> {
        let dir = root.join(&self.device);
        std::fs::create_dir_all(&dir)?;
        let rules: String = rules.iter().map(|r| format!("{}\n", r.text)).collect();
        let text = format!(
            "device_id = \"{device}\"\nstate_dir = \"{state}\"\n\n[model]\nkind = \"sim-truth\"\nnoise = {level}\n\
             noise_seed = {seed}\nmodel_time = {model_time}\n\n[mqtt]\nurl = \"{mqtt}\"\nupdate_interval = 1\n\n[[camera]]\nname = \"dock1\"\n\
             calibration = \"{calibration}\"\n\n[camera.source]\nkind = \"images\"\npath = \"{clip}/rgb\"\n\
             fps = {fps}\nrealtime = {live}\nloop = {looping}\n\n{rules}",
            device = self.device,
            state = dir.join("state").display(),
            level = self.level,
            seed = self.seed,
            model_time = o.model_time,
            mqtt = o.mqtt,
            calibration = self.calibration.display(),
            clip = self.clip.dir.display(),
            fps = self.clip.truth.fps,
            live = self.live,
            looping = !self.live,
        );
        let config = dir.join("config.toml");
        std::fs::write(&config, text)?;
        let log = std::fs::File::create(dir.join("log"))?;
        Command::new(std::env::current_exe().context("this program's path")?)
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting a daemon")
    }
}

/// One rule's figures at one level.
#[derive(Default)]
struct Score {
    /// Each due play's lead, seconds (positive: before the truth crossed).
    leads: Vec<f64>,
    missed: usize,
    flicker: usize,
    /// By scenario (in [`Scenario::ALL`]'s order) where the rule has no alarm due: its
    /// starts, and the simulated seconds played and replayed.
    not_due: [(usize, f64); Scenario::ALL.len()],
}

impl Score {
    /// Counts `starts` in `seconds` of `scenario`, where the rule has no alarm due.
    fn not_due(&mut self, scenario: Scenario, starts: usize, seconds: f64) {
        let k = index(scenario);
        self.not_due[k].0 += starts;
        self.not_due[k].1 += seconds;
    }
}

/// The `start` events of rule `name` among `events`.
fn starts<'a>(events: &'a [(Event, SystemTime)], name: &str) -> Vec<&'a (Event, SystemTime)> {
    events.iter().filter(|(e, _)| e.rule.as_str() == name && matches!(e.change, Change::Start { .. })).collect()
}

/// Signals `child` to stop (SIGTERM) and waits for it.
fn stop(child: &mut Child) -> Result<()> {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().context("kill")?;
    child.wait()?;
    Ok(())
}

pub fn run(o: &BenchAlarmsArgs) -> Result<()> {
    if !(0.0..=10.0).contains(&o.model_time) {
        bail!("--model-time {}: expected seconds from 0 to 10", o.model_time);
    }
    if let Some(level) = o.levels.iter().find(|l| !(0.0..=dinoedge_config::MAX_SIM_NOISE).contains(*l)) {
        bail!("--levels: {level} is not a noise level from 0 to {}", dinoedge_config::MAX_SIM_NOISE);
    }
    let rules = shipped_rules()?;
    let root = tempfile::tempdir().context("a temporary folder")?;
    let size = (o.size.width, o.size.height);
    // The pace: a frame every model_time, or every camera frame when the model is faster.
    let pace_fps = 1.0 / o.model_time.max(1.0 / CAMERA_FPS);
    eprintln!("rendering the clips ({}x{}, at {CAMERA_FPS} and {pace_fps:.2} frames a second)", size.0, size.1);
    let live: Vec<Clip> = Scenario::ALL
        .into_iter()
        .filter(|s| !QUIET.contains(s) || *s == Scenario::PersonBetween)
        .map(|s| Clip::render(root.path(), s, CAMERA_FPS, size))
        .collect::<Result<_>>()?;
    let live: Vec<Clip> = live.into_iter().filter(|c| rules.iter().any(|r| c.due(r))).collect();
    let quiet: Vec<Clip> =
        QUIET.into_iter().map(|s| Clip::render(root.path(), s, pace_fps, size)).collect::<Result<_>>()?;
    let seen = subscribe(&o.mqtt)?;
    std::thread::sleep(Duration::from_millis(500));
    let mut scores: Vec<Vec<Score>> = Vec::new();
    // Each level's calibration: how much its empty scene's depth moves (what `calibrate` reports).
    let mut spreads: Vec<Option<f64>> = Vec::new();
    let mut seed = o.seed;
    // Each daemon's device id (a topic level) names this run, the level, the scenario and the
    // play: no retained message of an earlier run is taken for one of this run's.
    let run = std::process::id();
    for &level in &o.levels {
        let permille = (level * 1000.0).round() as u32;
        let noise = DepthNoise { level, seed: seed ^ 0xCA11_B8A7E };
        let calibration =
            write_calibration_with(&live[0].dir, noise, &root.path().join(format!("calibration-{permille}")))?;
        let background = dinoedge_calibration::Calibration::load(&calibration)?.background;
        spreads.push(background.and_then(|b| b.relative_spread()));
        let mut score: Vec<Score> = rules.iter().map(|_| Score::default()).collect();
        for clip in &live {
            for play in 0..o.plays {
                seed += 1;
                let device = format!("b{run}-l{permille}-{}-play{play}", clip.truth.scenario.name());
                let daemon =
                    Daemon { device: device.clone(), clip, calibration: &calibration, level, seed, live: true };
                eprintln!("level {level}: {} play {} of {}", clip.truth.scenario.name(), play + 1, o.plays);
                let status = daemon.start(o, &rules, root.path())?.wait()?;
                if !status.success() {
                    bail!(
                        "the daemon of {device} ended {status}: see {}",
                        root.path().join(&device).join("log").display()
                    );
                }
                // Its last events (the ends of a stopping daemon) are on their way.
                std::thread::sleep(Duration::from_millis(500));
                let all = lock(&seen);
                let events = all.get(&device).map_or(&[][..], |s| &s.events[..]);
                for (rule, score) in rules.iter().zip(&mut score) {
                    let starts = starts(events, &rule.name);
                    let Some((crossing, back)) = clip.below(rule) else {
                        // A scenario played for another rule's alarm: this one's starts are false.
                        let seconds = clip.truth.frames.len() as f64 / clip.truth.fps;
                        score.not_due(clip.truth.scenario, starts.len(), seconds);
                        continue;
                    };
                    score.flicker += starts.len().saturating_sub(1);
                    let lead = starts.first().and_then(|(event, arrived)| {
                        let captured = event.time.to_system_time()?;
                        let frame = event.frame? as f64 / clip.truth.fps;
                        let first_frame = captured.checked_sub(Duration::from_secs_f64(frame))?;
                        let at = |t: f64| first_frame + Duration::from_secs_f64(t);
                        (*arrived <= at(back)).then(|| signed_seconds(at(crossing), *arrived))
                    });
                    match lead {
                        Some(lead) => score.leads.push(lead),
                        None => score.missed += 1,
                    }
                    let said = lead.map_or("missed".to_string(), |l| format!("lead {l:+.2} s"));
                    eprintln!("level {level}: {device}: {}: {said}, {} starts", rule.name, starts.len());
                }
            }
        }
        // The replays: `jobs` daemons over the quiet scenarios, for the simulated time asked.
        let jobs = o.jobs as usize;
        // Each replayed frame takes the model's time and stands for as much simulated time (at
        // least: with a model faster than the camera, the replays run ahead of real time).
        let real = Duration::from_secs_f64(o.minutes * 60.0 / jobs as f64);
        eprintln!("level {level}: {jobs} daemons replaying the quiet scenarios for {:.0} s", real.as_secs_f64());
        let mut children = Vec::new();
        for job in 0..jobs {
            seed += 1;
            let clip = &quiet[job % quiet.len()];
            let device = format!("b{run}-l{permille}-{}-replay{job}", clip.truth.scenario.name());
            let daemon = Daemon { device: device.clone(), clip, calibration: &calibration, level, seed, live: false };
            children.push((device, clip, daemon.start(o, &rules, root.path())?));
        }
        let until = Instant::now() + real;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
            for (device, _, child) in &mut children {
                if let Some(status) = child.try_wait()? {
                    bail!("the daemon of {device} ended early ({status}): see its log");
                }
            }
        }
        for (_, _, child) in &mut children {
            stop(child)?;
        }
        std::thread::sleep(Duration::from_millis(500));
        let all = lock(&seen);
        for (device, clip, _) in &children {
            let Some(seen) = all.get(device) else { continue };
            let seconds = (seen.frames + 1) as f64 / clip.truth.fps;
            for (rule, score) in rules.iter().zip(&mut score) {
                if !clip.due(rule) {
                    score.not_due(clip.truth.scenario, starts(&seen.events, &rule.name).len(), seconds);
                }
            }
        }
        drop(all);
        scores.push(score);
    }
    print_table(o, &rules, &scores, &spreads);
    Ok(())
}

/// Where `scenario` is in [`Scenario::ALL`].
fn index(scenario: Scenario) -> usize {
    Scenario::ALL.iter().position(|s| *s == scenario).expect("every scenario is in ALL")
}

/// `a − b` in seconds, negative when `a` is earlier.
fn signed_seconds(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn print_table(o: &BenchAlarmsArgs, rules: &[BenchRule], scores: &[Vec<Score>], spreads: &[Option<f64>]) {
    println!("cpu          {}", cpu_model());
    println!(
        "pace         the simulated model takes {} s a frame; the camera gives {CAMERA_FPS} frames a second",
        o.model_time
    );
    println!(
        "runs         {} plays of each due scenario per level (live, errors seeded from {}); {} simulated minutes \
         of the quiet scenarios per level ({} daemons replaying)",
        o.plays, o.seed, o.minutes, o.jobs
    );
    let spread = |s: &Option<f64>| s.map_or("unknown".to_string(), |s| format!("{:.1} %", s * 100.0));
    let calibrated: Vec<String> =
        o.levels.iter().zip(spreads).map(|(l, s)| format!("{:.0} %: {}", l * 100.0, spread(s))).collect();
    println!(
        "calibrated   the empty scene's depth moves from frame to frame by (median; `calibrate` reports it), by \
         noise level: {}",
        calibrated.join(", ")
    );
    println!();
    println!("Due alarms (lead: seconds before the truth crossed, at the subscriber; negative: after)");
    println!();
    println!("| noise | rule | due plays | lead median | lead worst | missed | flicker |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for (level, score) in o.levels.iter().zip(scores) {
        for (rule, s) in rules.iter().zip(score) {
            let mut leads = s.leads.clone();
            let median = nearest_rank(&mut leads, 50.0);
            let worst = leads.iter().copied().min_by(f64::total_cmp);
            let seconds = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:+.2} s"));
            println!(
                "| {:.0} % | {} | {} | {} | {} | {} | {} |",
                level * 100.0,
                rule.name,
                s.leads.len() + s.missed,
                seconds(median),
                seconds(worst),
                s.missed,
                s.flicker
            );
        }
    }
    println!();
    println!(
        "False starts per simulated hour (the simulated hours played and replayed), where the rule has no alarm \
         due; geometry alone cannot tell a person from a forklift: its starts on person-between are not in its \
         `all`"
    );
    println!();
    // The scenarios some rule has no alarm due on.
    let columns: Vec<usize> =
        (0..Scenario::ALL.len()).filter(|&k| scores.iter().flatten().any(|s| s.not_due[k].1 > 0.0)).collect();
    let names: Vec<&str> = columns.iter().map(|&k| Scenario::ALL[k].name()).collect();
    println!("| noise | rule | {} | all |", names.join(" | "));
    println!("|---:|---|{}---:|", "---:|".repeat(columns.len()));
    for (level, score) in o.levels.iter().zip(scores) {
        for (rule, s) in rules.iter().zip(score) {
            let rate = |(starts, seconds): (usize, f64)| {
                let hours = seconds / 3600.0;
                if hours > 0.0 { format!("{:.1} ({hours:.2} h)", starts as f64 / hours) } else { "due".into() }
            };
            let counted = |k: &usize| rule.counts_classes || Scenario::ALL[*k] != Scenario::PersonBetween;
            let all = columns
                .iter()
                .filter(|k| counted(k))
                .fold((0, 0.0), |(a, b), &k| (a + s.not_due[k].0, b + s.not_due[k].1));
            let cells: Vec<String> = columns
                .iter()
                .map(|&k| if counted(&k) { rate(s.not_due[k]) } else { format!("{} (a person)", rate(s.not_due[k])) })
                .collect();
            println!("| {:.0} % | {} | {} | {} |", level * 100.0, rule.name, cells.join(" | "), rate(all));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shipped_rule_is_held_to_its_truth_at_its_distance() {
        let rules = shipped_rules().unwrap();
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["forks-near-dock", "forks-near-dock-classes", "person-near-forklift"]);
        assert_eq!(rules.iter().map(|r| r.alarm_below).collect::<Vec<_>>(), [1.5, 1.5, 2.0]);
        assert_eq!(rules.iter().map(|r| r.counts_classes).collect::<Vec<_>>(), [false, true, true]);
    }
}
