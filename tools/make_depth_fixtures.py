#!/usr/bin/env python3
"""Make the committed parity fixtures of the published depth models (dev-time only).

Usage:  python tools/make_depth_fixtures.py DINOV2_CHECKOUT DA2_CHECKOUT heads/tests/fixtures/published
  DINOV2_CHECKOUT: a checkout of facebookresearch/dinov2. Its `dinov2/hub/depth` package
  (BNHead, DPTHead, DepthEncoderDecoder) and its backbone (`dinov2/models`, as its hub builds
  it: position embedding resampled with `interpolate_offset` 0.1) are imported as they are and
  are the reference of Meta's depth heads: the fixture checkpoints are loaded into them with
  `load_state_dict(strict=True)`, so their key names and shapes are the official ones.
  DA2_CHECKOUT: a checkout of DepthAnything/Depth-Anything-V2. Its `depth_anything_v2`
  (relative) and `metric_depth/depth_anything_v2` (metric) packages are the reference of the
  original Depth Anything V2 checkpoints (`depth_anything_v2_vits.pth`, …): the model's own
  `forward`, on the tiny backbone in its DINOv2 (position resampling with offset 0.1).
Requires: torch, transformers, safetensors, numpy (tools/requirements.txt).

What it writes (tiny models with random weights in the official layouts):
  backbone/model.safetensors, config.json  a 4-block DINOv2 (width 24, 2 heads, 5×5 grid)
                                             in the Hugging Face layout
  backbone/model.pth                       the same state dict, as torch.save writes it
  backbone/meta.pth                        the same weights in facebookresearch/dinov2's layout
  dinov2_{nyu,kitti}_linear{,4}_head.pth   Meta's checkpoint layout: {"meta": …,
                                             "state_dict": {"decode_head.conv_depth.*"}}
  dinov2_nyu_dpt_head.pth                  Meta's DPT head (DPTHead, readout "project"), same layout
  depth_anything_{relative,metric}/        transformers' DepthAnythingForDepthEstimation (the
                                             model.safetensors, config.json     layout of depth-anything/Depth-Anything-V2-*-hf)
  depth_anything_v2_{relative,metric}.pth  the original repository's checkpoints ({"pretrained.*",
                                             "depth_head.*"}), metric with max_depth 20
  cases.safetensors                        per input size, `pixels_{H}x{W}` and the reference
                                             depth `{head}_{H}x{W}` [H, W] in metres; for the DPT
                                             head also `dpt_transformers_70x70`, the same depth
                                             from transformers' DPTForDepthEstimation at the native
                                             grid (elsewhere transformers' DINOv2 resamples the
                                             position embedding without Meta's offset; the script
                                             checks the two DPT heads agree on one backbone at
                                             every size)
  bad/*.pth                                checkpoints a reader must refuse
  manifest.json                            what each file is, with the reference's versions
"""
import functools
import importlib
import io
import json
import pickle
import re
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers import (DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, Dinov2Model, DPTConfig,
                          DPTForDepthEstimation)

# The backbone fixtures' randomisation and the hub's tensor names (this folder is on sys.path
# when the script runs).
from make_parity_fixtures import hub_state_dict, randomise

SEED = 20261130
# (height, width): 4:3 and 3:4 frames, and the native 5×5 grid (no position resampling).
SIZES = [(42, 56), (70, 56), (70, 70)]
# Meta's configs: min 0.001 m; max 10 m (NYU) or 80 m (KITTI); see the heads' module docs.
RANGES = {"nyu": (0.001, 10.0), "kitti": (0.001, 80.0)}
# The DPT head's fusion width: Meta's is 256, scaled down like the rest of the fixture.
DPT_FUSION = 16


def tiny_backbone(gen):
    config = Dinov2Config(hidden_size=24, num_hidden_layers=4, num_attention_heads=2, mlp_ratio=4,
                          image_size=70, patch_size=14, layer_norm_eps=1e-6, layerscale_value=0.5)
    model = Dinov2Model(config).eval()
    randomise(model, gen)
    return config, model


def depth_anything(kind, gen):
    """A tiny Depth Anything (V2 and V1 share transformers' DepthAnythingForDepthEstimation)
    of the Small layout scaled down: a 4-block DINOv2 whose four blocks feed the DPT neck
    (reassemble ×4, ×2, ×1, ×½), the fusion stage and the head."""
    backbone = dict(model_type="dinov2", hidden_size=24, num_hidden_layers=4, num_attention_heads=2, mlp_ratio=4,
                    image_size=70, patch_size=14, layer_norm_eps=1e-6, layerscale_value=0.5,
                    out_indices=[1, 2, 3, 4], apply_layernorm=True, reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=24, patch_size=14,
                                 neck_hidden_sizes=[4, 6, 8, 12], fusion_hidden_size=8, head_hidden_size=4,
                                 depth_estimation_type=kind, max_depth=20 if kind == "metric" else 1)
    model = DepthAnythingForDepthEstimation(config).eval()
    randomise(model, gen)
    with torch.no_grad():
        # Centre the last logit so that the final ReLU or sigmoid is neither dead nor saturated.
        model.head.conv3.bias.fill_(0.5)
    return config, model


def meta_backbone(model):
    """facebookresearch/dinov2's own DINOv2 (`dinov2/models/vision_transformer.py`, as its hub
    builds `dinov2_vits14`: no registers, `interpolate_offset` 0.1, no antialiasing) holding
    the transformers model's weights, renamed and the attention projections fused into `qkv`."""
    from dinov2.layers import MemEffAttention, NestedTensorBlock
    from dinov2.models.vision_transformer import DinoVisionTransformer

    c = model.config
    vit = DinoVisionTransformer(img_size=c.image_size, patch_size=c.patch_size, embed_dim=c.hidden_size,
                                depth=c.num_hidden_layers, num_heads=c.num_attention_heads, mlp_ratio=c.mlp_ratio,
                                init_values=c.layerscale_value, block_chunks=0, interpolate_offset=0.1,
                                interpolate_antialias=False,
                                block_fn=functools.partial(NestedTensorBlock, attn_class=MemEffAttention)).eval()
    sd = hub_state_dict(model)
    e = "embeddings."
    state = {"cls_token": sd[e + "cls_token"], "pos_embed": sd[e + "position_embeddings"],
             "mask_token": sd[e + "mask_token"], "norm.weight": sd["layernorm.weight"], "norm.bias": sd["layernorm.bias"],
             "patch_embed.proj.weight": sd[e + "patch_embeddings.projection.weight"],
             "patch_embed.proj.bias": sd[e + "patch_embeddings.projection.bias"]}
    for i in range(c.num_hidden_layers):
        hf, meta = f"encoder.layer.{i}.", f"blocks.{i}."
        for part in ("weight", "bias"):
            state[meta + f"attn.qkv.{part}"] = torch.cat(
                [sd[hf + f"attention.attention.{n}.{part}"] for n in ("query", "key", "value")])
            for ours, theirs in (("norm1", "norm1"), ("norm2", "norm2"), ("attn.proj", "attention.output.dense"),
                                 ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2")):
                state[meta + f"{ours}.{part}"] = sd[hf + f"{theirs}.{part}"]
        state[meta + "ls1.gamma"] = sd[hf + "layer_scale1.lambda1"]
        state[meta + "ls2.gamma"] = sd[hf + "layer_scale2.lambda1"]
    vit.load_state_dict(state, strict=True)
    return vit


def hub_intermediate_layers(vit, blocks):
    """What Meta's depthers set as the backbone's forward (`dinov2/hub/depthers.py`)."""
    return functools.partial(vit.get_intermediate_layers, n=blocks, reshape=True, return_class_token=True,
                             norm=False)


def intermediate_layers(model, blocks):
    """DINOv2's get_intermediate_layers(n=blocks, reshape=True, return_class_token=True,
    norm=False) on the transformers model: each chosen block's raw output (0-based index),
    as (patch grid [B, D, h, w], class token [B, D])."""
    patch = model.config.patch_size

    def forward(pixels):
        states = model(pixel_values=pixels, output_hidden_states=True).hidden_states
        h, w = pixels.shape[2] // patch, pixels.shape[3] // patch
        out = []
        for b in blocks:
            x = states[b + 1]  # states[0] is the embedding output
            grid = x[:, 1:].reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous()
            out.append((grid, x[:, 0]))
        return tuple(out)

    return forward


def linear_depther(depth_pkg, model, vit, layers, depth_range):
    """Meta's linear depther (dinov2/hub/depthers.py) on the tiny backbone (`vit`, Meta's
    own): the head arguments of `_make_dinov2_linear_depth_head`, with the dataset's depth
    range."""
    d, n = model.config.hidden_size, model.config.num_hidden_layers
    blocks = [n - 1] if layers == 1 else [i * n // 4 + (n // 4 - 1) for i in range(4)]
    in_index = list(range(len(blocks)))
    head = depth_pkg.BNHead(classify=True, n_bins=256, bins_strategy="UD", norm_strategy="linear", upsample=4,
                            in_channels=[d] * len(in_index), in_index=in_index, input_transform="resize_concat",
                            channels=d * len(in_index) * 2, align_corners=False, min_depth=depth_range[0],
                            max_depth=depth_range[1], loss_decode=())
    depther = depth_pkg.DepthEncoderDecoder(backbone=torch.nn.Identity(), decode_head=head)
    depther.backbone.forward = hub_intermediate_layers(vit, blocks)
    return depther.eval(), [b + 1 for b in blocks]


def dpt_depther(depth_pkg, model, vit, depth_range):
    """Meta's DPT depther (`_make_dinov2_dpt_depther`) on the tiny backbone: blocks at a
    quarter, half, three quarters and the end (2, 5, 8, 11 of ViT-S's 12), reassembled to
    [D/8, D/4, D/2, D] channels with the class token projected in ("project" readout)."""
    d, n = model.config.hidden_size, model.config.num_hidden_layers
    blocks = [i * n // 4 + (n // 4 - 1) for i in range(4)]
    head = depth_pkg.DPTHead(in_channels=[d] * 4, channels=DPT_FUSION, embed_dims=d,
                             post_process_channels=[d // 2 ** (3 - i) for i in range(4)], readout_type="project",
                             min_depth=depth_range[0], max_depth=depth_range[1], loss_decode=())
    depther = depth_pkg.DepthEncoderDecoder(backbone=torch.nn.Identity(), decode_head=head)
    depther.backbone.forward = hub_intermediate_layers(vit, blocks)
    return depther.eval(), [b + 1 for b in blocks]


# Meta's DPT head names -> transformers' DPT names (what transformers' DINOv2 depth
# conversion renames; the modules compute the same function).
DPT_NAMES = [
    ("reassemble_blocks.readout_projects.", "neck.reassemble_stage.readout_projects."),
    ("reassemble_blocks.projects.{i}.conv.", "neck.reassemble_stage.layers.{i}.projection."),
    ("reassemble_blocks.resize_layers.{i}.", "neck.reassemble_stage.layers.{i}.resize."),
    ("convs.{i}.conv.", "neck.convs.{i}."),
    ("fusion_blocks.{i}.project.conv.", "neck.fusion_stage.layers.{i}.projection."),
    ("fusion_blocks.{i}.res_conv_unit{j}.conv{k}.conv.", "neck.fusion_stage.layers.{i}.residual_layer{j}.convolution{k}."),
    ("project.conv.", "head.projection."),
    ("conv_depth.head.", "head.head."),
]


def dpt_transformers(model, head_state, depth_range, pixels):
    """The DPT head's reference through transformers: DPTForDepthEstimation on the same DINOv2
    (its raw blocks: no final LayerNorm, class token kept), with Meta's tensors renamed. Its
    depth is Meta's before `+ min_depth`, the clamp and the resize to the input, applied here."""
    d, n = model.config.hidden_size, model.config.num_hidden_layers
    skip = ("out_features", "out_indices", "stage_names")
    backbone = {k: v for k, v in model.config.to_dict().items() if k not in skip}
    backbone = dict(backbone, out_indices=[i * n // 4 + n // 4 for i in range(4)],
                    apply_layernorm=False, reshape_hidden_states=False)
    config = DPTConfig(backbone_config=backbone, is_hybrid=False, readout_type="project",
                       neck_hidden_sizes=[d // 2 ** (3 - i) for i in range(4)], reassemble_factors=[4, 2, 1, 0.5],
                       fusion_hidden_size=DPT_FUSION, use_batch_norm_in_fusion_residual=False,
                       use_bias_in_fusion_residual=False, add_projection=True, head_in_index=-1, hidden_act="gelu")
    dpt = DPTForDepthEstimation(config).eval()
    # transformers hard-codes this layer at the full model's 256 channels; the fixture's is
    # the same layer at its fusion width.
    dpt.head.projection = torch.nn.Conv2d(DPT_FUSION, DPT_FUSION, kernel_size=3, padding=1)
    renamed = {}
    for key, value in head_state.items():
        key = key.removeprefix("decode_head.")
        for meta, hf in DPT_NAMES:
            pattern = meta.replace(".", r"\.").replace("{i}", r"(\d+)").replace("{j}", r"(\d+)").replace("{k}", r"(\d+)")
            m = re.match(pattern, key)
            if m:
                groups = iter(m.groups())
                target = re.sub(r"\{[ijk]\}", lambda _: next(groups), hf)
                key = target + key[m.end():]
                break
        else:
            raise KeyError(f"no transformers name for {key}")
        renamed[key] = value
    renamed.update({f"backbone.{k}": v for k, v in model.state_dict().items()})
    missing, unexpected = dpt.load_state_dict(renamed, strict=False)
    # transformers makes the first fusion layer's unused residual unit; Meta's head has none.
    assert all(k.startswith("neck.fusion_stage.layers.0.residual_layer1.") for k in missing), missing
    assert not unexpected, unexpected
    out = {}
    with torch.no_grad():
        for (h, w), x in pixels.items():
            depth = dpt(pixel_values=x).predicted_depth.unsqueeze(1) + depth_range[0]
            depth = torch.clamp(depth, min=depth_range[0], max=depth_range[1])
            out[(h, w)] = torch.nn.functional.interpolate(depth, size=(h, w), mode="bilinear",
                                                          align_corners=False)[0, 0]
    return out


def original_depth_anything(da2_checkout, kind, vit, gen):
    """A tiny Depth Anything V2 of the original repository (`DepthAnythingV2`, its `forward`
    as is): `vit`'s weights in its DINOv2 (the same module names as facebookresearch/dinov2's)
    and a random DPT head of the tiny transformers models' widths. The original code fixes
    the head count by model size, always 64-wide heads (no config says it); a 24-wide encoder
    can only have one, so the encoder here runs `vit`'s tensors as one head."""
    root = Path(da2_checkout) / ("metric_depth" if kind == "metric" else "")
    for name in [m for m in sys.modules if m == "depth_anything_v2" or m.startswith("depth_anything_v2.")]:
        del sys.modules[name]
    # Only the model's image loader uses OpenCV and torchvision; the forward pass does not.
    cv2 = types.ModuleType("cv2")
    cv2.INTER_AREA = cv2.INTER_CUBIC = None  # default arguments of the loader's resize
    sys.modules.setdefault("cv2", cv2)
    transforms = types.ModuleType("torchvision.transforms")
    transforms.Compose = None
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))
    sys.modules.setdefault("torchvision.transforms", transforms)
    sys.path.insert(0, str(root))
    try:
        dpt = importlib.import_module("depth_anything_v2.dpt")
        dinov2 = importlib.import_module("depth_anything_v2.dinov2")
    finally:
        sys.path.remove(str(root))
    c = vit.patch_embed.proj
    d = c.out_channels

    class Tiny(dpt.DepthAnythingV2):
        def __init__(self):
            torch.nn.Module.__init__(self)
            self.encoder = "vits"
            self.intermediate_layer_idx = {"vits": [0, 1, 2, 3]}
            if kind == "metric":
                self.max_depth = 20.0
            self.pretrained = dinov2.DinoVisionTransformer(
                img_size=70, patch_size=14, embed_dim=d, depth=4, num_heads=1, mlp_ratio=4, init_values=0.5,
                block_chunks=0, interpolate_offset=0.1, interpolate_antialias=False)
            self.depth_head = dpt.DPTHead(d, 8, False, out_channels=[4, 6, 8, 12], use_clstoken=False)

    model = Tiny().eval()
    model.pretrained.load_state_dict(vit.state_dict(), strict=True)
    randomise(model.depth_head, gen)
    with torch.no_grad():
        # Centre the last logit so that the final ReLU or sigmoid is neither dead nor saturated.
        model.depth_head.scratch.output_conv2[2].bias.fill_(0.5)
    return model


def save_checkpoint(path, state_dict):
    """The layout of Meta's head checkpoints: mmcv's {"meta", "state_dict"}."""
    meta = {"mmcv_version": "1.3.0", "time": "Fri Apr 14 2023", "epoch": 38400, "iter": 38400}
    torch.save({"meta": meta, "state_dict": OrderedDict(state_dict)}, path)


def bad_checkpoints(out, good_state):
    out.mkdir(parents=True, exist_ok=True)
    (out / "not_a_zip.pth").write_bytes(b"\x80\x02}q\x00.this is a bare pickle, not a checkpoint")

    class Exploit:
        def __reduce__(self):
            import os
            return (os.system, ("echo this must never run",))

    # torch.save's zip layout, with a pickle that calls os.system when Python unpickles it.
    with zipfile.ZipFile(out / "code.pth", "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in [("code/data.pkl", pickle.dumps({"state_dict": Exploit()}, protocol=2)),
                           ("code/version", b"3\n"), ("code/byteorder", b"little")]:
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 30, 0, 0, 0)), data)

    misshapen = {k: v.clone() for k, v in good_state.items()}
    misshapen["decode_head.conv_depth.weight"] = misshapen["decode_head.conv_depth.weight"][:, :-1].clone()
    save_checkpoint(out / "misshapen.pth", misshapen)
    missing = {k: v for k, v in good_state.items() if not k.endswith("bias")}
    save_checkpoint(out / "missing.pth", missing)
    buf = io.BytesIO()
    save_checkpoint(buf, good_state)
    (out / "truncated.pth").write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])


def main(dinov2_checkout, da2_checkout, out):
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(dinov2_checkout) / "dinov2" / "hub"))
    sys.path.insert(0, str(Path(dinov2_checkout)))
    depth_pkg = importlib.import_module("depth")
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)

    config, model = tiny_backbone(gen)
    vit = meta_backbone(model)
    (out / "backbone").mkdir(exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "backbone" / "model.safetensors"))
    # The same weights as torch.save writes them: the backbone read from a checkpoint.
    torch.save(model.state_dict(), out / "backbone" / "model.pth")
    with open(out / "backbone" / "config.json", "w") as f:
        json.dump(config.to_dict(), f, indent=1, sort_keys=True, default=str)
    # The same weights in facebookresearch/dinov2's layout, as its `*_pretrain.pth` files hold
    # them (a bare state dict; query, key and value fused in `attn.qkv`).
    torch.save(vit.state_dict(), out / "backbone" / "meta.pth")

    cases = {}
    pixels = {}
    for h, w in SIZES:
        pixels[(h, w)] = torch.randn((1, 3, h, w), generator=gen)
        cases[f"pixels_{h}x{w}"] = pixels[(h, w)][0]
    heads = {}
    for dataset, depth_range in RANGES.items():
        for layers in (1, 4):
            name = f"dinov2_{dataset}_linear{'4' if layers == 4 else ''}_head"
            depther, blocks = linear_depther(depth_pkg, model, vit, layers, depth_range)
            conv = depther.decode_head.conv_depth
            with torch.no_grad():
                # Logits of a realistic spread, so that relu cuts some and the bins mix.
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.5)
                conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen) * 0.5)
            state = {f"decode_head.{k}": v for k, v in depther.decode_head.state_dict().items()}
            save_checkpoint(out / f"{name}.pth", state)
            # The checkpoint as Meta's hub code loads it (here strictly: every key used).
            check = torch.load(out / f"{name}.pth", map_location="cpu", weights_only=True)["state_dict"]
            depther.decode_head.load_state_dict({k.removeprefix("decode_head."): v for k, v in check.items()},
                                                strict=True)
            with torch.no_grad():
                for (h, w), x in pixels.items():
                    cases[f"{name}_{h}x{w}"] = depther.whole_inference(x, None, rescale=True)[0, 0]
            heads[name] = {"layers": layers, "blocks": blocks, "min_depth": depth_range[0],
                           "max_depth": depth_range[1]}
            if dataset == "nyu" and layers == 4:
                bad_checkpoints(out / "bad", state)

    for kind in ("relative", "metric"):
        name = f"depth_anything_{kind}"
        da_config, da_model = depth_anything(kind, gen)
        (out / name).mkdir(exist_ok=True)
        save_file(hub_state_dict(da_model), str(out / name / "model.safetensors"))
        da_config.to_json_file(str(out / name / "config.json"))
        # Proof that the files are what transformers loads (hub names renamed on the way).
        reloaded = DepthAnythingForDepthEstimation.from_pretrained(str(out / name)).eval()
        with torch.no_grad():
            for (h, w), x in pixels.items():
                depth = da_model(pixel_values=x).predicted_depth[0]
                again = reloaded(pixel_values=x).predicted_depth[0]
                assert torch.equal(depth, again), "the saved files do not reload to the same model"
                cases[f"{name}_{h}x{w}"] = depth
        heads[name] = {"kind": kind, "max_depth": da_config.max_depth}

    # Meta's DPT head (NYU range), after the other models so that their draws are unchanged.
    name = "dinov2_nyu_dpt_head"
    depther, blocks = dpt_depther(depth_pkg, model, vit, RANGES["nyu"])
    randomise(depther.decode_head, gen)
    with torch.no_grad():
        # Centre the last conv so that the ReLU is neither dead nor the clamp always hit.
        depther.decode_head.conv_depth.head[4].bias.fill_(2.0)
    state = {f"decode_head.{k}": v for k, v in depther.decode_head.state_dict().items()}
    save_checkpoint(out / f"{name}.pth", state)
    check = torch.load(out / f"{name}.pth", map_location="cpu", weights_only=True)["state_dict"]
    depther.decode_head.load_state_dict({k.removeprefix("decode_head."): v for k, v in check.items()}, strict=True)
    via_transformers = dpt_transformers(model, state, RANGES["nyu"], pixels)
    with torch.no_grad():
        for (h, w), x in pixels.items():
            cases[f"{name}_{h}x{w}"] = depther.whole_inference(x, None, rescale=True)[0, 0]
            # Meta's head on transformers' backbone is transformers' DPT, at every size.
            on_transformers = depther.decode_head
            features = intermediate_layers(model, [b - 1 for b in blocks])(x)
            same_backbone = torch.nn.functional.interpolate(
                torch.clamp(on_transformers(features, None), RANGES["nyu"][0], RANGES["nyu"][1]), size=(h, w),
                mode="bilinear", align_corners=False)[0, 0]
            gap = (same_backbone - via_transformers[(h, w)]).abs().max().item()
            assert gap < 1e-5, f"Meta's DPT head and transformers' DPT differ by {gap} at {h}x{w}"
        # The two backbones agree at the native grid only.
        cases["dpt_transformers_70x70"] = via_transformers[(70, 70)]
        assert (cases[f"{name}_70x70"] - via_transformers[(70, 70)]).abs().max().item() < 1e-5
    heads[name] = {"layers": 4, "blocks": blocks, "min_depth": RANGES["nyu"][0], "max_depth": RANGES["nyu"][1],
                   "fusion": DPT_FUSION}

    # The original Depth Anything V2 checkpoints, after the other models (their draws unchanged).
    for kind in ("relative", "metric"):
        name = f"depth_anything_v2_{kind}"
        original = original_depth_anything(da2_checkout, kind, vit, gen)
        torch.save(original.state_dict(), out / f"{name}.pth")
        with torch.no_grad():
            for (h, w), x in pixels.items():
                cases[f"{name}_{h}x{w}"] = original(x)[0]
        heads[name] = {"kind": kind, "max_depth": 20.0 if kind == "metric" else 1.0}

    save_file({k: v.contiguous().float() for k, v in cases.items()}, str(out / "cases.safetensors"))
    manifest = {
        "reference": {"torch": torch.__version__, "transformers": transformers.__version__,
                      "dinov2_hub_depth": "facebookresearch/dinov2 dinov2/hub/depth (BNHead, DPTHead, DepthEncoderDecoder)",
                      "dpt": "transformers DPTForDepthEstimation (DINOv2 backbone)",
                      "depth_anything": "transformers DepthAnythingForDepthEstimation",
                      "depth_anything_v2": "DepthAnything/Depth-Anything-V2 DepthAnythingV2 (relative and metric_depth)"},
        "seed": SEED,
        "sizes": [list(s) for s in SIZES],
        "heads": heads,
    }
    with open(out / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
