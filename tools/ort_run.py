#!/usr/bin/env python3
"""Run a backbone ONNX in ONNX Runtime on a saved input; save every output (dev/test only).

Usage: ort_run.py MODEL.onnx INPUT.safetensors OUTPUT.safetensors [THREADS]
INPUT holds `pixel_values`; OUTPUT gets one tensor per graph output, by name.
Used by the heads crate's tract-vs-ONNX-Runtime test. Requires onnxruntime, numpy.
"""
import struct
import json
import sys

import numpy as np
import onnxruntime as ort


def read_safetensors(path: str) -> dict:
    # The format is an 8-byte length, a JSON header, then raw little-endian data; it is
    # read by hand so that the test needs nothing beyond onnxruntime and numpy.
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{path}: tensor {name} is {info['dtype']}, expected F32"
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + start:8 + n + end], dtype="<f4").reshape(info["shape"])
    return out


def write_safetensors(path: str, tensors: dict) -> None:
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main() -> None:
    model, inp, out = sys.argv[1:4]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    pixels = read_safetensors(inp)["pixel_values"]
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {"pixel_values": pixels})
    write_safetensors(out, dict(zip(names, values)))


if __name__ == "__main__":
    main()
