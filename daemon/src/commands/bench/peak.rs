//! `dinoedge bench peak`: this CPU's f32 FMA rate (`dinoedge_backbone::peak`) on one thread,
//! then on each number of threads up to `--threads` running together, so that BENCHMARKS.md
//! can say what fraction of the machine a model uses and whether two logical CPUs are two
//! cores (the rate doubles) or one core's two hardware threads (it does not).

use std::time::Duration;

use anyhow::Result;
use dinoedge_backbone::peak;

use super::cpu_model;
use crate::cli::BenchPeakArgs;

pub fn run(args: &BenchPeakArgs) -> Result<()> {
    let cpu = cpu_model();
    let one = peak::measure(1, Duration::from_secs(args.seconds.into()));
    if !args.json {
        println!("cpu       {cpu}, f32 FMAs on {} vectors, {} s per thread count", one.isa, args.seconds);
    }
    for threads in 1..=usize::from(args.threads) {
        let rate = if threads == 1 { one } else { peak::measure(threads, Duration::from_secs(args.seconds.into())) };
        if args.json {
            let row = serde_json::json!({
                "cpu": cpu,
                "isa": rate.isa,
                "threads": threads,
                "gflops_per_s": rate.gflops,
                "per_thread": rate.gflops / threads as f64,
                "over_one_thread": rate.gflops / one.gflops,
            });
            println!("{row}");
        } else {
            println!(
                "{threads:>3} thread(s)  {:>8.1} GFLOP/s  ({:.1} per thread, {:.2}× one thread)",
                rate.gflops,
                rate.gflops / threads as f64,
                rate.gflops / one.gflops
            );
        }
    }
    Ok(())
}
