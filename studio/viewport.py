"""``Viewport``: one session's live 3D scene, a Viser server on a local port shown in an iframe.

It draws the session's state in layers (scene context, keyframes with a gizmo, the spline and a
frustum per output frame, the preview camera, photos, results) and turns viewer input into session
edits (click a keyframe to select it, drag the gizmo, click the scene to pick the look-at point).
Drawing runs on its own thread: edits only mark layers dirty, so callbacks never wait on drawing.

Conventions: the package's (OpenCV camera axes, c2w, vertical FOV); Viser's cameras and frustums use
the same axes, and the viewer is told that the world's up is -y.
"""

from __future__ import annotations

import collections
import html
import logging
import threading
import time
from typing import Any

import numpy as np
import torch
import viser

from geometry import WORLD_UP, Cameras, make_pose, matrix_to_quaternion, quaternion_to_matrix

from .config import StudioConfig
from .media import thumbnail
from .session import StudioSession, keyframe_from_viewer

log = logging.getLogger(__name__)

COLORS = {"keyframe": (255, 140, 0), "selected": (220, 20, 60), "spline": (30, 110, 230), "frame": (90, 90, 110),
          "preview": (0, 170, 80), "look_at": (240, 190, 0), "photo": (120, 60, 200), "gt": (60, 60, 60),
          "joint": (200, 0, 160)}
UP = np.asarray(WORLD_UP, dtype=np.float64)
LEGEND = ("**3D view**: drag to orbit, right-drag to pan, scroll to zoom. "
          "<span style='color:#ff8c00'>■</span> keyframes (click one to select it, then drag its gizmo) · "
          "<span style='color:#dc143c'>■</span> selected · <span style='color:#1e6ee6'>■</span> path, one frustum "
          "per output frame · <span style='color:#00aa50'>■</span> preview camera · "
          "<span style='color:#f0be00'>●</span> look-at point · <span style='color:#783cc8'>■</span> photos · "
          "predicted cameras: <span style='color:#00a0aa'>■</span> the model · "
          "<span style='color:#e6780a'>■</span> two-view (baseline) · <span style='color:#9146c8'>■</span> COLMAP "
          "(baseline), one per clip frame, each labelled at its first camera · ground truth is grey.")
# Each method's predicted frustums (the same colours as ``views.METHOD_PLOT_COLORS``).
METHOD_COLORS = {"raxels": (0, 160, 170), "two-view": (230, 120, 10), "colmap": (145, 70, 200)}
METHOD_LABELS = {"raxels": "the model", "two-view": "two-view (baseline)", "colmap": "COLMAP (baseline)"}


GRID_HALF_WIDTH = 10.0        # the floor grid is 20 x 20 scene units


def near_view(positions: np.ndarray, reach: np.ndarray, views: np.ndarray) -> np.ndarray:
    """(N,) bool: which of N frustums (apex ``positions`` (N, 3), size ``reach`` (N,)) have a viewer camera
    (``views`` (M, 3)) within their reach, i.e. the view would sit inside them and their handles."""
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    views = np.asarray(views, dtype=np.float64).reshape(-1, 3)
    if not len(views) or not len(positions):
        return np.zeros(len(positions), dtype=bool)
    dist = np.linalg.norm(positions[:, None, :] - views[None, :, :], axis=-1).min(1)
    return dist < np.asarray(reach, dtype=np.float64).reshape(-1)


LOOPBACK_ALIASES = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def viewer_host(page_host: str | None, bind_host: str) -> str:
    """The host name the page's iframe uses for a Viser server bound to ``bind_host``.

    On a loopback page the iframe uses the *other* loopback name (127.0.0.1 <-> localhost): a different
    site, so Chromium renders the 3D view in its own process. In one process its software WebGL froze
    the page's buttons for seconds while the view loaded (a fresh tab's first "Add keyframe" was accepted
    after 11-13 s; benchmarks/studio_ready.py). Elsewhere the bind address (or the page's host when
    the server listens on every interface)."""
    name = (page_host or "").strip()
    if name.startswith("["):                      # [::1]:7860
        name = name[: name.find("]") + 1]
    elif name.count(":") == 1:
        name = name.split(":")[0]
    if bind_host in ("127.0.0.1", "localhost", "0.0.0.0", "::") and name in LOOPBACK_ALIASES:
        return LOOPBACK_ALIASES[name]
    if bind_host in ("0.0.0.0", "::") and name:
        return name
    return bind_host


def pose_to_viser(c2w: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(wxyz, position) of an OpenCV camera-to-world pose."""
    c2w = torch.as_tensor(np.asarray(c2w), dtype=torch.float64)
    return matrix_to_quaternion(c2w[:3, :3]).numpy(), c2w[:3, 3].numpy()


def viser_to_pose(wxyz, position) -> np.ndarray:
    R = quaternion_to_matrix(torch.as_tensor(np.asarray(wxyz, dtype=np.float64)))
    return make_pose(R, torch.as_tensor(np.asarray(position, dtype=np.float64))).numpy()


class Viewport:
    """The Viser scene of one session. ``stop()`` frees its port."""

    def __init__(self, session: StudioSession, config: StudioConfig):
        self.session = session
        self.config = config
        self.server = viser.ViserServer(host=config.viser_host, port=config.viser_port, label="raxel-studio",
                                        verbose=False)
        self.port = self.server.get_port()
        self.scale = 0.15
        self.floor_y = 1.0          # the grid: 1 unit below the default cameras (world up is -y)
        self.look_through = False
        self._looked_through: np.ndarray | None = None    # the preview pose the view was last moved to
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._busy = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._dragging = False
        self._gizmo: Any = None
        self._gizmo_index: int | None = None
        self._nodes: dict[str, set[str]] = {}
        self._playing: threading.Event | None = None
        self._picking = False
        self._frustums: dict[str, tuple[np.ndarray, float, Any]] = {}    # name -> apex, reach, handle
        self._camera_seen = threading.Event()     # a viewer has reported its camera: keyframes can be added
        # The studio moves viewers' cameras (go to, look through, frame all). A viewer may still send one
        # report of where it was before that move arrived (measured under load: the frustums stayed
        # hidden after "Frame all" because the old pose overwrote the new one, and nothing corrects it
        # until the user moves the view). Per client: the last move's (c2w, FOV, time), the positions it
        # left within ECHO_WINDOW_S (with their times), and whether the last report was such an echo.
        self._moved: dict[int, tuple[np.ndarray, float, float]] = {}
        self._left: dict[int, list[tuple[np.ndarray, float]]] = {}
        self._echoed: set[int] = set()
        # The last camera moves and reports, for failure messages: what moved the view, and when.
        self._camera_events: collections.deque[str] = collections.deque(maxlen=48)
        self.draw_count = 0
        self._setup()
        session.subscribe(self.mark)
        self._thread = threading.Thread(target=self._draw_loop, name=f"viewport-{session.id}", daemon=True)
        self._thread.start()
        self.mark("all")

    # ---- page side -----------------------------------------------------------------------------------

    def url(self, page_host: str | None = None) -> str:
        """The viewer's address as the page opened on ``page_host`` (the browser's Host header) should load it."""
        return f"http://{viewer_host(page_host, self.config.viser_host)}:{self.port}/"

    def iframe_html(self, height: int = 560, page_host: str | None = None) -> str:
        return (f'<iframe id="viser-frame" src="{html.escape(self.url(page_host))}" title="3D viewport" '
                f'style="width:100%;height:{height}px;border:1px solid #d0d0d8;border-radius:8px" '
                f'allow="fullscreen"></iframe>')

    @property
    def connected(self) -> int:
        return len(self.server.get_clients())

    @property
    def ready(self) -> bool:
        """A viewer is connected and has reported its camera, so "Add keyframe from view" can work."""
        return self._camera_seen.is_set() and self.viewer_camera() is not None

    def wait_ready(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for the first viewer camera; ``ready`` afterwards."""
        self._camera_seen.wait(timeout)
        return self.ready

    def node_names(self, layer: str | None = None) -> set[str]:
        """Names of the scene nodes drawn (per layer), for tests and diagnostics."""
        with self._lock:
            if layer is not None:
                return set(self._nodes.get(layer, set()))
            return set().union(*self._nodes.values()) if self._nodes else set()

    # ---- viewer camera -------------------------------------------------------------------------------

    ECHO_WINDOW_S = 10.0    # how long after a move a report of the pose before it counts as an echo
    # Scene units: the browser reports the pose it computed (float32 matrices), not the one it was sent;
    # a drag moves the view by far more.
    ECHO_TOLERANCE = 1e-3

    def _client_camera(self, c) -> tuple[float, np.ndarray, float] | None:
        """(time, c2w, vertical FOV radians) of one viewer's camera as it is: the pose the studio moved it to
        while its last report only echoed the pose before the move."""
        moved = self._moved.get(c.client_id)
        if moved is not None and c.client_id in self._echoed:
            return moved[2], moved[0], moved[1]
        try:
            cam = c.camera
            return cam.update_timestamp, viser_to_pose(cam.wxyz, cam.position), float(cam.fov)
        except (AssertionError, AttributeError):
            return None

    def _on_camera_report(self, client_id: int, position: np.ndarray) -> None:
        moved = self._moved.get(client_id)
        now = time.time()
        tol = self.ECHO_TOLERANCE
        echo = (moved is not None and not np.allclose(position, moved[0][:3, 3], atol=tol)
                and any(now - t < self.ECHO_WINDOW_S and np.allclose(position, p, atol=tol)
                        for p, t in self._left.get(client_id, ())))
        if echo:
            self._echoed.add(client_id)
        else:
            self._echoed.discard(client_id)
        self._log_camera(f"report {client_id} {np.round(position, 3).tolist()}{' (echo)' if echo else ''}")

    def _log_camera(self, event: str) -> None:
        self._camera_events.append(f"{time.monotonic():.2f} {threading.current_thread().name}: {event}")

    def camera_events(self) -> list[str]:
        """The last viewer-camera moves and reports (time, thread, what), for diagnostics."""
        return list(self._camera_events)

    def _move_camera(self, c, *, c2w: np.ndarray | None = None, fov_deg: float | None = None,
                     eye=None, look_at=None) -> None:
        """Move one viewer's camera (to ``c2w``, or to ``eye`` looking at ``look_at``) and remember it."""
        try:
            before = np.asarray(c.camera.position, dtype=np.float64).copy()
        except (AssertionError, AttributeError):
            before = None
        with c.atomic():
            if c2w is not None:
                wxyz, pos = pose_to_viser(c2w)
                c.camera.wxyz = wxyz
                c.camera.position = pos
            else:
                c.camera.position = tuple(eye)
                c.camera.look_at = tuple(look_at)
                c.camera.up_direction = tuple(UP)
            if fov_deg is not None:
                c.camera.fov = float(np.radians(fov_deg))
        now = time.time()
        self._echoed.discard(c.client_id)
        self._log_camera(f"move {c.client_id} to {np.round(np.asarray(c.camera.position), 3).tolist()}")
        self._moved[c.client_id] = (viser_to_pose(c.camera.wxyz, c.camera.position), float(c.camera.fov), now)
        if before is not None:
            left = [(p, t) for p, t in self._left.get(c.client_id, ()) if now - t < self.ECHO_WINDOW_S]
            self._left[c.client_id] = [*left[-31:], (before, now)]

    def viewer_camera(self) -> tuple[np.ndarray, float] | None:
        """(c2w, vertical FOV radians) of the most recently moved viewer camera, or None."""
        best = None
        for c in list(self.server.get_clients().values()):
            cam = self._client_camera(c)
            if cam is not None and (best is None or cam[0] > best[0]):
                best = cam
        return None if best is None else (best[1], best[2])

    def go_to(self, c2w: np.ndarray, fov_deg: float | None = None) -> None:
        """Move every viewer's camera to a pose (look through it)."""
        for c in self.server.get_clients().values():
            self._move_camera(c, c2w=np.asarray(c2w, dtype=np.float64), fov_deg=fov_deg)
        self.mark("visibility")

    def set_look_through(self, on: bool) -> None:
        """Look through the preview camera (the view follows it as it plays or is scrubbed), or stop."""
        # Under the drawing lock: a draw that has already read "on" finishes its move first, so a "Frame all"
        # after "off" is the last move, never undone by a follow that ran late under load.
        with self._lock:
            self.look_through = bool(on)
            self._looked_through = None
        self.mark("preview")

    def _follow_preview(self, c2w: np.ndarray, fov_deg: float) -> None:
        # Only when the preview camera moved: a redraw for another reason (one that ran late under load,
        # a viewer connecting) must not undo "Frame all" or the user's own orbiting.
        if self._looked_through is not None and np.allclose(self._looked_through, c2w):
            return
        self._looked_through = np.array(c2w, dtype=np.float64)
        self.go_to(c2w, fov_deg)

    def frame_all(self) -> None:
        """Move every viewer's camera to see the whole path, scene and results from above and behind."""
        pts = self._content_points()
        if pts is None:
            return
        centre = 0.5 * (pts.min(0) + pts.max(0))
        radius = max(float(np.linalg.norm(pts.max(0) - pts.min(0))) * 0.5, 0.5)
        cams = self.session.path.try_cameras()
        back = cams.R[0, :, 2].numpy() if cams is not None else np.array([0.0, 0.0, 1.0])
        back = back - (back @ UP) * UP
        back = back / (np.linalg.norm(back) or 1.0)
        eye = centre - back * 2.2 * radius + UP * 1.3 * radius
        with self._lock:        # not between a draw's reading of look_through and its follow move
            for c in self.server.get_clients().values():
                self._move_camera(c, eye=eye, look_at=centre)
        self.mark("visibility")

    def _content_points(self) -> np.ndarray | None:
        s = self.session
        pts = [kf.position.numpy()[None] for kf in s.path.keyframes]
        if s.scene is not None and s.scene.bounds is not None:
            pts.append(s.scene.bounds)
        for est in s.estimates.values():
            pts.append((est.comparison.aligned if est.comparison else est.cameras).centers.double().numpy())
            if est.gt is not None:
                pts.append(est.gt.centers.double().numpy())
        if s.generation is not None and s.generation.mode == "joint":
            pts.append(s.generation.cameras.centers.double().numpy())
        if not pts:
            return None
        pts.append(s.look_at_point[None])
        return np.concatenate(pts)

    # ---- picking the look-at point -----------------------------------------------------------------

    def start_pick(self) -> None:
        """The next click in the scene sets the look-at point."""
        if self._picking:
            return
        self._picking = True

        @self.server.scene.on_click()
        def _(event) -> None:
            point = self.pick_point(np.asarray(event.ray_origin, float), np.asarray(event.ray_direction, float))
            if point is None:       # keep picking: the next click may land on something
                self.session.warn("no surface there: click on the scene (or the grid) to set the look-at point")
                return
            self.stop_pick()
            self.session.set_look_at(point)
            self.session.ok(f"look-at point set to ({point[0]:.2f}, {point[1]:.2f}, {point[2]:.2f})")

        self.server.flush()     # the viewer switches to picking before the page asks the user to click

    def stop_pick(self) -> None:
        if self._picking:
            self._picking = False
            try:
                self.server.scene.remove_pointer_callback()
            except Exception:  # already removed
                pass

    def pick_point(self, origin: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
        """Scene geometry under the ray, else where the ray meets the grid (the floor), else None (empty
        background: there is no point to pick)."""
        direction = direction / np.linalg.norm(direction)
        scene = self.session.scene
        if scene is not None:
            hit = scene.pick(origin, direction)
            if hit is not None:
                return hit
        floor = np.array([0.0, self.floor_y, 0.0])
        denom = float(direction @ UP)
        if abs(denom) > 1e-3:
            s = float((floor - origin) @ UP) / denom
            hit = origin + s * direction
            if s > 0 and max(abs(hit[0]), abs(hit[2])) <= GRID_HALF_WIDTH:
                return hit
        return None

    # ---- preview and playback --------------------------------------------------------------------------

    def set_preview_frame(self, index: int) -> None:
        self.session.preview_frame = int(index)
        self.mark("preview")

    def play(self) -> None:
        """Move the preview camera along the path at the path's fps, looping, until ``pause``."""
        self.pause()
        stop = threading.Event()
        self._playing = stop

        def run() -> None:
            while not stop.is_set() and not self._stop.is_set():
                cams = self.session.path.try_cameras()
                if cams is None:
                    return
                n = len(cams)
                self.set_preview_frame((self.session.preview_frame + 1) % n)
                stop.wait(1.0 / self.session.path.settings.fps)

        threading.Thread(target=run, name="viewport-play", daemon=True).start()

    def pause(self) -> None:
        if self._playing is not None:
            self._playing.set()
            self._playing = None

    @property
    def playing(self) -> bool:
        return self._playing is not None

    # ---- drawing machinery -------------------------------------------------------------------------

    def mark(self, layer: str) -> None:
        with self._dirty_lock:
            self._dirty.add(layer)
        self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every marked layer is drawn (tests, and before screenshots)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._dirty_lock:
                idle = not self._dirty and not self._busy
            if idle:
                return True
            time.sleep(0.02)
        return False

    def _draw_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            if self._stop.is_set():
                return
            with self._dirty_lock:
                self._wake.clear()
                layers, self._dirty = self._dirty, set()
                self._busy = bool(layers)
            if not layers:
                continue
            try:
                self._draw(layers)
            except Exception:  # a drawing bug must not kill the viewport
                log.exception("viewport drawing failed")
            finally:
                self._busy = False
            time.sleep(0.03)  # coalesce bursts (gizmo drags)

    def _draw(self, layers: set[str]) -> None:
        if "all" in layers:
            layers = {"scene", "path", "look_at", "photos", "generation", "estimate", "preview"}
        if "path" in layers:
            layers |= {"preview", "photos", "generation"}
        if layers & {"scene", "path", "look_at", "estimate"}:
            self._update_scale()
        with self._lock:
            for layer in ("scene", "look_at", "path", "photos", "generation", "estimate", "preview"):
                if layer in layers:
                    getattr(self, f"_draw_{layer}")()
            if "visibility" in layers:
                self.refresh_visibility()
            self.draw_count += 1

    def _replace(self, layer: str, add: dict[str, Any]) -> None:
        """Remove the layer's nodes that are not redrawn; remember the new ones."""
        old = self._nodes.get(layer, set())
        for name in old - set(add):
            self._frustums.pop(name, None)
            try:
                self.server.scene.remove_by_name(name)
            except Exception:
                pass
        self._nodes[layer] = set(add)

    # ---- frustums the view sits in are hidden ----------------------------------------------------------

    def view_positions(self) -> np.ndarray:
        """(M, 3) positions of the connected viewers' cameras."""
        out = []
        for c in list(self.server.get_clients().values()):
            cam = self._client_camera(c)
            if cam is not None:
                out.append(cam[1][:3, 3])
        return np.asarray(out, dtype=np.float64).reshape(-1, 3)

    def _shown(self, name: str, position: np.ndarray, reach: float) -> bool:
        """Whether a frustum is drawn visible: not while the view sits inside it (after "Add keyframe", "Go to",
        or looking through the preview camera, whose own frustum is always hidden then)."""
        if name == "/path/preview" and self.look_through:
            return False
        return not bool(near_view(position[None], np.array([reach]), self.view_positions())[0])

    def _add_frustum(self, name: str, *, position: np.ndarray, scale: float, **kwargs) -> Any:
        position = np.asarray(position, dtype=np.float64)
        h = self.server.scene.add_camera_frustum(name, position=position, scale=scale,
                                                 visible=self._shown(name, position, scale), **kwargs)
        self._frustums[name] = (position, scale, h)
        return h

    def refresh_visibility(self) -> None:
        """Hide the frustums (and the gizmo) the view now sits in, show the others again (camera moved)."""
        with self._lock:
            for name, (position, reach, h) in list(self._frustums.items()):
                shown = self._shown(name, position, reach)
                if h.visible != shown:
                    h.visible = shown
            if self._gizmo is not None:
                shown = self._gizmo_shown()
                if self._gizmo.visible != shown:
                    self._gizmo.visible = shown

    def _gizmo_shown(self) -> bool:
        path, sel = self.session.path, self._gizmo_index
        if sel is None or sel >= len(path.keyframes):
            return True
        return self._shown(f"/keyframes/{sel}", path.keyframes[sel].position.numpy(), 1.6 * self.scale)

    def hidden_frustums(self) -> set[str]:
        """Names of the frustums drawn hidden, for tests and diagnostics."""
        with self._lock:
            return {name for name, (_, _, h) in self._frustums.items() if not h.visible}

    def _update_scale(self) -> None:
        allp = self._content_points()
        extent = float(np.ptp(allp, axis=0).max()) if allp is not None and len(allp) > 1 else 1.0
        self.scale = float(np.clip(0.07 * max(extent, 0.3), 0.02, 2.0))

    # ---- layers --------------------------------------------------------------------------------------

    def _setup(self) -> None:
        sc = self.server.scene
        sc.set_up_direction("-y")
        sc.add_frame("/world_axes", axes_length=0.5, axes_radius=0.012)
        sc.add_grid("/grid", width=20.0, height=20.0, plane="xz", cell_size=0.5, section_size=2.0,
                    position=(0.0, self.floor_y, 0.0))
        self.server.initial_camera.position = (2.5, -2.0, -3.0)
        self.server.initial_camera.look_at = (0.0, 0.0, 1.5)
        self.server.initial_camera.up = tuple(UP)

        @self.server.on_client_connect
        def _(client) -> None:
            client.camera.up_direction = tuple(UP)
            self.mark("preview")

            @client.camera.on_update
            def _(camera) -> None:
                self._on_camera_report(client.client_id, np.asarray(camera.position, dtype=np.float64))
                self._camera_seen.set()
                self.mark("visibility")     # checked on the drawing thread: callbacks never wait for its lock

        gui = self.server.gui
        gui.configure_theme(control_layout="floating", control_width="small", show_logo=False,
                            show_share_button=False, brand_color=(70, 90, 200))
        add = gui.add_button("Add keyframe from this view")

        @add.on_click
        def _(event) -> None:
            cam = event.client.camera
            kf = keyframe_from_viewer(cam.position, cam.wxyz, cam.fov)
            i = self.session.path.add(kf)
            self.session.ok(f"keyframe {i + 1} added from the view ({len(self.session.path)} in the path)")

    def _draw_scene(self) -> None:
        scene, sc, add = self.session.scene, self.server.scene, {}
        if scene is not None:
            if scene.vertices is not None:
                for k, (color, faces) in enumerate(scene.face_groups()):
                    name = f"/scene/mesh/{k}"
                    add[name] = sc.add_mesh_simple(name, scene.vertices, faces, color=color, side="front",
                                                   flat_shading=True)
            elif scene.points is not None:
                colors = scene.colors if scene.colors is not None else (150, 150, 160)
                add["/scene/points"] = sc.add_point_cloud("/scene/points", scene.points, colors,
                                                          point_size=0.01 * max(self.scale / 0.1, 0.2))
            b = scene.bounds
            if b is not None:  # the grid goes on the floor: the scene's lowest point along world up
                self.floor_y = float(b[:, 1].max())
                sc.add_grid("/grid", width=20.0, height=20.0, plane="xz", cell_size=0.5, section_size=2.0,
                            position=(0.0, self.floor_y, 0.0))
        self._replace("scene", add)

    def _draw_look_at(self) -> None:
        p = self.session.look_at_point
        h = self.server.scene.add_icosphere("/look_at", radius=max(0.2 * self.scale, 0.03), color=COLORS["look_at"],
                                            position=tuple(p), subdivisions=2)
        self._replace("look_at", {"/look_at": h})

    def _draw_path(self) -> None:
        sc, path, add = self.server.scene, self.session.path, {}
        kfs, sel = path.keyframes, path.selected
        aspect = path.width / path.height
        for i, kf in enumerate(kfs):
            name = f"/keyframes/{i}"
            wxyz, pos = pose_to_viser(kf.c2w)
            chosen = i == sel
            h = self._add_frustum(name, fov=float(np.radians(kf.fov_y_deg)), aspect=aspect,
                                  scale=self.scale * (1.6 if chosen else 1.2),
                                  color=COLORS["selected" if chosen else "keyframe"], wxyz=wxyz, position=pos,
                                  thickness=0.06 * self.scale if chosen else 0.04 * self.scale)
            h.on_click(lambda _e, i=i: self._select(i))
            add[name] = h
            add[f"/keyframes/{i}/label"] = sc.add_label(f"/keyframes/{i}/label", f"{i + 1}", font_screen_scale=0.8)
        dense = path.dense_positions()
        cams = path.try_cameras()
        if dense is not None and cams is not None:
            add["/path/spline"] = sc.add_spline_catmull_rom("/path/spline", points=dense, tension=0.5,
                                                            closed=path.settings.loop, color=COLORS["spline"],
                                                            thickness=0.03 * self.scale)
            for j in range(len(cams)):
                name = f"/path/frames/{j}"
                wxyz, pos = pose_to_viser(cams.c2w[j])
                h = self._add_frustum(name, fov=float(cams.fov_y[j]), aspect=aspect, scale=0.55 * self.scale,
                                      color=COLORS["frame"], wxyz=wxyz, position=pos, thickness=0.02 * self.scale)
                h.on_click(lambda _e, j=j: self.set_preview_frame(j))
                add[name] = h
        self._replace("path", add)
        self._draw_gizmo()

    def _draw_gizmo(self) -> None:
        path, sel = self.session.path, self.session.path.selected
        if sel is None or sel >= len(path.keyframes):
            if self._gizmo is not None:
                self._gizmo.remove()
                self._gizmo, self._gizmo_index = None, None
            return
        wxyz, pos = pose_to_viser(path.keyframes[sel].c2w)
        if self._gizmo is not None and self._gizmo_index == sel:
            if not self._dragging:
                self._gizmo.wxyz, self._gizmo.position = wxyz, pos
                self._gizmo.visible = self._gizmo_shown()
            return
        if self._gizmo is not None:
            self._gizmo.remove()
        g = self.server.scene.add_transform_controls("/gizmo", scale=1.5 * self.scale, wxyz=wxyz, position=pos,
                                                     depth_test=False)
        self._gizmo, self._gizmo_index = g, sel
        g.visible = self._gizmo_shown()

        @g.on_update
        def _(event) -> None:
            phase = getattr(event, "phase", "update")
            if phase == "start":
                self._dragging = True
                self.session.path.checkpoint()      # one undo step per drag
            i = self._gizmo_index
            if i is not None and i < len(self.session.path):
                self.session.path.set_pose(i, viser_to_pose(g.wxyz, g.position), record=False)
            if phase == "end":
                self._dragging = False
                self.session.ok(f"keyframe {i + 1} moved (undo puts it back)")

    def _select(self, i: int) -> None:
        try:
            self.session.path.select(i)
            self.session.info(f"keyframe {i + 1} selected: drag the gizmo to move it, or edit it on the left")
        except ValueError:
            pass

    def _draw_preview(self) -> None:
        cams = self.session.path.try_cameras()
        add = {}
        if cams is not None:
            j = min(max(self.session.preview_frame, 0), len(cams) - 1)
            wxyz, pos = pose_to_viser(cams.c2w[j])
            image = None
            gen = self.session.generation
            if gen is not None and gen.mode == "path" and len(gen.frames) == len(cams):
                image = thumbnail(gen.frames[j], self.config.thumbnail_size)
            if self.look_through:       # first, so the frustums it now sits in are drawn hidden
                self._follow_preview(cams.c2w[j].numpy(), float(np.degrees(float(cams.fov_y[j]))))
            add["/path/preview"] = self._add_frustum(
                "/path/preview", fov=float(cams.fov_y[j]), aspect=cams.width / cams.height, scale=0.9 * self.scale,
                color=COLORS["preview"], wxyz=wxyz, position=pos, image=image, thickness=0.05 * self.scale)
        self._replace("preview", add)

    def _textured_frustums(self, prefix: str, cams: Cameras, images: list[np.ndarray | None], colors: list,
                           scale: float, on_click=None) -> dict[str, Any]:
        out = {}
        c2w = cams.c2w.detach().double().cpu()
        fov = cams.fov_y.detach().double().cpu()
        for j in range(len(cams)):
            name = f"{prefix}/{j}"
            wxyz, pos = pose_to_viser(c2w[j])
            img = images[j] if j < len(images) else None
            h = self._add_frustum(
                name, fov=float(fov[j]), aspect=cams.width / cams.height, scale=scale, color=colors[j],
                wxyz=wxyz, position=pos, thickness=0.03 * self.scale,
                image=None if img is None else thumbnail(img, self.config.thumbnail_size))
            if on_click is not None:
                h.on_click(lambda _e, j=j: on_click(j))
            out[name] = h
        return out

    def _fly_to(self, cams: Cameras, j: int) -> None:
        self.go_to(cams.c2w[j].detach().double().cpu().numpy(), float(np.degrees(float(cams.fov_y[j]))))

    def _draw_photos(self) -> None:
        s, add = self.session, {}
        cams = s.path.try_cameras()
        if s.photos:
            if cams is not None:
                n = len(cams)
                anchor = s.source_frame(n)
                others = [int(i) for i in np.round(np.linspace(0, n - 1, len(s.photos)))]
                frames = [anchor] + [f for f in others if f != anchor][: len(s.photos) - 1]
                where = Cameras.stack([cams[f] for f in frames])
            else:  # no path: the photo is the reference camera, at the origin
                where = Cameras.from_fov(torch.eye(4, dtype=torch.float64)[None].expand(len(s.photos), 4, 4).clone(),
                                         fov_y_deg=50.0, width=s.path.width, height=s.path.height)
            add = self._textured_frustums("/photos", where, s.photos, [COLORS["photo"]] * len(s.photos),
                                          1.3 * self.scale, on_click=lambda j: self._fly_to(where, j))
        self._replace("photos", add)

    def _draw_generation(self) -> None:
        gen, add = self.session.generation, {}
        if gen is not None:
            cams = gen.cameras      # where the frames were made (an edited path does not move them)
            color = COLORS["joint"] if gen.mode == "joint" else COLORS["spline"]
            add = self._textured_frustums("/generated", cams, list(gen.frames), [color] * len(gen.frames),
                                          0.8 * self.scale, on_click=lambda j: self._fly_to(cams, j))
        self._replace("generation", add)

    def _draw_estimate(self) -> None:
        """Each method's cameras (``/estimate/predicted/<method>/<j>``, one per input frame) in its own colour
        with a label at its first camera, aligned onto the ground truth when there is one; the model's frustums
        carry the frames. The ground truth once, grey, with the model's (else the latest) offsets to it."""
        s, add, sc = self.session, {}, self.server.scene
        gt = None
        for method, est in s.estimates.items():
            pred = est.comparison.aligned if est.comparison is not None else est.cameras
            n, color = len(pred), METHOD_COLORS.get(method, COLORS["frame"])
            images = list(est.frames) if method == "raxels" else []
            add.update(self._textured_frustums(f"/estimate/predicted/{method}", pred, images, [color] * n,
                                               1.0 * self.scale, on_click=lambda j, pred=pred: self._fly_to(pred, j)))
            add[f"/estimate/labels/{method}"] = sc.add_label(
                f"/estimate/labels/{method}", METHOD_LABELS.get(method, method), font_screen_scale=0.8,
                position=tuple(pred.centers[0].double().numpy()))
            gt = est.gt if est.gt is not None else gt
        if gt is not None:
            add.update(self._textured_frustums("/estimate/ground_truth", gt, [], [COLORS["gt"]] * len(gt),
                                               1.0 * self.scale))
            add["/estimate/labels/ground_truth"] = sc.add_label(
                "/estimate/labels/ground_truth", "ground truth", font_screen_scale=0.8,
                position=tuple(gt.centers[0].double().numpy()))
            shown = s.estimates.get("raxels") or s.estimate
            if shown is not None and shown.comparison is not None:
                seg = np.stack([shown.comparison.aligned.centers.double().numpy(), gt.centers.double().numpy()], 1)
                add["/estimate/offsets"] = sc.add_line_segments(
                    "/estimate/offsets", seg.astype(np.float32), colors=(200, 40, 40), thickness=0.01 * self.scale)
        self._replace("estimate", add)

    # ---- lifetime ------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.pause()
        self._stop.set()
        self._wake.set()
        try:
            self.server.stop()
        except Exception:
            log.exception("stopping the viewer failed")
