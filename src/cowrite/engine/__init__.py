"""cowrite's merge engine: pure Python, standard library only, no I/O.

The public names are re-exported here; the modules behind them are private.
"""

from .branch import Branch, checkout
from .causal_graph import CausalGraph
from .document import Document
from .errors import (
    ConflictingOpError,
    CowriteError,
    DecodeError,
    InvalidOpError,
    UnknownParentError,
    UnknownVersionError,
)
from .history import Authorship, Change
from .oplog import OpLog
from .ops import Op, RawVersion
from .positions import Position
from .undo import UndoManager, UndoResult

__all__ = [
    "Authorship",
    "Branch",
    "Change",
    "CausalGraph",
    "ConflictingOpError",
    "CowriteError",
    "DecodeError",
    "Document",
    "InvalidOpError",
    "Op",
    "OpLog",
    "Position",
    "RawVersion",
    "UnknownParentError",
    "UndoManager",
    "UndoResult",
    "UnknownVersionError",
    "checkout",
]
