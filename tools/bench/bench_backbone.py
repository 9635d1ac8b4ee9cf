#!/usr/bin/env python3
"""tract vs ONNX Runtime on the same backbone ONNX, same thread count, same run.

Runs `dinoedge bench backbone --json` and ONNX Runtime on one model file, alternating
them for several rounds (these machines are noisy: the table reports medians of the
per-round medians, and the ratio of those), then prints a Markdown table row set for
BENCHMARKS.md.

With `--operators dinoedge,tract` each round also runs tract with tract-onnx's own
operators only (`dinoedge bench backbone --operators tract`): what dinoedge's operators
gain, measured in the same rounds.

Usage:
  python tools/bench/bench_backbone.py --dinoedge target/release/dinoedge \
      --model dinov2_vits14_224.onnx --threads 2 [--runs 30] [--rounds 3] [--operators dinoedge,tract]
Requires: onnxruntime, numpy (tools/requirements.txt). Dev-time only.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort


def cpu_model() -> str:
    """The CPU's name, its logical CPU count and its widest SIMD features."""
    name, flags = platform.processor() or platform.machine(), []
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = [f for f in line.split(":", 1)[1].split()
                         if f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_vp2intersect")]
            elif line.startswith("Features") and not flags:  # aarch64
                flags = [f for f in line.split(":", 1)[1].split() if f in ("asimd", "asimddp", "fphp", "sve", "i8mm")]
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} logical CPUs; {' '.join(flags) or 'no SIMD flags read'})"


def bench_ort(model: str, threads: int, runs: int, warmup: int) -> dict:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    started = time.perf_counter()
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - started) * 1e3
    shape = session.get_inputs()[0].shape
    h, w = shape[2], shape[3]
    # The same deterministic input as `dinoedge bench backbone`.
    c, y, x = np.meshgrid(np.arange(3), np.arange(h), np.arange(w), indexing="ij")
    pixels = (((x * 7 + y * 13 + c * 29) % 101) / 50.0 - 1.0).astype(np.float32)[None]
    feed = {session.get_inputs()[0].name: pixels}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {"runtime": "onnxruntime " + ort.__version__, "load_ms": load_ms,
            "median_ms": times[len(times) // 2], "p90_ms": times[-(-len(times) * 9 // 10) - 1],
            "input": f"{h}x{w}"}


def bench_tract(dinoedge: str, model: str, threads: int, runs: int, warmup: int, operators: str) -> dict:
    out = subprocess.run([dinoedge, "bench", "backbone", "--model", model, "--threads", str(threads),
                          "--runs", str(runs), "--warmup", str(warmup), "--operators", operators, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dinoedge", default="target/release/dinoedge")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--operators", default="dinoedge",
                    help="comma-separated tract operator sets to alternate with ONNX Runtime")
    args = ap.parse_args()
    operators = args.operators.split(",")

    rounds = []
    for _ in range(args.rounds):
        ts = {op: bench_tract(args.dinoedge, args.model, args.threads, args.runs, args.warmup, op) for op in operators}
        o = bench_ort(args.model, args.threads, args.runs, args.warmup)
        rounds.append((ts, o))
        print("round: " + ", ".join(f"tract ({op}) median {t['median_ms']:.1f} ms" for op, t in ts.items())
              + f", onnxruntime median {o['median_ms']:.1f} ms", flush=True)
    med = statistics.median
    o_med = med([o["median_ms"] for _, o in rounds])
    o_p90 = med([o["p90_ms"] for _, o in rounds])
    first = rounds[0][0][operators[0]]
    print()
    print(f"CPU: {cpu_model()}; threads: {args.threads}; input {first['input']}; model {args.model} ({first['arch']}); "
          f"{args.rounds} rounds x {args.runs} runs")
    print()
    # The limit: the CPU's f32 FMA rate on these threads, measured by each tract run after its
    # timed runs (`dinoedge_backbone::peak`); the median of them.
    peak = med([ts[op]["peak_gflops_per_s"] for ts, _ in rounds for op in operators])
    print(f"Limit: {peak:.0f} GFLOP/s (f32 FMAs on {first['peak_isa']} vectors, {args.threads} threads, "
          f"measured in each round); the model: {first['gflop']:.2f} GFLOP per frame (tract's count of its plan)")
    print()
    print("| runtime | load ms | median ms | p90 ms | GFLOP/s | of the limit | tract / ORT (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def rate(median_ms: float) -> str:
        gflops = first["gflop"] / (median_ms / 1e3)
        return f"{gflops:.0f} | {100 * gflops / peak:.0f} %"

    for op in operators:
        t_med = med([ts[op]["median_ms"] for ts, _ in rounds])
        t_p90 = med([ts[op]["p90_ms"] for ts, _ in rounds])
        t_load = med([ts[op]["load_ms"] for ts, _ in rounds])
        print(f"| tract ({op} operators) | {t_load:.0f} | {t_med:.1f} | {t_p90:.1f} | {rate(t_med)} | "
              f"{t_med / o_med:.2f} |")
    print(f"| {rounds[0][1]['runtime']} | {med([o['load_ms'] for _, o in rounds]):.0f} | {o_med:.1f} | {o_p90:.1f} | "
          f"{rate(o_med)} | 1.00 |")


if __name__ == "__main__":
    main()
