#!/usr/bin/env python3
"""Convert the Middlebury 2014 "Motorcycle" stereo pair into dinoedge's RGB-D folder format.

A real-image check of `dinoedge heads train|eval`'s data path (dev-time only; never needed at
run time). scikit-image's wheel ships the pair, down-sampled 4x from the benchmark, with the
ground-truth disparity of the left view and its calibration (`skimage.data.stereo_motorcycle`):

    focal length f = 994.978 px, principal point (311.193, 254.877) px,
    doffs = 31.086 px, baseline = 193.001 mm

Depth follows from disparity d as  Z = baseline * f / (d + doffs)  (millimetres). Pixels
without ground truth (inf or NaN disparity) become 0, the folder format's "no measurement".

With `--factor 2` (the committed copy) the frame is halved once more: the RGB by 2x2 mean,
the depth by the median of each 2x2 block's valid samples when at least three of the four
are valid (so no depth is invented across an occlusion edge), else 0; the intrinsics are
scaled with it.

Writes  rgb/motorcycle.png, depth/motorcycle.png (uint16 millimetres), meta/motorcycle.json.

Usage:  python tools/middlebury_motorcycle.py OUT_DIR [--factor 2]
Requires: scikit-image, numpy, Pillow (pip install scikit-image).

Data: D. Scharstein, H. Hirschmueller, Y. Kitajima, G. Krathwohl, N. Nesic, X. Wang and
P. Westling, "High-resolution stereo datasets with subpixel-accurate ground truth",
GCPR 2014; https://vision.middlebury.edu/stereo/data/scenes2014/
"""
import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

F_PX, CX, CY, DOFFS_PX, BASELINE_MM = 994.978, 311.193, 254.877, 31.086, 193.001
NAME = "motorcycle"


def depth_mm(disparity: np.ndarray) -> np.ndarray:
    """Metric depth in millimetres; 0 where the disparity is unknown."""
    valid = np.isfinite(disparity)
    z = np.zeros(disparity.shape, dtype=np.float64)
    z[valid] = BASELINE_MM * F_PX / (disparity[valid].astype(np.float64) + DOFFS_PX)
    return z


def halve_rgb(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    blocks = rgb[:h, :w].astype(np.float64).reshape(h // 2, 2, w // 2, 2, 3)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


def halve_depth(z: np.ndarray) -> np.ndarray:
    h, w = z.shape[0] // 2 * 2, z.shape[1] // 2 * 2
    blocks = z[:h, :w].reshape(h // 2, 2, w // 2, 2).transpose(0, 2, 1, 3).reshape(h // 2, w // 2, 4)
    masked = np.where(blocks > 0, blocks, np.nan)
    enough = (blocks > 0).sum(axis=2) >= 3
    out = np.zeros((h // 2, w // 2))
    out[enough] = np.nanmedian(masked[enough], axis=1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--factor", type=int, choices=[1, 2], default=1, help="extra down-sampling")
    args = parser.parse_args()

    left, _right, disparity = data.stereo_motorcycle()
    rgb, z = left, depth_mm(disparity)
    f, cx, cy = F_PX, CX, CY
    if args.factor == 2:
        rgb, z = halve_rgb(rgb), halve_depth(z)
        # Pixel-centre coordinates: x' = (x + 0.5) / 2 - 0.5.
        f, cx, cy = f / 2, (cx + 0.5) / 2 - 0.5, (cy + 0.5) / 2 - 0.5
    if z.max() >= 65535:
        raise SystemExit(f"depth {z.max():.0f} mm does not fit 16 bits")

    for sub in ["rgb", "depth", "meta"]:
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(args.out / "rgb" / f"{NAME}.png", optimize=True)
    Image.fromarray(np.round(z).astype(np.uint16)).save(args.out / "depth" / f"{NAME}.png", optimize=True)
    valid = z > 0
    meta = {
        "source": "Middlebury 2014 stereo, Motorcycle (left view), via scikit-image's stereo_motorcycle",
        "citation": "Scharstein et al., High-resolution stereo datasets with subpixel-accurate ground truth, GCPR 2014",
        "depth_from_disparity": "Z_mm = 193.001 * f / (d + 31.086), f = 994.978 px at 741x500",
        "intrinsics": {"width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "fx": f, "fy": f, "cx": cx, "cy": cy},
        "valid_pixels": int(valid.sum()),
        "depth_range_m": [round(float(z[valid].min()) / 1000, 3), round(float(z[valid].max()) / 1000, 3)],
    }
    (args.out / "meta" / f"{NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{args.out}: {rgb.shape[1]}x{rgb.shape[0]}, {meta['valid_pixels']} valid depth pixels, "
          f"{meta['depth_range_m'][0]}-{meta['depth_range_m'][1]} m")


if __name__ == "__main__":
    main()
