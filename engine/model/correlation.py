"""Local correlation between consecutive frames as a motion input (ours; issue 10, session 21).

Between 32x32 frames the camera moves about half a token cell (2 pixels) per frame, below what the
tokens' own features place (RESULTS.md, session 11: XFeat matches on the token grid place it no better
than "no motion"). This computes, at every pixel of frame t, how well its 3x3 neighbourhood matches the
neighbourhoods of frame t - 1 displaced by (dx, dy), |dx|, |dy| <= radius (normalised cross-correlation),
turns the (2 radius + 1)^2 scores into a distribution over displacements (softmax at ``temperature``) and
averages it over each token's pixels: a histogram of local motion per token. A pan moves every token's
histogram the same way; a truck moves near and far tokens differently. Nothing is learnt here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

MOTION_RADIUS = 3           # pixels: the largest displacement scored (ModelConfig.motion_features)
MOTION_TEMPERATURE = 0.1    # softmax temperature over the normalised cross-correlations


def displacements(radius: int) -> int:
    """Number of displacement channels: (2 radius + 1)^2."""
    return (2 * radius + 1) ** 2


def _descriptors(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 27, H, W): each pixel's 3x3 RGB neighbourhood, mean-removed and unit length
    (edges replicated), so that a dot product is a normalised cross-correlation."""
    N, _, H, W = frames.shape
    x = F.unfold(F.pad(frames, (1, 1, 1, 1), mode="replicate"), 3).view(N, 27, H, W)
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-3)


def local_correlation(current: torch.Tensor, previous: torch.Tensor, *, radius: int = MOTION_RADIUS,
                      temperature: float = MOTION_TEMPERATURE) -> torch.Tensor:
    """(N, 3, H, W) twice -> (N, (2r+1)^2, H, W): for each pixel of ``current``, the softmax over
    displacements d of its correlation with ``previous`` at pixel + d; channel k is d = (dx, dy) with
    dy = k // (2r+1) - r, dx = k % (2r+1) - r."""
    return _displacement_softmax(_descriptors(current), _descriptors(previous), radius, temperature)


def _displacement_softmax(a: torch.Tensor, b: torch.Tensor, radius: int, temperature: float) -> torch.Tensor:
    """``local_correlation`` of two frames' descriptors (N, 27, H, W)."""
    H, W = a.shape[-2:]
    r = radius
    b = F.pad(b, (r, r, r, r), mode="replicate")
    scores = [(a * b[:, :, r + dy:r + dy + H, r + dx:r + dx + W]).sum(1)
              for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    return torch.softmax(torch.stack(scores, 1) / temperature, dim=1)


def video_correlation(video: torch.Tensor, *, patch: int, temporal_factor: int, radius: int = MOTION_RADIUS,
                      temperature: float = MOTION_TEMPERATURE) -> torch.Tensor:
    """video (B, 3, T, H, W), T = 1 + tf k, values in [-1, 1] -> (B, tf (2r+1)^2, 1 + k, H / patch, W / patch).

    Frame t >= 1 gets its correlation with frame t - 1, frame 0 with itself (no motion); the frames are then
    grouped as ``PatchVAE`` groups them (latent frame 0: frame 0 repeated tf times; latent frame n: frames
    tf (n - 1) + 1 .. tf n), and each token gets the mean distribution over its patch x patch pixels."""
    B, _, T, H, W = video.shape
    tf = temporal_factor
    if (T - 1) % tf:
        raise ValueError(f"video_correlation: {T} frames is not 1 + {tf} k")
    # Each frame's descriptors once: frame t is "current" for pair (t - 1, t) and "previous" for (t, t + 1).
    desc = _descriptors(video.float().transpose(1, 2).flatten(0, 1)).unflatten(0, (B, T))   # (B, T, 27, H, W)
    previous = torch.cat([desc[:, :1], desc[:, :-1]], 1)
    corr = _displacement_softmax(desc.flatten(0, 1), previous.flatten(0, 1), radius, temperature)
    corr = F.avg_pool2d(corr, patch).unflatten(0, (B, T))                         # (B, T, D, h, w)
    grouped = torch.cat([corr[:, :1].expand(-1, tf, -1, -1, -1), corr[:, 1:]], 1)  # (B, tf (1 + k), D, h, w)
    return rearrange(grouped, "b (n s) d h w -> b (s d) n h w", s=tf)
