"""Evaluation harness: ``python -m engine evaluate`` (see ``cli``).

- ``benchmarks``: held-out procedural clips and RealEstate10K-layout folders, on the model grid.
- ``poses``: pose estimation for several ray-step counts beside own/other, input-free answers (identity,
  forward line) and the classical baselines (two-view, COLMAP) on full-resolution frames (Table 3 shape).
- ``generation``: camera-controlled generation: PSNR / SSIM and trajectory adherence.
- ``cycle``: cycle self-consistency (Table 2 shape).
- ``report``: report.md, CSV tables and PNG plots.
- ``compare``: one table from several reports (``python -m engine compare``, the ablations).
"""

from .benchmarks import EvalClip, load_benchmark
from .cli import add_evaluate_command, run_evaluation

__all__ = ["EvalClip", "load_benchmark", "add_evaluate_command", "run_evaluation"]
