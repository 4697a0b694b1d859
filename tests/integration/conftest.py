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


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """The machine's Redis (checked once): skipped with the reason if it does not answer, failed under CI=true."""
    from .cluster import REDIS_URL, ping, redis_unavailable

    problem = ping(REDIS_URL)
    if problem is not None:
        redis_unavailable(problem)
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """A channel prefix of this test's own."""
    from .cluster import new_prefix

    return new_prefix()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[object]:
    """A redis-server of this test's own (it may kill and restart it)."""
    from .cluster import PrivateRedis

    r = PrivateRedis(tmp_path)
    r.start()
    yield r
    r.kill()
