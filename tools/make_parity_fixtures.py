#!/usr/bin/env python3
"""Make the committed DINOv2 parity fixtures (dev-time only; never needed at run time).

The reference is Hugging Face `transformers` on `torch` (CPU). For each tiny model variant
this script builds a DINOv2 config with random weights, saves the weights exactly as the
Hugging Face hub lays them out (`model.safetensors` + `config.json`), and for several input
sizes saves an input image tensor and the reference outputs that `dinoedge model import`
must reproduce:

  cls                      [1, D]     final LayerNorm, token 0
  patch_tokens             [1, N, D]  final LayerNorm, patch tokens (registers dropped)
  block{b}_cls             [1, D]     final LayerNorm applied to the output of block b (1-based)
  block{b}_patch_tokens    [1, N, D]

It also saves reference results of torch's bicubic interpolation (plain and antialiased)
for the position-embedding resampling, so that a mismatch there is found in isolation.

Usage:  python tools/make_parity_fixtures.py backbone/tests/fixtures/parity
Requires: torch, transformers, safetensors, numpy (see tools/requirements.txt).
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from transformers import Dinov2Config, Dinov2Model, Dinov2WithRegistersConfig, Dinov2WithRegistersModel

SEED = 20261126
BLOCKS = [1, 2]

VARIANTS = {
    # Plain DINOv2: head dim 12 (not 64), so the head count must come from config.json.
    "dinov2": dict(
        cls=(Dinov2Config, Dinov2Model),
        config=dict(hidden_size=24, num_hidden_layers=3, num_attention_heads=2, mlp_ratio=4,
                    image_size=70, patch_size=14, layer_norm_eps=1e-6, layerscale_value=0.5),
        # (height, width): downsample 5x5 -> 3x4, upsample 5x5 -> 6x6, and the native size.
        inputs=[(42, 56), (84, 84), (70, 70)],
    ),
    # DINOv2 with registers: antialiased bicubic position embedding, 2 register tokens.
    "dinov2-with-registers": dict(
        cls=(Dinov2WithRegistersConfig, Dinov2WithRegistersModel),
        config=dict(hidden_size=24, num_hidden_layers=3, num_attention_heads=2, mlp_ratio=4,
                    image_size=70, patch_size=14, layer_norm_eps=1e-6, layerscale_value=0.5,
                    num_register_tokens=2),
        inputs=[(42, 56), (98, 84)],
    ),
}


def randomise(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Give every parameter a random value of a realistic size (not the init's zeros/ones),
    so that biases, LayerNorm affine terms and LayerScale are all exercised."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "mask_token" in name:
                continue
            if name.endswith(("norm1.weight", "norm2.weight", "layernorm.weight")):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif "lambda1" in name:
                p.copy_(0.5 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[1] * (p[0].numel() // p.shape[1]) if p.dim() >= 2 else 16
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(fan_in))


# transformers 5 renames the attention weights when it loads a hub checkpoint; the files on
# the hub (what `dinoedge model pull` downloads) keep the original names. The fixtures are
# written in the hub's layout, and reloaded through transformers to prove the renaming.
HUB_NAMES = [
    ("attention.q_proj.", "attention.attention.query."),
    ("attention.k_proj.", "attention.attention.key."),
    ("attention.v_proj.", "attention.attention.value."),
    ("attention.o_proj.", "attention.output.dense."),
]


def hub_state_dict(model) -> dict:
    out = {}
    for key, value in model.state_dict().items():
        for new, old in HUB_NAMES:
            key = key.replace(new, old)
        out[key] = value.contiguous()
    return out


def reference_outputs(model, registers: int, pixels: torch.Tensor) -> dict:
    with torch.no_grad():
        out = model(pixel_values=pixels, output_hidden_states=True)
    seq = out.last_hidden_state
    res = {"cls": seq[:, 0], "patch_tokens": seq[:, 1 + registers:]}
    for b in BLOCKS:
        normed = model.layernorm(out.hidden_states[b])
        res[f"block{b}_cls"] = normed[:, 0]
        res[f"block{b}_patch_tokens"] = normed[:, 1 + registers:]
    return {k: v.contiguous() for k, v in res.items()}


def interpolation_cases(gen: torch.Generator) -> dict:
    """torch's bicubic resampling, exactly as the reference calls it, on a few grids."""
    cases = {}
    for i, (g, oh, ow) in enumerate([(5, 3, 4), (5, 7, 6), (37, 16, 16), (37, 32, 23), (4, 9, 9)]):
        x = torch.randn((1, 3, g, g), generator=gen)
        cases[f"case{i}.input"] = x
        for aa in (False, True):
            y = F.interpolate(x, size=(oh, ow), mode="bicubic", align_corners=False, antialias=aa)
            cases[f"case{i}.{'aa' if aa else 'plain'}"] = y.contiguous()
    return cases


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    manifest = {"torch": torch.__version__, "transformers": transformers.__version__, "seed": SEED,
                "blocks": BLOCKS, "variants": {}}
    for name, spec in VARIANTS.items():
        config_cls, model_cls = spec["cls"]
        config = config_cls(**spec["config"])
        model = model_cls(config).eval()
        randomise(model, gen)
        vdir = out_dir / name
        vdir.mkdir(exist_ok=True)
        # The hub layout: model.safetensors (+ config.json beside it).
        save_file(hub_state_dict(model), vdir / "model.safetensors", metadata={"format": "pt"})
        config.to_json_file(vdir / "config.json")
        reloaded = model_cls.from_pretrained(vdir).eval()
        for (a, b) in zip(model.state_dict().values(), reloaded.state_dict().values()):
            assert torch.equal(a, b), "the hub layout did not load back into transformers unchanged"
        registers = getattr(config, "num_register_tokens", 0)
        cases = []
        for (h, w) in spec["inputs"]:
            pixels = torch.randn((1, 3, h, w), generator=gen)
            tensors = {"pixel_values": pixels, **reference_outputs(model, registers, pixels)}
            save_file(tensors, vdir / f"io_{h}x{w}.safetensors")
            cases.append(f"{h}x{w}")
        manifest["variants"][name] = {"inputs": cases, "registers": registers}
    save_file(interpolation_cases(gen), out_dir / "interpolation.safetensors")
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "backbone/tests/fixtures/parity"))
