"""cowrite: real-time collaborative text editing.

``from cowrite import Document`` is all most code needs; see ``cowrite.engine``.
"""

from .engine import (
    ConflictingOpError,
    CowriteError,
    DecodeError,
    Document,
    InvalidOpError,
    Op,
    Position,
    RawVersion,
    TooLargeError,
    UndoManager,
    UnknownParentError,
    UnknownVersionError,
)

__version__ = "0.1.0"

__all__ = [
    "ConflictingOpError",
    "CowriteError",
    "DecodeError",
    "Document",
    "InvalidOpError",
    "Op",
    "Position",
    "RawVersion",
    "TooLargeError",
    "UndoManager",
    "UnknownParentError",
    "UnknownVersionError",
    "__version__",
]
