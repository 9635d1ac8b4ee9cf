//! The fault soak: the daemon on two looping cameras (an image folder, and a video file through
//! ffmpeg) with a small trained model, its alarms coming and going, while faults are applied
//! one after another — the broker restarted, the network to it cut (an iptables rule inside a
//! network namespace of the test's own, sometimes with a `kill -9` during the cut), the state
//! folder's disk filled and freed (once with a `kill -9` while it is full), ffmpeg killed,
//! SIGHUPs (a changed rule, a broken file), `kill -9` with a restart, a frame of another size
//! and a pipe in place of a frame in the image folder, and 1,100 idle connections to the
//! metrics endpoint (the daemon runs with the service's limit of 1,024 descriptors). Then every event is audited against an MQTT subscriber that
//! stayed on another listener of the same broker:
//!
//! - **0 lost**: every seq the outbox gave out (they go on from run to run) was delivered, and
//!   the outbox is empty after the last, clean, stop;
//! - **duplicates** only as the same event again (same id, same payload);
//! - **order per alarm**: its events arrive in seq order, its `start` first and its one `end`
//!   last;
//! - **every start ended**, across the kills (by the next run) and the final stop.
//!
//! It runs whole rounds of the faults until `DINOEDGE_SOAK_SECS` have passed: one round (about
//! 2½ minutes) by default, in the test command. `DINOEDGE_SOAK_SEED` draws other durations.
//! The numbers of a 1-hour run are in BENCHMARKS.md. Needs root (the namespaces, iptables),
//! as `tools/test.sh` runs.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use support::broker::{Broker, Message, Subscriber};
use support::disk::SmallDisk;
use support::{path, run_ok};

/// Set in the copy of this test that runs inside its own network namespace.
const INSIDE: &str = "DINOEDGE_SOAK_NETNS";
const EVENTS: &str = "dinoedge/soak/events";

#[test]
fn no_event_is_lost_reordered_or_left_open_through_a_soak_of_faults() {
    if std::env::var_os(INSIDE).is_some() {
        return soak();
    }
    // Again, in a network namespace of its own (loopback only), where an iptables rule cuts
    // the daemon off the broker and nothing outside is touched.
    let status = Command::new("unshare")
        .args(["--net", "--", "sh", "-c", r#"ip link set lo up && exec "$@""#, "sh"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "no_event_is_lost_reordered_or_left_open_through_a_soak_of_faults", "--nocapture"])
        .env(INSIDE, "1")
        .status()
        .expect("unshare (util-linux) runs");
    assert!(status.success(), "the soak failed: its output is above ({status})");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Fault {
    BrokerRestart,
    NetworkCut,
    KillDuringCut,
    DiskFull,
    FfmpegKilled,
    Reload,
    BadReload,
    Kill,
    OddFrame,
    PipeFrame,
    ConnectionFlood,
    KillWhileDiskFull,
}

/// The faults in the order they come, round and round.
const ROUND: [Fault; 12] = [
    Fault::BrokerRestart,
    Fault::NetworkCut,
    Fault::DiskFull,
    Fault::OddFrame,
    Fault::FfmpegKilled,
    Fault::Reload,
    Fault::ConnectionFlood,
    Fault::KillDuringCut,
    Fault::PipeFrame,
    Fault::BadReload,
    Fault::KillWhileDiskFull,
    Fault::Kill,
];

/// The image camera's frame that the odd-frame and pipe faults replace for a while (longer than
/// a pass of the looping clip), and put back.
const REPLACED: &str = "clip/rgb/000030.png";

/// The daemon under test: run inside the small disk's mount namespace, its log appended to
/// one file across its runs.
struct Daemon {
    child: Child,
    config: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(disk: &SmallDisk, config: &Path, log: &Path) -> Daemon {
        let append = || OpenOptions::new().create(true).append(true).open(log).unwrap();
        // With the packaged service's limit of file descriptors.
        let child = disk
            .command(Path::new("prlimit"))
            .args(["--nofile=1024:1024", env!("CARGO_BIN_EXE_dinoedge"), "run", "--config", path(config)])
            .stdout(Stdio::from(append()))
            .stderr(Stdio::from(append()))
            .spawn()
            .expect("dinoedge runs");
        Daemon { child, config: config.to_path_buf(), log: log.to_path_buf() }
    }

    fn signal(&self, name: &str) {
        assert!(
            Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap().success()
        );
    }

    /// `kill -9`, and started again after `after`.
    fn kill_and_restart(&mut self, disk: &SmallDisk, after: Duration) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(after);
        *self = Daemon::start(disk, &self.config, &self.log);
    }

    /// SIGTERM, and a clean exit within 30 s.
    fn stop(mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the daemon did not stop within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "the daemon's last run ended {status}");
    }
}

/// The daemon's configuration: a rule on each camera, the whole frame's nearest part to the
/// dock face. `clear_above` differs between the two reloaded variants, which changes dock2's
/// rule.
fn config(dir: &Path, backbone: &Path, head: &Path, broker: &Broker, metrics: u16, clear_above: f64) -> String {
    let rule = |camera: &str, clear_above: f64| {
        format!(
            "[[rule]]\nname = \"forks\"\ncamera = \"{camera}\"\nkind = \"plane_distance\"\nplane = \"dock_face\"\n\
             zone = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\nalarm_below = 1.5\n\
             clear_above = {clear_above}\nseverity = \"critical\"\n"
        )
    };
    let camera = |name: &str, source: &str| {
        format!("[[camera]]\nname = \"{name}\"\ncalibration = \"{name}.calibration.toml\"\n[camera.source]\n{source}\n")
    };
    [
        format!(
            "device_id = \"soak\"\nstate_dir = \"{}\"\n[model]\nkind = \"dinov2\"\nbackbone = \"{}\"\nhead = \"{}\"\n\
             [mqtt]\nurl = \"{}\"\nupdate_interval = 0.5\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n",
            dir.join("state").display(),
            backbone.display(),
            head.display(),
            broker.url()
        ),
        camera("dock1", "kind = \"images\"\npath = \"clip/rgb\"\nfps = 10\nloop = true"),
        camera(
            "dock2",
            &format!(
                "kind = \"ffmpeg\"\nurl = \"{}\"\nwidth = 320\nheight = 240\ninput_args = [\"-stream_loop\", \"-1\"]",
                dir.join("clip.mp4").display()
            ),
        ),
        rule("dock1", 1.8),
        rule("dock2", clear_above),
    ]
    .join("\n")
}

fn iptables(action: &str, port: u16) {
    for way in ["--dport", "--sport"] {
        let rule = [action, "INPUT", "-p", "tcp", way, &port.to_string(), "-j", "DROP"];
        let status = Command::new("iptables").args(rule).status().expect("iptables (Debian's iptables) runs");
        assert!(status.success(), "iptables {rule:?}");
    }
}

fn soak() {
    let secs: u64 = std::env::var("DINOEDGE_SOAK_SECS").map_or(0, |s| s.parse().expect("DINOEDGE_SOAK_SECS"));
    let seed: u64 = std::env::var("DINOEDGE_SOAK_SEED").map_or(1, |s| s.parse().expect("DINOEDGE_SOAK_SEED"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (backbone, head) = support::tiny_model(dir);
    let clip = dir.join("clip");
    run_ok(
        &["sim", "clip", "--scenario", "forklift-cross", "--out", path(&clip), "--width", "320", "--height", "240"],
        dir,
    );
    // The clip's camera, for both cameras.
    let calibration = std::fs::read_to_string(clip.join("calibration.toml")).unwrap();
    for camera in ["dock1", "dock2"] {
        let named = calibration.replace("camera = \"dock1\"", &format!("camera = \"{camera}\""));
        std::fs::write(
            dir.join(format!("{camera}.calibration.toml")),
            named.replace("background.png", "clip/background.png"),
        )
        .unwrap();
    }
    let mp4 = dir.join("clip.mp4");
    let encoded = Command::new("ffmpeg")
        .args(["-v", "error", "-framerate", "10", "-i", path(&clip.join("rgb/%06d.png"))])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", path(&mp4)])
        .status()
        .expect("ffmpeg runs");
    assert!(encoded.success());

    // The daemon on the first listener (the one cut), the audit on the second.
    let mut broker = Broker::start_with(&dir.join("broker"), 2, |p| {
        format!("listener {} 127.0.0.1\nlistener {} 127.0.0.1\nallow_anonymous true\n", p[0], p[1])
    });
    let sub = Subscriber::start(broker.ports[1], "soak-audit", "dinoedge/soak/#");
    let disk = SmallDisk::mount(&dir.join("state"), "1m");
    let config_file = dir.join("dinoedge.toml");
    let metrics = support::free_port();
    let variants =
        [config(dir, &backbone, &head, &broker, metrics, 1.8), config(dir, &backbone, &head, &broker, metrics, 1.9)];
    // A frame of twice the size, for the odd-frame fault.
    let frame = dir.join(REPLACED);
    let odd = dir.join("odd.png");
    let scaled = Command::new("ffmpeg")
        .args(["-v", "error", "-i", path(&frame), "-vf", "scale=640:480", path(&odd)])
        .status()
        .expect("ffmpeg runs");
    assert!(scaled.success());
    let kept = dir.join("kept.png");
    std::fs::copy(&frame, &kept).unwrap();
    std::fs::write(&config_file, &variants[0]).unwrap();
    let log = dir.join("daemon.log");
    let mut daemon = Daemon::start(&disk, &config_file, &log);

    let mut rng = StdRng::seed_from_u64(seed);
    let mut applied: BTreeMap<Fault, (u32, Duration)> = BTreeMap::new();
    let started = Instant::now();
    let mut reloads = 0;
    // When each fault was on (from 1 s before: a frame's event is published after it), and
    // 10 s after (catching up): the events of the other frames tell how late an event is when
    // nothing is wrong.
    let mut troubled: Vec<(SystemTime, SystemTime)> = Vec::new();
    for (n, fault) in ROUND.iter().cycle().copied().enumerate() {
        if n % ROUND.len() == 0 && n > 0 && started.elapsed() >= Duration::from_secs(secs) {
            break;
        }
        // Up and delivering before the next fault.
        std::thread::sleep(Duration::from_millis(rng.random_range(3000..6000)));
        let (begun, from) = (Instant::now(), SystemTime::now() - Duration::from_secs(1));
        match fault {
            Fault::BrokerRestart => {
                broker.stop();
                std::thread::sleep(Duration::from_millis(rng.random_range(500..5000)));
                broker.restart();
            }
            Fault::NetworkCut | Fault::KillDuringCut => {
                // Longer than the keep-alive (30 s) at times: the client must notice a silent cut.
                let cut = Duration::from_millis(rng.random_range(5000..45_000));
                iptables("-I", broker.port);
                std::thread::sleep(cut / 2);
                if fault == Fault::KillDuringCut {
                    daemon.kill_and_restart(&disk, Duration::from_millis(500));
                }
                std::thread::sleep(cut / 2);
                iptables("-D", broker.port);
            }
            Fault::DiskFull => {
                disk.fill();
                std::thread::sleep(Duration::from_millis(rng.random_range(5000..15_000)));
                disk.free();
                // Not killed before what the disk refused is written (retried every second).
                std::thread::sleep(Duration::from_secs(3));
            }
            Fault::FfmpegKilled => {
                let killed = Command::new("pkill")
                    .args(["-KILL", "-x", "-P", &daemon.child.id().to_string(), "ffmpeg"])
                    .status()
                    .unwrap();
                assert!(killed.success(), "no ffmpeg under the daemon to kill");
            }
            Fault::Reload => {
                reloads += 1;
                std::fs::write(&config_file, &variants[reloads % 2]).unwrap();
                daemon.signal("HUP");
            }
            Fault::BadReload => {
                std::fs::write(&config_file, "[[rule]\nname = ").unwrap();
                daemon.signal("HUP");
                std::thread::sleep(Duration::from_secs(1));
                // Good again, for the next start (a kill may come before the next reload).
                std::fs::write(&config_file, &variants[reloads % 2]).unwrap();
            }
            Fault::Kill => daemon.kill_and_restart(&disk, Duration::from_millis(rng.random_range(0..2000))),
            Fault::KillWhileDiskFull => {
                // The broker up: starts and ends delivered while the disk refuses them.
                disk.fill();
                std::thread::sleep(Duration::from_millis(rng.random_range(3000..8000)));
                daemon.kill_and_restart(&disk, Duration::from_millis(500));
                std::thread::sleep(Duration::from_millis(rng.random_range(2000..5000)));
                disk.free();
                std::thread::sleep(Duration::from_secs(3));
            }
            Fault::OddFrame | Fault::PipeFrame => {
                let swapped = dir.join("swapped.png");
                if fault == Fault::OddFrame {
                    std::fs::copy(&odd, &swapped).unwrap();
                } else {
                    assert!(Command::new("mkfifo").arg(&swapped).status().unwrap().success());
                }
                std::fs::rename(&swapped, &frame).unwrap();
                std::thread::sleep(Duration::from_secs(12));
                std::fs::copy(&kept, &swapped).unwrap();
                std::fs::rename(&swapped, &frame).unwrap();
            }
            Fault::ConnectionFlood => {
                let flooding = Instant::now();
                let mut flood = Vec::new();
                while flood.len() < 1100 && flooding.elapsed() < Duration::from_secs(8) {
                    let to = ([127, 0, 0, 1], metrics).into();
                    flood.extend(std::net::TcpStream::connect_timeout(&to, Duration::from_millis(200)).ok());
                }
                std::thread::sleep(Duration::from_secs(4));
            }
        }
        troubled.push((from, SystemTime::now() + Duration::from_secs(10)));
        let entry = applied.entry(fault).or_default();
        entry.0 += 1;
        entry.1 += begun.elapsed();
    }
    // Everything healthy again: the last events delivered, then a clean stop.
    std::thread::sleep(Duration::from_secs(10));
    daemon.stop();
    let soaked = started.elapsed();
    let outbox = dinoedge::outbox::Outbox::open(&disk.path("outbox"), 10_000).unwrap();
    let next_seq = outbox.next_seq();
    assert_eq!(outbox.pending_count(), 0, "the outbox is empty after the clean stop");
    drop(outbox);
    let daemon_log = std::fs::read_to_string(&log).unwrap();
    assert!(!daemon_log.contains("panicked"), "{daemon_log}");
    assert!(!daemon_log.contains("Too many open files"), "the flood took descriptors:\n{daemon_log}");

    // Every event the outbox gave out (seqs 0 to next_seq - 1) has arrived.
    let all_arrived = |m: &[Message]| {
        let seqs: std::collections::HashSet<u64> =
            m.iter().filter(|m| m.topic == EVENTS).filter_map(|m| seq_of(&m.json())).collect();
        (0..next_seq).all(|s| seqs.contains(&s))
    };
    let arrived = sub.wait_for(Duration::from_secs(30), all_arrived);
    let messages = sub.messages.lock().unwrap().clone();
    let audit = Audit::of(&messages, &troubled);
    print!("{}", report(secs, seed, soaked, &applied, &audit, next_seq, &daemon_log));
    assert!(arrived, "events given out but never delivered (seqs): {:?}", audit.missing(next_seq));
    assert!(audit.problems.is_empty(), "{}", audit.problems.join("\n"));
    assert!(audit.starts > 0, "the soak raised no alarm: it tested nothing");
}

fn seq_of(event: &Value) -> Option<u64> {
    event["id"].as_str()?.rsplit_once('-')?.1.parse().ok()
}

/// What the subscriber got, checked.
struct Audit {
    /// Each event once, in the order it first arrived.
    events: Vec<Value>,
    duplicates: usize,
    starts: usize,
    /// Ends by the next run, of alarms a killed run left open.
    ended_after_kill: usize,
    ended_by_stop: usize,
    /// The delay from each event's frame to its first arrival: of the frames taken while a
    /// fault was on (or the second before, or the 10 s after), and of the others.
    delays: Vec<Duration>,
    healthy_delays: Vec<Duration>,
    problems: Vec<String>,
}

impl Audit {
    fn of(messages: &[Message], troubled: &[(SystemTime, SystemTime)]) -> Audit {
        let mut first: HashMap<String, Value> = HashMap::new();
        let (mut events, mut problems, mut duplicates) = (Vec::new(), Vec::new(), 0);
        let (mut delays, mut healthy_delays) = (Vec::new(), Vec::new());
        for m in messages.iter().filter(|m| m.topic == EVENTS) {
            let event = m.json();
            let id = event["id"].as_str().unwrap_or_default().to_string();
            if let Some(before) = first.get(&id) {
                duplicates += 1;
                if before != &event {
                    problems.push(format!("id {id} came with two payloads:\n  {before}\n  {event}"));
                }
                continue;
            }
            let time = humantime::parse_rfc3339(event["time"].as_str().unwrap_or_default()).unwrap();
            let delay = m.received.duration_since(time).unwrap_or_default();
            if troubled.iter().any(|(from, to)| (*from..*to).contains(&time)) {
                delays.push(delay);
            } else {
                healthy_delays.push(delay);
            }
            first.insert(id, event.clone());
            events.push(event);
        }
        // A fault names the alarm raised then, or itself when none was.
        let mut alarms: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for event in events.iter().filter(|e| !(e["type"] == "fault" && e["alarm"] == e["id"])) {
            if let Some(alarm) = event["alarm"].as_str() {
                alarms.entry(alarm.to_string()).or_default().push(event);
            }
        }
        let (mut starts, mut ended_after_kill, mut ended_by_stop) = (0, 0, 0);
        for (alarm, events) in &alarms {
            let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap_or_default()).collect();
            let seqs: Vec<Option<u64>> = events.iter().map(|e| seq_of(e)).collect();
            let in_order = seqs.windows(2).all(|w| w[0] < w[1]);
            let shape = kinds.first() == Some(&"start")
                && events[0]["id"] == alarm.as_str()
                && kinds.last() == Some(&"end")
                && kinds.iter().filter(|k| **k == "start" || **k == "end").count() == 2;
            if !in_order || !shape {
                problems.push(format!("alarm {alarm}: {kinds:?}, seqs {seqs:?}"));
            }
            starts += 1;
            let reason = events.last().and_then(|e| e["reason"].as_str()).unwrap_or_default();
            ended_after_kill += usize::from(reason.contains("open when it last stopped"));
            ended_by_stop += usize::from(reason == "dinoedge stopped");
        }
        Audit { events, duplicates, starts, ended_after_kill, ended_by_stop, delays, healthy_delays, problems }
    }

    /// The seqs below `next_seq` that never arrived.
    fn missing(&self, next_seq: u64) -> Vec<u64> {
        let got: std::collections::HashSet<u64> = self.events.iter().filter_map(seq_of).collect();
        (0..next_seq).filter(|s| !got.contains(s)).collect()
    }
}

/// The soak's numbers, as BENCHMARKS.md shows them.
fn report(
    secs: u64,
    seed: u64,
    soaked: Duration,
    applied: &BTreeMap<Fault, (u32, Duration)>,
    audit: &Audit,
    next_seq: u64,
    log: &str,
) -> String {
    let spread = |delays: &[Duration]| {
        let mut delays = delays.to_vec();
        delays.sort();
        let at = |q: f64| delays.get(((delays.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
        format!(
            "{} events: p50 {:.2} s, p99 {:.2} s, max {:.2} s",
            delays.len(),
            at(0.5).as_secs_f64(),
            at(0.99).as_secs_f64(),
            at(1.0).as_secs_f64()
        )
    };
    let mut out = format!(
        "fault soak: DINOEDGE_SOAK_SECS={secs} DINOEDGE_SOAK_SEED={seed}, {:.0} s in all\n\n| fault | times | total s |\n|---|---|---|\n",
        soaked.as_secs_f64()
    );
    for (fault, (times, took)) in applied {
        out += &format!("| {fault:?} | {times} | {:.1} |\n", took.as_secs_f64());
    }
    let kinds = |kind: &str| audit.events.iter().filter(|e| e["type"] == kind).count();
    out += &format!(
        "\nevents given out {next_seq}, delivered {} (missing {}), duplicates {} (same id and payload)\n\
         alarms {} (starts), updates {}, ends {}: by the next run after a kill {}, at the final stop {}\n\
         problems {}\nframe-to-subscriber delay, no fault on: {}\n\
         frame-to-subscriber delay, a fault on or in the 10 s after: {}\n\
         daemon runs {}, source restarts {}, reloads refused {}\n\
         faults (a rule that could not measure) {}, frames of another size met {}, pipes skipped {}, \
         the outbox's reserve given up {}, \"Too many open files\" {}\n",
        audit.events.len(),
        audit.missing(next_seq).len(),
        audit.duplicates,
        audit.starts,
        kinds("update"),
        kinds("end"),
        audit.ended_after_kill,
        audit.ended_by_stop,
        audit.problems.len(),
        spread(&audit.healthy_delays),
        spread(&audit.delays),
        log.matches("] running: ").count(),
        log.matches("restarting the source").count(),
        log.matches("the running configuration stays").count(),
        kinds("fault"),
        log.matches(": the frames are ").count(),
        log.matches("not a regular file").count(),
        log.matches("gives up its reserve").count(),
        log.matches("Too many open files").count(),
    );
    out
}
