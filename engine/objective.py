"""The training objective: one flow-matching loss that teaches the joint and both conditionals.

A batch (built by ``engine.data``'s example builder, or by hand in tests)::

    video        (B, 3, T, H, W)       frames in [-1, 1]
    rays         (B, T, Cray, Hr, Wr)  ray images in [-1, 1], canonicalised to frame cond_idx[:, 0]
    cond_idx     (B, M) long           frame of each conditioning slot; slot 0 is the reference frame
    num_sources  (B,) long             slots [0, num_sources) are clean source images, the rest are
                                       sparse targets (noised with the video)

Loss: ``FlowConfig.loss_weighting`` -- on velocities (the paper) or on the clean-latent error
(``data_weighted``, the from-scratch presets).

Times: t_video and t_ray are drawn independently, sometimes pinned clean (``FlowConfig``). Source
slots are always clean; sparse-target slots follow the video; conditioning ray slots follow the rays.
"""

from __future__ import annotations

import torch

from .flow import flow_loss, noise_streams, sample_train_times, slot_times
from .model.dit import MIN_REMAINING_TIME
from .pipeline import JointPipeline

MODALITY_STREAMS = {"video": ("video", "cond_video"), "rays": ("rays", "cond_rays")}


def stream_times(t_video: torch.Tensor, t_ray: torch.Tensor, num_sources: torch.Tensor,
                 num_slots: int) -> dict[str, torch.Tensor]:
    """Per-stream times for a batch: (B,) for the target grids, (B, M) for the conditioning slots."""
    is_source = torch.arange(num_slots, device=num_sources.device)[None] < num_sources[:, None]
    return {"video": t_video, "rays": t_ray, "cond_video": slot_times(t_video, is_source),
            "cond_rays": t_ray[:, None].expand(-1, num_slots).clone()}


def data_weighted(pred: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                  times: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Velocities scaled by ``1 - t`` (floored like ``data_to_velocity``): their difference is then the
    error of the predicted clean latent, weighted alike at every t. The per-token cosine is unchanged."""
    out_p, out_t = {}, {}
    for name, p in pred.items():
        w = (1.0 - times[name]).clamp_min(MIN_REMAINING_TIME).to(p.dtype)
        w = w.reshape(*w.shape, *([1] * (p.ndim - w.ndim)))
        out_p[name], out_t[name] = p * w, target[name] * w
    return out_p, out_t


def training_loss(pipe: JointPipeline, batch: dict[str, torch.Tensor], *,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Flow-matching loss on one batch; returns the scalar loss and logged parts per modality."""
    clean, cond_pos = pipe.clean_streams(batch["video"], batch["rays"], batch["cond_idx"])
    B, M = batch["cond_idx"].shape
    t_video, t_ray = sample_train_times(B, cfg=pipe.cfg.flow, generator=generator, device=batch["video"].device)
    times = stream_times(t_video, t_ray, batch["num_sources"].to(batch["video"].device), M)
    noised, target, mask = noise_streams(clean, times, generator)
    pred = pipe.model(noised, times, cond_pos=cond_pos)
    if pipe.cfg.flow.loss_weighting == "data":
        pred, target = data_weighted(pred, target, times)
    loss, parts = flow_loss(pred, target, mask, cos_weight=pipe.cfg.flow.cos_weight)
    logged = {"loss": float(loss.detach()), "mse": parts["mse"], "cos": parts["cos"]}
    with torch.no_grad():
        for modality, names in MODALITY_STREAMS.items():
            sub, sub_parts = flow_loss({n: pred[n] for n in names}, {n: target[n] for n in names},
                                       {n: mask[n] for n in names}, cos_weight=pipe.cfg.flow.cos_weight)
            logged[f"loss_{modality}"] = float(sub)
            logged[f"tokens_{modality}"] = sub_parts["tokens"]
    return loss, logged
