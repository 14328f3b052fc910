"""Session 16, one-off: the four passes combined with those of the clip upside down and transposed
(dump_passes.py --variant), scored as combine.py scores.

    python assets/checkpoints/raxels-tiny/training/probes-s16/more_passes.py BASE.npz VFLIP.npz TRANSPOSE.npz
"""
import sys
import numpy as np, torch
from scipy.spatial.transform import Rotation
from geometry import chordal_mean
from combine import load, score, with_rot            # the same folder

args = sys.argv[1:]
truth, base, styles = load(args[0])
vflip, transp = load(args[1])[1], load(args[2])[1]
plain = base[:, 0]
cm = lambda p: chordal_mean(p[..., :3, :3].transpose(0, 1), dim=0)      # noqa: E731
rv = lambda R: Rotation.from_matrix(R.reshape(-1, 3, 3).numpy()).as_rotvec().reshape(*R.shape[:-2], 3)  # noqa: E731
mat = lambda v: torch.from_numpy(Rotation.from_rotvec(v.reshape(-1, 3)).as_matrix()).reshape(*v.shape[:-1], 3, 3)  # noqa: E731
rows = [("four passes (shipped)", cm(base)), ("upside down, four passes", cm(vflip)), ("transposed, four passes", cm(transp)),
        ("plain + upside down (8)", cm(torch.cat([base, vflip], 1))), ("plain + transposed (8)", cm(torch.cat([base, transp], 1))),
        ("all twelve", cm(torch.cat([base, vflip, transp], 1)))]
vb, vt = rv(cm(base)), rv(cm(transp))
pitch_t = vb.copy(); pitch_t[..., 0] = vt[..., 0]
rows.append(("four passes, pitch from the transposed four", mat(pitch_t)))
pitch_mix = vb.copy(); pitch_mix[..., 0] = 0.5 * (vb[..., 0] + vt[..., 0])
rows.append(("four passes, pitch averaged with the transposed", mat(pitch_mix)))
vv = rv(cm(vflip)); yaw_mix = vb.copy(); yaw_mix[..., 1] = 0.5 * (vb[..., 1] + vv[..., 1])
rows.append(("four passes, yaw averaged with upside down", mat(yaw_mix)))
truth_v = rv(truth[..., :3, :3])
print(f"{len(truth)} clips")
for name, R in rows:
    e, oo, per = score(with_rot(plain, R), truth)
    ax = np.degrees(np.abs(rv(R) - truth_v).mean((0, 1)))
    ps = "  ".join(f"{s} {per[styles == s].mean():.2f}" for s in sorted(set(styles)))
    print(f"{name:50s} {e:6.2f} deg  own/other {oo:.3f}  |err| pitch/yaw/roll {ax.round(2)}  {ps}")
