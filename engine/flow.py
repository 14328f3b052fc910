"""Flow matching in the paper's convention (eqs. 3-4): ``t = 1`` is data, ``t = 0`` is noise.

    z_t = t * z1 + (1 - t) * z0,      z0 ~ N(0, I),      target velocity  v = z1 - z0
    L   = || v_theta - v ||^2  +  lambda * (1 - cos(v_theta, v))

The model denoises several named latent tensors ("streams") jointly, e.g. ``video`` and ``rays`` of
shape (B, C, F, h, w) and ``cond_video`` / ``cond_rays`` of shape (B, M, C, h, w). Every stream has one
time per *element* of its leading dims: (B,) for the clip streams, (B, M) for the conditioning slots.
So a stream's channel dim is always the first dim after its time's dims, and everything after the
channel dim indexes tokens (latent positions). An element at ``t = 1`` is clean -- a source image, or
the modality pinned as the condition -- and is neither noised nor supervised.

Note this is the reverse of diffusers' ``sigma`` (``sigma = 1 - t``) and of its velocity sign.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.config import FlowConfig

TensorOrDict = Tensor | Mapping[str, Tensor]


# --------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------

def shift_time(t: Tensor | float, shift: float) -> Tensor | float:
    """Timestep shift (SD3 / Wan) written in the ``t = 1`` data convention.

    With ``sigma = 1 - t`` the usual shift is ``sigma' = shift * sigma / (1 + (shift - 1) * sigma)``,
    i.e. the noise odds ``sigma / (1 - sigma) = (1 - t) / t`` are multiplied by ``shift``. Solved for t:

        t' = t / (shift - (shift - 1) * t)

    It fixes 0 and 1, is strictly increasing, ``shift = 1`` is the identity, ``shift > 1`` moves every
    t towards noise (so a uniform grid or uniform draws spend more of their time near ``t = 0``; high
    resolutions want this), and ``shift_time(., 1 / shift)`` is its inverse.

    t: a float or a tensor of any shape (values in [0, 1]); returns the same kind and shape.
    """
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    if shift == 1.0:
        return t
    return t / (shift - (shift - 1.0) * t)


def _expand(t: Tensor, like: Tensor) -> Tensor:
    """View ``t`` (the leading dims of ``like``) with trailing singleton dims so it broadcasts."""
    if tuple(like.shape[: t.ndim]) != tuple(t.shape):
        raise ValueError(f"time/mask of shape {tuple(t.shape)} does not match the leading dims of "
                         f"a tensor of shape {tuple(like.shape)}")
    return t.reshape(tuple(t.shape) + (1,) * (like.ndim - t.ndim))


def interpolate(z1: Tensor, z0: Tensor, t: Tensor | float) -> Tensor:
    """``z_t = t * z1 + (1 - t) * z0``; exact at both ends (t = 1 gives z1, t = 0 gives z0).

    z1, z0: (*lead, *rest). t: a float, or a tensor of shape ``lead`` (any number of leading dims,
    e.g. (B,) or (B, M)) broadcast over the trailing dims. Computed in t's precision (at least
    float32) and returned in z1's dtype, so bf16 latents do not round t.
    """
    t = torch.as_tensor(t, device=z1.device)
    if not t.is_floating_point():
        t = t.float()
    t = _expand(t, z1)
    return (t * z1 + (1 - t) * z0).to(z1.dtype)


def velocity_target(z1: Tensor, z0: Tensor) -> Tensor:
    """The flow-matching regression target ``v = dz_t/dt = z1 - z0`` (same shape as z1)."""
    return z1 - z0


def task_probabilities(cfg: FlowConfig, step: int | None = None) -> tuple[float, float]:
    """``(p_video_clean, p_ray_clean)`` at optimizer step ``step`` of the task-mix schedule (ours):
    pose estimation only for ``pose_only_steps``, then a linear move to the configured mix over
    ``mix_anneal_steps``. ``step=None`` (evaluation) means the end of the schedule."""
    p_v, p_r = cfg.p_video_clean, cfg.p_ray_clean
    if step is None:
        return p_v, p_r
    if step < cfg.pose_only_steps:
        return 1.0, 0.0
    into = step - cfg.pose_only_steps
    if cfg.mix_anneal_steps and into < cfg.mix_anneal_steps:
        a = into / cfg.mix_anneal_steps
        return 1.0 + a * (p_v - 1.0), a * p_r
    return p_v, p_r


def sample_train_times(batch: int, *, cfg: FlowConfig, generator: torch.Generator | None = None,
                       device: torch.device | str | None = None, step: int | None = None) -> tuple[Tensor, Tensor]:
    """Per-example training times ``(t_video, t_ray)``, each of shape (B,), float32.

    Both are drawn independently as ``shift_time(U[0, 1), cfg.shift)`` -- the joint distribution is
    learnt at every pair of noise levels, which is what joint generation (and rays finishing in 2
    steps while the video is half-way) needs. Then each example falls in exactly one case, from a
    single uniform draw ``r``:

      * ``r < p_video_clean``                       -> ``t_video = 1`` (video given: pose estimation)
      * ``p_video_clean <= r < p_video_clean + p_ray_clean`` -> ``t_ray = 1`` (rays given: camera control)
      * otherwise both stay noised                  (joint generation)

    ``step`` moves the probabilities along the task-mix schedule (``task_probabilities``); in
    pose examples the ray time is 0 with probability ``cfg.pose_ray_noise_prob``, in joint examples the video
    time with probability ``cfg.joint_video_noise_prob``.

    Choosing one case from one draw (rather than two coin flips and resampling on a clash) keeps the
    marginal frequencies exactly ``p_video_clean`` and ``p_ray_clean`` and never pins both (an example
    with nothing to denoise would carry no loss). Needs ``p_video_clean + p_ray_clean <= 1``.

    Uniform + shift rather than SD3's logit-normal: FlowConfig has only ``shift``, and uniform keeps
    the near-clean times that the 2-step pose estimation lands on well trained.

    The draws are made on the generator's device (CPU without one) and moved to ``device``, so a
    seeded CPU generator gives the same times on every device.
    """
    p_v, p_r = task_probabilities(cfg, step)
    if not (0 <= p_v and 0 <= p_r and p_v + p_r <= 1):
        raise ValueError(f"need 0 <= p_video_clean, p_ray_clean and their sum <= 1; got {p_v}, {p_r}")
    gen_device = generator.device if generator is not None else torch.device("cpu")
    # Extra draws only when they are used, so runs without them keep their random streams.
    extra = [p for p in (cfg.pose_ray_noise_prob, cfg.joint_video_noise_prob) if p > 0]
    draw = torch.rand(3 + len(extra), batch, generator=generator, device=gen_device)
    r, u_video, u_ray = draw[0], draw[1], draw[2]
    t_video = shift_time(u_video, cfg.shift)
    t_ray = shift_time(u_ray, cfg.shift)
    k = 3
    if cfg.pose_ray_noise_prob > 0:
        t_ray = torch.where((r < p_v) & (draw[k] < cfg.pose_ray_noise_prob), torch.zeros_like(t_ray), t_ray)
        k += 1
    if cfg.joint_video_noise_prob > 0:
        joint = r >= p_v + p_r
        t_video = torch.where(joint & (draw[k] < cfg.joint_video_noise_prob), torch.zeros_like(t_video), t_video)
    t_video = torch.where(r < p_v, torch.ones_like(t_video), t_video)
    t_ray = torch.where((r >= p_v) & (r < p_v + p_r), torch.ones_like(t_ray), t_ray)
    if device is not None:
        t_video, t_ray = t_video.to(device), t_ray.to(device)
    return t_video, t_ray


def slot_times(t: Tensor, is_source: Tensor) -> Tensor:
    """Times of conditioning slots: clean sources at 1, sparse targets at their clip's time.

    t: (B,) the clip stream's time (the sparse targets are noised and supervised with it).
    is_source: (B, M) bool. Returns (B, M) in t's dtype.
    """
    return torch.where(is_source, torch.ones((), dtype=t.dtype, device=t.device), t[:, None])


# --------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------

def make_noise(like: TensorOrDict, generator: torch.Generator | None = None) -> TensorOrDict:
    """Standard normal noise shaped like ``like`` (a tensor, or a dict of them in its key order).

    Drawn in float32 on the generator's device (``like``'s device without one), then moved and cast
    to ``like``'s device and dtype: the same seeded CPU generator gives the same noise on any device
    and in any precision. The only source of randomness for sampling.
    """
    if isinstance(like, Mapping):
        return {name: make_noise(x, generator) for name, x in like.items()}
    device = generator.device if generator is not None else like.device
    z = torch.randn(like.shape, generator=generator, device=device, dtype=torch.float32)
    return z.to(device=like.device, dtype=like.dtype if like.is_floating_point() else torch.float32)


def noise_streams(clean: Mapping[str, Tensor], times: Mapping[str, Tensor],
                  generator: torch.Generator | None = None
                  ) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
    """One training noising step over all streams: ``(noised, target, mask)``, dicts keyed like ``clean``.

    clean[name]: (*lead, C, ...) data latents z1. times[name]: shape ``lead`` ((B,) or (B, M)), the
    time of every element. Noise z0 is drawn for every stream in ``clean``'s key order (also for
    fully clean streams, so the random stream does not depend on which elements are pinned).

      noised[name] = z_t, exactly z1 where t == 1
      target[name] = z1 - z0 (meaningless where masked out)
      mask[name]   = t < 1, shape ``lead`` (bool): which elements carry a loss
    """
    missing = [name for name in clean if name not in times]
    if missing:
        raise KeyError(f"no times given for streams {missing}")
    noise = make_noise(clean, generator)
    noised, target, mask = {}, {}, {}
    for name, z1 in clean.items():
        t, z0 = times[name].to(z1.device), noise[name]
        m = t < 1
        # Pinned elements stay bit-exactly clean: the model must see the condition uncorrupted.
        noised[name] = torch.where(_expand(m, z1), interpolate(z1, z0, t), z1)
        target[name] = velocity_target(z1, z0)
        mask[name] = m
    return noised, target, mask


# --------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------

def flow_loss(pred: TensorOrDict, target: TensorOrDict, weight_mask: TensorOrDict, *,
              cos_weight: float | Mapping[str, float], eps: float = 1e-8) -> tuple[Tensor, dict[str, float]]:
    """``L = MSE + cos_weight * (1 - cos)`` over the supervised elements (paper eq. 4).

    pred, target: (*lead, C, *tokens) velocities, or dicts of them (the streams of ``pred`` count).
    weight_mask: bool of shape ``lead`` (or a dict of them): true where the element is noised and
    supervised. Masked-out elements (clean conditions) have no target and do not touch the loss, its
    value or its gradient.

    * MSE is the mean squared error over every scalar of the supervised elements.
    * cos is the cosine similarity between predicted and target velocity *per token*, taken along
      the channel dim (the first dim after ``lead``): one latent position's channel vector is the unit
      that has a direction, as a token is for the transformer. Mean over supervised tokens.

    With dicts the streams are pooled as one sequence (the paper concatenates video and ray tokens):
    each mean runs over all supervised scalars / tokens of all streams together.

    ``cos_weight`` may be a dict of per-stream weights (streams missing from it weigh 0): the direction
    term of each stream is then weighted by its own lambda, still pooled over all supervised tokens.

    Returns the scalar loss (differentiable; exactly 0 when nothing is supervised) and floats for
    logging: ``mse``, ``cos`` (mean cosine similarity, 1 is perfect; 0 when nothing is supervised),
    ``tokens`` (number of supervised tokens).
    """
    if isinstance(pred, Mapping):
        if not (isinstance(target, Mapping) and isinstance(weight_mask, Mapping)):
            raise TypeError("pred, target and weight_mask must all be tensors or all be dicts")
        names = list(pred)                # target / mask may hold more streams (e.g. all-clean ones)
        missing = [n for n in names if n not in target or n not in weight_mask]
        if missing:
            raise KeyError(f"no target or mask for predicted streams {missing}")
        triples = [(pred[n], target[n], weight_mask[n]) for n in names]
    else:
        names = [None]
        triples = [(pred, target, weight_mask)]
    if isinstance(cos_weight, Mapping):
        weights = [float(cos_weight.get(n, 0.0)) for n in names]
    else:
        weights = [float(cos_weight)] * len(names)

    sums = [_stream_sums(p, q, mask, eps) for p, q, mask in triples]
    se_sum, cos_sum, n_el, n_tok = (torch.stack(col).sum() for col in zip(*sums))
    # clamp_min(1): an empty selection gives 0 / 1 = 0, not 0 / 0.
    mse = se_sum / n_el.clamp_min(1)
    cos = cos_sum / n_tok.clamp_min(1)
    direction = sum(w * (s[3] - s[1]) for w, s in zip(weights, sums))
    loss = mse + direction / n_tok.clamp_min(1)
    mse_f, cos_f, tok_f = torch.stack([mse.detach(), cos.detach(), n_tok.detach()]).tolist()  # one sync
    return loss, {"mse": mse_f, "cos": cos_f, "tokens": tok_f}


def _stream_sums(pred: Tensor, target: Tensor, mask: Tensor, eps: float
                 ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(sum of squared errors, sum of cosines, #scalars, #tokens) over one stream's supervised part."""
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    lead = mask.ndim
    if pred.ndim <= lead:
        raise ValueError(f"a stream of shape {tuple(pred.shape)} has no channel dim after its "
                         f"{lead} time dims")
    mask = mask.to(device=pred.device, dtype=torch.bool)
    keep = _expand(mask, pred)
    # Zero the masked elements *before* any arithmetic, so whatever they hold (even inf/nan) has no
    # effect on the value and gets an exactly-zero gradient.
    zero = torch.zeros((), dtype=torch.float32, device=pred.device)
    p = torch.where(keep, pred.float(), zero)
    q = torch.where(keep, target.float(), zero)
    se_sum = (p - q).square().sum()
    cos = F.cosine_similarity(p, q, dim=lead, eps=eps)          # (*lead, *tokens)
    cos_sum = torch.where(_expand(mask, cos), cos, zero).sum()
    n_sel = mask.sum().float()
    tokens_per_entry = math.prod(pred.shape[lead + 1:])          # latent positions in one element
    per_entry = pred.shape[lead] * tokens_per_entry              # scalars in one element
    return se_sum, cos_sum, n_sel * per_entry, n_sel * tokens_per_entry
