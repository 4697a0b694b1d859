"""A loaded document is not replayed: a forged one whose history does not fit its text
must be refused by the merge that notices, not crash it or corrupt the text.

Found by the JavaScript port's crafted-document fuzzer, where it made ``Rope.delete``
loop for ever; in Python it raised ``IndexError`` (a bug, not a refusal).
"""

from __future__ import annotations

import pytest

from cowrite.engine import Document, InvalidOpError, Op, encode_document
from cowrite.engine.oplog import DEL_FWD, INS, OpLog


def forged() -> Document:
    # a's delete at 2 and b's second insert claim that the empty document at () is
    # longer than it is; the stored text is six characters no history makes.
    log = OpLog()
    log.add_local("b", 0, INS, 0, 2, "xy", (), 0)
    log.add_local("c", 0, INS, 0, 2, "zz", (1,), 0)
    log.add_local("a", 0, DEL_FWD, 2, 1, "", (), 0)
    log.add_local("b", 2, INS, 0, 3, "zyx", (), 0)
    return Document.decode(encode_document(log, "qqqqqq", log.cg.heads), "me")


def test_a_merge_that_does_not_fit_the_stored_text_is_refused_and_changes_nothing() -> None:
    d = forged()
    before = (d.text, d.version, len(d.oplog), d.summary())
    with pytest.raises(InvalidOpError, match="the history does not fit the text"):
        d.add_ops([Op.delete("zed", 0, (("b", 4),), 2, 1)])
    assert (d.text, d.version, len(d.oplog), d.summary()) == before
    d.insert(0, "ok")  # the replica still works
    assert d.text == "okqqqqqq"
