"""Spline internals (numpy/scipy): Kochanek-Bartels tangents on uniform knots, the monotone map
from seconds to knots, arc-length reparametrisation, and quaternion sign alignment.

The path's shape is a spline over the keyframe *index* ``u`` (knot k = keyframe k), so changing
a keyframe's timing changes only the speed along the path, never its shape (as in the
nerfstudio and Stable Virtual Camera editors). Seconds map onto ``u`` through a monotone
PCHIP curve through ``(time_k, k)``, which is C1, so the speed never jumps at a keyframe.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator


def align_quaternion_signs(q: np.ndarray) -> np.ndarray:
    """(n, 4) quaternions -> copies with signs flipped so consecutive ones have a non-negative dot
    product. ``q`` and ``-q`` are the same rotation; without this a spline between them would
    take the long way round (a 360 degree flip)."""
    q = np.array(q, dtype=np.float64, copy=True)
    for k in range(1, len(q)):
        if q[k] @ q[k - 1] < 0:
            q[k] = -q[k]
    return q


def kochanek_bartels(values: np.ndarray, *, tension: float = 0.0, closed: bool = False,
                     twist: np.ndarray | None = None) -> CubicHermiteSpline:
    """Cubic Hermite spline through ``values`` (n, D) at knots ``u = 0 .. n-1``.

    Kochanek-Bartels tangents with tension only (continuity = bias = 0):
    ``m_k = (1 - tension) (y_{k+1} - y_{k-1}) / 2``; tension 0 is Catmull-Rom, 1 stops at every
    keyframe, -1 doubles the tangents. Open ends use the natural condition (zero second
    derivative), so a 2-keyframe path is a straight line at constant speed.

    ``closed``: the spline runs over ``u in [0, n]`` and returns to ``values[0]`` with periodic
    tangents. ``twist`` (D,) of +-1 says how each channel continues past the end:
    ``y_{k+n} = twist * y_k`` (-1 on quaternion channels whose loop ends on ``-q_0``, the same rotation).
    """
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    if n < 2:
        raise ValueError(f"a spline needs at least 2 keyframes, got {n}")
    scale = 1.0 - float(tension)
    if closed:
        s = np.ones(y.shape[1]) if twist is None else np.asarray(twist, dtype=np.float64)
        # knots -1 .. n+1: the neighbours that make the tangents at 0 and n periodic
        ext = np.concatenate([s * y[-1:], y, s * y[:2]])
        tangents = scale * 0.5 * (ext[2:] - ext[:-2])  # (n + 1, D) at knots 0 .. n
        return CubicHermiteSpline(np.arange(n + 1.0), ext[1:-1], tangents, axis=0)
    if n == 2:
        tangents = np.repeat(y[1:] - y[:1], 2, axis=0)
    else:
        tangents = np.empty_like(y)
        tangents[1:-1] = scale * 0.5 * (y[2:] - y[:-2])
        tangents[0] = 0.5 * (3.0 * (y[1] - y[0]) - tangents[1])      # natural end: y''(0) = 0
        tangents[-1] = 0.5 * (3.0 * (y[-1] - y[-2]) - tangents[-2])  # natural end: y''(n-1) = 0
    return CubicHermiteSpline(np.arange(float(n)), y, tangents, axis=0)


def seconds_to_knots(times: np.ndarray, *, closed: bool = False) -> PchipInterpolator:
    """Monotone C1 map from seconds to knot parameter ``u`` with ``u(times[k]) = k``.

    ``times`` (m,) strictly increasing (for ``closed``, ``times[-1]`` is the return to knot 0
    one period later). A closed map gets periodic slopes at both ends by padding one periodic
    knot on each side (PCHIP slopes are local, so one knot is enough).
    """
    t = np.asarray(times, dtype=np.float64)
    u = np.arange(float(len(t)))
    if closed:
        period = t[-1] - t[0]
        t = np.concatenate([[t[-2] - period], t, [t[1] + period]])
        u = np.concatenate([[-1.0], u, [u[-1] + 1.0]])
    return PchipInterpolator(t, u)


def dense_knots(u_end: float, *, per_knot: int = 512) -> np.ndarray:
    """(k,) fine uniform grid over ``[0, u_end]`` on which arc length is summed."""
    return np.linspace(0.0, u_end, int(np.ceil(u_end * per_knot)) + 1)


def knots_at_arc_length(u_grid: np.ndarray, step_lengths: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Knot parameters (m,) at ``fractions`` (m,) in [0, 1] of the total arc length.

    ``step_lengths`` (k - 1,) are the lengths between consecutive ``u_grid`` (k,) samples; their
    running sum is the arc length (chords on a fine grid: its error is far below a frame step),
    inverted by linear interpolation on the same grid.
    """
    s = np.concatenate([[0.0], np.cumsum(step_lengths)])
    return np.interp(np.asarray(fractions, dtype=np.float64) * s[-1], s, u_grid)
