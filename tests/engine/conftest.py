"""Engine tests run the walker with tiny state chunks (so chunks are cut all the
time) and with its debug check after every walked piece (cached counts recomputed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cowrite.engine import walker


@pytest.fixture(autouse=True, scope="module")
def _walker_checks() -> Iterator[None]:
    saved = walker._CHUNK_MAX, walker._CHECK
    walker._CHUNK_MAX = 4
    walker._CHECK = True
    try:
        yield
    finally:
        walker._CHUNK_MAX, walker._CHECK = saved
