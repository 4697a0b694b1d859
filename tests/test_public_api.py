"""The public surface is small and deliberate: changing it must be a conscious act."""

from __future__ import annotations

import cowrite
import cowrite.engine


def test_top_level_exports() -> None:
    assert sorted(cowrite.__all__) == sorted(
        [
            "ConflictingOpError",
            "CowriteError",
            "DecodeError",
            "Document",
            "InvalidOpError",
            "Op",
            "Position",
            "RawVersion",
            "UndoManager",
            "UnknownParentError",
            "UnknownVersionError",
            "__version__",
        ]
    )


def test_engine_exports() -> None:
    assert sorted(cowrite.engine.__all__) == sorted(
        [
            "Authorship",
            "Branch",
            "CausalGraph",
            "Change",
            "ConflictingOpError",
            "CowriteError",
            "DecodeError",
            "Document",
            "InvalidOpError",
            "Op",
            "OpLog",
            "Position",
            "RawVersion",
            "UndoManager",
            "UndoResult",
            "UnknownParentError",
            "UnknownVersionError",
            "checkout",
        ]
    )


def test_one_exception_tree() -> None:
    for name in ["ConflictingOpError", "DecodeError", "InvalidOpError", "UnknownParentError", "UnknownVersionError"]:
        assert issubclass(getattr(cowrite, name), cowrite.CowriteError)


def test_engine_imports_only_the_standard_library() -> None:
    import ast
    import sys
    from pathlib import Path

    root = Path(cowrite.engine.__file__).parent
    for path in root.glob("*.py"):
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
