from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import ServerProcess


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that never stop it (each uses its own documents)."""
    srv = ServerProcess(tmp_path_factory.mktemp("shared") / "shared.db")
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own, which it may kill and restart."""
    srv = ServerProcess(tmp_path / "server.db")
    srv.start()
    yield srv
    srv.kill()
