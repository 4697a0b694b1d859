"""PostgreSQL that is not there, or does not answer: ``StoreUnavailable`` within seconds, never a hang.

A server tells an outage (stop acknowledging, report unready, retry) from a refusal
(answer the client) by this error class, and it must come in seconds: a black-holed
database otherwise holds a commit, and the room waiting on it, for TCP's minutes.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from cowrite.errors import StoreError, StoreUnavailable
from cowrite.store.postgres import PostgresStore
from tests.integration.blackhole import BlackholeRelay
from tests.integration.harness import free_port


def test_nothing_listening_is_unavailable_within_the_pool_timeout() -> None:
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable, match="no connection within 1 s"):
        PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/test", timeout=1.0)
    assert time.monotonic() - t0 < 30  # (1 s, plus a loaded machine's slack)


def test_a_black_holed_database_is_unavailable_not_a_hang(pg_url: str) -> None:
    """The relay accepts the connection and never answers: libpq's connect_timeout."""
    relay = BlackholeRelay(5432)
    relay.start()
    try:
        relay.blackhole()
        url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
        assert url != pg_url
        with pytest.raises(StoreUnavailable):
            PostgresStore(url, timeout=4.0)
    finally:
        relay.close()


def test_session_timeouts_are_set_and_a_runaway_statement_is_cut_off(pg_url: str) -> None:
    store = PostgresStore(pg_url, statement_timeout=0.5, idle_in_transaction_timeout=2)
    try:
        with store._connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("500ms",)
            assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("2s",)
        with pytest.raises(StoreUnavailable, match="unavailable"):
            store._read(lambda conn: conn.execute("SELECT pg_sleep(5)"))
        store.create("doc")  # the pool goes on with a good connection
        assert store.exists("doc")
    finally:
        store.close()


def test_a_database_restart_mid_transaction_is_unavailable(pg_url: str) -> None:
    """The server ends our session (a restart, an administrator): a read says unavailable,
    and the next call works on a fresh connection."""
    store = PostgresStore(pg_url, min_size=1, max_size=1)
    try:
        store.create("doc")

        def killed(conn: psycopg.Connection[object]) -> None:
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        with pytest.raises(StoreUnavailable):
            store._read(killed)
        assert store.exists("doc")
    finally:
        store.close()


def test_bad_timeouts_are_refused(pg_url: str) -> None:
    for bad in (0, -1, float("nan"), "5", 10**6):
        with pytest.raises(StoreError, match="timeout"):
            PostgresStore(pg_url, statement_timeout=bad)  # type: ignore[arg-type]
