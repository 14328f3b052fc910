"""The session-13 table of RESULTS.md from the probe files: python table.py [DIR] (default: this folder)."""
import glob
import json
import os
import re
import sys
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)), "*-*.json"))):
    m = re.match(r".*/(q\d|o0|swa)-(\w+)\.json", f)
    if not m: continue
    d = json.load(open(f)); p = d["poses"]; g = d["generation"]; j = d["joint"]
    ps = p["per_style"]
    rows.append(({"o0": "Q3 (O0)", "swa": "O0/Q3 mean of 1,200-2,200"}.get(m.group(1), m.group(1).upper()), int(m.group(2)) if m.group(2).isdigit() else 0, p["rot_err_deg"], p["own_other"], p["ATE"], ps["dl3dv"]["rot_err_deg"], ps["re10k"]["rot_err_deg"],
                 p["trans_dir_spread_deg"], g["psnr_own"], g["psnr_other"], g["psnr_copy_first"], g["psnr_own_1step"], j["joint_own_other"], j["coherence_own_other"]))
for r in sorted(rows):
    print("| %s %s | %.2f | %.3f | %.3f | %.1f / %.1f | %.1f | %.2f / %.2f / %.2f | %.2f | %.2f | %.2f |" % (r[0], f"{r[1]:,}" if r[1] else "", *r[2:]))
