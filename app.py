"""Start the studio on http://127.0.0.1:7860 (``make run``)."""

import sys


def main() -> int:
    try:
        from studio.app import launch
    except ImportError:
        print("The studio is not built yet (issue: Step 5, studio/). "
              "The geometry package and its tests are available: `make test`.")
        return 0
    launch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
