"""Bounded, validated reading of camera files: size limits, binary-garbage detection, JSON errors
with positions. Nothing here unpickles or evaluates file content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .errors import CameraFileError

# Camera files are small (a 1000-frame trajectory is ~1 MB of text); anything bigger is almost
# certainly the wrong file, and reading it whole could exhaust memory.
MAX_FILE_BYTES = 64 * 2**20

# COLMAP images.txt / images.bin also carry every 2D observation, so real models can be hundreds
# of MB. They are streamed (text) or handed to pycolmap (binary), never held as one string.
MAX_COLMAP_FILE_BYTES = 4 * 2**30


def check_readable_file(path: str | Path, limit: int | None = None) -> Path:
    """Return ``path`` as a ``Path`` if it is an existing file of at most ``limit`` bytes
    (default ``MAX_FILE_BYTES``, looked up at call time so tests and apps can lower it)."""
    path = Path(path)
    limit = MAX_FILE_BYTES if limit is None else limit
    if not path.exists():
        raise CameraFileError(path, "no such file")
    if path.is_dir():
        raise CameraFileError(path, "is a directory, expected a file")
    size = path.stat().st_size
    if size > limit:
        raise CameraFileError(path, f"file is {size:,} bytes, over the {_limit_text(limit)} limit "
                                    "for camera files; is this the right file?")
    return path


def _limit_text(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit % 2**20 == 0 else f"{limit:,} bytes"


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """All bytes of a small file. Reads at most ``limit + 1`` bytes even if ``stat`` lied
    (pipes, /proc files, a file growing while we read)."""
    limit = MAX_FILE_BYTES if limit is None else limit
    path = check_readable_file(path, limit)
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise CameraFileError(path, f"file is over the {_limit_text(limit)} limit for camera files")
    if not data.strip():
        raise CameraFileError(path, "file is empty")
    return data


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_text(data: bytes, path: str | Path, *, first_line: int = 1) -> str:
    """UTF-8 text of ``data``; binary content (NUL bytes, invalid UTF-8) is reported with its line."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CameraFileError(path, "contains binary data (a NUL byte), not a text camera file",
                              line=first_line - 1 + _line_of_offset(data, nul))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CameraFileError(path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); is this a binary file?",
                              line=first_line - 1 + _line_of_offset(data, exc.start)) from None
    return text.removeprefix("\ufeff")  # editors on Windows add a byte-order mark


def read_text_lines(path: str | Path, limit: int | None = None) -> list[str]:
    """Lines of a small text file, without line endings. ``lines[i]`` is line ``i + 1``.

    Splits on ``\\n`` only (not ``str.splitlines``, which also splits on form feeds and Unicode
    separators) so reported line numbers match what an editor shows.
    """
    text = decode_text(read_bytes(path, limit), path)
    return [line.removesuffix("\r") for line in text.split("\n")]


def iter_text_lines(path: str | Path, limit: int | None = None) -> Iterator[tuple[int, str]]:
    """Stream ``(line_number, line)`` from a possibly large text file (default limit
    ``MAX_COLMAP_FILE_BYTES``), one line in memory at a time."""
    limit = MAX_COLMAP_FILE_BYTES if limit is None else limit
    path = check_readable_file(path, limit)
    total = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            total += len(raw)
            if total > limit:
                raise CameraFileError(path, f"file is over the {_limit_text(limit)} limit", line=number)
            line = decode_text(raw, path, first_line=number)
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")
    if total == 0:
        raise CameraFileError(path, "file is empty")


def read_json(path: str | Path, limit: int | None = None) -> Any:
    """Parse a JSON file; syntax errors name the line and column."""
    text = decode_text(read_bytes(path, limit), path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CameraFileError(path, f"invalid JSON ({exc.msg})", line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise CameraFileError(path, "JSON is nested too deeply to be a camera file") from None
