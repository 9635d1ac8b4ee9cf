#!/usr/bin/env python3
"""Where ONNX Runtime's time goes on a backbone ONNX: its own profiler, summed by operator.

The counterpart of `dinoedge bench backbone --profile --by-shape` for the same file, same
threads and the same deterministic input, so that BENCHMARKS.md can set the two side by
side operator by operator. ONNX Runtime fuses and rewrites nodes (its graph optimisation at
the level `bench_backbone.py` uses), so its kinds are its own (FusedConv, FusedMatMul, …).

Usage:
  python tools/bench/profile_ort.py --model da2_224x392.onnx --threads 2 [--runs 10] [--top 25]
Requires: onnxruntime, numpy (tools/requirements.txt). Dev-time only.
"""
import argparse
import collections
import json
import os
import tempfile

import numpy as np
import onnxruntime as ort


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    with tempfile.TemporaryDirectory() as tmp:
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(tmp, "ort")
        session = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
        shape = session.get_inputs()[0].shape
        h, w = shape[2], shape[3]
        # The same deterministic input as `dinoedge bench backbone`.
        c, y, x = np.meshgrid(np.arange(3), np.arange(h), np.arange(w), indexing="ij")
        pixels = (((x * 7 + y * 13 + c * 29) % 101) / 50.0 - 1.0).astype(np.float32)[None]
        feed = {session.get_inputs()[0].name: pixels}
        for _ in range(args.warmup):
            session.run(None, feed)
        for _ in range(args.runs):
            session.run(None, feed)
        trace = json.load(open(session.end_profiling()))

    # Node events: one per node per run, `dur` in microseconds; the last `runs` runs are timed.
    nodes = [e for e in trace if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    runs = [e for e in trace if e.get("cat") == "Session" and e["name"] == "model_run"]
    timed = runs[-args.runs:]
    start = timed[0]["ts"]
    total = collections.defaultdict(float)
    count = collections.defaultdict(set)
    for e in nodes:
        if e["ts"] < start:
            continue
        a = e.get("args", {})
        out = a.get("output_type_shape", [{}])
        shape = list(out[0].values())[0] if out and out[0] else []
        key = f"{a.get('op_name', '?')} → {','.join(str(d) for d in shape)}"
        total[key] += e["dur"] / 1e3 / args.runs
        count[key].add(e["name"])
    run_ms = sorted(r["dur"] / 1e3 for r in timed)[len(timed) // 2]
    in_ops = sum(total.values())
    print(f"onnxruntime {ort.__version__}, {args.threads} threads, {args.model}: median run {run_ms:.1f} ms, "
          f"{in_ops:.1f} ms in operators ({args.runs} runs)")
    for key, ms in sorted(total.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {ms:>7.2f} ms {100 * ms / in_ops:>5.1f}%  {len(count[key]):>4} × {key}")


if __name__ == "__main__":
    main()
