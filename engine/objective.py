"""The training objective: one flow-matching loss that teaches the joint and both conditionals.

A batch (built by ``engine.data``'s example builder, or by hand in tests)::

    video        (B, 3, T, H, W)       frames in [-1, 1]
    rays         (B, T, Cray, Hr, Wr)  ray images in [-1, 1], canonicalised to frame cond_idx[:, 0]
    cond_idx     (B, M) long           frame of each conditioning slot; slot 0 is the reference frame
    num_sources  (B,) long             slots [0, num_sources) are clean source images, the rest are
                                       sparse targets (noised with the video)

Loss: ``FlowConfig.loss_weighting`` -- on velocities (the paper) or on the clean-latent error
(``data_weighted``, the from-scratch presets) -- plus, where ``FlowConfig`` asks for them, the
pixel-space ray terms of ``ray_image_terms`` (ours), and, with a ``VideoAnchor``
(``TrainConfig.video_anchor_weight``, ours), the drift of the video prediction from a frozen copy of
the init model.

Times: t_video and t_ray are drawn independently, sometimes pinned clean (``FlowConfig``). Source
slots are always clean; sparse-target slots follow the video; conditioning ray slots follow the rays.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geometry import procrustes_quaternion, quaternion_angle, quaternion_to_matrix

from .camera_codec import RAY_RANGE_SCALE
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


def predicted_clean(pred_v: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The clean latent a predicted velocity implies, ``x = z_t + (1 - t) v`` with ``1 - t`` floored as in
    ``data_to_velocity`` (so for data-predicting models it is exactly the network's output).
    pred_v, z_t: (B, ...); t: (B,)."""
    remaining = (1.0 - t).clamp_min(MIN_REMAINING_TIME).to(pred_v.dtype)
    return z_t + remaining.reshape(-1, *([1] * (pred_v.ndim - 1))) * pred_v


def ray_image_terms(pipe: JointPipeline, clean_rays: torch.Tensor, batch: dict[str, torch.Tensor],
                    mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Pixel-space ray losses on the predicted clean ray latents (FlowConfig.ray_centered_weight /
    ray_pose_weight), through the autoencoder's decoder (PatchVAE: exact and differentiable).

    clean_rays: (B, Cr, F, hr, wr) predicted clean latents; mask: (B,) examples whose rays are noised.
    ``centered``: MSE of the decoded raxel frames against the truth, each frame minus its own spatial
    mean. ``pose``: each predicted frame aligned to the true one by differentiable Procrustes (Horn);
    geodesic angle of that rotation (radians) + distance of the implied camera centre from the true
    one (ray units), mean over frames. Both are means over the examples in ``mask`` (0 if none).
    """
    flow = pipe.cfg.flow
    images = pipe.decode_rays(clean_rays).float()                           # (B, T, C, Hr, Wr)
    truth = batch["rays"].float()
    weight = mask.float()
    count = weight.sum().clamp_min(1.0)
    out: dict[str, torch.Tensor] = {}
    if flow.ray_centered_weight:
        diff = (images - images.mean((-2, -1), keepdim=True)) - (truth - truth.mean((-2, -1), keepdim=True))
        out["centered"] = (diff.square().flatten(1).mean(1) * weight).sum() / count
    if flow.ray_pose_weight:
        if pipe.encoding != "raxel":
            raise ValueError("FlowConfig.ray_pose_weight needs camera_encoding = 'raxel'")
        if "c2w" not in batch:
            raise ValueError("FlowConfig.ray_pose_weight needs the batch's canonical cameras ('c2w')")
        pts_pred = (images / RAY_RANGE_SCALE).flatten(-2).transpose(-1, -2).double()    # (B, T, P, 3)
        pts_true = (truth / RAY_RANGE_SCALE).flatten(-2).transpose(-1, -2).double()
        if pts_pred.requires_grad:
            # A frame whose predicted rays have collapsed (an untrained model predicts ~0) has no unique
            # fit; eigh's gradient there is 0/0. Such frames are masked below and their NaN gradients
            # zeroed here, so they cannot poison the step.
            pts_pred.register_hook(lambda g: torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0))
        q, t, gap = procrustes_quaternion(pts_true, pts_pred, return_gap=True)  # true frame -> predicted
        centre_true = batch["c2w"][..., :3, 3].double()                      # (B, T, 3)
        R_err = quaternion_to_matrix(q)
        centre_err = (t + (R_err @ centre_true.unsqueeze(-1)).squeeze(-1) - centre_true).norm(dim=-1)
        per_frame = quaternion_angle(q) + centre_err                          # (B, T)
        scale = pts_true.var(-2).sum(-1) * pts_true.shape[-2]      # gap's size for a good fit
        ok = (gap > 1e-3 * scale) & torch.isfinite(per_frame)
        per_frame = torch.where(ok, per_frame, torch.zeros_like(per_frame))
        per_example = (per_frame.sum(1) / ok.sum(1).clamp_min(1)).float()
        out["pose"] = (per_example * weight).sum() / count
    return out


def _reference_guide(pipe: JointPipeline, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``JointPipeline.reference_warp`` of each example's reference frame (slot 0) into its clip's cameras."""
    if "c2w" not in batch or "K" not in batch:
        raise ValueError("ModelConfig.warped_reference needs the batch's cameras ('c2w', 'K')")
    b = torch.arange(batch["video"].shape[0], device=batch["video"].device)
    ref = batch["cond_idx"][:, 0]
    reference = batch["video"][b, :, ref]                                   # (B, 3, H, W)
    c2w = batch["c2w"]
    if pipe.cfg.model.guide_depth:
        # The batch's poses are in ray units (clip units times "scale"); a guide on a plane needs the clip's own
        # units, as generation gives them (at infinity the centres do not matter).
        if "scale" not in batch:
            raise ValueError("ModelConfig.guide_depth needs the batch's 'scale' (clip units to ray units)")
        c2w = c2w.clone()
        c2w[..., :3, 3] = c2w[..., :3, 3] / batch["scale"].to(c2w)[:, None, None]
    return pipe.reference_warp(reference, batch["K"][b, ref], c2w[b, ref], batch["K"], c2w)


@dataclass
class VideoAnchor:
    """``TrainConfig.video_anchor_weight``: a frozen copy of the init model (``teacher``) whose video
    prediction the trained model's is pulled towards, with ``weight``, wherever the video is supervised."""

    teacher: torch.nn.Module
    weight: float


def _group_loss(pipe: JointPipeline, batch: dict[str, torch.Tensor], t_video: torch.Tensor, t_ray: torch.Tensor,
                generator: torch.Generator | None, anchor: VideoAnchor | None = None
                ) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of examples that share a number of conditioning slots."""
    flow = pipe.cfg.flow
    clean, cond_pos = pipe.clean_streams(batch["video"], batch["rays"], batch["cond_idx"])
    M = batch["cond_idx"].shape[1]
    times = stream_times(t_video, t_ray, batch["num_sources"].to(batch["video"].device), M)
    noised, target, mask = noise_streams(clean, times, generator)
    features = None
    if pipe.cfg.model.xfeat_features or pipe.cfg.model.motion_features:   # the model keeps the clean frames' only
        cond_frames = JointPipeline.slot_frames(batch["video"], batch["cond_idx"])
        clip_given = bool((times["video"] >= 1).any())       # else no clip's descriptors would be used
        features = pipe.features(video=batch["video"] if clip_given else None, cond_frames=cond_frames)
    guide = None
    if pipe.cfg.model.warped_reference and bool((times["rays"] >= 1).any()):   # only there are cameras given
        guide = _reference_guide(pipe, batch)
    pred = pipe.model(noised, times, cond_pos=cond_pos, features=features, guide=guide)
    held = None
    if anchor is not None and anchor.weight and bool(mask["video"].any()):
        with torch.no_grad():
            held = {"video": anchor.teacher(noised, times, cond_pos=cond_pos, features=features, guide=guide)["video"]}
    extra: dict[str, torch.Tensor] = {}
    if flow.ray_centered_weight or flow.ray_pose_weight:
        x_rays = predicted_clean(pred["rays"], noised["rays"], times["rays"])
        extra = ray_image_terms(pipe, x_rays, batch, mask["rays"])
    if flow.loss_weighting == "data":
        pred, target = data_weighted(pred, target, times)
        if held is not None:
            held = data_weighted(held, held, times)[0]
    ray_cos = flow.cos_weight if flow.ray_cos_weight is None else flow.ray_cos_weight
    cos_weights = {"video": flow.cos_weight, "cond_video": flow.cos_weight, "rays": ray_cos, "cond_rays": ray_cos}
    loss, parts = flow_loss(pred, target, mask, cos_weight=cos_weights)
    logged = {"flow": float(loss.detach()), "mse": parts["mse"], "cos": parts["cos"]}
    if "centered" in extra:
        loss = loss + flow.ray_centered_weight * extra["centered"]
    if "pose" in extra:
        loss = loss + flow.ray_pose_weight * extra["pose"]
    logged.update({f"ray_{k}": float(v.detach()) for k, v in extra.items()})
    if held is not None:     # the same weighting as the loss: the clean-latent difference for "data"
        drift, _ = flow_loss({"video": pred["video"]}, held, {"video": mask["video"]}, cos_weight=0.0)
        loss = loss + anchor.weight * drift
        logged["video_anchor"] = float(drift.detach())
    with torch.no_grad():
        for modality, names in MODALITY_STREAMS.items():
            sub, sub_parts = flow_loss({n: pred[n] for n in names}, {n: target[n] for n in names},
                                       {n: mask[n] for n in names}, cos_weight=cos_weights)
            logged[f"loss_{modality}"] = float(sub)
            logged[f"tokens_{modality}"] = sub_parts["tokens"]
    return loss, logged


def training_loss(pipe: JointPipeline, batch: dict[str, torch.Tensor], *,
                  generator: torch.Generator | None = None, step: int | None = None,
                  anchor: VideoAnchor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Flow-matching loss on one batch; returns the scalar loss and logged parts per modality.

    ``step`` (the optimizer step) places the batch on the task-mix schedule (``task_probabilities``);
    None means its end. With ``ClipConfig.pose_num_cond`` below the batch's slots, pose-estimation
    examples (video clean) keep only their first ``pose_num_cond`` slots and run as their own forward
    pass; the loss is the example-weighted mean of the groups.
    """
    cfg = pipe.cfg
    B, M = batch["cond_idx"].shape
    device = batch["video"].device
    t_video, t_ray = sample_train_times(B, cfg=cfg.flow, generator=generator, device=device, step=step)
    pose_slots = cfg.clip.pose_num_cond
    everyone = torch.ones(B, dtype=torch.bool, device=device)
    if pose_slots is not None and pose_slots < M:
        is_pose = t_video >= 1
        groups = [(is_pose, pose_slots), (~is_pose, M)]
    else:
        groups = [(everyone, M)]
    total = torch.zeros((), device=device)
    logged: dict[str, float] = {"loss": 0.0, "mse": 0.0, "cos": 0.0}
    sums = {m: [0.0, 0.0] for m in MODALITY_STREAMS}
    extras: dict[str, float] = {}
    for sel, slots in groups:
        n = int(sel.sum())
        if n == 0:
            continue
        sub = {k: v[sel] for k, v in batch.items() if isinstance(v, torch.Tensor) and v.shape[:1] == (B,)}
        if slots < M:
            sub["cond_idx"] = sub["cond_idx"][:, :slots].contiguous()
            sub["num_sources"] = sub["num_sources"].clamp(max=slots)
        loss_g, log_g = _group_loss(pipe, sub, t_video[sel], t_ray[sel], generator, anchor)
        w = n / B
        total = total + w * loss_g
        logged["loss"] += w * float(loss_g.detach())
        logged["mse"] += w * log_g["mse"]
        logged["cos"] += w * log_g["cos"]
        for k, v in log_g.items():
            if k.startswith("ray_") or k == "video_anchor":
                extras[k] = extras.get(k, 0.0) + w * v
        for m in MODALITY_STREAMS:
            sums[m][0] += log_g[f"loss_{m}"] * log_g[f"tokens_{m}"]
            sums[m][1] += log_g[f"tokens_{m}"]
    for m, (s, tok) in sums.items():
        logged[f"loss_{m}"] = s / tok if tok else 0.0
        logged[f"tokens_{m}"] = tok
    logged.update(extras)
    return total, logged
