"""The store package's public names and dependencies."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import cowrite.store


def test_store_exports() -> None:
    assert sorted(cowrite.store.__all__) == sorted(
        [
            "MAX_DOC_ID_LEN",
            "MAX_TITLE",
            "MAX_VERSION_NAME",
            "NamedVersionRecord",
            "AccountExists",
            "AccountRecord",
            "ConflictingOps",
            "CorruptionError",
            "DocInfo",
            "DocInviteRecord",
            "DocumentExists",
            "DocumentNotFound",
            "HistoryPruned",
            "InvalidArgument",
            "InvalidDocumentId",
            "InviteRecord",
            "InviteRefused",
            "LinkRecord",
            "MemberRecord",
            "SQLiteStore",
            "SchemaError",
            "SessionRecord",
            "SignUpRefused",
            "Store",
            "StoreError",
            "StoreUnavailable",
            "TokenRecord",
            "UnsupportedBackend",
            "check_doc_id",
            "open_store",
        ]
    )


def test_store_depends_only_on_the_engine_and_the_standard_library() -> None:
    """...and on its database drivers, in the backend that needs them."""
    root = Path(cowrite.store.__file__).parent
    drivers = {"postgres": {"psycopg", "psycopg_pool"}}
    paths = sorted(root.rglob("*.py"))
    assert root / "postgres" / "store.py" in paths
    for path in paths:
        allowed = drivers.get(path.relative_to(root).parts[0], set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for n in names:
                top = n.split(".")[0]
                ok = (
                    top in sys.stdlib_module_names
                    or top == "__future__"
                    or n.startswith(("cowrite.engine", "cowrite.errors"))
                    or top in allowed
                )
                assert ok, f"{path.relative_to(root)} imports {n}"
