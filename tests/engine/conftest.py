"""Engine tests run the merge with tiny state chunks (so chunks are cut all the
time) and with its debug check after every walked piece (cached counts recomputed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cowrite.engine.merge import items, walk


@pytest.fixture(autouse=True, scope="module")
def _merge_checks() -> Iterator[None]:
    saved = items.CHUNK_MAX, walk.CHECK
    items.CHUNK_MAX = 4
    walk.CHECK = True
    try:
        yield
    finally:
        items.CHUNK_MAX, walk.CHECK = saved
