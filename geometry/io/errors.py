"""The one exception camera readers raise for a bad file."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path


class CameraFileError(ValueError):
    """A camera file that cannot be read, saying where in the file the problem is.

    The message starts with the file and, when known, the 1-based ``line`` (text formats and
    JSON syntax errors) or the JSON ``key`` path such as ``frames[3].transform_matrix``, so a
    user can open the file and go straight to the problem. It is a ``ValueError`` so callers
    that already catch invalid input keep working.
    """

    def __init__(self, path: str | Path, message: str, *, line: int | None = None,
                 column: int | None = None, key: str | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        self.key = key
        self.reason = message
        where = str(path)
        if line is not None:
            where += f", line {line}" + (f" column {column}" if column is not None else "")
        if key is not None:
            where += f", at {key}"
        super().__init__(f"{where}: {message}")


_PACKAGE_DIR = str(Path(__file__).parent)


def warn(message: str) -> None:
    """``warnings.warn`` attributed to the first caller outside geometry/io, so the warning points
    at the user's ``load_cameras(...)`` line rather than at a reader's internals."""
    frame, level = sys._getframe(1), 2  # stacklevel 2 = our caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)
