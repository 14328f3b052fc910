"""Frame size of a video or image on disk, for formats whose intrinsics need it (RealEstate10K
normalised intrinsics, NeRF files that give only ``camera_angle_x``)."""

from __future__ import annotations

from pathlib import Path


def video_frame_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of a video's frames, read from the container header by ffmpeg."""
    import imageio.v2 as imageio  # deferred: spawning ffmpeg is only needed for this

    try:
        reader = imageio.get_reader(str(path), "ffmpeg")
        try:
            width, height = reader.get_meta_data()["size"]
        finally:
            reader.close()
    except Exception as exc:  # imageio raises several unrelated types for unreadable videos
        raise ValueError(f"{path}: cannot read the video's frame size ({exc})") from exc
    return int(width), int(height)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image file."""
    import imageio.v3 as iio

    try:
        shape = iio.improps(str(path)).shape
    except Exception as exc:
        raise ValueError(f"{path}: cannot read the image's size ({exc})") from exc
    return int(shape[1]), int(shape[0])
