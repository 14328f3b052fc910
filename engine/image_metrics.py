"""Per-frame image quality between generated and reference frames (scikit-image's PSNR and SSIM)."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def frame_metrics(generated: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
    """PSNR (dB) and SSIM per frame of two (T, H, W, 3) uint8 clips of the same size."""
    if generated.shape != reference.shape:
        raise ValueError(f"frame_metrics: clips differ in shape {generated.shape} vs {reference.shape}")
    if generated.ndim != 4 or generated.shape[-1] != 3:
        raise ValueError(f"frame_metrics: expected (T, H, W, 3) clips, got {generated.shape}")
    psnr, ssim = [], []
    # SSIM's default 7x7 window needs 7 pixels per side; tiny model frames can be smaller.
    win = min(7, generated.shape[1], generated.shape[2])
    win -= 1 - win % 2
    for g, r in zip(generated, reference):
        psnr.append(peak_signal_noise_ratio(r, g, data_range=255) if not np.array_equal(g, r) else float("inf"))
        ssim.append(structural_similarity(r, g, channel_axis=-1, data_range=255, win_size=win))
    return {"psnr": np.asarray(psnr, dtype=np.float64), "ssim": np.asarray(ssim, dtype=np.float64)}
