"""``Room.remote_presence``: another server's connection's presence for this room's connections."""

from __future__ import annotations

from cowrite.engine import Document
from cowrite.protocol import Join, Presence, Role, decode_frame, encode_frame
from cowrite.protocol.server import Room


def test_remote_presence_goes_to_every_connection_but_a_local_one_of_the_same_agent_wins() -> None:
    room = Room("d", Document("server"))
    a, _ = room.join(Join("d", "a", {}), user="ua", role=Role.EDITOR)
    b, _ = room.join(Join("d", "b", {}), user="ub", role=Role.EDITOR)
    remote = Presence("x", "Xena", "#123", None)
    sends = room.remote_presence(remote)
    assert [s.session for s in sends] == [a, b]
    assert all(decode_frame(s.data) == remote and not s.close for s in sends)
    gone = Presence("x", "Xena", "", None, True)
    assert [decode_frame(s.data) for s in room.remote_presence(gone)] == [gone, gone]
    # The same agent connected here: it is not sent its own agent's presence, and while
    # it shows a presence here a remote "gone" (an old connection elsewhere) is not relayed.
    room.submit(a, encode_frame(Presence("a", "?", "#1", None))).commit()
    assert [s.session for s in room.remote_presence(Presence("a", "A elsewhere"))] == [b]
    assert room.remote_presence(Presence("a", gone=True)) == []
    room.leave(a)
    assert [s.session for s in room.remote_presence(Presence("a", gone=True))] == [b]
