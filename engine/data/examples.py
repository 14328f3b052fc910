"""One training example from one clip (paper section 3.1), the same code for synthetic and real clips.

From frames (T0, H0, W0, 3) and their cameras (T0,) ``build_example`` makes the unbatched form of
the batch ``engine.objective`` documents:

    video        (3, T, H, W) float32 in [-1, 1]   T = ``ClipConfig.num_frames`` (1 + 4k)
    rays         (T, Cray, Hr, Wr) float32 in [-1, 1]  on the raxel grid (H, W) / ``raxel_downsample``
    cond_idx     (M,) long                         frame of each conditioning slot; slot 0 = reference
    num_sources  () long                           slots [0, S) are clean sources, the rest sparse targets

plus, for evaluation and logging (the objective ignores them):

    c2w          (T, 4, 4) float32  cameras canonicalised to the reference and multiplied by ``scale``,
                                    i.e. the poses the ray images encode
    K            (T, 3, 3) float32  intrinsics on the model grid (W x H)
    scale        () float32         factor from the clip's units to ray units (``encode_cameras``)

Steps:
1. A window of T frames: a random stride (1..``max_stride``, as far as the clip is long enough) and a
   random start (``sample_frame_window``; loaders call it first so they decode only those frames).
2. Time reversal with probability ``reverse_prob`` (frames and ``Cameras.reversed()`` together).
3. Frames resized to cover (H, W) and centre-cropped (``engine.media.resize_center_crop``, aspect kept);
   the intrinsics get the same map (``CropInfo.to_model_intrinsics``).
4. S ~ U{min_sources..M} sources; the first is the reference frame r, drawn uniformly; the other
   sources and the M - S sparse targets are distinct frames (repeated only when T < M).
5. Rays: ``encode_cameras(cameras, ref=r, grid=(H/ds, W/ds))``, which canonicalises to r (so slot 0's
   rays are the bare bundle) and shrinks the clip into the unit ball. ``metric_scale`` (metres per
   clip unit) makes a clip metric first; ``metric_scale=None`` means the clip's units are unknown,
   and the window is normalised so its farthest camera from the reference is 1 away (the same
   convention ``scene_scale`` applies to large metric clips, here also for small ones).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from engine.camera_codec import encode_cameras, ray_channels
from engine.config import ClipConfig
from engine.media import frames_to_tensor, resize_center_crop
from geometry import Cameras, canonicalize

EXAMPLE_KEYS = ("video", "rays", "cond_idx", "num_sources", "c2w", "K", "scale")


def sample_frame_window(num_available: int, num_frames: int, rng: np.random.Generator, *,
                        max_stride: int = 1) -> np.ndarray:
    """Indices (num_frames,) of evenly strided frames: stride U{1..max_stride} (capped so the window
    fits), start uniform over the positions where it fits."""
    if num_available < num_frames:
        raise ValueError(f"the clip has {num_available} frames, an example needs {num_frames}")
    if max_stride < 1:
        raise ValueError(f"max_stride must be >= 1, got {max_stride}")
    longest = 1 if num_frames == 1 else (num_available - 1) // (num_frames - 1)
    stride = int(rng.integers(1, min(max_stride, longest) + 1))
    start = int(rng.integers(0, num_available - (num_frames - 1) * stride))
    return start + stride * np.arange(num_frames)


def choose_slots(num_frames: int, num_slots: int, rng: np.random.Generator, *,
                 min_sources: int = 1, max_sources: int | None = None) -> tuple[list[int], int]:
    """Conditioning slots: ``(frames (M,), S)``; slot 0 is the reference (the first source)."""
    max_sources = num_slots if max_sources is None else min(max_sources, num_slots)
    if not 1 <= min_sources <= max_sources:
        raise ValueError(f"need 1 <= min_sources <= max_sources <= {num_slots}, got {min_sources}, {max_sources}")
    S = int(rng.integers(min_sources, max_sources + 1))
    order = rng.permutation(num_frames).tolist()          # distinct frames while they last
    while len(order) < num_slots:                         # a clip shorter than the slots: repeat frames
        order.append(order[len(order) % num_frames])
    return order[:num_slots], S


def build_example(frames: Any, cameras: Cameras, clip: ClipConfig, *, rng: np.random.Generator,
                  raxel_downsample: int = 1, encoding: str = "raxel", metric_scale: float | None = 1.0,
                  max_stride: int = 1, reverse_prob: float = 0.5, min_sources: int = 1,
                  max_sources: int | None = None, frame_idx: np.ndarray | None = None,
                  first_reference_prob: float = 0.0) -> dict[str, torch.Tensor]:
    """One example (see the module docstring).

    Args:
        frames: (T0, H0, W0, 3) uint8 or float in [0, 1], or a (T0, 3, H0, W0) tensor in [-1, 1], or
            anything ``engine.media.frames_to_tensor`` takes.
        cameras: (T0,) cameras of those frames; if their image size differs from the frames', K is
            rescaled to the frames (the same view at another resolution).
        clip: T = ``num_frames``, (H, W) = ``height, width``, M = ``num_cond``.
        rng: all randomness (window, reversal, reference, slots).
        raxel_downsample: the ray grid is (H, W) // this (``ModelConfig.raxel_downsample``).
        encoding: ``"raxel"`` or ``"plucker"`` (``ModelConfig.camera_encoding``).
        metric_scale: metres per clip unit, or None for clips of unknown scale (normalised).
        max_stride: largest frame stride of the window.
        reverse_prob: probability of playing the clip backwards.
        min_sources, max_sources: range of S (default 1..M).
        frame_idx: (T,) frames already chosen (the loader decoded only these): skips step 1.
        first_reference_prob: probability that the reference (slot 0) is the window's first frame, as
            in inference, instead of a uniformly drawn one (ours; 0 keeps the old random streams).
    """
    T, H, W, M = clip.num_frames, clip.height, clip.width, clip.num_cond
    ds = int(raxel_downsample)
    ray_channels(encoding)
    if ds < 1 or H % ds or W % ds:
        raise ValueError(f"raxel_downsample {raxel_downsample} must divide the frame size {H}x{W}")
    video = frames_to_tensor(frames, name="clip frames")                    # (T0, 3, H0, W0)
    if cameras.batch_shape != (video.shape[0],):
        raise ValueError(f"clip has {video.shape[0]} frames but cameras of batch shape {tuple(cameras.batch_shape)}")
    if frame_idx is None:
        frame_idx = sample_frame_window(video.shape[0], T, rng, max_stride=max_stride)
    frame_idx = np.asarray(frame_idx)
    if frame_idx.shape != (T,):
        raise ValueError(f"frame_idx must hold {T} frames, got shape {frame_idx.shape}")
    index = torch.as_tensor(frame_idx, dtype=torch.long)
    video, cameras = video[index], cameras[index]
    if rng.random() < reverse_prob:
        video, cameras = video.flip(0), cameras.reversed()
    H0, W0 = video.shape[-2:]
    if (cameras.width, cameras.height) != (W0, H0):
        cameras = cameras.resized(W0, H0)
    video, crop = resize_center_crop(video, H, W)                            # (T, 3, H, W)
    cams = Cameras(cameras.c2w.double(), crop.to_model_intrinsics(cameras.K.double()), W, H)

    slots, S = choose_slots(T, M, rng, min_sources=min_sources, max_sources=max_sources)
    if first_reference_prob > 0 and rng.random() < first_reference_prob and slots[0] != 0:
        if 0 in slots:
            k = slots.index(0)
            slots[0], slots[k] = slots[k], slots[0]
        else:
            slots[0] = 0
    ref = slots[0]
    c2w = cams.c2w.clone()
    if metric_scale is not None:
        if not (metric_scale > 0 and np.isfinite(metric_scale)):
            raise ValueError(f"metric_scale must be positive and finite, got {metric_scale}")
        c2w[:, :3, 3] *= float(metric_scale)
        scale = None                                                         # unit ball only if needed
    else:
        far = float(canonicalize(c2w, ref)[:, :3, 3].norm(dim=-1).max())
        scale = 1.0 / far if far > 1e-9 else 1.0                            # a pure rotation stays as is
    cams = cams.with_poses(c2w)
    rays, s = encode_cameras(cams, ref=ref, grid=(H // ds, W // ds), encoding=encoding, scale=scale)
    canonical = canonicalize(cams.c2w, ref)
    canonical[:, :3, 3] *= s
    total_scale = s * (float(metric_scale) if metric_scale is not None else 1.0)
    return {
        "video": video.permute(1, 0, 2, 3).contiguous().float(),             # (3, T, H, W)
        "rays": rays.float().contiguous(),                                   # (T, C, Hr, Wr)
        "cond_idx": torch.tensor(slots, dtype=torch.long),
        "num_sources": torch.tensor(S, dtype=torch.long),
        "c2w": canonical.float(),
        "K": cams.K.float(),
        "scale": torch.as_tensor(total_scale, dtype=torch.float32),
    }


def collate_examples(examples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack examples into a batch (``torch.utils.data.default_collate``), after checking that they
    agree on keys and shapes, so a mismatch names the key instead of failing inside ``torch.stack``."""
    if not examples:
        raise ValueError("collate_examples: no examples")
    keys = set(examples[0])
    for i, ex in enumerate(examples[1:], 1):
        if set(ex) != keys:
            raise ValueError(f"collate_examples: example {i} has keys {sorted(ex)}, example 0 has {sorted(keys)}")
        for k in keys:
            if ex[k].shape != examples[0][k].shape:
                raise ValueError(f"collate_examples: {k!r} of example {i} has shape {tuple(ex[k].shape)}, "
                                 f"example 0 has {tuple(examples[0][k].shape)}")
    return default_collate(examples)
