import os
import sys
import uuid
from collections.abc import Iterator

import pytest

# make tests/engine/engine_helpers.py importable as ``engine_helpers``
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "engine"))

try:
    from hypothesis import settings

    settings.register_profile("ci", deadline=None, print_blob=True)
    settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass


# -- PostgreSQL ---------------------------------------------------------------------------
# The tests that need a real PostgreSQL take the `pg_url` fixture: a fresh schema of its
# own, dropped afterwards, so tests never see each other's data and can run again and
# again.  Which server: $COWRITE_TEST_POSTGRES (a libpq URL with the right to create
# schemas), by default the machine's own.  Without one the tests are skipped, with the
# reason; under CI=true they fail instead, since CI must test against the real thing.

POSTGRES_URL = os.environ.get("COWRITE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_unavailable(reason: str) -> None:
    message = f"PostgreSQL is not available at {POSTGRES_URL} ({reason}); set COWRITE_TEST_POSTGRES"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " -- CI=true, so this fails rather than skips", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """A URL of a PostgreSQL server the tests may create and drop schemas in (checked once)."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        _postgres_unavailable(f"psycopg is not installed: {exc}")
        raise
    problem = None
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if problem is not None:
        _postgres_unavailable(problem)
    return POSTGRES_URL


def with_search_path(url: str, schema: str) -> str:
    """``url`` with its connections' search_path set to ``schema`` alone."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url(postgres_admin_url: str) -> Iterator[str]:
    """A libpq URL whose connections work in a new, empty schema (dropped after the test)."""
    import psycopg

    schema = f"cw_t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
    try:
        yield with_search_path(postgres_admin_url, schema)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())
