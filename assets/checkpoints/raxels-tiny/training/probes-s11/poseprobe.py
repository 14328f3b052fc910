import sys, json, torch
torch.set_num_threads(1)
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from engine.evaluate.probe import probe_poses
for ck in sys.argv[1:]:
    eng = Engine.from_checkpoint(ck, device="cpu")
    clips = procedural_clips(eng.config.clip, 24, styles=("re10k", "dl3dv"))
    r = probe_poses(eng, clips, steps=2)
    print(ck, {k: round(r[k], 3) for k in ("rot_err_deg", "identity_rot_err_deg", "own_other", "input_dependence", "ATE", "trans_dir_spread_deg")}, flush=True)
