"""Import and export of camera paths: the project's trajectory JSON (with the editor state), nerfstudio
``camera_path.json``, RealEstate10K ``.txt`` and ``transforms.json``. File parsing is ``geometry.io``'s;
this module maps files to keyframes and back.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from geometry import (Cameras, CameraFileError, Keyframe, load_cameras, load_trajectory_document,
                      opengl_to_opencv_c2w, save_cameras)
from geometry.io import detect_format

from .camera_path import MAX_FRAMES, MIN_FRAMES, TEMPORAL_FACTOR, CameraPath, PathError, PathSettings

EXPORT_FORMATS = {
    "trajectory": ("raxel-studio trajectory JSON (reopens for editing)", "trajectory.json"),
    "nerfstudio_path": ("nerfstudio camera_path.json", "camera_path.json"),
    "re10k": ("RealEstate10K pose .txt", "trajectory_re10k.txt"),
    "transforms": ("NeRF / nerfstudio transforms.json", "transforms.json"),
}
MAX_IMPORTED_KEYFRAMES = 12


@dataclass
class ImportedPath:
    keyframes: list[Keyframe]
    settings: PathSettings
    note: str


# ---- export -------------------------------------------------------------------------------------------

def export_path(path: CameraPath, fmt: str, out_dir: str | Path) -> Path:
    """Write the path's cameras (exactly those sent to the engine) in ``fmt``; returns the file."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    cams = path.cameras()
    s = path.settings
    target = Path(out_dir) / EXPORT_FORMATS[fmt][1]
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "trajectory":
        return save_cameras(cams, target, format="trajectory", fps=s.fps,
                            keyframes=[kf.to_dict() for kf in path.keyframes],
                            interpolation=dataclasses.asdict(s), meta={"written_by": "raxel-studio"})
    if fmt == "nerfstudio_path":
        return save_cameras(cams, target, format="nerfstudio_path", fps=s.fps, is_cycle=s.loop,
                            keyframes=[(kf.c2w, kf.fov_y_deg) for kf in path.keyframes])
    if fmt == "re10k":
        return save_cameras(cams, target, format="re10k", url="raxel-studio camera path", fps=s.fps)
    return save_cameras(cams, target, format="transforms")


def export_cameras(cams: Cameras, out_file: str | Path, *, fps: float | None = None,
                   meta: dict | None = None) -> Path:
    """Any cameras (a predicted trajectory) as a trajectory JSON."""
    return save_cameras(cams, out_file, format="trajectory", fps=fps, meta=meta)


# ---- import -------------------------------------------------------------------------------------------

def import_path(file: str | Path, *, width: int, height: int, current: PathSettings) -> ImportedPath:
    """Keyframes and settings from a camera file of any supported format.

    A raxel-studio trajectory with editor state reopens exactly (keyframes and interpolation);
    any other file's frames become keyframes: all of them when there are at most ``MAX_FRAMES`` and
    their number is ``1 + 4k``, so the frames come back exactly; otherwise evenly spaced ones (a
    nerfstudio path then reopens its own editable keyframes).
    Raises ``ValueError`` (``CameraFileError``) naming the file and the problem.
    """
    file = Path(file)
    fmt = detect_format(file)
    if fmt == "colmap":
        raise CameraFileError(file, "COLMAP models hold reconstructions, not camera paths; load them as ground "
                                    "truth for a clip instead, or import a trajectory / camera_path / transforms / "
                                    "RealEstate10K file")
    if fmt == "trajectory":
        doc = load_trajectory_document(file)
        if doc["keyframes"]:
            try:
                kfs = [Keyframe.from_dict(d) for d in doc["keyframes"]]
            except ValueError as exc:
                raise CameraFileError(file, f"keyframes: {exc}") from exc
            settings = _settings_from(doc.get("interpolation") or {}, current, doc.get("fps"))
            return ImportedPath(kfs, settings, f"{len(kfs)} keyframes and the interpolation settings restored")
        return _from_frames(doc["cameras"], current, f"{file.name}: trajectory")
    if fmt == "nerfstudio_path":
        cams = load_cameras(file)
        n = len(cams)
        kfs = [] if n <= MAX_FRAMES and nearest_frame_count(n) == n else _nerfstudio_keyframes(file)
        if kfs:  # its frames cannot come back exactly: reopen its editable keyframes instead
            doc = json.loads(file.read_text())
            settings = dataclasses.replace(current, loop=bool(doc.get("is_cycle", False)),
                                           fps=float(doc.get("fps", current.fps)), num_frames=nearest_frame_count(n))
            return ImportedPath(kfs, settings, f"{len(kfs)} nerfstudio keyframes")
        return _from_frames(cams, current, f"{file.name}: nerfstudio path")
    cams = load_cameras(file, width=width, height=height) if fmt == "re10k" else load_cameras(file)
    return _from_frames(cams, current, f"{file.name}: {fmt}")


def keyframes_from_trajectory(cams: Cameras, *, max_keyframes: int = MAX_IMPORTED_KEYFRAMES,
                              fps: float = 8.0, keep_all: bool = False) -> list[Keyframe]:
    """Keyframes at evenly spaced frames of a trajectory (all frames with ``keep_all``).

    FOV is each frame's vertical FOV (an off-centre principal point or non-square pixels cannot be
    kept by keyframes); transition times come from the timestamps, else from ``fps``. Frames with
    the same camera as the previous keyframe are skipped (a path cannot stand still between keyframes).
    """
    n = len(cams)
    if n < 2:
        raise PathError(f"a path needs at least 2 cameras, the file has {n}")
    idx = list(range(n)) if keep_all or n <= max_keyframes else \
        sorted(set(np.round(np.linspace(0, n - 1, max_keyframes)).astype(int).tolist()))
    c2w = cams.c2w.detach().double().cpu()
    fov = torch.rad2deg(cams.fov_y.detach().double().cpu()).tolist()
    ts = cams.timestamps.detach().double().cpu().numpy() if cams.timestamps is not None else np.arange(n) / fps
    kept: list[int] = []
    for i in idx:
        if kept and torch.allclose(c2w[i], c2w[kept[-1]], atol=1e-9, rtol=0) and abs(fov[i] - fov[kept[-1]]) < 1e-9:
            continue
        kept.append(i)
    if len(kept) < 2:
        raise PathError("every camera in the file is the same: there is no path to follow")
    out = []
    for a, b in zip(kept, kept[1:] + [None]):
        duration = float(ts[b] - ts[a]) if b is not None else None
        if duration is not None and not duration > 0:
            duration = (b - a) / fps
        out.append(Keyframe(c2w[a], fov[a], duration=duration))
    return out


def nearest_frame_count(n: int) -> int:
    """The valid ``1 + 4k`` frame count nearest ``n`` within the editor's range."""
    k = round((n - 1) / TEMPORAL_FACTOR)
    return max(MIN_FRAMES, min(MAX_FRAMES, 1 + TEMPORAL_FACTOR * k))


def frames_as_path(cams: Cameras, current: PathSettings, *, fps: float) -> tuple[list[Keyframe], PathSettings, str]:
    """Every frame of ``cams`` (N,) as a keyframe, with the settings that give those frames back exactly.

    The path's frames are evenly spaced in time and pass through keyframes exactly, so frame k is keyframe k
    only with even keyframe durations (``1 / fps``; uneven timestamps are evened out), no constant-speed
    reparametrisation and no loop. Returns the keyframes, the settings and a note of what was switched off
    (empty when nothing was). Fewer keyframes than frames come back when consecutive frames are the same camera.
    """
    n = len(cams)
    kfs = keyframes_from_trajectory(cams, keep_all=True, fps=fps)
    kfs = [kf if kf.duration is None else dataclasses.replace(kf, duration=1.0 / fps) for kf in kfs]
    settings = dataclasses.replace(current, num_frames=nearest_frame_count(n), fps=fps, loop=False,
                                   constant_speed=False)
    off = [name for name, was in (("constant speed", current.constant_speed), ("loop", current.loop)) if was]
    return kfs, settings, f" ({' and '.join(off)} switched off for it)" if off else ""


def _from_frames(cams: Cameras, current: PathSettings, what: str) -> ImportedPath:
    n = len(cams)
    fps = _fps_of(cams) or current.fps
    if n <= MAX_FRAMES and nearest_frame_count(n) == n:
        kfs, settings, switched = frames_as_path(cams, current, fps=fps)
        if len(kfs) == n:
            return ImportedPath(kfs, settings, f"{what} with {n} frames: every frame is a keyframe, so the frames "
                                               f"come back exactly{switched}")
    kfs = keyframes_from_trajectory(cams, fps=fps)
    settings = dataclasses.replace(current, num_frames=nearest_frame_count(n), fps=fps, loop=False)
    return ImportedPath(kfs, settings, f"{what} with {n} frames: {len(kfs)} keyframes at evenly spaced frames")


def _fps_of(cams: Cameras) -> float | None:
    if cams.timestamps is None or len(cams) < 2:
        return None
    dt = float(np.median(np.diff(cams.timestamps.double().cpu().numpy())))
    return round(1.0 / dt, 3) if dt > 0 and 0 < 1.0 / dt <= 120 else None


def _settings_from(interp: dict, current: PathSettings, fps: float | None) -> PathSettings:
    known = {f.name for f in dataclasses.fields(PathSettings)}
    values = {k: v for k, v in interp.items() if k in known}
    if fps is not None and "fps" not in values:
        values["fps"] = fps
    try:
        return dataclasses.replace(current, **values)
    except (PathError, TypeError, ValueError):
        return current


def _nerfstudio_keyframes(file: Path) -> list[Keyframe]:
    """The editable keyframes of a nerfstudio path (OpenGL matrices -> OpenCV), or [] if it has none."""
    try:
        doc = json.loads(file.read_text())
        raw = doc.get("keyframes") or []
        default_sec = float(doc.get("default_transition_sec") or 1.0)
        out = []
        for item in raw:
            gl = torch.tensor(item["matrix"], dtype=torch.float64).reshape(4, 4)
            fov = float(item.get("fov", doc.get("default_fov", 50.0)))
            sec = float(item["override_transition_sec"]) if item.get("override_transition_enabled") else default_sec
            out.append(Keyframe(opengl_to_opencv_c2w(gl), fov, duration=sec if math.isfinite(sec) and sec > 0
                                else None))
        return out
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CameraFileError(file, f"keyframes: {exc}") from exc
