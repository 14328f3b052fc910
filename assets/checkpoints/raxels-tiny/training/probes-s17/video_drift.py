"""Session 17, one-off: how far a fine-tune moved the video side's weights from the shipped checkpoint's
(the parameters ``train.freeze_video_stream`` would freeze) and the ray side's, each as ||W - W0|| / ||W0||
over all of its tensors.

    python assets/checkpoints/raxels-tiny/training/probes-s17/video_drift.py CHECKPOINT [CHECKPOINT ...]
"""
import sys
import torch
from safetensors.torch import load_file
from engine.train.trainer import is_video_side

base = load_file("assets/checkpoints/raxels-tiny/model.safetensors")
video = [k for k in base if is_video_side(k)]
ray = [k for k in base if k not in video]
for path in sys.argv[1:]:
    w = load_file(f"{path}/model.safetensors")
    for side, names in (("video side", video), ("ray side", ray)):
        names = [k for k in names if k in w and w[k].shape == base[k].shape]
        d = torch.sqrt(sum(((w[k].float() - base[k].float()) ** 2).sum() for k in names))
        n = torch.sqrt(sum((base[k].float() ** 2).sum() for k in names))
        print(f"{path}: {side} ({len(names)} tensors) moved {float(d / n):.4f} of its norm")
