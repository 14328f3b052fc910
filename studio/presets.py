"""Camera-move presets for the editor: what each one asks for, and its keyframes around a look-at point.

The moves themselves are ``geometry.trajectory.PRESETS``; this module only lists their parameters
for a form (read from the function signatures, so a new preset appears by itself) and turns a
preset's cameras into keyframes that the path editor can insert or use as the whole path.
"""

from __future__ import annotations

import inspect
import math
import typing
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from geometry import PRESETS, Keyframe

FRAME_ARGS = {"eye", "target", "num_frames", "fov_y_deg", "width", "height", "fps"}

LABELS = {
    "static": "Static", "orbit": "Orbit", "arc_left": "Arc left", "arc_right": "Arc right",
    "dolly_in": "Dolly in", "dolly_out": "Dolly out", "truck": "Truck", "pedestal": "Pedestal",
    "pan": "Pan", "tilt": "Tilt", "roll": "Roll", "zoom": "Zoom", "dolly_zoom": "Dolly zoom",
    "spiral": "Spiral", "lemniscate": "Lemniscate (figure eight)",
}

# Keyframes a preset becomes by default: enough that the spline through them follows the move closely.
DEFAULT_KEYFRAMES = {"orbit": 8, "spiral": 9, "lemniscate": 8, "arc_left": 4, "arc_right": 4, "dolly_zoom": 5,
                     "static": 2}
FALLBACK_KEYFRAMES = 3
UNITS = {"distance": "scene units, blank = half the distance to the look-at point",
         "factor": "focal length ratio, >= 1", "amplitude": "scene units, blank = a quarter of the distance",
         "end_radius_scale": "end radius / start radius", "rise": "scene units, blank = a quarter of the distance"}


@dataclass(frozen=True)
class PresetParam:
    """One parameter of a preset: ``choices`` for a direction, else a number (``optional``: blank = default)."""

    name: str
    default: Any
    choices: tuple[str, ...] = ()
    optional: bool = False

    @property
    def label(self) -> str:
        if self.name == "degrees":
            return "angle (degrees)"
        unit = UNITS.get(self.name)
        return self.name.replace("_", " ") + (f" ({unit})" if unit else "")


def preset_names() -> list[str]:
    return [n for n in PRESETS if n != "static"]


def preset_params(name: str) -> list[PresetParam]:
    """The parameters a preset takes besides the start camera and frame settings, in signature order."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    out = []
    hints = typing.get_type_hints(PRESETS[name])
    for p in inspect.signature(PRESETS[name]).parameters.values():
        if p.name in FRAME_ARGS:
            continue
        hint = hints.get(p.name)
        if typing.get_origin(hint) is typing.Literal:
            out.append(PresetParam(p.name, p.default, tuple(typing.get_args(hint))))
        else:
            out.append(PresetParam(p.name, p.default, optional=p.default is None))
    return out


def is_closed(name: str, params: dict[str, Any]) -> bool:
    """Whether the move returns to its start (so the path should loop)."""
    if name == "lemniscate":
        return True
    if name == "orbit":
        deg = float(params.get("degrees", 360.0))
        return deg != 0 and deg % 360.0 == 0
    return False


def clean_params(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Form values -> keyword arguments: blanks dropped (defaults apply), numbers as floats, unknown keys refused."""
    known = {p.name: p for p in preset_params(name)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"{LABELS.get(name, name)} has no parameter {key!r}")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        p = known[key]
        if p.choices:
            if value not in p.choices:
                raise ValueError(f"{p.name} must be one of {', '.join(p.choices)}, got {value!r}")
            out[key] = value
        else:
            try:
                out[key] = float(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{p.name}: expected a number, got {value!r}") from exc
            if not math.isfinite(out[key]):
                raise ValueError(f"{p.name}: expected a finite number, got {value!r}")
    return out


def preset_fov(name: str) -> float:
    """The preset's own vertical FOV (degrees): its signature's default."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    return float(inspect.signature(PRESETS[name]).parameters["fov_y_deg"].default)


def preset_keyframes(name: str, params: dict[str, Any], *, eye: Sequence[float], target: Sequence[float],
                     count: int | None = None, seconds: float = 2.0, fov_y_deg: float | None = None,
                     width: int = 32, height: int = 32) -> tuple[list[Keyframe], bool]:
    """Keyframes of a preset move from ``eye`` around ``target``, and whether the move is closed.

    ``count`` keyframes (default per preset) are evenly spaced in the move's own parameter and
    share ``seconds`` equally, so the interpolated path follows the move at constant speed.
    ``fov_y_deg`` None is the preset's own FOV (``preset_fov``), not whatever the path had before.
    Raises ``ValueError`` with a message for the user on bad parameters (e.g. a dolly through the target).
    """
    kwargs = clean_params(name, params)
    if fov_y_deg is None:
        fov_y_deg = preset_fov(name)
    elif not (math.isfinite(fov_y_deg) and 0 < fov_y_deg < 180):
        raise ValueError(f"the vertical FOV must be between 0 and 180 degrees, got {fov_y_deg}")
    closed = is_closed(name, kwargs)
    count = int(count or DEFAULT_KEYFRAMES.get(name, FALLBACK_KEYFRAMES))
    if count < 2 or count > 64:
        raise ValueError(f"a preset needs between 2 and 64 keyframes, got {count}")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"the preset's duration must be a positive number of seconds, got {seconds}")
    eye_t = torch.as_tensor(np.asarray(eye, dtype=np.float64))
    target_t = torch.as_tensor(np.asarray(target, dtype=np.float64))
    try:
        cams = PRESETS[name](**kwargs, eye=eye_t, target=target_t, num_frames=count, fov_y_deg=fov_y_deg,
                             width=width, height=height, fps=1.0)
    except ValueError as exc:
        raise ValueError(f"{LABELS.get(name, name)}: {str(exc).split(': ', 1)[-1]}") from exc
    transitions = count if closed else count - 1
    duration = seconds / transitions
    fov = torch.rad2deg(cams.fov_y).tolist()
    return [Keyframe(cams.c2w[i], fov[i], duration=duration) for i in range(count)], closed


def in_place_change(a: Keyframe, b: Keyframe, tol: float = 1e-9) -> str | None:
    """What happens between two consecutive keyframes at the same spot: "turns" (they face different ways),
    "zooms" (only the FOV differs), or None (they are apart, or the same camera)."""
    if not torch.allclose(a.position, b.position, atol=tol, rtol=0):
        return None
    if not torch.allclose(a.c2w[:3, :3], b.c2w[:3, :3], atol=tol, rtol=0):
        return "turns"
    return "zooms" if abs(a.fov_y_deg - b.fov_y_deg) >= 1e-9 else None


def same_camera(a: Keyframe, b: Keyframe, tol: float = 1e-9) -> bool:
    return bool(torch.allclose(a.c2w, b.c2w, atol=tol, rtol=0)) and abs(a.fov_y_deg - b.fov_y_deg) < 1e-9
