"""The host freezes the heap once at startup and once when warm, never again."""

from __future__ import annotations

import pytest

from devhost import heap


def test_each_moment_freezes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "_done", set())
    monkeypatch.setattr(heap.gc, "freeze", lambda: calls.append(1))
    heap.freeze_startup()
    heap.freeze_startup()
    heap.freeze_once_warm()
    heap.freeze_once_warm()
    assert len(calls) == 2

