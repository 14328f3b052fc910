"""Session 16, one-off: ways to turn the four saved ensemble passes (dump_passes.py) into one answer, scored as
the probe scores poses (geometry.pose_metrics: mean rotation error over all frame pairs; own/other against the
next clip's prediction; identity = never turns).

    python assets/checkpoints/raxels-tiny/training/probes-s16/combine.py PASSES.npz [--fit-on VAL.npz]

Without --fit-on, gains are fitted on PASSES itself (validation); with it, they are fitted on VAL and only
applied here.
"""
import sys
import numpy as np, torch
from scipy.optimize import minimize
from scipy.spatial.transform import Rotation
from geometry import chordal_mean, project_to_so3
from geometry.metrics import pose_metrics


def load(p):
    d = np.load(p)
    return torch.from_numpy(d["truth"]), torch.from_numpy(d["passes"]), d["styles"]


def with_rot(c2w, R):
    out = c2w.clone(); out[..., :3, :3] = R; return out


def score(pred, truth):
    """(mean rotation error, own/other, per-clip errors)."""
    own = np.asarray(pose_metrics(pred, truth)["mean_rot_err_deg"])
    other = np.asarray(pose_metrics(pred.roll(-1, 0), truth)["mean_rot_err_deg"])
    return float(own.mean()), float(own.mean() / other.mean()), own


def gained(R, G):
    """Rotations (n, T, 3, 3) from the reference with each rotation vector scaled by G ((3,) per camera axis)."""
    v = Rotation.from_matrix(R.reshape(-1, 3, 3).numpy()).as_rotvec() * np.asarray(G)
    return torch.from_numpy(Rotation.from_rotvec(v).as_matrix()).reshape(R.shape)


def geodesic_median(Rs, iters=50):
    """Weiszfeld L1 mean on SO(3) of Rs (P, ..., 3, 3), started at the chordal mean."""
    M = chordal_mean(Rs, dim=0)
    for _ in range(iters):
        rel = Rotation.from_matrix((M.transpose(-1, -2)[None] @ Rs).reshape(-1, 3, 3).numpy()).as_rotvec()
        rel = rel.reshape(*Rs.shape[:-2], 3)
        w = 1.0 / np.maximum(np.linalg.norm(rel, axis=-1, keepdims=True), 1e-6)
        step = (w * rel).sum(0) / w.sum(0)
        M = M @ torch.from_numpy(Rotation.from_rotvec(step.reshape(-1, 3)).as_matrix()).reshape(M.shape)
    return M


def main():
    truth, passes, styles = load(sys.argv[1])
    fit_truth, fit_passes = (truth, passes)
    if "--fit-on" in sys.argv:
        fit_truth, fit_passes, _ = load(sys.argv[sys.argv.index("--fit-on") + 1])
    plain = passes[:, 0]
    ident = torch.eye(4, dtype=truth.dtype).expand_as(truth)
    rows = []
    id_err = float(np.asarray(pose_metrics(ident, truth)["mean_rot_err_deg"]).mean())
    rows.append(("identity", id_err, 1.0, None))
    for k, name in enumerate(("plain", "mirrored", "reversed", "both")):
        rows.append((f"pass {name}", *score(with_rot(plain, passes[:, k, ..., :3, :3]), truth)))
    cm = chordal_mean(passes[..., :3, :3].transpose(0, 1), dim=0)
    rows.append(("chordal mean (shipped)", *score(with_rot(plain, cm), truth)))
    rows.append(("geodesic median", *score(with_rot(plain, geodesic_median(passes[..., :3, :3].transpose(0, 1))), truth)))

    def fit(axes):
        fcm = chordal_mean(fit_passes[..., :3, :3].transpose(0, 1), dim=0)
        fplain = fit_passes[:, 0]
        def loss(g):
            G = np.full(3, g[0]) if axes == 1 else g
            return score(with_rot(fplain, gained(fcm, G)), fit_truth)[0]
        r = minimize(loss, np.ones(axes), method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-4})
        return np.full(3, r.x[0]) if axes == 1 else r.x
    for g in (0.9, 1.1, 1.2, 1.3, 1.5):
        rows.append((f"chordal mean, gain {g}", *score(with_rot(plain, gained(cm, [g] * 3)), truth)))
    for axes in (1, 3):
        G = fit(axes)
        rows.append((f"chordal mean, fitted gain {np.round(G, 3).tolist()}", *score(with_rot(plain, gained(cm, G)), truth)))
    print(f"{len(truth)} clips; identity {id_err:.2f} deg")
    print(f"{'answer':58s} {'rot deg':>8s} {'x id':>6s} {'own/other':>9s}   per style")
    for name, err, oo, per in rows:
        ps = "" if per is None else "  ".join(f"{s} {per[styles == s].mean():.2f}" for s in sorted(set(styles)))
        print(f"{name:58s} {err:8.2f} {err / id_err:6.3f} {oo:9.3f}   {ps}")


if __name__ == "__main__":
    main()


def weighted(passes, w_plain):
    """Chordal mean with the plain pass weighted w_plain and the other three sharing the rest equally (the
    weighted mean of the matrices, projected onto SO(3))."""
    w = torch.tensor([w_plain] + [(1 - w_plain) / 3] * 3, dtype=passes.dtype)
    return project_to_so3((w[None, :, None, None, None] * passes[..., :3, :3]).sum(1))


if __name__ == "__main__" and "--weights" in sys.argv:
    truth, passes, styles = load(sys.argv[1])
    for wp in (0.25, 0.35, 0.45, 0.55):
        e, oo, per = score(with_rot(passes[:, 0], weighted(passes, wp)), truth)
        print(f"plain weight {wp}: {e:.2f} deg, own/other {oo:.3f}")
