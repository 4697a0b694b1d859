"""cowrite's merge engine: pure Python, standard library only, no I/O.

Everything the other layers use is re-exported here: the document and its
values, the errors, summaries, and the binary codec (``encode_patch`` /
``decode_patch`` for ops on the wire, ``encode_document`` / ``decode_document``
for whole documents).  The modules behind them (``merge/``, ``codec/``,
``causal_graph``, ``oplog``, ...) are the engine's own; other packages do not
import them directly (an import-linter contract checks it).
"""

from ..errors import (
    ConflictingOpError,
    CowriteError,
    DecodeError,
    InvalidOpError,
    TooLargeError,
    UnknownParentError,
    UnknownVersionError,
)
from .branch import Branch, checkout
from .causal_graph import CausalGraph
from .codec import FORMAT_VERSION, decode_document, decode_patch, encode_document, encode_patch, patch_shape
from .document import Document
from .history import Authorship, Change
from .limits import MAX_AGENT_LEN, MAX_SEQ, MAX_TIME
from .oplog import OpLog
from .ops import Op, RawVersion
from .positions import Position
from .restore import DiffSpan, restore, version_diff
from .summary import Summary, normalize_summary
from .textdiff import TextEdit, text_diff
from .undo import UndoManager, UndoResult

__all__ = [
    "FORMAT_VERSION",
    "MAX_AGENT_LEN",
    "MAX_SEQ",
    "MAX_TIME",
    "Authorship",
    "Branch",
    "CausalGraph",
    "Change",
    "DiffSpan",
    "ConflictingOpError",
    "CowriteError",
    "DecodeError",
    "Document",
    "InvalidOpError",
    "Op",
    "OpLog",
    "Position",
    "RawVersion",
    "Summary",
    "TextEdit",
    "TooLargeError",
    "UndoManager",
    "UndoResult",
    "UnknownParentError",
    "UnknownVersionError",
    "checkout",
    "decode_document",
    "decode_patch",
    "encode_document",
    "encode_patch",
    "normalize_summary",
    "patch_shape",
    "restore",
    "text_diff",
    "version_diff",
]
