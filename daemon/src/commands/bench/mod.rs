//! `dinoedge bench …`: measured, never asserted. One module per benchmark (`backbone`,
//! `peak`: the CPU's f32 FMA rate, `head`, `render`, `pipeline`, `precision`: what f16 changes, and `alarms`: the rules' lead,
//! misses and false starts under a model's errors); the results go to BENCHMARKS.md, the
//! backbone's beside an ONNX Runtime baseline (tools/bench/).

mod alarms;
mod backbone;
mod head;
mod peak;
mod pipeline;
mod precision;
mod render;

use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::BenchCommand;
use crate::percentile::nearest_rank;

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Backbone(args) => backbone::run(args),
        BenchCommand::Peak(args) => peak::run(&args),
        BenchCommand::Head(args) => head::run(args),
        BenchCommand::Render(args) => render::run(args),
        BenchCommand::Pipeline(args) => pipeline::run(&args),
        BenchCommand::Alarms(args) => alarms::run(&args),
        BenchCommand::Precision(args) => precision::run(&args),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, 90th percentile and minimum of repeated timings, in milliseconds.
struct Latency {
    median: f64,
    p90: f64,
    min: f64,
}

impl Latency {
    /// `times` are never empty: every benchmark's run count has a floor of at least 5.
    fn of(times: Vec<Duration>) -> Self {
        let mut ms: Vec<f64> = times.into_iter().map(ms).collect();
        let mut at = |p| nearest_rank(&mut ms, p).expect("timed runs");
        Self { median: at(50.0), p90: at(90.0), min: at(0.0) }
    }
}

/// Subscribes to `filter` at the broker `url` (as client `id`, at `qos`) and hands `on` each
/// message published there, with the time it arrived here, on a thread of its own for the rest
/// of the run (a connection error is retried every 200 ms).
fn subscribe(
    url: &str,
    id: &str,
    (filter, qos): (&str, rumqttc::QoS),
    mut on: impl FnMut(rumqttc::Publish, std::time::SystemTime) + Send + 'static,
) -> Result<()> {
    let url = dinoedge_config::BrokerUrl::try_from(url.to_string()).map_err(anyhow::Error::msg).context("--mqtt")?;
    let mut options = rumqttc::MqttOptions::new(id, url.host.clone(), url.port);
    options.set_max_packet_size(1 << 20, 1 << 16);
    let (client, mut connection) = rumqttc::Client::new(options, 64);
    client.subscribe(filter, qos).context("subscribing")?;
    std::thread::spawn(move || {
        let _client = client;
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => on(p, std::time::SystemTime::now()),
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    });
    Ok(())
}

/// The CPU's model name (what BENCHMARKS.md prints beside every figure).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
