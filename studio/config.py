"""``StudioConfig``: every limit and location the studio uses, with defaults and environment overrides.

Environment variables (all optional) use the prefix ``RAXEL_STUDIO_``, e.g.
``RAXEL_STUDIO_MAX_UPLOAD_MB=16`` or ``RAXEL_STUDIO_PORT=7861``; see ``StudioConfig.from_env``.
The pixel limit per image is not the studio's own: it is the engine's ``RAXEL_MAX_IMAGE_PIXELS``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine import max_image_pixels

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class StudioConfig:
    """Where the studio listens, what it accepts, and where it looks for examples."""

    host: str = "127.0.0.1"                 # Gradio address (local only: no share tunnel)
    port: int = 7860
    viser_host: str = "127.0.0.1"           # per-session Viser servers bind here ...
    viser_port: int = 8100                  # ... starting at this port (the next free one is taken)
    max_upload_mb: float = 64.0             # any single uploaded file
    max_photos: int = 8                     # photos per generation
    max_clip_frames: int = 300              # frames decoded from an uploaded clip
    max_image_side: int = 4096              # pixels per side of any uploaded image or frame (see max_image_pixels)
    checkpoint: str | None = None           # None: the engine's shipped default (or its untrained preset)
    device: str = "auto"
    scenes_dir: Path = REPO_ROOT / "assets" / "scenes"
    clip_dirs: tuple[Path, ...] = field(default_factory=lambda: (
        REPO_ROOT / "tests" / "data" / "re10k",
        REPO_ROOT.parent / "shared" / "data" / "re10k-clips",
    ))
    display_size: int = 160                 # model frames are upscaled to this many pixels for display
    thumbnail_size: int = 64                # frames textured onto frustums in the viewport
    sync_interval_s: float = 1.0            # how often the page picks up edits made in the viewport

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def max_image_pixels(self) -> int:
        """Pixels per uploaded image or frame: the engine's one limit for API, CLI and studio alike
        (``RAXEL_MAX_IMAGE_PIXELS``, default 40 MP), checked from the file's header before decoding."""
        return max_image_pixels()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "StudioConfig":
        """Defaults, then ``RAXEL_STUDIO_<FIELD>`` variables, then keyword overrides."""
        env = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"RAXEL_STUDIO_{f.name.upper()}")
            if raw is None or f.name == "clip_dirs":
                continue
            kind = type(getattr(cls(), f.name))
            try:
                values[f.name] = Path(raw) if f.name == "scenes_dir" else (None if kind is type(None) else kind(raw))
            except ValueError as exc:
                raise ValueError(f"RAXEL_STUDIO_{f.name.upper()}={raw!r}: expected {kind.__name__}") from exc
        values.update(overrides)
        return cls(**values)
