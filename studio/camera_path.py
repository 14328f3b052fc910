"""``CameraPath``: the keyframes the user edits, the interpolation settings, undo/redo, and the exact
per-frame cameras that are drawn in the viewport and sent to the engine.

Pure state: no UI, no Viser. Thread-safe (edits come from page callbacks and viewport callbacks).
Conventions are the package's (``geometry``): OpenCV camera-to-world, vertical FOV in degrees.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from geometry import Cameras, Keyframe, interpolate

from .history import UndoHistory

MIN_FRAMES = 5                 # the smallest 1 + 4k clip worth generating
MAX_FRAMES = 49
TEMPORAL_FACTOR = 4


class PathError(ValueError):
    """The path cannot be turned into cameras (too few keyframes, coincident keyframes, bad settings)."""


@dataclass(frozen=True)
class PathSettings:
    """How keyframes become frames. ``num_frames`` is the model's ``1 + 4k``; ``fps`` is the playback rate."""

    num_frames: int = 9
    fps: float = 8.0
    tension: float = 0.0
    loop: bool = False
    constant_speed: bool = False

    def __post_init__(self) -> None:
        n = self.num_frames
        if isinstance(n, bool) or int(n) != n or not MIN_FRAMES <= n <= MAX_FRAMES or (n - 1) % TEMPORAL_FACTOR:
            raise PathError(f"number of frames must be 1 + {TEMPORAL_FACTOR}k between {MIN_FRAMES} and "
                            f"{MAX_FRAMES} (5, 9, 13, ...), got {n}")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 120):
            raise PathError(f"fps must be in (0, 120], got {self.fps}")
        if not -1.0 <= self.tension <= 1.0:
            raise PathError(f"tension must be in [-1, 1], got {self.tension}")
        object.__setattr__(self, "num_frames", int(n))
        object.__setattr__(self, "fps", float(self.fps))
        object.__setattr__(self, "tension", float(self.tension))
        object.__setattr__(self, "loop", bool(self.loop))
        object.__setattr__(self, "constant_speed", bool(self.constant_speed))


@dataclass(frozen=True)
class PathSnapshot:
    """One undoable state: the keyframes, the settings and which keyframe is selected."""

    keyframes: tuple[Keyframe, ...] = ()
    settings: PathSettings = PathSettings()
    selected: int | None = None


def keyframe_look_at(kf: Keyframe, pivot: Sequence[float] | None) -> np.ndarray:
    """The point a keyframe looks at, for numeric editing: on its optical axis, as deep as ``pivot``
    (the scene's look-at point) when that lies ahead of the camera, else 1 unit ahead."""
    pos, fwd = kf.position.numpy(), kf.forward.numpy()
    depth = 1.0
    if pivot is not None:
        ahead = float(np.dot(np.asarray(pivot, dtype=np.float64) - pos, fwd))
        if ahead > 1e-3:
            depth = ahead
    return pos + depth * fwd


def coincident_keyframes(kfs: Sequence[Keyframe], *, loop: bool) -> tuple[int, int] | None:
    """The first consecutive pair (0-based indices; with ``loop`` the last and the first too) with the same
    pose and FOV, which no path can move between; None when there is none."""
    pairs = [(i, i + 1) for i in range(len(kfs) - 1)] + ([(len(kfs) - 1, 0)] if loop and len(kfs) > 1 else [])
    for a, b in pairs:
        if torch.allclose(kfs[a].c2w, kfs[b].c2w, rtol=0.0, atol=1e-12) and \
                abs(kfs[a].fov_y_deg - kfs[b].fov_y_deg) < 1e-9:
            return a, b
    return None


def keyframe_roll(kf: Keyframe) -> float:
    """Roll in degrees, 0 when undefined (looking straight up or down)."""
    try:
        return kf.roll_deg
    except ValueError:
        return 0.0


class CameraPath:
    """The editable path. Every edit is undoable; ``revision`` counts edits; listeners hear each one."""

    def __init__(self, *, width: int, height: int, settings: PathSettings | None = None):
        self.width, self.height = int(width), int(height)
        self._snap = PathSnapshot(settings=settings or PathSettings())
        self._history: UndoHistory[PathSnapshot] = UndoHistory()
        self._lock = threading.RLock()
        self._cache: tuple[PathSnapshot, Cameras] | None = None
        self.revision = 0
        self._listeners: list[Callable[[], None]] = []

    # ---- reading ---------------------------------------------------------------------------------

    @property
    def keyframes(self) -> tuple[Keyframe, ...]:
        return self._snap.keyframes

    @property
    def settings(self) -> PathSettings:
        return self._snap.settings

    @property
    def selected(self) -> int | None:
        return self._snap.selected

    @property
    def snapshot(self) -> PathSnapshot:
        return self._snap

    def __len__(self) -> int:
        return len(self._snap.keyframes)

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    def cameras(self, num_frames: int | None = None) -> Cameras:
        """The exact cameras of the path (float64), for the viewport and for the engine.

        Raises ``PathError`` with a message for the user when the path is empty or degenerate.
        """
        snap = self._snap
        kfs, s = snap.keyframes, snap.settings
        if len(kfs) < 2:
            raise PathError(f"the path needs at least 2 keyframes (it has {len(kfs)}): add keyframes from the "
                            "viewport or apply a preset")
        n = s.num_frames if num_frames is None else num_frames
        if num_frames is None and self._cache is not None and self._cache[0] is snap:
            return self._cache[1]
        pair = coincident_keyframes(kfs, loop=s.loop)
        if pair is not None:     # numbered as the table numbers keyframes (from 1)
            a, b = pair
            hint = " (the loop already returns to keyframe 1: delete the repeated last one)" if b == 0 else \
                f": move or delete keyframe {b + 1}"
            raise PathError(f"the path is degenerate: keyframes {a + 1} and {b + 1} are the same camera (same "
                            f"pose and FOV), so the path cannot move between them{hint}")
        try:
            cams = interpolate(list(kfs), n, width=self.width, height=self.height, tension=s.tension,
                               loop=s.loop, constant_speed=s.constant_speed, fps=s.fps)
        except ValueError as exc:
            msg = str(exc).removeprefix("interpolate: ")
            raise PathError(f"the path is degenerate: {msg}") from exc
        if num_frames is None:
            self._cache = (snap, cams)
        return cams

    def try_cameras(self) -> Cameras | None:
        try:
            return self.cameras()
        except PathError:
            return None

    def dense_positions(self, samples: int = 160) -> np.ndarray | None:
        """(M, 3) camera centres along the same spline, finely sampled, to draw the curve."""
        try:
            return self.cameras(num_frames=samples).centers.numpy()
        except PathError:
            return None

    # ---- listeners ---------------------------------------------------------------------------------

    def subscribe(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def _changed(self) -> None:
        self.revision += 1
        for fn in list(self._listeners):
            fn()

    # ---- editing -----------------------------------------------------------------------------------

    def _commit(self, snap: PathSnapshot, *, record: bool = True) -> None:
        with self._lock:
            if record:
                self._history.record(self._snap)
            self._snap = snap
        self._changed()

    def _index(self, i: int | None) -> int:
        n = len(self._snap.keyframes)
        if i is None:
            if self._snap.selected is None:
                raise PathError("select a keyframe first (click it in the viewport or pick it in the list)")
            i = self._snap.selected
        if not 0 <= int(i) < n:
            raise PathError(f"there is no keyframe {int(i) + 1} (the path has {n})")
        return int(i)

    def checkpoint(self) -> None:
        """Record the current state for undo without changing it (start of a gizmo drag)."""
        with self._lock:
            self._history.record(self._snap)

    def add(self, kf: Keyframe, *, index: int | None = None) -> int:
        """Insert a keyframe (default: after the selected one, else at the end) and select it."""
        with self._lock:
            kfs = list(self._snap.keyframes)
            if index is None:
                index = len(kfs) if self._snap.selected is None else self._snap.selected + 1
            index = max(0, min(int(index), len(kfs)))
            kfs.insert(index, kf)
            self._commit(dataclasses.replace(self._snap, keyframes=tuple(kfs), selected=index))
            return index

    def add_camera(self, c2w: np.ndarray | torch.Tensor, fov_y_deg: float, *, duration: float | None = None) -> int:
        return self.add(Keyframe(torch.as_tensor(np.asarray(c2w), dtype=torch.float64), fov_y_deg,
                                 duration=duration))

    def insert_many(self, keyframes: Sequence[Keyframe], *, index: int | None = None) -> None:
        with self._lock:
            kfs = list(self._snap.keyframes)
            at = len(kfs) if index is None else max(0, min(int(index), len(kfs)))
            kfs[at:at] = list(keyframes)
            self._commit(dataclasses.replace(self._snap, keyframes=tuple(kfs), selected=at + len(keyframes) - 1))

    def replace(self, keyframes: Sequence[Keyframe], settings: PathSettings | None = None) -> None:
        """A whole new path (a preset, an import), undoable in one step."""
        self._commit(PathSnapshot(tuple(keyframes), settings or self._snap.settings,
                                  len(keyframes) - 1 if keyframes else None))

    def select(self, i: int | None) -> None:
        """Selection is not an undoable edit, but listeners hear it."""
        with self._lock:
            if i is not None:
                i = self._index(i)
            if i == self._snap.selected:
                return
            self._snap = dataclasses.replace(self._snap, selected=i)
        self._changed()

    def delete(self, i: int | None = None) -> None:
        with self._lock:
            i = self._index(i)
            kfs = list(self._snap.keyframes)
            del kfs[i]
            sel = min(i, len(kfs) - 1) if kfs else None
            self._commit(dataclasses.replace(self._snap, keyframes=tuple(kfs), selected=sel))

    def move(self, i: int | None, offset: int) -> int:
        """Reorder: move keyframe ``i`` by ``offset`` places (clamped). Returns its new index."""
        with self._lock:
            i = self._index(i)
            kfs = list(self._snap.keyframes)
            j = max(0, min(len(kfs) - 1, i + int(offset)))
            if j == i:
                return i
            kfs.insert(j, kfs.pop(i))
            self._commit(dataclasses.replace(self._snap, keyframes=tuple(kfs), selected=j))
            return j

    def clear(self) -> None:
        self._commit(dataclasses.replace(self._snap, keyframes=(), selected=None))

    def set_pose(self, i: int | None, c2w: np.ndarray | torch.Tensor, *, record: bool = True) -> None:
        """New pose for keyframe ``i`` (the gizmo); FOV and timing kept."""
        with self._lock:
            i = self._index(i)
            kf = self._snap.keyframes[i]
            new = Keyframe(torch.as_tensor(np.asarray(c2w), dtype=torch.float64), kf.fov_y_deg, kf.time, kf.duration)
            self._replace_one(i, new, record=record)

    def edit(self, i: int | None = None, *, position: Sequence[float] | None = None,
             look_at: Sequence[float] | None = None, roll_deg: float | None = None,
             fov_y_deg: float | None = None, duration: float | None = None) -> None:
        """Numeric edit of one keyframe. Position, look-at and roll rebuild the pose (upright, then rolled);
        FOV and duration alone keep the pose bit for bit."""
        with self._lock:
            i = self._index(i)
            kf = self._snap.keyframes[i]
            try:
                if position is not None or look_at is not None or roll_deg is not None:
                    eye = np.asarray(position if position is not None else kf.position.numpy(), dtype=np.float64)
                    target = np.asarray(look_at if look_at is not None else keyframe_look_at(kf, None),
                                        dtype=np.float64)
                    roll = keyframe_roll(kf) if roll_deg is None else float(roll_deg)
                    kf = Keyframe.look_at(eye, target, fov_y_deg=kf.fov_y_deg, roll_deg=roll, time=kf.time,
                                          duration=kf.duration)
                changes = {}
                if fov_y_deg is not None:
                    changes["fov_y_deg"] = float(fov_y_deg)
                if duration is not None:
                    changes["duration"] = float(duration)
                if changes:
                    kf = dataclasses.replace(kf, **changes)
            except ValueError as exc:
                raise PathError(f"keyframe {i + 1}: {exc}") from exc
            self._replace_one(i, kf, record=True)

    def _replace_one(self, i: int, kf: Keyframe, *, record: bool) -> None:
        kfs = list(self._snap.keyframes)
        kfs[i] = kf
        self._commit(dataclasses.replace(self._snap, keyframes=tuple(kfs), selected=i), record=record)

    def set_settings(self, **changes) -> None:
        """Change interpolation settings (validated; an invalid value raises ``PathError`` and changes nothing)."""
        with self._lock:
            new = dataclasses.replace(self._snap.settings, **changes)
            if new == self._snap.settings:
                return
            self._commit(dataclasses.replace(self._snap, settings=new))

    def undo(self) -> bool:
        with self._lock:
            prev = self._history.undo(self._snap)
            if prev is None:
                return False
            self._snap = prev
        self._changed()
        return True

    def redo(self) -> bool:
        with self._lock:
            nxt = self._history.redo(self._snap)
            if nxt is None:
                return False
            self._snap = nxt
        self._changed()
        return True

    def resize(self, width: int, height: int) -> None:
        """Image size the cameras refer to (the engine's frame); not an undoable edit."""
        if (width, height) != (self.width, self.height):
            self.width, self.height = int(width), int(height)
            self._cache = None
            self._changed()

    # ---- summaries -----------------------------------------------------------------------------------

    def rows(self, pivot: Sequence[float] | None = None) -> list[list]:
        """One row per keyframe for a table: #, x, y, z, look-at x y z, roll, FOV, transition seconds."""
        out = []
        kfs = self._snap.keyframes
        for i, kf in enumerate(kfs):
            p = kf.position.numpy()
            t = keyframe_look_at(kf, pivot)
            last = i == len(kfs) - 1 and not self._snap.settings.loop
            dur = "" if last else f"{kf.duration if kf.duration is not None else 1.0:g}"
            mark = "▶ " if i == self._snap.selected else ""
            out.append([f"{mark}{i + 1}", *(round(float(v), 2) for v in p), *(round(float(v), 2) for v in t),
                        round(keyframe_roll(kf), 1), round(kf.fov_y_deg, 1), dur])
        return out
