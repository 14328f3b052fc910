"""ODE sampling of the joint flow, each stream on its own time schedule (``t = 0`` noise -> ``t = 1`` data).

One shared loop runs ``n = max_m S_m`` iterations, where stream m's schedule has ``S_m`` steps. Stream m
is at schedule index ``floor(k * S_m / n)`` before iteration k and steps only when that index grows,
so every stream reaches ``t = 1`` on the last iteration: in pose estimation (video clean, rays 2 steps)
a 2-step stream takes 2 big steps; in joint generation with rays 2 / video 20 steps the rays step at
iterations 10 and 20, each time using a velocity computed against the current (half / fully
denoised) video. Elements marked fixed (clean sources) are held at ``t = 1`` and never change.

Nothing here draws random numbers: the caller makes the initial noise with ``make_noise`` and a seeded
``torch.Generator``, so a seed reproduces a sample exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from engine.flow import make_noise, shift_time

__all__ = ["time_schedule", "sample", "sample_steps", "SamplerStep", "make_noise", "VelocityFn", "Callback"]

# velocity_fn(state, times) -> velocities: state[name] (*lead, ...), times[name] (*lead,) float32.
VelocityFn = Callable[[dict[str, Tensor], dict[str, Tensor]], Mapping[str, Tensor]]
# callback(step_index, total_steps, state, times), step_index = iterations done (1..total_steps).
Callback = Callable[[int, int, dict[str, Tensor], dict[str, Tensor]], None]


def time_schedule(steps: int, *, shift: float = 1.0, start: float = 0.0) -> Tensor:
    """Sampling times ``(steps + 1,)`` float32, strictly increasing from ``start`` (noise) to exactly 1.

    A uniform grid pushed through ``shift_time`` (``shift > 1`` makes the steps near noise smaller).
    With ``start > 0`` (a partially noised start) the schedule is the tail of the full shifted one: the
    uniform grid starts at the point that the shift maps onto ``start``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0.0 <= start < 1.0:
        raise ValueError(f"start must be in [0, 1), got {start}")
    u0 = shift_time(float(start), 1.0 / shift)       # inverse shift
    t = shift_time(torch.linspace(u0, 1.0, steps + 1, dtype=torch.float64), shift)
    t[0], t[-1] = start, 1.0                         # exact endpoints despite rounding
    return t.float()


@dataclass
class _Stream:
    """How one stream moves: its schedule (python floats; None = clean) and its fixed elements."""

    schedule: list[float] | None
    fixed: Tensor | None            # bool, shape = lead
    lead: tuple[int, ...]           # shape of this stream's times

    @property
    def steps(self) -> int:
        return 0 if self.schedule is None else len(self.schedule) - 1

    def index(self, k: int, n: int) -> int:
        """Schedule index after ``k`` of ``n`` shared iterations."""
        return self.steps * k // n

    def time(self, i: int) -> float:
        return 1.0 if self.schedule is None else self.schedule[i]

    def times(self, i: int, device: torch.device) -> Tensor:
        t = torch.full(self.lead, self.time(i), dtype=torch.float32, device=device)
        return t if self.fixed is None else t.masked_fill(self.fixed, 1.0)

    def advance(self, z: Tensor, v: Tensor, dt: float) -> Tensor:
        """``z + dt * v`` on the moving elements; fixed ones are returned bit-exactly unchanged."""
        if v.shape != z.shape:
            raise ValueError(f"velocity of shape {tuple(v.shape)} for a stream of shape {tuple(z.shape)}")
        new = (z + dt * v).to(z.dtype)
        if self.fixed is None:
            return new
        keep = self.fixed.reshape(self.lead + (1,) * (z.ndim - len(self.lead)))
        return torch.where(keep, z, new)


def _plan(state: Mapping[str, Tensor], schedules: Mapping[str, Tensor | None],
          fixed: Mapping[str, Tensor | None] | None,
          time_dims: Mapping[str, int] | None) -> dict[str, _Stream]:
    unknown = (set(schedules) | set(fixed or {}) | set(time_dims or {})) - set(state)
    if unknown:
        raise KeyError(f"schedules/fixed/time_dims name streams not in state: {sorted(unknown)}")
    plan = {}
    for name, z in state.items():
        sched = schedules.get(name)
        mask = (fixed or {}).get(name)
        if time_dims is not None and name in time_dims:
            ndim = time_dims[name]
        else:
            ndim = mask.ndim if mask is not None else 1
        lead = tuple(z.shape[:ndim])
        if mask is not None:
            if tuple(mask.shape) != lead:
                raise ValueError(f"fixed[{name!r}] has shape {tuple(mask.shape)}, expected {lead}")
            mask = mask.to(device=z.device, dtype=torch.bool)
        if sched is not None:
            sched = torch.as_tensor(sched).detach().flatten().tolist()   # one host copy, no syncs later
            if len(sched) < 2:
                raise ValueError(f"schedules[{name!r}] needs at least 2 times (1 step)")
            if any(b < a for a, b in zip(sched, sched[1:])):
                raise ValueError(f"schedules[{name!r}] must be non-decreasing (noise -> data)")
        plan[name] = _Stream(sched, mask, lead)
    return plan


@torch.no_grad()
def sample(velocity_fn: VelocityFn, state: Mapping[str, Tensor], *,
           schedules: Mapping[str, Tensor | None], fixed: Mapping[str, Tensor | None] | None = None,
           method: Literal["euler", "heun"] = "euler", callback: Callback | None = None,
           time_dims: Mapping[str, int] | None = None) -> dict[str, Tensor]:
    """Integrate ``dz/dt = v(z, t)`` for every stream along its own schedule; returns the final state.

    state[name]: (*lead, ...) initial values -- noise (or a partially noised latent matching its
        schedule's start) where the stream is denoised, clean data where it is fixed or unscheduled.
        Not modified; a new dict of new tensors is returned.
    schedules[name]: 1-D times from noise to 1 (e.g. ``time_schedule``), each stream with its own step
        count; None or absent = the stream is clean throughout (held at t = 1).
    fixed[name]: bool of shape ``lead`` (e.g. (B, M) over conditioning slots), true for elements held
        clean at t = 1 -- they are never changed and always reported at t = 1; None = none fixed.
    time_dims[name]: number of leading dims that carry a time; default ``fixed[name].ndim`` when a
        mask is given, else 1 (one time per batch entry).
    velocity_fn(state, times): called with the current state and per-stream times of shape ``lead``
        (float32); returns velocities (same shapes as the state) at least for the streams stepping now.
    method: "euler", or "heun" (predictor-corrector: a second evaluation at the next times, averaged).
        Heun skips the correction for streams stepping into t = 1: the model is never trained at
        t = 1 (clean elements are masked out of the loss) and analytic fields such as
        ``(c - z) / (1 - t)`` are singular there, so that last step stays Euler. Calls: Euler n,
        Heun 2n - 1 with the usual schedules.
    callback(step_index, total_steps, state, times): after every iteration, step_index = 1..n. It
        may raise to cancel; the exception propagates unchanged.
    """
    cur = dict(state)
    for step in sample_steps(velocity_fn, state, schedules=schedules, fixed=fixed, method=method,
                             time_dims=time_dims):
        cur = step.state
        if callback is not None:
            callback(step.index, step.total, dict(step.state), step.times)
    return cur


def _lead(t: Tensor, like: Tensor) -> Tensor:
    """Times of shape lead -> broadcastable against a stream (lead, C, ...)."""
    return t.to(like.dtype).reshape(*t.shape, *([1] * (like.ndim - t.ndim)))


@dataclass
class SamplerStep:
    """One iteration of ``sample_steps``.

    index, total: iterations done (1..total) and their number.
    state, times: every stream and its per-element times after this iteration.
    denoised: the clean estimate z + (1 - t) v implied by this iteration's velocity, for every stream
        that was being denoised (a preview of the result; equal to the result on the last step).
    """

    index: int
    total: int
    state: dict[str, Tensor]
    times: dict[str, Tensor]
    denoised: dict[str, Tensor]


def sample_steps(velocity_fn: VelocityFn, state: Mapping[str, Tensor], *,
                 schedules: Mapping[str, Tensor | None], fixed: Mapping[str, Tensor | None] | None = None,
                 method: Literal["euler", "heun"] = "euler",
                 time_dims: Mapping[str, int] | None = None) -> Iterator[SamplerStep]:
    """``sample`` as a generator: one ``SamplerStep`` per iteration, so a caller can stream progress
    (and stop early by closing it). Arguments as in ``sample``; the last step's state is the result."""
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    plan = _plan(state, schedules, fixed, time_dims)
    n = max((s.steps for s in plan.values()), default=0)
    cur = dict(state)
    idx = {name: 0 for name in plan}

    def times_at(index: Mapping[str, int]) -> dict[str, Tensor]:
        return {name: s.times(index[name], cur[name].device) for name, s in plan.items()}

    def velocities(z: dict[str, Tensor], times: dict[str, Tensor], needed: list[str]) -> Mapping[str, Tensor]:
        v = velocity_fn(dict(z), times)
        missing = [name for name in needed if name not in v]
        if missing:
            raise KeyError(f"velocity_fn returned no velocity for streams {missing}")
        return v

    for k in range(n):
        t_now = times_at(idx)
        nxt = {name: s.index(k + 1, n) for name, s in plan.items()}
        stepping = [name for name in plan if nxt[name] > idx[name]]
        dt = {name: plan[name].time(nxt[name]) - plan[name].time(idx[name]) for name in stepping}

        v1 = velocities(cur, t_now, stepping)
        new = dict(cur)
        for name in stepping:
            new[name] = plan[name].advance(cur[name], v1[name], dt[name])

        correct = [name for name in stepping if plan[name].time(nxt[name]) < 1.0]
        if method == "heun" and correct:
            v2 = velocities(new, times_at(nxt), correct)
            for name in correct:
                new[name] = plan[name].advance(cur[name], 0.5 * (v1[name] + v2[name]), dt[name])

        denoised = {name: cur[name] + _lead(1.0 - t_now[name], cur[name]) * v1[name] for name in plan if name in v1}
        cur, idx = new, nxt
        yield SamplerStep(k + 1, n, dict(cur), times_at(idx), denoised)
