import sys
from pathlib import Path

# The shared strategies module sits beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

# Reproducible property tests: `make test` (and CI) draws the same examples every run, so a red run
# is a real regression, not a rare draw. HYPOTHESIS_PROFILE=explore draws fresh, more numerous examples.
import os  # noqa: E402

from hypothesis import settings  # noqa: E402

settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=200, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
