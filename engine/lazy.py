"""One PEP 562 loader for the engine's packages: public names import their module on first use, so the CLI's
``--help`` and the parser never pay for torch, diffusers or cv2 (issue 13)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a name to its relative module (".x")."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        vars(importlib.import_module(package))[name] = value     # later lookups skip this function
        return value

    return __getattr__
