"""Validation of a stored ``EngineConfig`` before anything is built from it.

A checkpoint's ``config.json`` is user input: a wrong type, an absurd size (``num_layers = 100000``
allocates until the machine runs out) or a config that does not describe its weights must fail with
one ``ValueError`` naming the file and the field, before a single layer is allocated.

    cfg = checked_engine_config(doc["config"], where="ckpt/config.json")        # types and ranges
    check_config_matches_weights(cfg, weight_shapes("ckpt/model.safetensors"),  # header only
                                 config_file="ckpt/config.json", weights_file="ckpt/model.safetensors")
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from pathlib import Path
from typing import Any

import torch

from .config import FORMAT_VERSION, JOINT_ORDERS, POSE_ENSEMBLES, ClipConfig, EngineConfig, FlowConfig, ModelConfig, SamplerConfig, VAEConfig

SECTIONS: dict[str, type] = {"model": ModelConfig, "vae": VAEConfig, "flow": FlowConfig, "sampler": SamplerConfig,
                             "clip": ClipConfig}

# Upper bounds far above every preset (wan-1.3b: 30 layers, width 1536, 480 x 832 frames) yet low enough
# that a typo cannot ask for terabytes; the weights check below then pins the exact sizes.
MAX_LAYERS = 1024
MAX_WIDTH = 65536             # token width, feed-forward width, latent channels, text width
MAX_PATCH = 64                # patch sizes, raxel downsampling, temporal factor
MAX_TOKENS = 4096             # text length
MAX_IMAGE_SIDE = 8192         # model frame height / width in pixels
MAX_FRAMES = 1024             # frames per clip (also media.MAX_FRAMES)
MAX_COND_SLOTS = 64
MAX_STEPS = 10000             # sampler steps per call


def checked_engine_config(raw: Any, *, where: str | Path) -> EngineConfig:
    """An ``EngineConfig`` from the ``config`` object of a checkpoint, every field type- and range-checked.

    Raises ``ValueError("<where>: config.<section>.<field>: <problem>")`` at the first bad field.
    """
    # The typed field check run configs use: one definition of "the right type". Imported here because
    # engine.train imports engine.checkpoint, which imports this module.
    from .train.config import _coerce

    where = str(where)
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: config: expected a JSON object, got {type(raw).__name__}")
    unknown = set(raw) - {*SECTIONS, "preset", "format_version"}
    if unknown:
        raise ValueError(f"{where}: config: unknown keys {sorted(unknown)}; known: {', '.join(sorted(SECTIONS))}, "
                         "preset, format_version")
    version = _coerce(raw.get("format_version", FORMAT_VERSION), int, f"{where}: config.format_version")
    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"{where}: config.format_version: {version} is not supported (this engine reads 1 to "
                         f"{FORMAT_VERSION})")
    preset_name = _coerce(raw.get("preset", "custom"), str, f"{where}: config.preset")
    parts = {name: _checked_section(typ, raw.get(name, {}), where, name) for name, typ in SECTIONS.items()}
    cfg = EngineConfig(**parts, preset=preset_name, format_version=version)
    _check_ranges(cfg, where)
    return cfg


def _checked_section(typ: type, values: Any, where: str, section: str) -> Any:
    from .train.config import _coerce

    if not isinstance(values, dict):
        raise ValueError(f"{where}: config.{section}: expected a JSON object, got {type(values).__name__}")
    hints = typing.get_type_hints(typ)
    known = {f.name for f in dataclasses.fields(typ)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{where}: config.{section}: unknown keys {sorted(unknown)}")
    return typ(**{k: _coerce(v, hints[k], f"{where}: config.{section}.{k}") for k, v in values.items()})


# ---- ranges ------------------------------------------------------------------------------------

def _check_ranges(cfg: EngineConfig, where: str) -> None:
    def fail(field: str, value: Any, problem: str) -> ValueError:
        return ValueError(f"{where}: config.{field} = {value!r}: {problem}")

    def in_range(field: str, value: int | float | None, low: float, high: float) -> None:
        if value is None:
            return
        if not (math.isfinite(value) and low <= value <= high):
            raise fail(field, value, f"must be in [{low:g}, {high:g}]")

    m, v, f, s, c = cfg.model, cfg.vae, cfg.flow, cfg.sampler, cfg.clip
    for name, value, high in (("num_layers", m.num_layers, MAX_LAYERS), ("dim", m.dim, MAX_WIDTH),
                              ("num_heads", m.num_heads, MAX_WIDTH), ("ffn_dim", m.ffn_dim, MAX_WIDTH),
                              ("latent_channels", m.latent_channels, MAX_WIDTH), ("freq_dim", m.freq_dim, MAX_WIDTH),
                              ("text_dim", m.text_dim, MAX_WIDTH), ("text_len", m.text_len, MAX_TOKENS),
                              ("raxel_downsample", m.raxel_downsample, MAX_PATCH)):
        in_range(f"model.{name}", value, 1, high)
    for axis, size in enumerate(m.patch_size):
        in_range(f"model.patch_size[{axis}]", size, 1, MAX_PATCH)
    if m.dim % m.num_heads or (m.dim // m.num_heads) % 2:
        raise fail("model.num_heads", m.num_heads, f"must divide model.dim = {m.dim} into heads of even width")
    if m.freq_dim % 2:
        raise fail("model.freq_dim", m.freq_dim, "must be even (sin and cos halves)")
    in_range("model.eps", m.eps, 1e-12, 1e-1)
    in_range("model.rope_theta", m.rope_theta, 1.0, 1e9)

    in_range("vae.patch_size", v.patch_size, 1, MAX_PATCH)
    in_range("vae.temporal_factor", v.temporal_factor, 1, MAX_PATCH)

    for name in ("cos_weight", "ray_centered_weight", "ray_pose_weight"):
        in_range(f"flow.{name}", getattr(f, name), 0, 1e6)
    in_range("flow.ray_cos_weight", f.ray_cos_weight, 0, 1e6)
    for name in ("p_video_clean", "p_ray_clean", "pose_ray_noise_prob", "joint_video_noise_prob"):
        in_range(f"flow.{name}", getattr(f, name), 0, 1)
    in_range("flow.shift", f.shift, 1e-3, 1e3)
    in_range("flow.pose_only_steps", f.pose_only_steps, 0, 1e12)
    in_range("flow.mix_anneal_steps", f.mix_anneal_steps, 0, 1e12)

    in_range("sampler.shift", s.shift, 1e-3, 1e3)
    for name in ("pose_steps", "video_steps", "joint_video_steps", "joint_ray_steps"):
        in_range(f"sampler.{name}", getattr(s, name), 1, MAX_STEPS)
    if s.joint_order not in JOINT_ORDERS:
        raise fail("sampler.joint_order", s.joint_order, f"must be one of {', '.join(JOINT_ORDERS)}")
    if s.pose_ensemble not in POSE_ENSEMBLES:
        raise fail("sampler.pose_ensemble", s.pose_ensemble, f"must be one of {', '.join(POSE_ENSEMBLES)}")

    in_range("clip.num_frames", c.num_frames, 1, MAX_FRAMES)
    if (c.num_frames - 1) % v.temporal_factor:
        raise fail("clip.num_frames", c.num_frames, f"must be 1 + {v.temporal_factor}k (vae.temporal_factor)")
    in_range("clip.num_cond", c.num_cond, 1, MAX_COND_SLOTS)
    in_range("clip.pose_num_cond", c.pose_num_cond, 1, c.num_cond)
    # Frames must tile into autoencoder cells, then model patches, then (for rays) downsampled patches.
    multiple = (v.patch_size if v.kind == "patch" else 1) * max(m.patch_size[1], m.patch_size[2])
    for name, side in (("height", c.height), ("width", c.width)):
        in_range(f"clip.{name}", side, 1, MAX_IMAGE_SIDE)
        if side % multiple:
            raise fail(f"clip.{name}", side, f"must be a multiple of {multiple} (autoencoder cell x model patch)")
    if m.patch_size[1] % m.raxel_downsample or m.patch_size[2] % m.raxel_downsample:
        raise fail("model.raxel_downsample", m.raxel_downsample,
                   f"must divide the spatial patch size {list(m.patch_size[1:])}")
    if v.kind == "patch" and m.latent_channels != 3 * v.patch_size ** 2 * v.temporal_factor:
        raise fail("model.latent_channels", m.latent_channels,
                   f"the patch autoencoder (vae.patch_size {v.patch_size}, vae.temporal_factor "
                   f"{v.temporal_factor}) gives 3 x {v.patch_size}^2 x {v.temporal_factor} = "
                   f"{3 * v.patch_size ** 2 * v.temporal_factor}")


# ---- against the weights -----------------------------------------------------------------------

def weight_shapes(weights_file: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors header; no tensor data is read."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights_file), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"{weights_file}: cannot be read as safetensors ({exc})") from exc


# Tensors whose shape reads one config field directly: (tensor, axis, field). Checked first, so a
# mismatch names the field rather than a tensor.
_SHAPE_FIELDS = (
    ("video_io.modality_embedding", 0, "model.dim"),
    ("video_io.patch_embedding.weight", 1, "model.latent_channels"),
    ("video_io.patch_embedding.weight", 2, "model.patch_size[0]"),
    ("video_io.patch_embedding.weight", 3, "model.patch_size[1]"),
    ("video_io.patch_embedding.weight", 4, "model.patch_size[2]"),
    ("video_io.condition_embedder.time_embedder.linear_1.weight", 1, "model.freq_dim"),
    ("blocks.0.video.ffn.net.0.proj.weight", 0, "model.ffn_dim"),
    ("null_context", 1, "model.text_len"),
    ("null_context", 2, "model.text_dim"),
)
# Optional tensors and the field that switches them on.
_SWITCHED = (("blocks.0.video.cross.", "model.attention"), ("video_io.position_embedding.", "model.absolute_position"),
             ("video_io.difference_embedding.", "model.frame_difference"), ("null_context", "model.text_dim"),
             ("blocks.0.video.attn2.", "model.text_dim"), ("ray_io.patch_embedding.0.", "model.camera_encoding"),
             ("video_io.feature_embedding.", "model.xfeat_features"),
             ("video_io.guide_embedding.", "model.warped_reference"), ("motion_embedding.", "model.motion_features"))
_BLOCK = re.compile(r"blocks\.(\d+)\.")


def check_config_matches_weights(cfg: EngineConfig, shapes: dict[str, tuple[int, ...]], *,
                                 config_file: str | Path, weights_file: str | Path) -> None:
    """Raise ``ValueError`` naming the config field when ``cfg`` does not build the model in the weights.

    Field-level checks come first (layer count, widths from telling tensors); then the model is built on
    the meta device (no memory) and every tensor name and shape is compared.
    """
    def mismatch(field: str, configured: Any, stored: Any) -> ValueError:
        return ValueError(f"{config_file}: config.{field} = {configured!r} does not match {weights_file}, "
                          f"which holds {stored}")

    layers = {int(m.group(1)) for k in shapes if (m := _BLOCK.match(k))}
    if len(layers) != cfg.model.num_layers:
        raise mismatch("model.num_layers", cfg.model.num_layers, f"{len(layers)} blocks")
    expected = _expected_shapes(cfg)
    for key, axis, field in _SHAPE_FIELDS:
        if key in shapes and key in expected and shapes[key][axis:axis + 1] != expected[key][axis:axis + 1]:
            raise mismatch(field, _field_value(cfg, field), f"{key} of shape {list(shapes[key])}")
    for prefix, field in _SWITCHED:
        stored, wanted = any(k.startswith(prefix) for k in shapes), any(k.startswith(prefix) for k in expected)
        if stored != wanted:
            raise mismatch(field, _field_value(cfg, field), f"{'' if stored else 'no '}{prefix.rstrip('.')} tensors")
    missing, unexpected = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{config_file}: config.model does not match {weights_file}: missing tensors {missing[:3]}, "
                         f"unexpected tensors {unexpected[:3]}")
    for key, shape in expected.items():
        if shapes[key] != shape:
            raise ValueError(f"{config_file}: config.model does not match {weights_file}: {key} has shape "
                             f"{list(shapes[key])}, the config builds {list(shape)}")


def _expected_shapes(cfg: EngineConfig) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of the model ``cfg`` builds, without allocating it."""
    from .model import JointDiT
    from .vae import PatchVAE

    ray_channels = None
    if cfg.model.camera_encoding == "plucker":  # as JointPipeline: 6-channel rays packed like a PatchVAE
        factor = cfg.vae.patch_size if cfg.vae.kind == "patch" else 8  # Wan 2.1's VAE: 8 x 8 pixels per cell
        ray_channels = 2 * PatchVAE(factor, cfg.vae.temporal_factor).latent_channels
    with torch.device("meta"):
        model = JointDiT(cfg.model, ray_channels=ray_channels, temporal_factor=cfg.vae.temporal_factor)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _field_value(cfg: EngineConfig, field: str) -> Any:
    section, _, name = field.partition(".")
    name, _, index = name.partition("[")
    value = getattr(getattr(cfg, section), name)
    return value[int(index.rstrip("]"))] if index else value
