"""Start the studio on http://127.0.0.1:7860 (``make run``). Settings: ``studio/README.md``."""

import sys


def main() -> int:
    from studio.app import launch

    launch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
