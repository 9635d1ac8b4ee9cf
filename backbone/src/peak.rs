//! The limit a model's speed is measured against: the rate at which this CPU does f32 fused
//! multiply-adds, measured, not taken from a data sheet. Each thread runs independent chains
//! of FMAs on the widest vectors the CPU has (AVX-512, else AVX2 with FMA on x86-64; NEON on
//! aarch64), with enough chains in flight to hide the instruction's latency and every operand
//! in registers: no memory traffic, so no matrix product can beat it. Threads run at the same
//! time, so two logical CPUs that share one core's FMA units show it (their sum stays at one
//! core's rate). A model's GFLOP/s over this rate is the fraction of the machine it uses.
//!
//! [`plan_flops`] counts a loaded plan's floating-point operations from tract's own cost
//! model (two per multiply-add of its matrix products and convolutions), so a depth model's
//! head is counted with its backbone; the same count divides ONNX Runtime's time.

use std::time::{Duration, Instant};

use tract_onnx::tract_core::ops::Cost;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;

use crate::error::{ModelError, Result};
use crate::runtime::Backbone;

/// Independent accumulators per thread: an FMA's latency (4 cycles) times the units that can
/// start one each cycle (2), with room to spare.
const CHAINS: usize = 12;

/// A measured rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub threads: usize,
    /// The vectors the loop ran on.
    pub isa: &'static str,
    /// Floating-point operations per second over all threads, in billions (an FMA is two).
    pub gflops: f64,
}

/// The f32 FMA rate of `threads` threads running together, each for about `duration`.
pub fn measure(threads: usize, duration: Duration) -> Peak {
    let (isa, kernel) = kernel();
    let threads = threads.max(1);
    let rates: Vec<f64> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..threads).map(|_| scope.spawn(move || rate(kernel, duration))).collect();
        runs.into_iter().map(|run| run.join().unwrap_or(0.0)).collect()
    });
    Peak { threads, isa, gflops: rates.iter().sum::<f64>() / 1e9 }
}

/// A thread's FLOP/s: the kernel in batches until `duration` has passed, after one warm-up
/// batch (which also lets the core reach its vector clock).
fn rate(kernel: Kernel, duration: Duration) -> f64 {
    const BATCH: u64 = 1 << 20;
    let (flops_per_batch, mut sink) = (BATCH as f64 * kernel.flops_per_iteration, 0.0f32);
    sink += (kernel.run)(BATCH);
    let (start, mut batches) = (Instant::now(), 0u64);
    while start.elapsed() < duration {
        sink += (kernel.run)(BATCH);
        batches += 1;
    }
    std::hint::black_box(sink);
    flops_per_batch * batches as f64 / start.elapsed().as_secs_f64()
}

/// A loop of FMAs: runs `n` iterations and returns a sum of its accumulators (kept, so the
/// loop is not optimised away).
#[derive(Clone, Copy)]
struct Kernel {
    run: fn(u64) -> f32,
    flops_per_iteration: f64,
}

/// The multiplier and addend of every FMA: a fixed point near 1 keeps the values finite for
/// any number of iterations.
const A: f32 = 0.999_999;
const B: f32 = 1e-7;

/// `$step` applied to each of the [`CHAINS`] accumulators in turn: twelve statements, not a
/// loop, so that the accumulators stay in registers at any optimisation level.
macro_rules! each_chain {
    ($acc:ident, $step:expr) => {
        $acc[0] = $step($acc[0]);
        $acc[1] = $step($acc[1]);
        $acc[2] = $step($acc[2]);
        $acc[3] = $step($acc[3]);
        $acc[4] = $step($acc[4]);
        $acc[5] = $step($acc[5]);
        $acc[6] = $step($acc[6]);
        $acc[7] = $step($acc[7]);
        $acc[8] = $step($acc[8]);
        $acc[9] = $step($acc[9]);
        $acc[10] = $step($acc[10]);
        $acc[11] = $step($acc[11]);
    };
}

fn kernel_of(lanes: usize, run: fn(u64) -> f32) -> Kernel {
    Kernel { run, flops_per_iteration: (2 * CHAINS * lanes) as f64 }
}

/// Scalar chains, `v · a + b` (what a CPU without vector FMAs is measured with; the compiler
/// vectorises it where it can). aarch64 always has NEON's.
#[cfg(not(target_arch = "aarch64"))]
fn scalar(n: u64) -> f32 {
    let mut acc = [1.0f32; CHAINS];
    let (a, b) = (std::hint::black_box(A), std::hint::black_box(B));
    for _ in 0..n {
        each_chain!(acc, |v: f32| v * a + b);
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
fn kernel() -> (&'static str, Kernel) {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    fn avx512(n: u64) -> f32 {
        let (a, b) = (_mm512_set1_ps(std::hint::black_box(A)), _mm512_set1_ps(std::hint::black_box(B)));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..n {
            each_chain!(acc, |v| _mm512_fmadd_ps(v, a, b));
        }
        acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    fn avx2(n: u64) -> f32 {
        let (a, b) = (_mm256_set1_ps(std::hint::black_box(A)), _mm256_set1_ps(std::hint::black_box(B)));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..n {
            each_chain!(acc, |v| _mm256_fmadd_ps(v, a, b));
        }
        let mut lanes = [0.0f32; 8];
        acc.iter()
            .map(|v| {
                // SAFETY: `lanes` holds the 8 floats the store writes.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *v) };
                lanes.iter().sum::<f32>()
            })
            .sum()
    }

    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has the features the function is compiled for (checked above).
        ("AVX-512", kernel_of(16, |n| unsafe { avx512(n) }))
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: as above.
        ("AVX2 + FMA", kernel_of(8, |n| unsafe { avx2(n) }))
    } else {
        ("scalar (no FMA instructions)", kernel_of(1, scalar))
    }
}

#[cfg(target_arch = "aarch64")]
fn kernel() -> (&'static str, Kernel) {
    use std::arch::aarch64::*;

    fn neon(n: u64) -> f32 {
        // SAFETY: NEON is part of every aarch64 CPU (the target's baseline).
        unsafe {
            let (a, b) = (vdupq_n_f32(std::hint::black_box(A)), vdupq_n_f32(std::hint::black_box(B)));
            let mut acc = [vdupq_n_f32(1.0); CHAINS];
            for _ in 0..n {
                each_chain!(acc, |v| vfmaq_f32(b, v, a));
            }
            acc.iter().map(|v| vaddvq_f32(*v)).sum()
        }
    }
    ("NEON", kernel_of(4, neon))
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn kernel() -> (&'static str, Kernel) {
    ("scalar", kernel_of(1, scalar))
}

/// The floating-point operations of one run of `backbone`'s plan: two per multiply-add of its
/// matrix products and convolutions as tract's cost model counts them, whatever their element
/// type.
pub fn plan_flops(backbone: &Backbone) -> Result<f64> {
    let model = backbone.plan().model();
    let mut fma = 0.0;
    for node in model.nodes() {
        // Element-wise functions (GELU: 14 "FMAs" of tract's polynomial per value) are how one
        // runtime computes them, not the model's arithmetic.
        if node.op.downcast_ref::<ElementWiseOp>().is_some() {
            continue;
        }
        let costs = model.node_input_facts(node.id).and_then(|inputs| node.op.cost(&inputs));
        for (cost, count) in costs.map_err(|e| ModelError::Inference(format!("{e:#}")))? {
            if let Cost::FMA(_) = cost {
                fma += count.to_i64().map_err(|e| ModelError::Inference(format!("{e:#}")))? as f64;
            }
        }
    }
    Ok(2.0 * fma)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel does the multiply-adds it is counted for: its result is what the same
    /// recurrence gives step by step, in every lane of every chain.
    #[test]
    fn the_loop_computes_what_it_counts() {
        let (_, kernel) = kernel();
        let n = 1000;
        let one = (0..n).fold(1.0f32, |v, _| v.mul_add(A, B));
        let values = kernel.flops_per_iteration as usize / 2;
        let expected = one * values as f32;
        let got = (kernel.run)(n);
        assert!((got - expected).abs() <= 1e-4 * expected, "{got} vs {expected}");
    }

    /// The scalar fallback (`v · a + b`, rounded twice) stays within rounding of it too.
    #[cfg(not(target_arch = "aarch64"))]
    #[test]
    fn the_scalar_loop_computes_what_it_counts() {
        let one = (0..1000).fold(1.0f32, |v, _| v.mul_add(A, B));
        let got = scalar(1000);
        assert!((got - one * CHAINS as f32).abs() <= 1e-4 * got, "{got}");
    }
}
