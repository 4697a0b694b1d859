"""The public surface is small and deliberate: changing it must be a conscious act.

Each package's ``__all__`` is pinned here, every name in it exists, every public
name a package binds is in it (httpx's rule), and every error is one class of the
one tree in ``cowrite.errors``.
"""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

import cowrite
import cowrite.errors

PINNED = {
    "cowrite": [
        "ConflictingOpError", "CowriteError", "DecodeError", "Document", "InvalidOpError", "Op", "Position",
        "RawVersion", "TooLargeError", "UndoManager", "UnknownParentError", "UnknownVersionError", "__version__",
    ],
    "cowrite.engine": [
        "FORMAT_VERSION", "MAX_AGENT_LEN", "MAX_SEQ", "MAX_TIME", "Authorship", "Branch", "CausalGraph", "Change",
        "ConflictingOpError", "CowriteError", "DecodeError", "Document", "InvalidOpError", "Op", "OpLog", "Position",
        "RawVersion", "Summary", "TooLargeError", "UndoManager", "UndoResult", "UnknownParentError",
        "UnknownVersionError", "checkout", "decode_document", "decode_patch", "encode_document", "encode_patch",
        "normalize_summary", "patch_shape",
        "DiffSpan", "TextEdit", "restore", "text_diff", "version_diff",  # restore.py, textdiff.py
    ],
    "cowrite.client": [
        "Client", "ClientClosed", "ClientError", "ClientSettings", "Edit", "FatalError", "Notice", "NoticeKind", "Peer",
        "ReadOnlyError", "State", "StateFileError", "Unsent", "backoff_delay",
        "Comment", "CommentList", "DiffRun", "DocumentApi", "DocumentInfo", "ImportResult", "NamedVersion",  # documents.py
        "RequestError", "Suggestion", "SuggestionList", "TextState", "Title", "VersionDiff",
    ],
    "cowrite.client.documents": [
        "Comment", "CommentList", "DiffRun", "DocumentApi", "DocumentInfo", "ImportResult", "NamedVersion",
        "Suggestion", "SuggestionList", "TextState", "Title", "VersionDiff",
    ],
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_exports(name: str) -> None:
    mod = importlib.import_module(name)
    assert sorted(mod.__all__) == sorted(PINNED[name])


PACKAGES = ["cowrite", "cowrite.engine", "cowrite.protocol", "cowrite.store", "cowrite.server", "cowrite.client"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    mod = importlib.import_module(name)
    assert len(set(mod.__all__)) == len(mod.__all__), "a name listed twice"
    for n in mod.__all__:
        assert hasattr(mod, n), f"{name}.__all__ names {n}, which does not exist"
    public = {
        n for n, v in vars(mod).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
    }
    assert public <= set(mod.__all__) | {"__version__"}, f"public but not exported: {sorted(public - set(mod.__all__))}"


def test_one_exception_tree() -> None:
    """Every exception class cowrite defines lives in cowrite.errors and is a CowriteError."""
    for name in cowrite.errors.__all__:
        obj = getattr(cowrite.errors, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, cowrite.CowriteError), name
            assert obj.__module__ == "cowrite.errors", name
            assert name in cowrite.errors.__doc__, f"{name} is not drawn in the tree of cowrite/errors.py"
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        for n in mod.__all__:
            obj = getattr(mod, n)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                assert obj.__module__ == "cowrite.errors", f"{pkg}.{n} is defined outside cowrite.errors"


def test_engine_imports_only_the_standard_library() -> None:
    import ast
    import sys
    from pathlib import Path

    import cowrite.engine

    root = Path(cowrite.engine.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for n in names:
                top = n.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {n}"
