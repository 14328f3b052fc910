"""Build a JointDiT from a local diffusers Wan 2.1 transformer checkpoint.

The video stream of JointDiT uses diffusers' parameter names, so the mapping is a prefix rename:
top-level ``X`` -> ``video_io.X`` and ``blocks.i.X`` -> ``blocks.i.video.X``. The ray stream is then
built as a copy of the video stream (the paper's initialisation) and DSCA's cross-modal attention
as a copy of the self-attention with a zero output projection.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import torch

from ..config import ModelConfig
from .dit import JointDiT

_BLOCK = re.compile(r"^blocks\.(\d+)\.(.*)$")


def model_config_from_wan(wan_config: dict[str, Any], base: ModelConfig | None = None) -> ModelConfig:
    """A ModelConfig with the layout of a diffusers ``WanTransformer3DModel`` config."""
    if wan_config.get("image_dim") or wan_config.get("added_kv_proj_dim"):
        raise ValueError("image-conditioned Wan (I2V) checkpoints are not supported; use a T2V checkpoint")
    if wan_config.get("qk_norm", "rms_norm_across_heads") != "rms_norm_across_heads":
        raise ValueError(f"unsupported Wan qk_norm {wan_config.get('qk_norm')!r}")
    in_ch, out_ch = wan_config.get("in_channels", 16), wan_config.get("out_channels", 16)
    if out_ch not in (None, in_ch):
        raise ValueError(f"Wan checkpoint has in_channels {in_ch} != out_channels {out_ch}")
    heads, head_dim = wan_config["num_attention_heads"], wan_config["attention_head_dim"]
    fields = dict(dim=heads * head_dim, num_heads=heads, num_layers=wan_config["num_layers"],
                  ffn_dim=wan_config["ffn_dim"], latent_channels=in_ch,
                  patch_size=tuple(wan_config.get("patch_size", (1, 2, 2))),
                  freq_dim=wan_config.get("freq_dim", 256), text_dim=wan_config.get("text_dim", 4096),
                  eps=wan_config.get("eps", 1e-6), cross_attn_norm=wan_config.get("cross_attn_norm", True),
                  prediction="velocity", absolute_position=False)
    return dataclasses.replace(base or ModelConfig(), **fields)


def _is_joint_only(name: str) -> bool:
    """Parameters Wan does not have: DSCA's cross-modal layers and the modality/reference markers."""
    return (".cross." in name or ".norm_cross." in name or ".position_embedding." in name
            or name.endswith(("modality_embedding", "reference_embedding")))


def wan_key_to_joint(key: str) -> str | None:
    """Map one diffusers Wan parameter name to JointDiT's video stream (None: not a parameter we keep)."""
    if key.startswith("rope."):
        return None
    m = _BLOCK.match(key)
    if m:
        return f"blocks.{m.group(1)}.video.{m.group(2)}"
    return f"video_io.{key}"


def load_wan_state_dict(model: JointDiT, wan_state: dict[str, torch.Tensor]) -> None:
    """Copy Wan weights into the video stream, then initialise the ray stream and DSCA from them."""
    own = model.state_dict()
    missing_from_wan = []
    with torch.no_grad():
        for key, value in wan_state.items():
            target = wan_key_to_joint(key)
            if target is None:
                continue
            if target not in own:
                raise ValueError(f"Wan parameter {key!r} has no place in JointDiT (expected {target!r})")
            if own[target].shape != value.shape:
                raise ValueError(f"Wan parameter {key!r} has shape {tuple(value.shape)}, "
                                 f"JointDiT expects {tuple(own[target].shape)}")
            own[target].copy_(value)
        expected = {wan_key_to_joint(k) for k in wan_state}
        for name in own:
            is_video = name.startswith("video_io.") or ".video." in name
            if is_video and not _is_joint_only(name) and name not in expected:
                missing_from_wan.append(name)
    if missing_from_wan:
        raise ValueError(f"the Wan checkpoint lacks {len(missing_from_wan)} video-stream parameters, "
                         f"e.g. {missing_from_wan[:3]}")
    model.copy_video_to_ray_branch()
    model.init_cross_attention_from_self()


def joint_dit_from_wan(path: str | Path, base: ModelConfig | None = None, *, ray_channels: int | None = None,
                       dtype: torch.dtype = torch.float32) -> JointDiT:
    """JointDiT with its video stream loaded from a local diffusers Wan transformer directory.

    ``path`` is the directory holding ``config.json`` and the safetensors weights (the ``transformer``
    folder of a Wan 2.1 diffusers checkpoint). Nothing is downloaded.
    """
    from diffusers import WanTransformer3DModel

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ValueError(f"{path} is not a diffusers Wan transformer directory (no config.json); "
                         "point to the 'transformer' folder of a local Wan 2.1 checkpoint")
    wan = WanTransformer3DModel.from_pretrained(path, local_files_only=True, torch_dtype=dtype)
    model = JointDiT(model_config_from_wan(dict(wan.config), base), ray_channels=ray_channels).to(dtype)
    load_wan_state_dict(model, wan.state_dict())
    return model
