"""Session-level pieces without a browser: the gallery, example loading, the page's views, the Viser
viewport (a real server, no client) and the per-tab session registry."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from geometry import Cameras, save_cameras
from studio import views
from studio.config import REPO_ROOT, StudioConfig
from studio.gallery import discover_examples, scene_examples
from studio.session import StudioSession
from studio.viewport import Viewport, pose_to_viser, viser_to_pose

RE10K = Path(__file__).parent / "data" / "re10k"


def make_scene(folder: Path, n: int = 9) -> Path:
    """A tiny example scene in the assets layout: scene.json with a files table, clip, cameras, mesh."""
    import trimesh

    folder.mkdir(parents=True)
    frames = np.random.default_rng(0).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
    iio.imwrite(folder / "clip.mp4", frames, fps=8, codec="libx264", macro_block_size=1, plugin="FFMPEG")
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 1, n, dtype=torch.float64)
    save_cameras(Cameras.from_fov(c2w, fov_y_deg=60.0, width=32, height=32), folder / "cameras.json")
    trimesh.creation.box(extents=(2, 1, 2)).export(folder / "preview.ply")
    (folder / "scene.json").write_text(json.dumps({
        "name": "tiny-room", "description": "a box", "trajectory": {"target": [0.5, 0.0, 3.0]},
        "files": {"clip": "clip.mp4", "cameras": "cameras.json", "preview": "preview.ply"}}))
    return folder


def test_gallery_degrades_when_folders_are_empty(tmp_path):
    assert scene_examples(tmp_path / "missing") == []
    assert discover_examples(StudioConfig(scenes_dir=tmp_path, clip_dirs=(tmp_path,))) == []


def test_gallery_reads_a_scene_and_re10k_clips(tmp_path):
    make_scene(tmp_path / "scenes" / "tiny-room")
    examples = discover_examples(StudioConfig(scenes_dir=tmp_path / "scenes", clip_dirs=(RE10K,)))
    scene, clip = examples[0], examples[1]
    assert scene.title == "Tiny room" and scene.look_at == (0.5, 0.0, 3.0)
    assert scene.clip.name == "clip.mp4" and scene.cameras.name == "cameras.json"
    assert clip.kind == "clip" and clip.cameras.suffix == ".txt" and len(examples) == 2   # one re10k mp4
    assert scene.thumbnail(64).shape[2] == 3


def test_loading_an_example_fills_the_session(tmp_path):
    make_scene(tmp_path / "scenes" / "tiny-room")
    example = scene_examples(tmp_path / "scenes")[0]
    s = StudioSession()
    try:
        msg = s.load_example(example)
        assert "ground-truth path loaded" in msg
        assert s.clip.num_frames == 9 and len(s.clip_gt) == 9 and s.scene.vertices is not None
        assert len(s.photos) == 1 and np.allclose(s.look_at_point, [0.5, 0, 3])
        assert len(s.path.cameras()) == 9
    finally:
        s.close()


@pytest.mark.skipif(not (REPO_ROOT / "assets" / "scenes").is_dir(), reason="no bundled scenes")
def test_every_bundled_example_loads():
    s = StudioSession()
    try:
        for example in discover_examples(StudioConfig()):
            assert s.guarded(lambda: s.load_example(example), what="example"), s.notice.text
    finally:
        s.close()


def test_views_render_from_a_session():
    s = StudioSession()
    try:
        assert "0 keyframe" in views.path_summary(s) and views.raxel_preview(s) is None
        views.trajectory_plot(s)   # an empty figure with a hint
        s.apply_preset("spiral", {})
        assert "9 frames" in views.path_summary(s)
        assert views.raxel_preview(s).ndim == 3
        assert "Frame **3/9**" in views.frame_info(s, 2)
        fig = views.trajectory_plot(s)
        assert len(fig.axes) == 2
        ed = views.keyframe_editor(s)
        assert ed["index"] == len(s.path) and ed["duration"] is None     # last keyframe of an open path
    finally:
        s.close()


def test_pose_conversions_for_viser_round_trip():
    c2w = Cameras.from_fov(torch.eye(4, dtype=torch.float64), fov_y_deg=50, width=8, height=8).c2w.numpy()
    c2w[:3, :3] = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float)
    c2w[:3, 3] = [1, 2, 3]
    wxyz, pos = pose_to_viser(c2w)
    assert np.allclose(viser_to_pose(wxyz, pos), c2w)


def test_viewer_iframe_uses_the_other_loopback_name_so_the_3d_view_gets_its_own_process():
    from studio.viewport import viewer_host

    assert viewer_host("127.0.0.1:7860", "127.0.0.1") == "localhost"
    assert viewer_host("localhost:7860", "127.0.0.1") == "127.0.0.1"
    assert viewer_host("localhost", "0.0.0.0") == "127.0.0.1"
    assert viewer_host("studio.lab:7860", "0.0.0.0") == "studio.lab"     # all interfaces: the page's host
    assert viewer_host("studio.lab:7860", "10.0.0.5") == "10.0.0.5"      # a fixed address stays
    assert viewer_host(None, "127.0.0.1") == "127.0.0.1"
    assert viewer_host("[::1]:7860", "127.0.0.1") == "127.0.0.1"


def test_viewport_is_not_ready_until_a_viewer_reports_its_camera():
    s = StudioSession()
    vp = Viewport(s, StudioConfig(viser_port=_free_port()))
    try:
        assert not vp.ready
        t0 = time.monotonic()
        assert vp.wait_ready(0.3) is False and time.monotonic() - t0 >= 0.25    # waits, then says no
        assert vp.url("127.0.0.1:7860") == f"http://localhost:{vp.port}/"
        assert f'src="http://localhost:{vp.port}/"' in vp.iframe_html(page_host="127.0.0.1:7860")
    finally:
        vp.stop()
        s.close()


class _FakeCamera:
    """What ``Viewport`` uses of a Viser client's camera: the state the last message (either way) left."""

    def __init__(self, c2w):
        self.wxyz, self.position = pose_to_viser(c2w)
        self.fov, self.update_timestamp, self.look_at, self.up_direction = 0.9, time.time(), None, None


class _FakeClient:
    def __init__(self, c2w):
        self.client_id, self.camera = 7, _FakeCamera(c2w)

    def atomic(self):
        import contextlib

        return contextlib.nullcontext()

    def report(self, c2w, vp):
        """The browser sends a camera message: it overwrites the state, as Viser does."""
        self.camera = _FakeCamera(c2w)
        vp._on_camera_report(self.client_id, np.asarray(self.camera.position))


def test_a_late_report_of_the_old_view_does_not_undo_a_camera_move():
    # Under load the browser's report of where it was can arrive after the studio moved the view
    # (Frame all, Go to); the studio must keep the pose it set until the view really moves.
    s = StudioSession()
    vp = Viewport(s, StudioConfig(viser_port=_free_port()))
    try:
        old = Cameras.from_fov(torch.eye(4, dtype=torch.float64), fov_y_deg=50, width=8, height=8).c2w.numpy()
        new = old.copy()
        new[:3, 3] = [3.0, -2.0, -4.0]
        client = _FakeClient(old)
        vp.server.get_clients = lambda: {7: client}
        vp.go_to(new, 50.0)
        assert np.allclose(vp.view_positions(), new[:3, 3])
        echo = old.copy()
        echo[:3, 3] += 3e-5                                      # as the browser computed it (float32)
        client.report(echo, vp)                                  # the echo of the old view
        assert np.allclose(vp.view_positions(), new[:3, 3])
        assert np.allclose(vp.viewer_camera()[0], new, atol=1e-9)
        dragged = new.copy()
        dragged[:3, 3] += [0.1, 0.0, 0.0]
        client.report(dragged, vp)                               # a real move is taken at once
        assert np.allclose(vp.view_positions(), dragged[:3, 3])
    finally:
        vp.stop()
        s.close()


def test_looking_through_follows_the_preview_camera_but_does_not_undo_other_moves():
    # Measured under load: "look through" on, then off and "Frame all"; a preview redraw that ran late
    # (or for another reason, such as a viewer connecting) moved the view back into the preview camera,
    # where it hid that camera's keyframe and path frame.
    s = StudioSession()
    vp = Viewport(s, StudioConfig(viser_port=_free_port()))
    try:
        client = _FakeClient(np.eye(4))
        vp.server.get_clients = lambda: {7: client}
        s.apply_preset("orbit", {}, count=8)
        assert vp.flush()
        preview = lambda: s.path.cameras().c2w[s.preview_frame].numpy()[:3, 3]  # noqa: E731
        vp.set_look_through(True)
        assert vp.flush() and np.allclose(vp.view_positions()[0], preview())
        vp.frame_all()
        framed = vp.view_positions()[0].copy()
        assert not np.allclose(framed, preview())
        vp.mark("preview")                                   # redrawn, the preview camera unchanged
        assert vp.flush() and np.allclose(vp.view_positions()[0], framed)
        vp.set_preview_frame(3)                              # the preview camera moves: the view follows
        assert vp.flush() and np.allclose(vp.view_positions()[0], preview())
        vp.set_look_through(False)
        vp.frame_all()
        vp.set_preview_frame(5)
        assert vp.flush() and np.allclose(vp.view_positions()[0], framed)
        assert not vp.hidden_frustums()
    finally:
        vp.stop()
        s.close()


def test_viewport_draws_layers_and_frees_its_port():
    s = StudioSession()
    config = StudioConfig(viser_port=_free_port())
    vp = Viewport(s, config)
    try:
        assert vp.flush()
        assert "/look_at" in vp.node_names()
        s.apply_preset("orbit", {}, count=6)
        assert vp.flush()
        names = vp.node_names("path")
        assert "/path/spline" in names and sum(n.startswith("/path/frames/") for n in names) == 9
        assert sum(n.startswith("/keyframes/") and n.count("/") == 2 for n in names) == 6
        s.path.clear()
        assert vp.flush() and not any(n.startswith("/path/frames/") for n in vp.node_names("path"))
        point = vp.pick_point(np.array([0.0, -5.0, 2.0]), np.array([0.0, 1.0, 0.0]))
        assert np.allclose(point, [0, vp.floor_y, 2])      # straight down onto the grid
    finally:
        vp.stop()
        s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _listening(vp.port):
        time.sleep(0.1)
    assert not _listening(vp.port)


def test_registry_gives_each_tab_its_own_session_and_viewer():
    pytest.importorskip("gradio")
    from studio.engine_service import EngineService
    from studio.ui.context import SessionRegistry

    service = EngineService(loader=lambda: None)
    registry = SessionRegistry(StudioConfig(viser_port=_free_port()), service)
    try:
        a, b = registry.open("tab-a"), registry.open("tab-b")
        assert a is registry.open("tab-a") and a.viewport.port != b.viewport.port
        a.session.apply_preset("orbit", {})
        assert len(b.session.path) == 0
        registry.close("tab-a")
        assert registry.find("tab-a") is None and a.session.closed and len(registry) == 1
    finally:
        registry.close_all()
        service.queue.shutdown()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_work_dir_is_removed_on_close():
    s = StudioSession()
    s.apply_preset("orbit", {})
    f = s.export_path_file("trajectory")
    assert f.exists()
    s.close()
    assert not f.exists()
    shutil.rmtree(s.work_dir, ignore_errors=True)


def test_frame_count_hint_names_the_models_length():
    s = StudioSession(num_frames=9)
    try:
        assert "works at 9 frames" in views.frame_count_hint(s) and "one pass" in views.frame_count_hint(s)
        s.apply_preset("orbit", {})
        assert "Longer than" not in views.path_summary(s)
        s.path.set_settings(num_frames=17)
        assert "Longer than the model's 9 frames" in views.path_summary(s)
    finally:
        s.close()


def test_frustums_the_view_sits_in_are_hidden():
    from studio.viewport import near_view

    assert near_view(np.array([[0, 0, 0], [1, 0, 0]]), np.array([0.2, 0.2]), np.array([[0.05, 0, 0]])).tolist() == \
        [True, False]
    assert not near_view(np.zeros((2, 3)), np.ones(2), np.zeros((0, 3))).any()     # no viewer: all shown
    s = StudioSession()
    vp = Viewport(s, StudioConfig(viser_port=_free_port()))
    try:
        s.apply_preset("orbit", {}, count=6)
        s.path.select(2)
        at = s.path.keyframes[2].position.numpy()
        vp.view_positions = lambda: at[None]              # the view went to keyframe 3 ("Go to", "Add keyframe")
        vp.mark("all")
        assert vp.flush()
        hidden = vp.hidden_frustums()
        assert "/keyframes/2" in hidden and "/keyframes/1" not in hidden and not vp._gizmo.visible
        vp.view_positions = lambda: np.array([[50.0, -50.0, 50.0]])     # the user orbits away
        vp.refresh_visibility()
        assert not vp.hidden_frustums() and vp._gizmo.visible
        vp.set_look_through(True)                         # looking through the preview: its frustum goes
        assert vp.flush() and "/path/preview" in vp.hidden_frustums()
        # picking: the floor grid is a surface, empty sky is not
        assert vp.pick_point(np.array([0.0, -5.0, 2.0]), np.array([0.0, -1.0, 0.0])) is None
        assert vp.pick_point(np.array([0.0, -5.0, 2.0]), np.array([1.0, 0.01, 0.0])) is None   # past the grid
    finally:
        vp.stop()
        s.close()


def test_the_message_line_shows_the_current_error_not_an_old_one():
    pytest.importorskip("gradio")
    from types import SimpleNamespace

    from studio.ui.page import Page

    s = StudioSession()
    live = SimpleNamespace(session=s)
    page = Page(SimpleNamespace(get=lambda request: live))
    shown = lambda live: {"notice": live.session.notice.markdown}           # noqa: E731
    try:
        s.error("clip: broken.mp4: cannot be decoded")                        # an earlier, unrelated error
        view = page.action(lambda live, f: live.session.set_photos([f]), 1, what="photos", render=shown)(
            str(RE10K / "0c9b371cc6225682.txt"), None)
        assert "0c9b371cc6225682.txt" in view["notice"] and "broken.mp4" not in view["notice"]
        view = page.action(lambda live: None, 0, what="select", render=shown)(None)   # a later success
        assert "notice-error" not in view["notice"]
    finally:
        s.close()
