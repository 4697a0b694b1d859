"""The PostgreSQL backend: :class:`PostgresStore` (the store) and :mod:`.schema` (its migrations).

Imported on demand by :func:`cowrite.store.open_store` for ``postgresql://`` URLs, so a
SQLite-only install never needs psycopg.
"""

from __future__ import annotations

from .schema import MIGRATIONS, SCHEMA_VERSION
from .store import PostgresStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]
