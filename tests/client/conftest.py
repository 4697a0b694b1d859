from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.harness import ServerProcess


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server for the client tests (each test uses its own documents)."""
    srv = ServerProcess(tmp_path_factory.mktemp("client-tests") / "server.db")
    srv.start()
    yield srv
    srv.kill()
