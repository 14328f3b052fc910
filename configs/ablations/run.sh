#!/usr/bin/env bash
# Small-scale ablations of the paper's design choices (RESULTS.md, "Ablations").
#
#   bash configs/ablations/run.sh              # all arms, STEPS=700 each (about 20 min per arm on 1 core)
#   STEPS=20 bash configs/ablations/run.sh base plucker   # a quick smoke run of two arms
#   WEIGHTING=velocity bash configs/ablations/run.sh      # the paper's velocity loss weighting
#
# Runs go to runs/ablation-$WEIGHTING-<arm>, reports to results/ablation-$WEIGHTING-<arm>.
# WEIGHTING (FlowConfig.loss_weighting) is "data" by default, the tiny preset's default.
#
# Every arm is the shipped tiny recipe (configs/tiny.toml at batch 8, seed 0, the same data stream and
# held-out clips) with exactly one switch changed, trained for the same number of steps from scratch:
#   base     DSCA attention, raxels through the (patch) VAE, loss MSE + 0.5 (1 - cos)
#   plucker  Plücker rays (d, o x d) through an MLP instead of raxels through the VAE
#   global   one self-attention over the concatenated video + ray sequence instead of DSCA
#   nocos    no cosine term in the loss (lambda = 0)
# Then each arm is evaluated on the 16 held-out procedural clips (pose at 1/2/5/20 ray steps,
# generation, cycle), with the same evaluation command as the shipped checkpoint.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-700}
WEIGHTING=${WEIGHTING:-data}
ARMS=("$@"); [ ${#ARMS[@]} -eq 0 ] && ARMS=(base plucker global nocos)
export OMP_NUM_THREADS=1
for arm in "${ARMS[@]}"; do
  case $arm in
    base)    switch=() ;;
    plucker) switch=(--set 'engine.model.camera_encoding="plucker"') ;;
    global)  switch=(--set 'engine.model.attention="global"') ;;
    nocos)   switch=(--set engine.flow.cos_weight=0.0) ;;
    *) echo "unknown arm: $arm (base, plucker, global, nocos)" >&2; exit 2 ;;
  esac
  run=runs/ablation-$WEIGHTING-$arm
  rm -rf "$run"
  $PY -m engine train --config configs/tiny.toml "${switch[@]}" --set "engine.flow.loss_weighting=\"$WEIGHTING\"" \
      --set train.steps="$STEPS" --set train.batch_size=8 --set train.warmup_steps=100 \
      --set train.ema_decay=0.995 --set train.checkpoint_every=0 --set train.progress=false \
      --set "train.output_dir=\"$run\""
  $PY -m engine evaluate --checkpoint "$run/final" --benchmark procedural --num-clips 16 \
      --steps 1,2,5,20 --out "results/ablation-$WEIGHTING-$arm"
done
