"""Binary encodings of a whole document and of a patch (a list of wire ops).

Modules, after diamond-types' ``list/encoding/``: ``varint`` (the one LEB128 and
zigzag writer and reader of every cowrite format, protocol frames and positions
included), ``frame`` (magic, version, flags, deflate, CRC-32, the inflated-size
limit), ``columns`` (the column pieces both encodings share), ``document`` and
``patch`` (the two encodings, each with its layout in its docstring),
``sections`` (the history sections of a document) and ``head`` (the head-first
document layout ``Document.encode`` writes, whose history is read lazily).

Decoding never trusts the bytes: any input either decodes to a consistent value
or raises :class:`~cowrite.errors.DecodeError` saying what is wrong, or
:class:`~cowrite.errors.TooLargeError` when its body is over the caller's
``max_bytes``.  Anything else escaping a decoder is a bug.
"""

from .document import decode_document, encode_document, encode_head_first, open_document
from .head import Head, LazyHistory
from .frame import FORMAT_VERSION
from .patch import PatchShape, decode_patch, encode_patch, patch_shape
from .varint import Reader, write_block, write_uvar

__all__ = [
    "FORMAT_VERSION",
    "Head",
    "LazyHistory",
    "PatchShape",
    "Reader",
    "decode_document",
    "decode_patch",
    "encode_document",
    "encode_head_first",
    "encode_patch",
    "open_document",
    "patch_shape",
    "write_block",
    "write_uvar",
]
