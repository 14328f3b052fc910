"""Session 16, one-off: a deeper copy of a checkpoint that computes exactly the same function.

    python assets/checkpoints/raxels-tiny/training/probes-s16/grow.py SRC DST NEW_LAYERS

Appends NEW_LAYERS joint blocks after the last one, each a copy of the last block whose residual outputs
(self-attention, cross-modal attention, feed-forward: the ``to_out`` / ``net.2`` projections) are zero in both
streams, so every new block passes its tokens through unchanged. With ``train.freeze_video_stream`` the video
halves of the new blocks stay zero (the video, and so generation, is exactly the source's), while their ray
halves train: extra depth for the ray side only, from a start that already does what the source does.
"""
import sys
from dataclasses import replace
import torch
from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.pipeline import JointPipeline

src, dst, extra = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg, state, meta = load_checkpoint(src)
L = cfg.model.num_layers
cfg.model = replace(cfg.model, num_layers=L + extra)
OUTPUTS = ("attn1.to_out.0.", "cross.to_out.0.", "ffn.net.2.")
for j in range(L, L + extra):
    for k in [k for k in state if k.startswith(f"blocks.{L - 1}.")]:
        new = f"blocks.{j}." + k[len(f"blocks.{L - 1}."):]
        state[new] = torch.zeros_like(state[k]) if any(o in k for o in OUTPUTS) else state[k].clone()
pipe = JointPipeline(cfg)
pipe.model.load_state_dict(state, strict=True)
meta = dict(meta, grown={"from": src, "layers": [L, L + extra], "new_blocks": "copies of the last, residual outputs zero"},
            final=False, quality_note=None)
save_checkpoint(dst, pipe.model, cfg, meta)
print(f"{src} ({L} layers) -> {dst} ({L + extra} layers), {sum(v.numel() for v in state.values())} parameters")
