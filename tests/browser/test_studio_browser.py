"""End to end in a real browser: a user's visit to the studio, step by step, with a screenshot of each step.

The tests run in order on one page (one studio session), like a visit: the 3D view connects, keyframes
drawn from the view make a path, a preset replaces it, a bad upload is refused without losing the path,
generation streams frames into the page, a clip gets predicted frustums (scored against its ground
truth), generated and ground-truth frames are compared, and a second tab gets its own 3D scene.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from studio_helpers import PAGE_TIMEOUT_MS, port_closed, wait_for

RE10K = Path(__file__).resolve().parents[1] / "data" / "re10k"
CLIP = RE10K / "0c9b371cc6225682.mp4"
CLIP_POSES = RE10K / "0c9b371cc6225682.txt"

pytestmark = pytest.mark.browser


def notice(page) -> str:
    return page.locator("#studio-notice").inner_text()


def wait_notice(page, *needles: str, timeout: float = 90.0) -> str:
    seen = []

    def found():
        seen.append(notice(page))
        return seen[-1] if any(n in seen[-1] for n in needles) else None
    try:
        return wait_for(found, timeout=timeout, what=f"a notice containing {needles}")
    except AssertionError as e:
        shown = list(dict.fromkeys(seen))       # each text once, in order
        raise AssertionError(f"{e}; the notice showed {shown[-4:]}") from None


def drag_view(page, dx: float, dy: float) -> None:
    """Orbit the 3D view with the mouse (in the lower middle of the frame, clear of the overlays)."""
    page.locator("#viser-frame").scroll_into_view_if_needed()      # as a user looks at what they drag
    box = page.locator("#viser-frame").bounding_box()
    x, y = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.7
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=10)
    page.mouse.up()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page, elem_id: str, files) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(files)


def set_slider(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def test_viewer_connects(studio_page, shot):
    page, live = studio_page
    wait_for(lambda: live.viewport.connected >= 1, what="the Viser frame to connect")
    wait_for(lambda: live.viewport.viewer_camera() is not None, what="the viewer's camera")
    assert page.frame_locator("#viser-frame").locator("canvas").first.is_visible()
    assert "Engine" in page.locator("#engine-status").inner_text()
    shot(page, "01_viewer_connected", live=live)


def test_adding_keyframes_draws_a_path(studio_page, shot):
    page, live = studio_page
    for k, (dx, dy) in enumerate([(0, 0), (140, 30), (120, -40)]):
        if dx or dy:
            before = live.viewport.viewer_camera()[0]
            moved = lambda: not np.allclose(live.viewport.viewer_camera()[0], before)  # noqa: E731
            # A drag that lands before the 3D canvas has connected does nothing (a user drags again):
            # drag until the view moves, each try waiting for it.
            for _ in range(6):
                drag_view(page, dx, dy)
                try:
                    wait_for(moved, timeout=15, what="the view to move")
                    break
                except AssertionError:
                    continue
            assert moved(), "the view did not move after 6 drags"
        page.locator("#add-keyframe").click()
        wait_for(lambda: len(live.session.path) == k + 1, what=f"keyframe {k + 1}")
    wait_for(lambda: "3 keyframes" in page.locator("#path-summary").inner_text(), what="the path summary")
    live.viewport.flush()
    nodes = live.viewport.node_names("path")
    assert "/path/spline" in nodes
    assert sum(n.startswith("/path/frames/") for n in nodes) == live.session.path.settings.num_frames
    assert page.locator("#keyframe-table").inner_text().count("\n") >= 3
    shot(page, "02_keyframes_draw_a_path", live=live)

    page.locator("#undo").click()
    wait_for(lambda: len(live.session.path) == 2, what="undo")
    page.locator("#redo").click()
    wait_for(lambda: len(live.session.path) == 3, what="redo")


def test_preset_creates_a_path(studio_page, shot):
    page, live = studio_page
    page.locator("#apply-preset").click()
    wait_notice(page, "Orbit")
    wait_for(lambda: len(live.session.path) == 8 and live.session.path.settings.loop, what="an 8-keyframe orbit")
    live.viewport.flush()
    assert sum(n.startswith("/keyframes/") and n.count("/") == 2 for n in live.viewport.node_names("path")) == 8
    wait_for(lambda: page.locator("#raxel-strip img").count() > 0, what="the raxel preview")
    shot(page, "03_preset_orbit", live=live)

    page.locator("#play").click()
    wait_for(lambda: live.session.preview_frame >= 2, what="playback to move the preview camera")
    page.locator("#pause").click()
    wait_for(lambda: not live.viewport.playing, what="playback to stop")
    page.get_by_text("Interpolation").click()
    wait_for(lambda: "works at 9 frames" in page.locator("#num-frames").inner_text(), what="the frame count's hint")

    page.locator("#look-through input").check()         # the view is the preview camera: its frustum goes
    wait_for(lambda: "/path/preview" in live.viewport.hidden_frustums(), what="the preview frustum to hide")
    page.locator("#look-through input").uncheck()
    page.locator("#frame-all").click()                   # the view leaves: every frustum is shown again
    try:
        wait_for(lambda: not live.viewport.hidden_frustums(), what="the frustums to show again")
    except AssertionError as e:
        vp = live.viewport
        raise AssertionError(f"{e}: hidden {sorted(vp.hidden_frustums())}, look_through {vp.look_through}, views "
                             f"{vp.view_positions().round(3).tolist()}, playing {vp.playing}, "
                             f"preview frame {live.session.preview_frame}, echoed {vp._echoed}, camera events:\n"
                             + "\n".join(vp.camera_events())) from e


def test_pick_the_look_at_point_in_the_scene(studio_page, shot):
    page, live = studio_page
    before = live.session.look_at_point.copy()
    page.locator("#pick-look-at").click()
    wait_notice(page, "click a point")
    # The button sits below the 3D view: clicking it scrolled the page (by an amount that depends on what
    # had loaded). A user scrolls the view back into sight before clicking in it; so does the test.
    frame = page.locator("#viser-frame")
    unscrolled = frame.bounding_box()
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    # The viewer switches to picking over its own connection; a click it gets before that orbits the view
    # instead (under load, a user sees nothing happen and clicks again): click until the point is set.
    for _ in range(4):
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.85)
        try:
            wait_notice(page, "look-at point set", timeout=20)
            break
        except AssertionError:
            continue
    else:
        vp = live.viewport
        raise AssertionError(f"4 clicks set no look-at point: notice {notice(page)!r}, viewers connected "
                             f"{vp.connected}, picking {vp._picking}, viewer camera {vp.viewer_camera() is not None}, "
                             f"3D view at {box} (before scrolling {unscrolled}), camera events:\n"
                             + "\n".join(vp.camera_events()))
    assert not np.allclose(live.session.look_at_point, before)
    x = live.session.look_at_point[0]
    wait_for(lambda: abs(float(page.locator("#look-at-x input").input_value() or "nan") - x) < 1e-3,
             what="the page to show the picked point")
    shot(page, "04_look_at_picked", live=live)


def test_invalid_uploads_show_an_error_and_keep_the_path(studio_page, shot, tmp_path):
    page, live = studio_page
    before = [kf.c2w.clone() for kf in live.session.path.keyframes]
    bad_clip = tmp_path / "broken.mp4"
    bad_clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    open_tab(page, "Clip → cameras")
    upload(page, "clip-upload", str(bad_clip))
    text = wait_notice(page, "cannot be decoded", "no frames")
    assert "broken.mp4" in text
    shot(page, "05_invalid_clip_upload", live=live)

    bad_path = tmp_path / "camera_path.json"
    bad_path.write_text('{"camera_path": [{"camera_to_world": [1, 2, 3]}], "render_width": 32}')
    open_tab(page, "Path")
    page.get_by_text("Import / export").click()
    upload(page, "import-path", str(bad_path))
    wait_notice(page, "import:")
    assert "⚠" in notice(page) or "✖" in notice(page)
    after = [kf.c2w for kf in live.session.path.keyframes]
    assert len(after) == len(before) and all(np.allclose(a, b) for a, b in zip(after, before))
    assert "Undo" in page.locator("#undo").inner_text()      # the page kept its controls too

    page.locator("#export-path").click()
    wait_for(lambda: "trajectory" in page.locator("#export-file").inner_text(), what="the exported file")
    shot(page, "06_invalid_path_import_keeps_path", live=live)


def test_generation_streams_frames_into_the_page(studio_page, shot, tmp_path):
    page, live = studio_page
    import imageio.v3 as iio

    open_tab(page, "Photos → video")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    upload(page, "photo-upload", str(notes))            # refused in the message line, not a passing pop-up
    text = wait_notice(page, "notes.txt")
    assert "unsupported image type" in text and "✖" in text
    assert not live.session.photos
    photo = tmp_path / "photo.png"
    yy, xx = np.mgrid[0:96, 0:128]
    iio.imwrite(photo, np.stack([xx * 2, yy * 2, 255 - xx], -1).clip(0, 255).astype(np.uint8))
    # The refused file stays in the box (the message says why); a photo dropped next is taken, once, even
    # while the refused one may still be handled.
    upload(page, "photo-upload", str(photo))
    # The box lays a file name out as two pieces (stem, extension) that innerText may put on separate lines
    # ("photo\n.png", seen under load with the photo taken and the page correct), so whitespace is ignored.
    try:
        wait_for(lambda: "photo.png" in "".join(page.locator("#photo-upload").inner_text().split()),
                 what="the photo in the upload box")
    except AssertionError as e:
        raise AssertionError(f"{e}: the box shows {page.locator('#photo-upload').inner_text()!r}, the session has "
                             f"{len(live.session.photos)} photo(s), the notice is {notice(page)!r}") from e
    text = wait_notice(page, "1 photo(s) ready: photo.png")    # and the old error is gone with it
    assert "✖" not in text
    set_slider(page, "gen-steps", 8)
    page.locator("#generate").click()
    wait_for(lambda: page.locator("#live-frames img").count() > 0, what="streamed frames")   # stays once shown
    shot(page, "07_generation_streaming")
    wait_for(lambda: "generated 9 frames" in page.locator("#gen-progress").inner_text(), timeout=180,
             what="the generation to finish")
    wait_for(lambda: page.locator("#result-video video").count() > 0, what="the result video")
    wait_for(lambda: page.locator("#gen-downloads").inner_text().count("video") >= 2, what="the downloads")
    wait_for(lambda: live.viewport.flush() and sum(n.startswith("/generated/")
                                                   for n in live.viewport.node_names("generation")) == 9,
             what="the generated frames in the 3D view")
    page.locator("#result-video").scroll_into_view_if_needed()
    shot(page, "08_generation_done", live=live)


def test_joint_generation_and_cancel_keep_results(studio_page, studio_app, shot, monkeypatch):
    page, live = studio_page
    page.get_by_label("Joint: the model also makes up the camera path").check()
    set_slider(page, "gen-steps", 3)
    page.locator("#generate").click()
    wait_for(lambda: "jointly with its camera path" in page.locator("#gen-progress").inner_text(), timeout=180,
             what="the joint generation")
    joint = live.session.generation
    assert joint.mode == "joint"
    photo_camera = live.session.photo_camera()
    assert np.allclose(joint.cameras.c2w[joint.source_frames[0]].double(), photo_camera, atol=1e-5)
    # The long run must still be running when the click arrives, however fast or loaded the machine: each
    # denoising step of the tiny model takes milliseconds, so slow the model down (events still stream).
    model = studio_app[2].engine().pipe.model
    forward = model.forward

    def slow_forward(*args, **kwargs):
        time.sleep(0.5)
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", slow_forward)
    set_slider(page, "gen-steps", 50)
    page.locator("#generate").click()
    wait_for(lambda: "denoise step" in page.locator("#gen-progress").inner_text(), what="the long run to start")
    page.locator("#cancel-generate").click()
    wait_for(lambda: "cancelled" in page.locator("#gen-progress").inner_text(), what="the cancellation")
    wait_notice(page, "earlier results are kept")       # the final notice, not "cancelling at the next step"
    assert live.session.generation is joint
    shot(page, "09_joint_then_cancelled", live=live)
    page.get_by_label("Along the drawn path (camera-conditioned)").check()


def test_clip_upload_draws_predicted_frustums(studio_page, shot):
    page, live = studio_page
    open_tab(page, "Clip → cameras")
    upload(page, "clip-upload", str(CLIP))
    wait_for(lambda: "predicted 16 cameras" in page.locator("#est-progress").inner_text(), timeout=180,
             what="the predicted cameras")
    live.viewport.flush()
    assert sum(n.startswith("/estimate/predicted/raxels/") for n in live.viewport.node_names("estimate")) == 16
    upload(page, "gt-upload", str(CLIP_POSES))
    wait_for(lambda: "RRA@30" in page.locator("#est-metrics").inner_text(), what="the pose metrics")
    live.viewport.flush()
    assert any(n.startswith("/estimate/ground_truth/") for n in live.viewport.node_names("estimate"))
    shot(page, "10_clip_frustums_and_metrics", live=live)


def test_compare_with_ground_truth(studio_page, shot):
    page, live = studio_page
    open_tab(page, "Compare")
    set_slider(page, "cmp-steps", 4)
    page.locator("#compare").click()
    wait_for(lambda: "compared 8 generated frames" in page.locator("#cmp-progress").inner_text(), timeout=180,
             what="the comparison")
    wait_for(lambda: page.locator("#cmp-image img").count() > 0, what="the side-by-side frame")
    assert "the input photo" in page.locator("#cmp-caption").inner_text()     # frame 1 is the photo itself
    progress = page.locator("#cmp-progress").inner_text()
    assert "copying the photo" in progress and "classical warp" in progress      # never the model's figure alone
    set_slider(page, "cmp-frame", 2)
    wait_for(lambda: "classical warp:" in page.locator("#cmp-caption").inner_text(),
             what="a generated frame's scores beside the classical warp's")
    shot(page, "11_compare_with_ground_truth", live=live)
    before = page.locator("#cmp-image img").get_attribute("src")
    page.locator("#cmp-view").get_by_label("beside the classical warp").check()
    wait_for(lambda: page.locator("#cmp-image img").get_attribute("src") != before, what="the three-panel view")
    shot(page, "11b_compare_beside_the_classical_warp", live=live)

    page.locator("#cycle").click()
    wait_for(lambda: "cycle: trajectory error" in page.locator("#cmp-progress").inner_text(), timeout=180,
             what="the cycle run")
    assert "rotation error" in page.locator("#cycle-table").inner_text()
    assert "copying the nearest source frame" in page.locator("#cycle-table").inner_text()   # PSNR's input-free peer
    assert "copying the nearest source frame" in page.locator("#cmp-progress").inner_text()
    shot(page, "12_cycle_self_consistency", live=live)


def test_an_example_gives_a_result_in_one_click(studio_page, shot):
    page, live = studio_page
    if page.locator("#examples").count() == 0:
        pytest.skip("no bundled examples")
    page.locator("#examples img").first.click()
    wait_notice(page, "example ")
    title = live.session.example.title
    wait_for(lambda: f"cameras of {title}" in page.locator("#est-progress").inner_text(), timeout=180,
             what="the example's predicted cameras")
    wait_for(lambda: "RRA@30" in page.locator("#est-metrics").inner_text(), what="the example's pose metrics")
    assert live.session.estimate.clip_name == title
    live.viewport.flush()
    assert live.viewport.node_names("scene") or live.session.scene is None
    assert any(n.startswith("/estimate/predicted/") for n in live.viewport.node_names("estimate"))
    shot(page, "13_example_one_click", live=live)


def test_each_tab_gets_its_own_scene(browser, studio_app, studio_page):
    url, registry, _ = studio_app
    _, first = studio_page
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    known = {id(s) for s in registry.sessions()}
    page.goto(url)
    page.wait_for_selector("#viser-frame")
    second = wait_for(lambda: next((s for s in registry.sessions() if id(s) not in known), None),
                      what="a second session")
    assert second.viewport.port != first.viewport.port
    assert len(second.session.path) == 0 and len(first.session.path) > 0
    port = second.viewport.port
    context.close()
    wait_for(lambda: second not in registry.sessions(), timeout=60, what="the closed tab's session to stop")
    wait_for(lambda: port_closed(port), timeout=20, what="its Viser server to stop listening")


def test_clip_tab_compares_the_model_with_baselines_on_a_real_clip(studio_page, shot):
    """A real 16-frame RealEstate10K clip and its pose file: one camera per frame for the model and the two-view
    baseline side by side in the 3D view, and the table with the input-free answers and both baselines."""
    page, live = studio_page
    clip = Path(__file__).resolve().parents[1] / "data" / "re10k-clips" / "0bf152ef84195293"
    open_tab(page, "Clip → cameras")
    upload(page, "clip-upload", str(clip.with_suffix(".mp4")))
    wait_for(lambda: "predicted 16 cameras of 0bf152ef84195293" in page.locator("#est-progress").inner_text(),
             timeout=180, what="the model's cameras")
    upload(page, "gt-upload", str(clip.with_suffix(".txt")))
    wait_for(lambda: "scored against it" in notice(page), what="the ground truth to score the prediction")
    page.locator("#est-method").get_by_label("two-view (baseline)").check()
    page.locator("#estimate").click()
    text = wait_for(lambda: (lambda t: t if "with two-view (baseline)" in t else None)(
        page.locator("#est-progress").inner_text()), timeout=180, what="the two-view baseline")
    assert "predicted 16 cameras" in text and "classical baselines" in text and "input-free" in text
    live.viewport.flush()
    names = live.viewport.node_names("estimate")
    for method in ("raxels", "two-view"):
        assert sum(n.startswith(f"/estimate/predicted/{method}/") for n in names) == 16
    assert sum(n.startswith("/estimate/ground_truth/") for n in names) == 16
    table = page.locator("#est-comparison")
    wait_for(lambda: "two-view (baseline)" in table.inner_text() and "%" in table.inner_text(),
             what="the comparison table")
    rows = table.inner_text()
    for row in ("the model (raxels)", "identity", "forward line", "two-view (baseline)", "COLMAP (baseline)",
                "not run", "input-free", "ATE_rel", "rotation AUC@30"):
        assert row in rows, row
    live.viewport.frame_all()
    page.locator("#est-comparison").scroll_into_view_if_needed()
    path = shot(page, "14_clip_tab_model_and_baselines", live=live)
    Path("/tmp/clip_tab.png").write_bytes(path.read_bytes())
