#!/usr/bin/env bash
# Train the tiny preset for a fixed wall time on one CUDA GPU, large batch, bf16, then stop cleanly.
#
#   bash configs/gpu-burst.sh OUT_DIR [FROM] [MINUTES]
#
# OUT_DIR  where the run writes checkpoints/, final weights, train.log, curves.csv/png (resumed if it
#          already holds a run of this script);
# FROM     optional engine checkpoint to start from (its weights; e.g. the CPU run's latest
#          runs/tiny/checkpoints/step-*); without it the run starts from scratch;
# MINUTES  wall-clock budget of the training itself (default 10). At the end the trainer gets SIGINT,
#          finishes its step and writes a resumable checkpoint (engine.train.trainer's stop handler).
#
# The config has the shipped model's architecture, the local-motion input (model.motion_features) and the guide
# plane (model.guide_depth) included, so FROM may be assets/checkpoints/raxels-tiny; with FROM empty it trains
# that architecture from scratch (RESULTS.md "Session 21": with the motion input from the start the model reads
# the camera 3-5x sooner).
#
# On a machine without CUDA it runs on the CPU with small settings (a check of the script, not training):
#   GPU_BURST_CHECK=1 bash configs/gpu-burst.sh /tmp/burst-check "" 1
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: configs/gpu-burst.sh OUT_DIR [FROM] [MINUTES]}
FROM=${2:-}
MINUTES=${3:-10}
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"

ARGS=(--set "train.output_dir=\"$OUT\"")
if [ -n "${GPU_BURST_CHECK:-}" ]; then
  ARGS+=(--set train.batch_size=4 --set data.num_workers=1 --set train.mixed_precision='"no"'
         --set train.checkpoint_every=2 --set train.torch_threads=1)
fi
if [ -d "$OUT/checkpoints" ] && [ -n "$(ls -A "$OUT/checkpoints" 2>/dev/null)" ]; then
  CMD=(-m engine train --resume "$OUT" "${ARGS[@]}")
  echo "gpu-burst: resuming $OUT"
else
  [ -n "$FROM" ] && ARGS+=(--set "train.init_checkpoint=\"$FROM\"")
  CMD=(-m engine train --config configs/gpu-burst.toml "${ARGS[@]}")
  echo "gpu-burst: new run in $OUT${FROM:+ from $FROM}"
fi
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu (no CUDA)')"
# SIGINT after MINUTES: the trainer saves a resumable checkpoint and exits; KILL only if it hangs.
set +e
timeout --signal=INT --kill-after=180 "${MINUTES}m" "$PY" "${CMD[@]}" 2>&1 | tee -a "$OUT/train.log"
rc=${PIPESTATUS[0]}
set -e
echo "gpu-burst: trainer exit code $rc (124 = stopped by the clock, as planned)"
ls "$OUT" "$OUT/checkpoints" 2>/dev/null || true
[ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]
