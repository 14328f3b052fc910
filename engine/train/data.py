"""Training data for the trainer: sources of indexed examples, and a resumable, worker-parallel loader.

The contract with ``engine.data``
    A *source* is an endless, deterministic sequence of unbatched examples ``e_0, e_1, ...`` (the
    batch format of ``engine.objective`` without the batch dim: video (3, T, H, W), rays (T, Cray, Hr,
    Wr), cond_idx (M,), num_sources ()). The trainer needs random access to it: ``source.example(i)``
    (or ``source[i]``), a pure function of the source's seed and ``i``. That is what makes a run
    resumable exactly, and the example order independent of the number of loader workers: the
    position in the data is one integer, the number of examples consumed.

    ``engine.data``'s datasets (``ProceduralClips``, ``Re10kClips``, ...) are ``IterableDataset``s that
    offer ``example(n)``; their own worker-aware iteration is not used here. A real clip that turns out
    unusable gives None; ``fetch_example`` then takes a deterministic substitute.

Loader
    Process ``r`` of ``W``, micro-batch ``j`` after resuming at example ``E`` takes examples
    ``E + (j W + r) B ... E + (j W + r + 1) B - 1``. A map-style ``DataLoader`` with that batch sampler
    runs ``num_workers`` worker processes that prefetch batches in order.
"""

from __future__ import annotations

import importlib
import inspect
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..config import EngineConfig
from .config import DataConfig

Example = dict[str, Any]


# --------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------

def example_getter(source: Any) -> Callable[[int], Example]:
    """``i -> example`` for a source with ``example(i)`` or ``__getitem__``; a clear error otherwise."""
    if callable(getattr(source, "example", None)):
        return source.example
    if callable(getattr(source, "__getitem__", None)):
        return source.__getitem__
    raise TypeError(f"{type(source).__name__} is not an indexed example source: the trainer needs "
                    "source.example(i) (or source[i]), a deterministic function of the index, for exact "
                    "resume and worker-independent order (see engine.train.data)")


MAX_SUBSTITUTES = 64
SUBSTITUTE_STRIDE = 1_000_003


def fetch_example(source: Any, index: int) -> Example:
    """Example ``index``; when the source has none there (a real clip that turns out unusable returns
    None), the first usable one of ``index + k * SUBSTITUTE_STRIDE``, k = 1, 2, ...: still a pure
    function of the index, so order and resume stay exact."""
    get = example_getter(source)
    for k in range(MAX_SUBSTITUTES + 1):
        ex = get(index + k * SUBSTITUTE_STRIDE)
        if ex is not None:
            return ex
    raise RuntimeError(f"{type(source).__name__}: no usable example at {index} nor at {MAX_SUBSTITUTES} "
                       "substitutes; check the data (its warnings name the unusable clips)")


class IndexedExamples(Dataset):
    """Map-style view of a source (picklable when the source is, so workers can hold a copy)."""

    def __init__(self, source: Any):
        self.source = source
        example_getter(source)                                  # fail early

    def __getitem__(self, index: int) -> Example:
        return fetch_example(self.source, int(index))


class StreamBatchSampler(Sampler[list[int]]):
    """Endless batches of consecutive example indices, interleaved over processes (see module doc)."""

    def __init__(self, *, batch_size: int, start: int = 0, rank: int = 0, world_size: int = 1):
        if batch_size < 1 or start < 0 or not 0 <= rank < world_size:
            raise ValueError(f"bad stream: batch_size {batch_size}, start {start}, rank {rank} of {world_size}")
        self.batch_size, self.start, self.rank, self.world_size = batch_size, start, rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        j = 0
        while True:
            first = self.start + (j * self.world_size + self.rank) * self.batch_size
            yield list(range(first, first + self.batch_size))
            j += 1


def collate_examples(examples: list[Example]) -> dict[str, Any]:
    """Stack tensors key by key (the batch format of ``engine.objective``); other values become lists."""
    out: dict[str, Any] = {}
    for key in examples[0]:
        values = [e[key] for e in examples]
        if isinstance(values[0], torch.Tensor):
            out[key] = torch.stack(values)
        elif isinstance(values[0], (int, float)) and not isinstance(values[0], bool):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out


def default_collate_fn() -> Callable[[list[Example]], dict[str, Any]]:
    """``engine.data``'s collate function when it has one, else ``collate_examples``."""
    try:
        data = importlib.import_module("engine.data")
    except ImportError:
        return collate_examples
    for name in ("collate", "collate_examples", "collate_fn"):
        fn = getattr(data, name, None)
        if callable(fn):
            return fn
    return collate_examples


def _leave_interrupts_to_the_trainer(worker_id: int) -> None:
    """Loader workers ignore SIGINT. Ctrl-C (or ``timeout --signal=INT``) reaches the whole process group;
    the trainer's handler finishes the step and saves a checkpoint, which needs the workers alive."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_loader(source: Any, *, batch_size: int, start: int = 0, rank: int = 0, world_size: int = 1,
                num_workers: int = 0, prefetch_factor: int = 2, collate_fn: Callable | None = None,
                seed: int = 0) -> DataLoader:
    """An endless DataLoader over ``source`` from example ``start`` (see the module docstring).

    ``seed`` seeds the loader's own generator (worker base seeds), so creating it never touches the
    global torch RNG; examples do not depend on it (they are functions of their index).
    """
    kwargs: dict[str, Any] = {}
    if num_workers > 0:
        kwargs.update(prefetch_factor=prefetch_factor, persistent_workers=False,
                      worker_init_fn=_leave_interrupts_to_the_trainer)
    return DataLoader(IndexedExamples(source),
                      batch_sampler=StreamBatchSampler(batch_size=batch_size, start=start, rank=rank,
                                                       world_size=world_size),
                      num_workers=num_workers, collate_fn=collate_fn or default_collate_fn(),
                      generator=torch.Generator().manual_seed(seed), pin_memory=torch.cuda.is_available(),
                      **kwargs)


# --------------------------------------------------------------------------------------
# Building sources from a DataConfig
# --------------------------------------------------------------------------------------

def resolve_callable(spec: str, what: str) -> Callable:
    """``"package.module:function"`` -> the function."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{what} {spec!r}: expected 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{what} {spec!r}: cannot import {module_name!r} ({exc})") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"{what} {spec!r}: {module_name!r} has no function {attr!r}")
    return fn


def _call(fn: Callable, offered: dict[str, Any], options: dict[str, Any]) -> Any:
    """``fn(**offered-it-accepts, **options)``: the standard arguments are passed where ``fn`` takes
    them (all if it takes ``**kwargs``); ``options`` always are (a wrong option is an error)."""
    params = inspect.signature(fn).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        offered = {k: v for k, v in offered.items() if k in params}
    try:
        return fn(**{**offered, **options})
    except TypeError as exc:
        if options and "argument" in str(exc):
            raise ValueError(f"data.options {sorted(options)}: {exc}") from exc
        raise


def _scene_roots(path: Path, marker: Callable[[Path], bool]) -> list[Path]:
    """``path`` itself when it is a scene, else its sub-folders that are scenes (sorted)."""
    if marker(path):
        return [path]
    roots = sorted(p for p in path.iterdir() if p.is_dir() and marker(p)) if path.is_dir() else []
    if not roots:
        raise ValueError(f"{path}: neither a scene folder nor a folder of scene folders")
    return roots


def _is_colmap(p: Path) -> bool:
    return (p / "images").is_dir() and ((p / "sparse" / "0").is_dir() or (p / "sparse").is_dir())


def _is_transforms(p: Path) -> bool:
    return p.suffix.lower() == ".json" or (p / "transforms.json").is_file()


def build_source(data: DataConfig, cfg: EngineConfig, *, seed: int, split: str) -> Any:
    """The example source of ``split`` ("train" or "heldout") that ``data`` describes.

    procedural  ``engine.data.ProceduralClips`` (held-out: its reserved scene seeds)
    re10k       ``engine.data.Re10kClips(path)``          (held-out: ``heldout_path``)
    colmap      ``engine.data.ColmapScenes``: ``path`` is a scene folder or a folder of them
    transforms  ``engine.data.TransformsScenes``: likewise, scenes with a transforms.json
    custom      ``factory(cfg=, clip=, seed=, split=, heldout=, path=, encoding=, raxel_downsample=)``,
                each passed only if the factory takes it

    ``data.options`` go to the constructor as keyword arguments. Real data without ``heldout_path``
    evaluates on its training clips (with another seed), which the summary says.
    """
    common = dict(raxel_downsample=cfg.model.raxel_downsample, encoding=cfg.model.camera_encoding)
    options = dict(data.options)
    if data.source == "custom":
        fn = resolve_callable(data.factory or "", "data.factory")
        source = _call(fn, dict(cfg=cfg, clip=cfg.clip, seed=seed, split=split, heldout=split == "heldout",
                                path=data.path, **common), options)
        example_getter(source)
        return source
    from .. import data as engine_data

    try:
        if data.source == "procedural":
            return engine_data.ProceduralClips(cfg.clip, split=split, seed=seed, **common, **options)
        path = Path(data.heldout_path if split == "heldout" and data.heldout_path else (data.path or ""))
        if split == "heldout" and not data.heldout_path:
            seed = seed + 1                       # at least other windows / references than training
        if data.source == "re10k":
            return engine_data.Re10kClips(path, cfg.clip, seed=seed, **common, **options)
        if data.source == "colmap":
            return engine_data.ColmapScenes(_scene_roots(path, _is_colmap), cfg.clip, seed=seed, **common, **options)
        if data.source == "transforms":
            return engine_data.TransformsScenes(_scene_roots(path, _is_transforms), cfg.clip, seed=seed, **common,
                                                **options)
    except TypeError as exc:
        raise ValueError(f"data.options {sorted(options)} for data.source = {data.source!r}: {exc}") from exc
    raise ValueError(f"unknown data.source {data.source!r}")
