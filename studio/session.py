"""``StudioSession``: everything one browser session owns, in plain Python (unit-testable without a browser).

The camera path (``CameraPath``), the look-at point, the scene context, uploaded photos and clip,
ground truth, the latest results of each task, the running job and the message shown to the user.
Results are only replaced by a successful run: a failure or a cancellation leaves them, and the path,
as they were. Listeners (the viewport) hear which layer changed.
"""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from geometry import Cameras, Keyframe, invert_pose

from .camera_path import CameraPath, PathError, PathSettings
from .config import StudioConfig
from .evaluation import PoseComparison, compare_poses
from .gallery import Example
from .jobs import Job
from .path_io import ImportedPath, export_path, frames_as_path, import_path, nearest_frame_count
from .presets import LABELS, in_place_change, preset_keyframes, same_camera
from .scene_context import SceneContext, load_scene_context
from .uploads import Clip, load_camera_file, load_clip, read_photos, read_video

DEFAULT_LOOK_AT = np.array([0.0, 0.0, 2.0])
LAYERS = ("path", "look_at", "scene", "photos", "generation", "estimate", "compare")


@dataclass
class Notice:
    """The message line under the title. ``level``: info, ok, warning or error."""

    level: str = "info"
    text: str = ""

    ICONS = {"info": "ℹ", "ok": "✔", "warning": "⚠", "error": "✖"}

    @property
    def markdown(self) -> str:
        if not self.text:
            return ""
        text = html.escape(self.text)
        return f'<div class="notice notice-{self.level}">{self.ICONS.get(self.level, "")} {text}</div>'


@dataclass
class GenerationResult:
    frames: np.ndarray                  # (T, H, W, 3) uint8 on the model grid
    cameras: Cameras                    # the cameras the frames belong to (path, or predicted when joint)
    mode: str                           # "path" or "joint"
    source_frames: list[int]
    elapsed: float
    steps: int
    files: list[Path] = field(default_factory=list)
    upscaled_size: tuple[int, int] | None = None   # (width, height) of the plain-resize copy among the files


@dataclass
class PoseEstimate:
    clip_name: str
    method: str                         # "raxels", "two-view" or "colmap" (``evaluation.METHODS``)
    frame_ids: np.ndarray               # indices into the clip of the frames used (every frame)
    frames: np.ndarray                  # (T, H, W, 3) those frames
    cameras: Cameras                    # predicted, for the clip's pixels, canonical to the first used frame
    steps: int
    elapsed: float
    comparison: PoseComparison | None = None
    gt: Cameras | None = None           # ground truth of the used frames
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


@dataclass
class GroundTruthComparison:
    frame_ids: np.ndarray
    reference: np.ndarray               # (T, H, W, 3) ground-truth frames on the model grid
    generated: np.ndarray               # (T, H, W, 3)
    psnr: np.ndarray
    ssim: np.ndarray
    label: str = "generated along the ground-truth cameras"
    extra: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    source_index: int | None = None     # the frame that is the input photo itself (no scores: NaN)
    # answers shown beside the model's (label -> {"frames", "psnr", "ssim"}, per frame, NaN at the source):
    # ``evaluation.COPY_LABEL`` and ``WARP_LABEL`` in the generated-vs-ground-truth comparison
    baselines: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


class StudioSession:
    """One user's studio. Create with the engine's frame size; call ``close()`` when the tab goes."""

    def __init__(self, config: StudioConfig | None = None, *, frame_width: int = 32, frame_height: int = 32,
                 num_frames: int = 9, session_id: str | None = None):
        self.config = config or StudioConfig()
        self.id = session_id or uuid.uuid4().hex[:12]
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"raxel-studio-{self.id}-"))
        self.path = CameraPath(width=frame_width, height=frame_height,
                               settings=PathSettings(num_frames=nearest_frame_count(num_frames)))
        self.model_frames = int(num_frames)     # the engine's native clip length (its info's "frames")
        self.look_at_point = DEFAULT_LOOK_AT.copy()
        self.scene: SceneContext | None = None
        self.photos: list[np.ndarray] = []
        self.photo_names: list[str] = []
        self.photo_position = "first"
        self.clip: Clip | None = None
        self.clip_gt: Cameras | None = None
        self.example: Example | None = None
        self.generation: GenerationResult | None = None
        # One result per method, side by side (running one method keeps the others'); ``estimate`` is the latest.
        self.estimates: dict[str, PoseEstimate] = {}
        self._latest_method: str | None = None
        self.comparison: GroundTruthComparison | None = None
        self.cycle: GroundTruthComparison | None = None
        self.job: Job | None = None
        self.notice = Notice("info", "Add keyframes from the viewport, or pick a preset or an example to start.")
        self.preview_frame = 0
        self._listeners: list[Callable[[str], None]] = []
        self.revision = 0                   # bumped by every change a listener hears
        self.path.subscribe(lambda: self.notify("path"))
        self.closed = False

    # ---- listeners and messages ------------------------------------------------------------------------

    def subscribe(self, fn: Callable[[str], None]) -> None:
        self._listeners.append(fn)

    def notify(self, layer: str) -> None:
        self.revision += 1
        for fn in list(self._listeners):
            fn(layer)

    def info(self, text: str) -> None:
        self.notice = Notice("info", text)

    def ok(self, text: str) -> None:
        self.notice = Notice("ok", text)

    def warn(self, text: str) -> None:
        self.notice = Notice("warning", _without_folders(text))

    def error(self, text: str) -> None:
        self.notice = Notice("error", _without_folders(text))

    def clear_error(self) -> None:
        """Drop an error notice: a new user action makes it stale (a failing action sets its own)."""
        if self.notice.level == "error":
            self.notice = Notice("info", "")

    def guarded(self, action: Callable[[], str | None], *, what: str) -> bool:
        """Run an edit; a ``ValueError`` becomes an error notice (state unchanged), success an ok notice."""
        try:
            msg = action()
        except (ValueError, PathError) as exc:
            self.error(f"{what}: {exc}")
            return False
        if msg:
            self.ok(msg)
        return True

    # ---- clip results -------------------------------------------------------------------------------

    @property
    def estimate(self) -> PoseEstimate | None:
        """The most recently stored prediction (the detail table, the error plot, "use as path")."""
        return self.estimates.get(self._latest_method) if self._latest_method else None

    def store_estimate(self, est: PoseEstimate) -> None:
        """Keep ``est`` beside the other methods' results for the same clip (replacing only its own method's)."""
        if any(e.clip_name != est.clip_name for e in self.estimates.values()):
            self.estimates.clear()
        self.estimates[est.method] = est
        self._latest_method = est.method
        self.notify("estimate")

    # ---- path helpers ---------------------------------------------------------------------------------

    def source_frame(self, num_frames: int | None = None) -> int:
        """Frame index the first photo sits at (first / middle / last)."""
        n = num_frames or self.path.settings.num_frames
        return {"first": 0, "middle": n // 2, "last": n - 1}[self.photo_position]

    def anchor_camera(self, viewport_c2w: np.ndarray | None = None) -> np.ndarray:
        """Where a preset starts: the selected keyframe, else the viewport camera, else the origin."""
        kfs, sel = self.path.keyframes, self.path.selected
        if sel is not None and kfs:
            return kfs[sel].c2w.numpy()
        if viewport_c2w is not None:
            return np.asarray(viewport_c2w, dtype=np.float64)
        return np.eye(4)

    def set_look_at(self, point) -> None:
        p = np.asarray(point, dtype=np.float64).reshape(3)
        if not np.isfinite(p).all():
            raise ValueError("the look-at point must be finite")
        self.look_at_point = p
        self.notify("look_at")

    def apply_preset(self, name: str, params: dict, *, mode: str = "replace", count: int | None = None,
                     seconds: float = 2.0, viewport_c2w: np.ndarray | None = None,
                     fov_y_deg: float | None = None) -> str | None:
        """Insert a preset move around the look-at point. ``mode``: "replace" (the whole path) or
        "insert" (after the selected keyframe, continuing from it). ``fov_y_deg`` None: the preset's own FOV.
        Returns a message, or None when it set a warning notice instead (an insert that turns in place)."""
        anchor = self.anchor_camera(viewport_c2w)
        eye = anchor[:3, 3]
        if np.linalg.norm(eye - self.look_at_point) < 1e-6:
            raise ValueError("the start camera sits on the look-at point; pick another look-at point")
        kfs, closed = preset_keyframes(name, params, eye=eye, target=self.look_at_point, count=count,
                                       seconds=seconds, fov_y_deg=fov_y_deg, width=self.path.width,
                                       height=self.path.height)
        label = LABELS.get(name, name)
        if mode == "replace" or not self.path.keyframes:
            self.path.replace(kfs, settings=_with_loop(self.path.settings, closed))
            return f"{label}: a path of {len(kfs)} keyframes around the look-at point"
        if mode != "insert":
            raise ValueError(f"mode must be 'replace' or 'insert', got {mode!r}")
        sel = self.path.selected if self.path.selected is not None else len(self.path) - 1
        start = self.path.keyframes[sel]
        turn = in_place_change(start, kfs[0])    # the move starts where the keyframe is, facing elsewhere
        if same_camera(kfs[0], start):
            kfs = kfs[1:]
        self.path.insert_many(kfs, index=sel + 1)
        msg = f"{label}: {len(kfs)} keyframes inserted after keyframe {sel + 1}"
        if turn:
            self.warn(f"{msg}. Keyframes {sel + 1} and {sel + 2} are at the same spot: the path {turn} in place "
                      "there (pick a look-at point that keyframe already faces, or move one of them)")
            return None
        return msg

    def import_path_file(self, file) -> str:
        imported: ImportedPath = import_path(file, width=self.path.width, height=self.path.height,
                                             current=self.path.settings)
        self.path.replace(imported.keyframes, settings=imported.settings)
        return f"imported {Path(file).name}: {imported.note}"

    def export_path_file(self, fmt: str) -> Path:
        return export_path(self.path, fmt, self.work_dir / "exports")

    def path_from_cameras(self, cams: Cameras, what: str) -> str:
        """Replace the path by keyframes of a trajectory (a predicted or ground-truth one): the cameras at the
        frames the model would use (evenly spaced, as for a clip), so the path's frames are exactly those."""
        n, T = len(cams), self.path.settings.num_frames
        if n > T:
            cams = cams[np.round(np.linspace(0, n - 1, T)).astype(int).tolist()]
        kfs, settings, switched = frames_as_path(cams, self.path.settings, fps=self.path.settings.fps)
        self.path.replace(kfs, settings=settings)
        return f"the path now follows {what} ({len(kfs)} keyframes){switched}"

    # ---- inputs ---------------------------------------------------------------------------------------

    def set_photos(self, files) -> str | None:
        """Use the readable photos of an upload; unreadable ones are named and skipped (a warning). An upload
        with none readable is refused and the photos already held stay."""
        photos, names, skipped = read_photos(files, self.config)
        self.set_photo_arrays(photos, names)
        msg = f"{len(photos)} photo(s) ready: {', '.join(self.photo_names)}"
        if not skipped:
            return msg
        self.warn(f"{msg}; skipped {'; '.join(skipped)}")
        return None

    def set_photo_arrays(self, photos: list[np.ndarray], names: list[str]) -> None:
        same = len(photos) == len(self.photos) and all(np.array_equal(a, b) for a, b in zip(photos, self.photos))
        self.photos, self.photo_names = list(photos), list(names)
        if not same:
            self._drop_generation()
        self.notify("photos")

    def set_photo_position(self, position: str) -> None:
        if position not in ("first", "middle", "last"):
            raise ValueError(f"the photo position must be first, middle or last, got {position!r}")
        if position != self.photo_position:
            self._drop_generation()
        self.photo_position = position
        self.notify("photos")

    def set_clip(self, files) -> str:
        clip = load_clip(files, self.config, min_frames=2)
        self._use_clip(clip, None)
        return f"clip {clip.name}: {clip.num_frames} frames of {clip.size[0]}x{clip.size[1]}"

    # ---- results whose source changed ---------------------------------------------------------------------
    # A result is drawn where its inputs were: when the inputs change it no longer belongs in the 3D view or the
    # plots, so it goes (its downloads stay in the page's file boxes until the next run).

    def _drop_generation(self) -> None:
        if self.generation is not None:
            self.generation = None
            self.notify("generation")

    def _use_clip(self, clip: Clip | None, gt: Cameras | None) -> None:
        """A new clip (and its ground truth): predictions and comparisons of the old one go."""
        self.clip, self.clip_gt = clip, gt
        stale = bool(self.estimates) or self.comparison is not None or self.cycle is not None
        self.estimates.clear()
        self._latest_method = None
        self.comparison = self.cycle = None
        if stale:
            self.notify("estimate")
            self.notify("compare")

    def photo_camera(self) -> torch.Tensor:
        """(4, 4) c2w of where the (first) photo sits: the path's camera at the source frame, else the origin
        (the viewport draws the photo there too)."""
        cams = self.path.try_cameras()
        if cams is None:
            return torch.eye(4, dtype=torch.float64)
        return cams.c2w[self.source_frame(len(cams))].double()

    @staticmethod
    def placed_at(cams: Cameras, source_frame: int, photo_c2w: torch.Tensor) -> Cameras:
        """A predicted trajectory (N,) moved rigidly so that its ``source_frame`` camera is the photo's camera:
        ``c2w_k -> photo_c2w @ inv(c2w_src) @ c2w_k`` (its own scale kept; raxel units are not scene units)."""
        c2w = cams.c2w.detach().double().cpu()
        move = photo_c2w.double() @ invert_pose(c2w[source_frame])
        return cams.with_poses((move @ c2w).to(cams.c2w))

    def set_ground_truth(self, files) -> str:
        if self.clip is None:
            raise ValueError("upload a clip before its ground-truth cameras")
        w, h = self.clip.size
        self.clip_gt = load_camera_file(files, self.config, width=w, height=h, expected=self.clip.num_frames)
        return f"ground truth: {len(self.clip_gt)} cameras"

    def rescore_estimate(self) -> bool:
        """Score every method's prediction against newly loaded ground truth of the same clip."""
        gt = self.clip_gt
        if gt is None or self.clip is None:
            return False
        scored = False
        for est in self.estimates.values():
            if est.clip_name != self.clip.name or int(est.frame_ids.max()) >= len(gt):
                continue
            est.gt = gt[est.frame_ids.tolist()]
            est.comparison = compare_poses(est.cameras, est.gt)
            scored = True
        if scored:
            self.notify("estimate")
        return scored

    def load_example(self, example: Example) -> str:
        """Clip, ground truth, scene preview, photo (the clip's first frame) and path (the ground-truth
        trajectory) of a gallery example. Earlier state stays if the example cannot be read."""
        clip = gt = scene = None
        if example.clip is not None:
            if example.clip.is_dir():
                clip = load_clip(sorted(p for p in example.clip.iterdir() if p.is_file()), self.config)
            else:
                frames, fps = read_video(example.clip, self.config)
                clip = Clip(example.title, frames, fps)
        if example.cameras is not None and clip is not None:
            w, h = clip.size
            gt = load_camera_file(example.cameras, self.config, width=w, height=h, expected=clip.num_frames)
        if example.preview is not None:
            scene = load_scene_context(example.preview, example.title)
        self.example, self.scene = example, scene
        self._use_clip(clip, gt)
        parts = [example.title]
        if clip is not None:
            self.set_photo_arrays([clip.frames[0]], [f"{example.title} frame 0"])
            self.photo_position = "first"
            parts.append(f"{clip.num_frames} frames")
        if gt is not None:
            self.path_from_cameras(gt, "the example's ground-truth cameras")
            self.look_at_point = _scene_centre(scene, gt)
            self.notify("look_at")
            parts.append("ground-truth path loaded")
        elif scene is not None and scene.bounds is not None:
            self.look_at_point = scene.bounds.mean(0).astype(np.float64)
            self.notify("look_at")
        else:                                   # nothing to aim at: the old example's point must not stay
            self.look_at_point = DEFAULT_LOOK_AT.copy()
            self.notify("look_at")
        if example.look_at is not None:
            self.look_at_point = np.asarray(example.look_at, dtype=np.float64)
            self.notify("look_at")
        self.notify("scene")
        return "example " + ", ".join(parts)

    # ---- lifetime -------------------------------------------------------------------------------------

    def close(self) -> None:
        if self.job is not None and not self.job.state.finished:
            self.job.cancel()
        self.closed = True
        self._listeners.clear()
        shutil.rmtree(self.work_dir, ignore_errors=True)


_FOLDERS = re.compile(r"(?:/[\w.\-]+)+/(?=[\w.\-]+)")


def _without_folders(text: str) -> str:
    """Messages name files, not the server's upload folders: '/tmp/gradio/ab12/x.json' -> 'x.json'."""
    return _FOLDERS.sub("", text)


def _with_loop(settings: PathSettings, loop: bool) -> PathSettings:
    return dataclasses.replace(settings, loop=loop)


def _scene_centre(scene: SceneContext | None, cams: Cameras) -> np.ndarray:
    if scene is not None and scene.bounds is not None:
        return scene.bounds.mean(0).astype(np.float64)
    c = cams.centers.double().numpy()
    fwd = cams.R[..., :, 2].double().numpy()
    spread = float(np.linalg.norm(np.ptp(c, axis=0))) or 1.0
    return (c.mean(0) + fwd.mean(0) * max(spread, 1.0)).astype(np.float64)


def keyframe_from_viewer(position, wxyz, fov_rad: float) -> Keyframe:
    """A keyframe from a viewer camera (OpenCV axes, wxyz quaternion, vertical FOV in radians)."""
    from geometry import make_pose, quaternion_to_matrix

    R = quaternion_to_matrix(torch.as_tensor(np.asarray(wxyz, dtype=np.float64)))
    return Keyframe(make_pose(R, torch.as_tensor(np.asarray(position, dtype=np.float64))), float(np.degrees(fov_rad)))
