"""Typed access into a parsed JSON document. Every error names the file and the key path
(``frames[3].transform_matrix``), so a bad field can be found without a debugger."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .errors import CameraFileError

_MISSING = object()


def child(key: str, name: str | int) -> str:
    """Key path of ``name`` under ``key``: ``child("frames", 3) == "frames[3]"``."""
    if isinstance(name, int):
        return f"{key}[{name}]"
    return f"{key}.{name}" if key else name


class JsonFields:
    """Checked getters for one JSON file. ``key`` arguments are the path of the value being read."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def error(self, key: str, message: str) -> CameraFileError:
        return CameraFileError(self.path, message, key=key or "top level")

    def object(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a JSON object, got {_kind(value)}")
        return value

    def get(self, obj: dict[str, Any], name: str, key: str, default: Any = _MISSING) -> Any:
        """``obj[name]``; missing keys are an error unless a ``default`` is given."""
        if name in obj:
            return obj[name]
        if default is _MISSING:
            raise self.error(child(key, name), "required key is missing")
        return default

    def array(self, value: Any, key: str, *, nonempty: bool = True) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(key, f"expected a JSON array, got {_kind(value)}")
        if nonempty and not value:
            raise self.error(key, "array is empty")
        return value

    def number(self, value: Any, key: str, *, positive: bool = False) -> float:
        # bool is an int in Python but `true` is never a valid camera number.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_kind(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise self.error(key, f"number is {value} (NaN or infinite)")
        if positive and value <= 0:
            raise self.error(key, f"must be positive, got {value}")
        return value

    def integer(self, value: Any, key: str, *, positive: bool = False) -> int:
        number = self.number(value, key, positive=positive)
        if number != int(number):
            raise self.error(key, f"expected a whole number, got {number}")
        return int(number)

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        return value

    def matrix(self, value: Any, key: str, rows: int, cols: int, *, flat: bool = False) -> torch.Tensor:
        """A ``rows x cols`` float64 matrix from nested rows, or (``flat=True``) also from a flat
        row-major list of ``rows * cols`` numbers."""
        items = self.array(value, key)
        if flat and len(items) == rows * cols and not any(isinstance(v, list) for v in items):
            numbers = [self.number(v, child(key, i)) for i, v in enumerate(items)]
            return torch.tensor(numbers, dtype=torch.float64).reshape(rows, cols)
        if len(items) != rows or not all(isinstance(r, list) and len(r) == cols for r in items):
            shape = f"{rows}x{cols} nested rows" + (f" or {rows * cols} numbers" if flat else "")
            raise self.error(key, f"expected a {shape}, got {_shape_of(items)}")
        numbers = [[self.number(v, child(child(key, i), j)) for j, v in enumerate(r)] for i, r in enumerate(items)]
        return torch.tensor(numbers, dtype=torch.float64)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


def _shape_of(items: list[Any]) -> str:
    if all(isinstance(r, list) for r in items):
        return f"{len(items)} rows of lengths {sorted({len(r) for r in items})}"
    return f"a list of {len(items)} items"
