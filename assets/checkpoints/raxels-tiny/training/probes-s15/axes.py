"""Session 15, one-off: per-axis rotation of the shipped checkpoint on validation clips 512-559 (mean |rotation vector|
in the reference camera: x pitch, y yaw, z roll; and the per-clip gain, the prediction projected on the truth).

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s15/axes.py [CHECKPOINT]
"""
import numpy as np, torch, sys
from scipy.spatial.transform import Rotation
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry import canonicalize
eng = Engine.from_checkpoint(sys.argv[1] if len(sys.argv)>1 else "assets/checkpoints/raxels-tiny", device="cpu")
clips = procedural_clips(eng.config.clip, 48, first_seed=512)
rows=[]
for c in clips:
    p = eng.estimate_poses(c.frames, steps=2, seed=0).to(torch.float64)
    Rp = canonicalize(p.c2w,0)[:, :3,:3].numpy(); Rt = canonicalize(c.cameras.c2w.double(),0)[:, :3,:3].numpy()
    vp = Rotation.from_matrix(Rp).as_rotvec(); vt = Rotation.from_matrix(Rt).as_rotvec()   # camera axes x(pitch) y(yaw) z(roll)
    err = Rotation.from_matrix(np.einsum('nji,njk->nik', Rp, Rt)).magnitude()
    rows.append((c.label, np.degrees(np.abs(vt).mean(0)), np.degrees(np.abs(vp).mean(0)), np.degrees(np.abs(vp-vt).mean(0)), np.degrees(err.mean()),
                 float((vp*vt).sum()/ (vt*vt).sum())))
for style in ("dl3dv","re10k"):
    r=[x for x in rows if x[0]==style]
    print(style, "true |rotvec| xyz", np.mean([x[1] for x in r],0).round(2), "pred", np.mean([x[2] for x in r],0).round(2),
          "abs err xyz", np.mean([x[3] for x in r],0).round(2), "geo err", round(np.mean([x[4] for x in r]),2),
          "gain (proj)", np.round([x[5] for x in r],2))
