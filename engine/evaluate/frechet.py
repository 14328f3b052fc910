"""FID and FVD from local feature-extractor weights (docs/metrics.md, "FID / FVD").

Nothing is downloaded and nothing is unpickled: the user gives a safetensors file holding the
reference network's state dict (Inception-v3 ``pt_inception-2015-12-05`` for FID, Kinetics-400 RGB
I3D ``rgb_imagenet.pt`` for FVD), converted once from the published ``.pth`` with their own trusted
Python (docs/metrics.md shows the two lines). The architectures live in ``inception_fid`` and ``i3d``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from scipy import linalg
from torch import nn

from . import i3d, inception_fid

Kind = Literal["fid", "fvd"]
_NETS = {"fid": (inception_fid.InceptionFID, inception_fid.UNUSED_KEY_PREFIXES),
         "fvd": (i3d.I3D, i3d.UNUSED_KEY_PREFIXES)}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(N, D)`` and ``(M, D)``.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``; needs at least 2 samples per set. With
    fewer samples than dimensions the covariances are singular and the number is biased upwards:
    compare FIDs only at equal sample counts.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: need (N, D) and (M, D) features, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError(f"frechet_distance: need at least 2 samples per set, got {len(a)} and {len(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("frechet_distance: features contain NaN or inf")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # singular products are expected with few samples; handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():
            # The reference implementation's remedy: a tiny ridge on both covariances.
            ridge = np.eye(len(cov_a)) * 1e-6
            root = linalg.sqrtm((cov_a + ridge) @ (cov_b + ridge))
    root = np.real(root)
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))
    return max(value, 0.0)


def load_extractor(path: str | Path, kind: Kind) -> nn.Module:
    """The FID (``kind="fid"``) or FVD (``"fvd"``) network with the weights in a safetensors file.

    Raises ``ValueError`` naming the problem: not safetensors, missing or misshapen tensors, NaN.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    label = f"{kind.upper()} weights {path}"
    if not path.is_file():
        raise ValueError(f"{label}: no such file")
    if path.suffix != ".safetensors":
        raise ValueError(f"{label}: expected a .safetensors file (pickled .pth / .pt files are never loaded; "
                         "docs/metrics.md shows how to convert yours)")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{label}: not a readable safetensors file ({exc})") from None
    net_cls, unused = _NETS[kind]
    net = net_cls()
    expected = {k: v.shape for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked") and not k.startswith(unused)}
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        raise ValueError(f"{label}: not the reference {net_cls.__name__} layout: {len(missing)} tensors missing "
                         f"{missing[:3]}, {len(extra)} unexpected {extra[:3]}")
    for k, shape in expected.items():
        if tuple(given[k].shape) != tuple(shape):
            raise ValueError(f"{label}: tensor {k} has shape {tuple(given[k].shape)}, expected {tuple(shape)}")
        if not torch.isfinite(given[k]).all():
            raise ValueError(f"{label}: tensor {k} contains NaN or inf")
    net.load_state_dict({k: v.float() for k, v in given.items()}, strict=False)
    return net.eval()


@torch.no_grad()
def image_features(net: nn.Module, frames: np.ndarray, batch: int = 32) -> np.ndarray:
    """FID features ``(N, 2048)`` of uint8 images ``(N, H, W, 3)``."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
    return torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)]).double().numpy()


@torch.no_grad()
def video_features(net: nn.Module, clips: list[np.ndarray], batch: int = 4) -> np.ndarray:
    """FVD features ``(N, 400)`` of uint8 clips, each ``(T, H, W, 3)``."""
    x = torch.stack([torch.from_numpy(np.ascontiguousarray(c)) for c in clips]).permute(0, 1, 4, 2, 3).float() / 255
    return torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)]).double().numpy()


def fid(generated: list[np.ndarray], reference: list[np.ndarray], net: nn.Module) -> float:
    """FID between the frames of two lists of uint8 clips ``(T, H, W, 3)``, all frames pooled."""
    return frechet_distance(image_features(net, np.concatenate(generated)),
                            image_features(net, np.concatenate(reference)))


def fvd(generated: list[np.ndarray], reference: list[np.ndarray], net: nn.Module) -> float:
    """FVD between two lists of uint8 clips ``(T, H, W, 3)``, one feature per clip."""
    return frechet_distance(video_features(net, generated), video_features(net, reference))
