"""Engine jobs: queue order and states, streaming, cancellation and failures that keep the path and
earlier results. Uses a fake engine with the public engine API's shape (fast, deterministic)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import ProgressEvent
from geometry import Cameras
from studio import workflows
from studio.engine_service import EngineService
from studio.jobs import JobQueue, JobState
from studio.session import StudioSession
from studio.uploads import Clip


class FakeEngine:
    """Streams like the engine: encode, ``steps`` denoise events with preview frames, done."""

    def __init__(self):
        self.fail_at: int | None = None
        self.hold = threading.Event()
        self.hold.set()
        self.calls: list[str] = []

    def info(self):
        return {"width": 16, "height": 16, "frames": 9, "trained": False, "training_domain": "untrained",
                "preset": "fake", "device": "cpu", "dtype": "float32", "source": "fake", "parameters": 1,
                "attention": "dsca", "camera_encoding": "raxel", "pose_passes": 4,
                "pose_pass_labels": ["plain", "mirrored", "backwards"]}

    def _events(self, task, T, steps, cancel, result, cameras=None):
        self.calls.append(task)
        yield ProgressEvent(task, "encode")
        for i in range(1, steps + 1):
            deadline = time.monotonic() + 5
            while not self.hold.wait(0.01) and time.monotonic() < deadline:
                if cancel is not None and cancel.cancelled:
                    break                                   # a held step still hears a cancel at once
            if cancel is not None:
                cancel.raise_if_cancelled()
            if self.fail_at == i:
                raise RuntimeError("the device ran out of memory")
            yield ProgressEvent(task, "denoise", i, steps, frames=np.full((T, 16, 16, 3), 10 * i, np.uint8))
        yield ProgressEvent(task, "done", frames=None, cameras=cameras, result=result)

    def generate_stream(self, images, cameras, *, steps, seed, source_frames, cancel):
        T = len(cameras)
        return self._events("generate", T, steps, cancel, np.full((T, 16, 16, 3), 200, np.uint8))

    def cycle_stream(self, frames, num_sources, *, pose_steps, video_steps, seed, cancel):
        T = len(frames)
        regenerated = np.full_like(frames, 90)
        psnr = np.arange(T, dtype=np.float64) + 10.0
        report = {"rot_err_deg": 2.0, "trans_err_deg": 5.0, "ATE": 0.1, "other_rot_err_deg": 3.0,
                  "other_ignoring_input_rot_err_deg": 12.5, "mean_psnr": 13.0, "mean_ssim": 0.4,
                  "copy_nearest_source_mean_psnr": 14.5, "copy_nearest_source_mean_ssim": 0.5,
                  "source_frames": [0, T // 2, T - 1], "warnings": [], "original_frames": np.asarray(frames),
                  "regenerated_frames": regenerated, "psnr": psnr, "ssim": np.full(T, 0.4)}
        return self._events("cycle", T, video_steps, cancel, report)

    def generate(self, images, cameras, *, source_frames, method):
        assert method == "warp"                     # the studio runs the model only as a stream
        self.calls.append(f"warp from {source_frames}")
        return np.full((len(cameras), 16, 16, 3), 100, np.uint8)

    def generate_joint_stream(self, images, T, *, steps, ray_steps, seed, source_frames, cancel):
        from engine import JointResult, PoseResult

        cams = Cameras.from_fov(torch.eye(4, dtype=torch.float64).expand(T, 4, 4).clone(), fov_y_deg=50.0,
                                width=16, height=16)
        cams.c2w[:, 0, 3] = torch.arange(T, dtype=torch.float64)
        frames = np.full((T, 16, 16, 3), 150, np.uint8)
        return self._events("generate_joint", T, steps, cancel,
                            JointResult(frames, PoseResult(cams, np.zeros(T), 0)), cams)

    def estimate_poses_stream(self, video, *, steps, method, cancel):
        T = len(video)
        cams = Cameras.from_fov(torch.eye(4, dtype=torch.float64).expand(T, 4, 4).clone(), fov_y_deg=50.0,
                                width=video.shape[2], height=video.shape[1])
        cams.c2w[:, 2, 3] = torch.linspace(0, 1, T, dtype=torch.float64)
        from engine import PoseResult

        return self._events("estimate_poses", T, steps, cancel, PoseResult(cams, np.zeros(T), 0, ["a note"]), cams)


@pytest.fixture
def fake():
    return FakeEngine()


@pytest.fixture
def service(fake):
    svc = EngineService(loader=lambda: fake)
    svc.engine(timeout=5)
    yield svc
    svc.queue.shutdown()


@pytest.fixture
def session():
    s = StudioSession(frame_width=16, frame_height=16)
    s.apply_preset("orbit", {})
    s.set_photo_arrays([np.zeros((20, 20, 3), np.uint8)], ["photo.png"])
    yield s
    s.close()


def run(flow) -> list[workflows.Progress]:
    return list(flow)


def test_queue_runs_jobs_in_order_and_reports_states():
    q = JobQueue()
    gate = threading.Event()
    order = []

    def work(name, wait=False):
        def gen(token):
            if wait:
                gate.wait(5)
            order.append(name)
            yield ProgressEvent(name, "done", result=name)
        return gen

    first = q.submit("first", work("first", wait=True))
    second = q.submit("second", work("second"))
    time.sleep(0.05)
    assert first.state == JobState.RUNNING and second.state == JobState.QUEUED
    assert q.ahead_of(second) == 1
    gate.set()
    assert second.wait(5) and order == ["first", "second"]
    assert first.result == "first" and second.state == JobState.DONE
    q.shutdown()


def test_cancelling_a_queued_job_never_runs_it():
    q = JobQueue()
    gate = threading.Event()
    blocker = q.submit("blocker", lambda t: iter([gate.wait(5) and ProgressEvent("b", "done")]))
    ran = []
    queued = q.submit("queued", lambda t: (ran.append(1), iter([]))[1])
    queued.cancel()
    gate.set()
    assert queued.wait(5) and blocker.wait(5)
    assert queued.state == JobState.CANCELLED and not ran
    q.shutdown()


def test_generation_streams_frames_and_stores_the_result(service, session):
    updates = run(workflows.generate_video(session, service, steps=3))
    denoise = [u for u in updates if u.frames is not None and not u.finished]
    assert len(denoise) >= 3 and "step 3/3" in denoise[-1].text
    assert updates[-1].ok and updates[-1].finished
    gen = session.generation
    assert gen.frames.shape == (9, 16, 16, 3) and gen.mode == "path"
    assert torch.equal(gen.cameras.c2w, session.path.cameras().c2w)   # exactly the path's cameras
    # video.mp4 / .gif, trajectory.json, and the upscaled copy (an .mp4)
    assert sorted(f.suffix for f in gen.files) == [".gif", ".json", ".mp4", ".mp4"]
    assert all(f.exists() for f in gen.files)
    assert session.notice.level == "ok"


def test_joint_generation_needs_no_path(service, session):
    session.path.clear()
    updates = run(workflows.generate_video(session, service, joint=True, steps=2))
    assert updates[-1].ok
    assert session.generation.mode == "joint" and len(session.generation.cameras) == 9


def test_engine_failure_keeps_path_and_earlier_result(service, fake, session):
    run(workflows.generate_video(session, service, steps=2))
    earlier = session.generation
    snap = session.path.snapshot
    fake.fail_at = 2
    updates = run(workflows.generate_video(session, service, steps=3))
    assert not updates[-1].ok and "ran out of memory" in updates[-1].text
    assert session.notice.level == "error" and "earlier results are kept" in session.notice.text
    assert session.generation is earlier and session.path.snapshot is snap


def test_cancel_stops_the_job_and_keeps_results(service, fake, session):
    fake.hold.clear()
    flow = workflows.generate_video(session, service, steps=50)
    first = next(flow)
    assert not first.finished
    workflows.cancel(session)
    assert session.notice.text.startswith("cancelling")
    fake.hold.set()
    rest = list(flow)
    assert "cancelled" in rest[-1].text and session.generation is None
    assert session.job.state == JobState.CANCELLED and session.notice.level == "warning"
    workflows.cancel(session)
    assert session.notice.text == "nothing is running"


def test_cancelling_never_overwrites_the_final_cancelled_notice(service, fake, session):
    """The flow can report "cancelled" before the page's cancel handler returns (a loaded machine): the
    handler's message must not then replace it (the page showed "cancelling..." after the job had stopped)."""
    fake.hold.clear()
    flow = workflows.generate_video(session, service, steps=50)
    next(flow)
    message = workflows.cancel(session)             # what a page handler would show once it returns ...
    fake.hold.set()
    list(flow)                                      # ... which can be after the flow has finished
    if message:
        session.ok(message)
    assert "cancelled" in session.notice.text and "earlier results are kept" in session.notice.text


def test_one_job_per_session_at_a_time(service, fake, session):
    fake.hold.clear()
    flow = workflows.generate_video(session, service, steps=5)
    next(flow)
    again = run(workflows.generate_video(session, service, steps=2))
    assert len(again) == 1 and "still running" in again[0].text
    fake.hold.set()
    list(flow)


@pytest.mark.parametrize("problem, fix, expected", [
    ("photos", lambda s: s.set_photo_arrays([], []), "upload at least one photo"),
    ("path", lambda s: s.path.clear(), "at least 2 keyframes"),
])
def test_inputs_are_checked_before_queueing(service, fake, session, problem, fix, expected):
    fix(session)
    updates = run(workflows.generate_video(session, service, steps=2))
    assert len(updates) == 1 and expected in updates[0].text and not fake.calls


def test_clip_estimation_with_ground_truth(service, session):
    rng = np.random.default_rng(0)
    session.clip = Clip("clip", rng.integers(0, 255, (12, 20, 24, 3), dtype=np.uint8))
    updates = run(workflows.estimate_clip(session, service, steps=2))
    assert updates[-1].ok
    assert "with the model (2 steps x 4 passes: plain, mirrored, backwards)" in updates[-1].text
    est = session.estimate
    assert est.frame_ids.tolist() == list(range(12)) and len(est.cameras) == 12   # every frame, one camera each
    assert est.comparison is None and est.notes == ["a note"]
    gt = Cameras.from_fov(torch.eye(4, dtype=torch.float64).expand(12, 4, 4).clone(), fov_y_deg=50.0,
                          width=24, height=20)
    gt.c2w[:, 0, 3] = torch.linspace(0, 2, 12, dtype=torch.float64)
    session.clip_gt = gt
    assert session.rescore_estimate()
    assert 0.0 <= session.estimate.comparison.metrics["RRA@30"] <= 1.0


def test_short_clips_and_missing_baseline_are_refused(service, fake, session):
    session.clip = Clip("short", np.zeros((4, 8, 8, 3), np.uint8))     # any length: the engine windows it
    assert run(workflows.estimate_clip(session, service))[-1].ok and len(session.estimate.cameras) == 4
    fake.calls.clear()
    session.clip = Clip("ok", np.zeros((9, 8, 8, 3), np.uint8))
    if not workflows.colmap_available():
        text = run(workflows.estimate_clip(session, service, method="colmap"))[0].text
        assert "COLMAP baseline is not available" in text
    assert not fake.calls


def test_comparison_needs_ground_truth(service, session):
    assert "pick an example" in run(workflows.compare_with_ground_truth(session, service))[0].text
    session.clip = Clip("c", np.zeros((9, 8, 8, 3), np.uint8))
    assert "no ground-truth cameras" in run(workflows.compare_with_ground_truth(session, service))[0].text



@pytest.mark.parametrize("position", ["first", "middle"])
def test_comparison_shows_the_real_input_photo_at_the_source_frame(service, fake, session, position):
    """The engine's redrawing of the source frame is not the input: the Compare tab shows the photo itself there,
    says so, and leaves it out of the scores."""
    from studio import views
    from studio.media import fit_to_grid

    rng = np.random.default_rng(3)
    session.clip = Clip("c", rng.integers(0, 255, (9, 20, 24, 3), dtype=np.uint8))
    session.clip_gt = Cameras.from_fov(torch.eye(4, dtype=torch.float64).expand(9, 4, 4).clone(), fov_y_deg=50.0,
                                       width=24, height=20)
    session.clip_gt.c2w[:, 0, 3] = torch.linspace(0, 1, 9, dtype=torch.float64)
    session.set_photo_position(position)
    updates = run(workflows.compare_with_ground_truth(session, service, steps=2))
    assert updates[-1].ok and "8 generated frames" in updates[-1].text
    cmp = session.comparison
    src = 0 if position == "first" else 4
    assert cmp.source_index == src
    photo = fit_to_grid(session.clip.frames[[src]], 16, 16)[0]
    assert np.array_equal(cmp.generated[src], photo)                   # the input, not the engine's frame (200s)
    assert np.all(cmp.generated[src - 1 if src else 1] == 200)         # the other frames are the engine's
    assert np.isnan(cmp.psnr[src]) and np.isnan(cmp.ssim[src])
    assert np.isfinite(np.delete(cmp.psnr, src)).all()
    assert "the input photo" in views.comparison_caption(cmp, src)
    assert "PSNR" in views.comparison_caption(cmp, (src + 1) % 9)
    views.comparison_plot(cmp)                                         # NaN-aware means: draws without warnings
    # beside the model: the photo copied (cannot follow the cameras) and the classical warp (the engine's)
    from studio.evaluation import COPY_LABEL, WARP_LABEL

    assert list(cmp.baselines) == [COPY_LABEL, WARP_LABEL] and f"warp from {position}" in fake.calls
    assert all(np.array_equal(f, photo) for f in cmp.baselines[COPY_LABEL]["frames"])
    assert np.all(cmp.baselines[WARP_LABEL]["frames"] == 100)
    for b in cmp.baselines.values():
        assert np.isnan(b["psnr"][src]) and np.isfinite(np.delete(b["psnr"], src)).all()
    assert f"{COPY_LABEL} " in updates[-1].text and f"{WARP_LABEL} " in updates[-1].text
    j = (src + 1) % 9
    caption = views.comparison_caption(cmp, j)
    assert f"{WARP_LABEL}: {cmp.baselines[WARP_LABEL]['psnr'][j]:.2f} dB" in caption
    three = views.comparison_frame(cmp, j, view=views.WARP_VIEW)
    assert three.shape[1] > views.comparison_frame(cmp, j).shape[1]    # a third panel: the warp
    labels = [t.get_text() for t in views.comparison_plot(cmp).axes[0].get_legend().get_texts()]
    assert labels[0] == "generated" and labels[2].startswith(f"{WARP_LABEL} (")


def test_joint_path_starts_from_the_photos_camera(service, session):
    """The joint prediction is in the photo's own frame: it is drawn from where the photo sits (the path's
    camera at the source frame), not from the world origin."""
    session.set_photo_position("middle")
    photo_c2w = session.path.cameras().c2w[4]
    assert not torch.allclose(photo_c2w, torch.eye(4, dtype=torch.float64))
    assert run(workflows.generate_video(session, service, joint=True, steps=2))[-1].ok
    cams = session.generation.cameras
    assert torch.allclose(cams.c2w[4], photo_c2w, atol=1e-9)
    # the predicted motion is kept: fake frames step 1 unit along the photo camera's own x axis
    step = cams.centers[5] - cams.centers[4]
    assert torch.allclose(step, photo_c2w[:3, 0], atol=1e-9)


def test_new_inputs_clear_the_overlays_they_made_stale(service, session):
    from studio.gallery import Example

    assert run(workflows.generate_video(session, service, joint=True, steps=2))[-1].ok
    session.clip = Clip("old", np.random.default_rng(0).integers(0, 255, (9, 20, 24, 3), dtype=np.uint8))
    assert run(workflows.estimate_clip(session, service, steps=2))[-1].ok
    session.set_look_at([5.0, -3.0, 7.0])
    heard = []
    session.subscribe(heard.append)
    re10k = Path(__file__).parent / "data" / "re10k"
    session.load_example(Example("c", "a clip", "", re10k / "0c9b371cc6225682.mp4", re10k / "0c9b371cc6225682.txt",
                                 None, "clip"))
    assert session.generation is None and session.estimate is None          # made from the old photo / clip
    assert {"generation", "estimate", "look_at"} <= set(heard)              # so the view redraws those layers
    assert not np.allclose(session.look_at_point, [5.0, -3.0, 7.0])
    assert "joint prediction" not in _plot_labels(session)
    # a scene-less example without cameras leaves no old look-at point either
    session.load_example(Example("s", "a photo", "", re10k / "0c9b371cc6225682.mp4", None, None, "clip"))
    assert np.allclose(session.look_at_point, [0.0, 0.0, 2.0])


def test_the_same_photo_again_keeps_the_result(service, session):
    assert run(workflows.generate_video(session, service, steps=2))[-1].ok
    session.set_photo_arrays([p.copy() for p in session.photos], ["again.png"])
    session.set_photo_position("first")
    assert session.generation is not None


def _wait_for(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def _plot_labels(session) -> list[str]:
    from studio import views

    fig = views.trajectory_plot(session)
    return [line.get_label() for ax in fig.axes for line in ax.get_lines()]


def test_cancel_answers_with_the_final_notice_when_the_flow_finishes_in_time(service, fake, session):
    """The page applies the cancel handler's answer whenever it arrives: the handler waits (bounded) for the
    flow's final notice, so its answer cannot put "cancelling..." back over "cancelled" (a browser-test flake)."""
    fake.hold.clear()                                                # the job stays running until cancelled
    flow = workflows.generate_video(session, service, steps=50)
    next(flow)
    consumer = threading.Thread(target=lambda: list(flow))          # the page's streaming handler
    consumer.start()
    assert _wait_for(lambda: session.job is not None and not session.job.state.finished)
    workflows.cancel(session)
    answer = session.notice                                          # what the handler's answer shows
    consumer.join(10)
    assert "cancelled" in answer.text and answer.level == "warning"


def test_the_cycle_is_shown_beside_copying_and_its_sources_are_not_scored(service, session):
    """The cycle's regenerated frames stand beside the answer that copies the nearest source frame, and the
    per-frame view leaves the source frames out as its means do (the plot's mean is the table's)."""
    from studio import views

    session.clip = Clip("c", np.random.default_rng(0).integers(0, 255, (9, 16, 16, 3), dtype=np.uint8))
    updates = run(workflows.run_cycle(session, service, video_steps=2))
    assert updates[-1].ok and "copying the nearest source frame: 14.50 dB" in updates[-1].text
    rows = dict((r[0], r[1]) for r in views.cycle_table(session))
    assert rows["… copying the nearest source frame instead: PSNR (dB) / SSIM"] == "14.50 / 0.500"
    cmp = session.cycle
    assert np.isnan(cmp.psnr[[0, 4, 8]]).all() and np.isfinite(np.delete(cmp.psnr, [0, 4, 8])).all()
    assert "not scored" in views.comparison_caption(cmp, 4) and "PSNR 11.00 dB" in views.comparison_caption(cmp, 1)
    title = views.comparison_plot(cmp).axes[0].get_title()
    assert f"mean PSNR {np.nanmean(cmp.psnr):.2f} dB" in title
