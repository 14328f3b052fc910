"""``load_cameras`` / ``save_cameras``: pick the format from the path (and, for loading, the
content), then call that format's module. Format names: see ``FORMATS``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ..cameras import Cameras
from .colmap import COLMAP_FILE_NAMES, load_colmap, save_colmap
from .errors import CameraFileError
from .file_checks import checked_image_size
from .nerf_transforms import save_transforms, transforms_from_json
from .nerfstudio_path import nerfstudio_path_from_json, save_nerfstudio_path
from .re10k import load_re10k, save_re10k
from .reading import check_readable_file, read_json
from .trajectory_json import TRAJECTORY_FORMAT, save_trajectory, trajectory_from_json

CameraFormat = Literal["re10k", "colmap", "transforms", "nerfstudio_path", "trajectory"]
FORMATS: tuple[str, ...] = ("re10k", "colmap", "transforms", "nerfstudio_path", "trajectory")

# How much of a .txt file to peek at to tell a COLMAP model file from a RealEstate10K file.
_SNIFF_BYTES = 4096

# The JSON formats and the keys that identify them, for messages when a document fits none well.
_JSON_FORMATS = {"trajectory": ("a raxel-studio trajectory", f'"format": "{TRAJECTORY_FORMAT}"'),
                 "nerfstudio_path": ("a nerfstudio camera path", '"camera_path"'),
                 "transforms": ("a transforms.json", '"frames" with "transform_matrix"')}


def load_cameras(path: str | Path, *, width: int | None = None, height: int | None = None,
                 format: CameraFormat | None = None) -> Cameras:
    """Cameras (N,) float64 from any supported camera file, in the package conventions.

    The format comes from ``format`` or from the path and content: a folder or cameras/images
    .txt/.bin is COLMAP; another .txt is RealEstate10K; a .json is told apart by its keys
    (``format`` = raxel-studio trajectory, ``camera_path`` = nerfstudio path, ``frames`` =
    transforms.json). With ``width`` and ``height`` the cameras are ``.resized`` to that size
    (for RealEstate10K, whose files store no size, they are the frame size itself).
    """
    if (width is None) != (height is None):
        raise ValueError("load_cameras: pass both width and height, or neither")
    if width is not None:
        checked_image_size(width, height, lambda m: ValueError(f"load_cameras: width= / height=: {m}"))
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise ValueError(f"load_cameras: unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    doc = None
    if format in (None, "transforms", "nerfstudio_path", "trajectory") and path.suffix.lower() == ".json":
        doc = read_json(path)  # parsed once, both to detect the format and to load it
    if format is not None:
        fmt, why = format, None
    elif doc is not None:
        fmt, why = _json_format(doc, path)
    else:
        fmt, why = detect_format(path), None
    try:
        cameras = _read(path, doc, fmt, width, height)
    except CameraFileError as exc:
        if why is None:
            raise
        # The format was guessed from the keys: say so, and which formats exist, so a file that is one
        # format with a key missing is not reported only as a broken file of another.
        others = ", ".join(f"{label} ({keys})" for name, (label, keys) in _JSON_FORMATS.items() if name != fmt)
        raise CameraFileError(exc.path, f"{exc.reason} (read as {_JSON_FORMATS[fmt][0]} because {why}; also tried "
                                        f"{others})",
                              line=exc.line, column=exc.column, key=exc.key) from None
    if width is not None and height is not None and (cameras.width, cameras.height) != (width, height):
        cameras = cameras.resized(width, height)
    return cameras


def _read(path: Path, doc: Any, fmt: str, width: int | None, height: int | None) -> Cameras:
    if fmt == "re10k":
        cameras = load_re10k(path, width=width, height=height)
    elif fmt == "colmap":
        cameras, _ = load_colmap(path)
    else:
        doc = read_json(path) if doc is None else doc
        if fmt == "transforms":
            cameras = transforms_from_json(doc, path, width=width, height=height)[0]
        elif fmt == "nerfstudio_path":
            cameras = nerfstudio_path_from_json(doc, path)
        else:
            cameras = trajectory_from_json(doc, path)["cameras"]
    return cameras


def save_cameras(cameras: Cameras, path: str | Path, *, format: CameraFormat | None = None,
                 **options: Any) -> Path:
    """Write cameras in ``format`` (default: from the path, see ``format_for_saving``); ``options``
    go to that format's writer (e.g. ``url=`` for re10k, ``keyframes=`` for nerfstudio_path and
    trajectory, ``image_names=`` for colmap). Returns the file (or COLMAP folder) written."""
    fmt = format or format_for_saving(path)
    writers = {"re10k": save_re10k, "colmap": save_colmap, "transforms": save_transforms,
               "nerfstudio_path": save_nerfstudio_path, "trajectory": save_trajectory}
    if fmt not in writers:
        raise ValueError(f"save_cameras: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](cameras, path, **options)


def detect_format(path: str | Path) -> str:
    """Format of an existing camera file or folder, from its name and content (the first bytes of
    a .txt, the keys of a .json); raises ``CameraFileError`` when it is none of ``FORMATS``."""
    path = Path(path)
    if path.is_dir() or path.name in COLMAP_FILE_NAMES:
        return "colmap"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json_format(read_json(path), path)
    if suffix == ".txt":
        check_readable_file(path)
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
        if head.lstrip().startswith((b"# Camera list", b"# Image list")):
            raise CameraFileError(path, "looks like a COLMAP model file, but COLMAP files must be named "
                                        "cameras.txt and images.txt (side by side)")
        return "re10k"
    raise CameraFileError(path, "cannot tell the camera format from the extension; expected a COLMAP folder, "
                                ".txt (RealEstate10K or COLMAP) or .json, or pass format=")


def json_format(doc: Any, path: str | Path) -> str:
    """Which JSON camera format a parsed document is: by its keys, else by a telling file name."""
    return _json_format(doc, path)[0]


def _json_format(doc: Any, path: str | Path) -> tuple[str, str]:
    """(format, why it was guessed) of a parsed JSON document; the reason is None when a key names it."""
    if isinstance(doc, dict):
        if doc.get("format") == TRAJECTORY_FORMAT:
            return "trajectory", None
        if "format" in doc and "frames" in doc and "version" in doc:
            return "trajectory", 'it has "format", "version" and "frames"'
        if "camera_path" in doc:
            return "nerfstudio_path", None
        if "frames" in doc:
            first = doc["frames"][0] if isinstance(doc["frames"], list) and doc["frames"] else None
            if isinstance(first, dict) and "c2w" in first and "transform_matrix" not in first:
                return "trajectory", 'its frames hold "c2w"'
            return "transforms", 'it has "frames"'
    # Content gave no answer: trust a telling file name, so the reader can say which key is missing.
    name = Path(path).name.lower()
    if isinstance(doc, dict) and "transforms" in name:
        return "transforms", 'its name contains "transforms"'
    if isinstance(doc, dict) and "camera_path" in name:
        return "nerfstudio_path", 'its name contains "camera_path"'
    tried = ", ".join(f"{label} ({keys})" for label, keys in _JSON_FORMATS.values())
    raise CameraFileError(path, f"JSON file is not a known camera format; tried {tried}")


def format_for_saving(path: str | Path) -> str:
    """Format implied by a path to write: folder-like paths and cameras.txt / images.txt are COLMAP,
    other .txt RealEstate10K; for .json, names containing "transforms" are transforms.json, names
    containing "camera_path" nerfstudio paths, any other .json a raxel-studio trajectory."""
    path = Path(path)
    name, suffix = path.name.lower(), path.suffix.lower()
    if path.is_dir() or name in COLMAP_FILE_NAMES or suffix == "":
        if suffix == ".bin":
            raise ValueError(f"{path}: COLMAP models are written as text (cameras.txt, images.txt)")
        return "colmap"
    if suffix == ".txt":
        return "re10k"
    if suffix == ".json":
        if "transforms" in name:
            return "transforms"
        if "camera_path" in name:
            return "nerfstudio_path"
        return "trajectory"
    raise ValueError(f"{path}: cannot tell the camera format from the extension {suffix!r}; use .json (a trajectory, "
                     f"or *transforms*.json / *camera_path*.json), .txt (RealEstate10K) or a folder (COLMAP), or "
                     f"pass format= (one of {', '.join(FORMATS)})")

