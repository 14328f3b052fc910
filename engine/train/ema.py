"""Exponential moving average of model weights, kept beside the model (never inside the optimizer).

After optimizer update ``k`` (k = 0, 1, ...), every float parameter ``p`` moves its shadow ``e``::

    e <- d_k * e + (1 - d_k) * p,      d_k = min(decay, (1 + k) / (10 + k))   (warmup on)
                                       d_k = decay                            (warmup off)

The warmup keeps early shadows from being dominated by the random init. Shadows are float32 whatever
the parameter dtype. Buffers are not averaged: ``state_dict`` takes them from the live model.
Parameters sharded as DTensors (FSDP2) keep sharded shadows; ``state_dict`` gathers full tensors.
"""

from __future__ import annotations

import torch
from torch import nn


_WRAPPER_PARTS = {"_checkpoint_wrapped_module", "_orig_mod", "_fsdp_wrapped_module"}


def clean_name(name: str) -> str:
    """A parameter name without the parts wrappers insert (activation checkpointing, torch.compile,
    FSDP1; DDP's leading ``module.``), as ``state_dict`` and checkpoints spell it."""
    parts = [p for p in name.split(".") if p not in _WRAPPER_PARTS]
    if parts and parts[0] == "module":
        parts = parts[1:]
    return ".".join(parts)


def _full(t: torch.Tensor) -> torch.Tensor:
    """A full tensor from a possibly sharded one (DTensor); a collective call under FSDP2."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


class EMA:
    """Shadow weights of ``model``'s trainable parameters, keyed by parameter name."""

    def __init__(self, model: nn.Module, decay: float, *, warmup: bool = True):
        if not 0 <= decay < 1:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.num_updates = 0
        self.shadow: dict[str, torch.Tensor] = {
            clean_name(name): p.detach().clone().float() for name, p in model.named_parameters() if p.requires_grad}

    def current_decay(self) -> float:
        """The decay the next ``update`` will use."""
        k = self.num_updates
        return min(self.decay, (1 + k) / (10 + k)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for name, p in model.named_parameters():
            e = self.shadow.get(clean_name(name))
            if e is not None:
                e.lerp_(p.detach().to(e.dtype), 1.0 - d)    # e + (1 - d) (p - e) = d e + (1 - d) p
        self.num_updates += 1

    def state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """A full model state dict with the shadows in place of the parameters (buffers from ``model``)."""
        out, used = {}, set()
        for name, value in model.state_dict().items():
            key = clean_name(name)
            shadow = self.shadow.get(key)
            if shadow is not None:
                used.add(key)
            out[key] = _full(shadow if shadow is not None else value).detach()
        unused = [n for n in self.shadow if n not in used]
        if unused:
            raise RuntimeError(f"EMA: {len(unused)} averaged parameters are not in the model's state dict, "
                               f"e.g. {unused[:3]}")
        return out

    @torch.no_grad()
    def load_shadows(self, state: dict[str, torch.Tensor], num_updates: int) -> None:
        """Restore shadows from full tensors (e.g. a checkpoint's weights) and the update count."""
        missing = [name for name in self.shadow if name not in state]
        if missing:
            raise ValueError(f"EMA state lacks {len(missing)} parameters, e.g. {missing[:3]}")
        for name, e in self.shadow.items():
            full = state[name].to(torch.float32)
            if hasattr(e, "device_mesh"):          # FSDP2: scatter the full tensor onto this rank's shard
                from torch.distributed.tensor import distribute_tensor

                full = distribute_tensor(full.to(e.device), e.device_mesh, e.placements)
            if tuple(full.shape) != tuple(e.shape):
                raise ValueError(f"EMA: {name} has shape {tuple(full.shape)} in the state, {tuple(e.shape)} "
                                 "in the model")
            e.copy_(full)
        self.num_updates = int(num_updates)
