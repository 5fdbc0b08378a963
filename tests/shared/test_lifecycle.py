"""settle_heap, the gc_freeze setting's rule, in this process (its GC state restored afterwards)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.edge.lifecycle import GC_YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settling_freezes_what_is_loaded_and_raises_the_young_threshold() -> None:
    older = gc.get_threshold()[1:]
    frozen = settle_heap(True)
    assert frozen > 0 and gc.get_freeze_count() == frozen
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *older)


@pytest.mark.usefixtures("restored_gc")
def test_with_gc_freeze_off_nothing_changes() -> None:
    threshold, count = gc.get_threshold(), gc.get_freeze_count()
    assert settle_heap(False) == 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, count)
