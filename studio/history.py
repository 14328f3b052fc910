"""``UndoHistory``: bounded undo/redo stacks of immutable snapshots."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class UndoHistory(Generic[T]):
    """Snapshots before each edit. ``record(before)`` on every edit clears the redo stack."""

    def __init__(self, limit: int = 200):
        self.limit = limit
        self._undo: list[T] = []
        self._redo: list[T] = []

    def record(self, before: T) -> None:
        self._undo.append(before)
        del self._undo[:-self.limit]
        self._redo.clear()

    def undo(self, current: T) -> T | None:
        """The snapshot to restore (``current`` goes onto the redo stack), or None."""
        if not self._undo:
            return None
        self._redo.append(current)
        return self._undo.pop()

    def redo(self, current: T) -> T | None:
        if not self._redo:
            return None
        self._undo.append(current)
        return self._redo.pop()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)
