"""The two-view baseline (OpenCV SIFT + essential matrix, chained) and the baselines' one entry point."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from engine import CancelToken  # noqa: E402
from engine.baselines import BASELINE_METHODS, baseline_pose_events  # noqa: E402
from engine.baselines.result import nearest_registered  # noqa: E402
from engine.baselines.two_view import LABEL  # noqa: E402
from engine.events import Cancelled  # noqa: E402
from engine.media import load_video  # noqa: E402
from geometry.io import load_re10k  # noqa: E402
from geometry.metrics import pose_auc, pose_metrics  # noqa: E402

CLIPS = Path(__file__).parent / "data" / "re10k-clips"
CLIP_IDS = ("0bf152ef84195293", "0c11dbe781b1c11c", "0c9b371cc6225682")


def run(method, frames, **kw):
    events = list(baseline_pose_events(method, frames, **kw))
    assert events[-1].stage == "done"
    return events, events[-1].result


@pytest.fixture(scope="module")
def real_clips():
    """[(frames (16, 256, 384, 3) uint8, ground-truth Cameras)] for the 3 real RealEstate10K clips."""
    out = []
    for cid in CLIP_IDS:
        frames = load_video(CLIPS / f"{cid}.mp4")
        out.append((frames, load_re10k(CLIPS / f"{cid}.txt", width=frames.shape[2], height=frames.shape[1])))
    return out


def test_two_view_rotation_auc_on_the_real_clips(real_clips):
    """Rotation AUC@30 (errors of all frame pairs pooled over the 3 clips, ``pose_auc``) with the pose
    files' intrinsics: measured 96.7 (98.1 / 99.5 / 92.5 per clip), so the bar of 85 leaves 11.7 points.
    Every frame gets a pose and the scale is carried along the whole chain."""
    errors = []
    for frames, gt in real_clips:
        _, res = run("two-view", frames, intrinsics=gt.K)
        assert res.cameras.c2w.shape == (16, 4, 4) and (res.cameras.width, res.cameras.height) == (384, 256)
        assert res.registered.all(), res.notes
        assert np.allclose(res.cameras.c2w[0].numpy(), np.eye(4), atol=1e-6)
        errors.append(pose_metrics(res.cameras.c2w.double(), gt.c2w)["pair_rot_err_deg"])
    auc = 100 * pose_auc(np.concatenate(errors))
    assert auc >= 85, f"two-view rotation AUC@30 {auc:.1f} < 85"


def test_given_intrinsics_are_used_and_said(real_clips):
    frames, gt = real_clips[0]
    frames = frames[:8]
    per_frame = gt.K[:8].double().numpy()                     # (8, 3, 3), the file's own
    _, res = run("two-view", frames, intrinsics=per_frame)
    np.testing.assert_allclose(res.cameras.K.numpy(), per_frame, rtol=1e-6)
    assert any(n.startswith("intrinsics given") and "fx 182.3" in n for n in res.notes), res.notes

    _, shared = run("two-view", frames, intrinsics=per_frame[0])     # one (3, 3) K for every frame
    np.testing.assert_allclose(shared.cameras.c2w.numpy(), res.cameras.c2w.numpy(), atol=1e-6)

    _, guessed = run("two-view", frames)
    assert any("assumed a 60 degree vertical FOV" in n for n in guessed.notes), guessed.notes
    np.testing.assert_allclose(guessed.cameras.K[0, 1, 1].item(), 128 / np.tan(np.radians(30)), rtol=1e-6)
    # the focal length is not a no-op: a 3x wrong one gives other rotations
    _, wrong = run("two-view", frames, intrinsics=per_frame[0] * np.array([[3], [3], [1]]))
    assert not np.allclose(wrong.cameras.c2w.numpy(), res.cameras.c2w.numpy(), atol=1e-3)


def test_stages_labels_and_notes(real_clips):
    frames, gt = real_clips[2]
    events, res = run("two-view", frames[:6], intrinsics=gt.K[0], ref=2)
    stages = [e.stage for e in events]
    assert stages == ["features"] * 6 + ["pair"] * 5 + ["done"]
    assert "denoise" not in stages and all(e.task == "estimate_poses" for e in events)
    assert [e.message for e in events if e.stage == "pair"] == [f"pair {i}/5" for i in range(1, 6)]
    assert res.method == "two-view" and res.notes[0] == LABEL and res.ref == 2
    assert any(n.startswith("translation scale: from the previous pair's triangulated points") for n in res.notes)
    assert "posed 6/6 frames" in res.notes
    assert np.allclose(res.cameras.c2w[2].numpy(), np.eye(4), atol=1e-6)        # canonicalised to ref
    assert np.linalg.norm(res.cameras.c2w[:, :3, 3].numpy(), axis=-1).max() == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_bad_input_is_one_clear_error(method):
    with pytest.raises(ValueError, match=rf"{method} baseline: needs at least 2 frames to estimate camera motion, got 1"):
        run(method, np.zeros((1, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"expected frames of shape \(T, H, W, 3\) uint8"):
        run(method, np.zeros((4, 64, 64), np.float32))
    with pytest.raises(ValueError, match=r"intrinsics must be \(3, 3\) or \(4, 3, 3\) for 4 frames, got \(2, 3, 3\)"):
        run(method, np.zeros((4, 64, 64, 3), np.uint8), intrinsics=np.tile(np.eye(3), (2, 1, 1)))
    with pytest.raises(ValueError, match=r"intrinsics: focal lengths must be positive"):
        run(method, np.zeros((4, 64, 64, 3), np.uint8), intrinsics=np.diag([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"baseline method must be one of colmap, two-view; got 'xfeat'"):
        baseline_pose_events("xfeat", np.zeros((4, 64, 64, 3), np.uint8))


def test_blank_frames_are_a_documented_fallback_not_a_crash():
    frames = np.full((5, 96, 128, 3), 127, np.uint8)
    _, res = run("two-view", frames)
    assert not res.registered.any() and res.cameras.c2w.shape == (5, 4, 4)
    assert np.allclose(res.cameras.c2w.numpy(), np.eye(4))
    assert "no frame has a pose: every frame takes the reference pose and counts as wrong" in res.notes[-1]
    assert any("no essential matrix for the pairs ending at frames [1, 2, 3, 4]" in n for n in res.notes)


def test_a_blank_frame_in_a_real_clip_takes_its_neighbours_pose(real_clips):
    frames, gt = real_clips[1]
    frames = frames[:6].copy()
    frames[5] = 0                                            # the last frame has nothing to match
    _, res = run("two-view", frames, intrinsics=gt.K[0])
    assert res.registered.tolist() == [True] * 5 + [False]
    assert "posed 5/6 frames; frames without a pose take the nearest posed frame's pose (5<-4)" in res.notes[-1]
    np.testing.assert_allclose(res.cameras.c2w[5].numpy(), res.cameras.c2w[4].numpy())


def test_nearest_registered_prefers_the_earlier_frame_on_a_tie():
    reg = np.array([False, True, False, True, False, False, True])
    assert nearest_registered(reg).tolist() == [1, 1, 1, 3, 3, 6, 6]
    assert nearest_registered(np.zeros(3, bool)).tolist() == [0, 1, 2]


@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_cancel_stops_before_the_result(method, real_clips):
    frames, gt = real_clips[0]
    token = CancelToken()
    events = baseline_pose_events(method, frames[:4], intrinsics=gt.K[0], cancel=token)
    first = next(events)
    assert first.stage == "features"
    token.cancel()
    with pytest.raises(Cancelled):
        for ev in events:
            assert ev.stage != "done"
