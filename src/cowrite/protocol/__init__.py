"""cowrite's sync protocol, sans-I/O (see PROTOCOL.md at the repository root).

Frames: :func:`encode_frame` / :func:`decode_frame` over the message classes.
Sessions: :class:`ClientSession` (client) and :class:`Room` / :class:`ServerSession`
(server) take bytes in and hand bytes out; the network and the store are the
caller's.  Imports only the engine and the standard library.
"""

from .client import (
    Acked,
    ClientSession,
    Edit,
    Event,
    PongReceived,
    PresenceChanged,
    ProtocolFailure,
    RemoteChange,
    Resynced,
    ServerError,
    Welcomed,
)
from ..errors import ErrorCode, ProtocolError
from .messages import (
    PROTOCOL_VERSION,
    Ack,
    Digest,
    Error,
    Join,
    Message,
    MsgType,
    Ops,
    Ping,
    Pong,
    Presence,
    RemoteOps,
    Resync,
    Role,
    Summary,
    Welcome,
    decode_frame,
    encode_frame,
    normalize_summary,
    text_digest,
)
from .server import Divergence, Pending, Room, Send, ServerSession, error_frame, parse_join

__all__ = [
    "PROTOCOL_VERSION",
    "Ack",
    "Acked",
    "ClientSession",
    "Digest",
    "Divergence",
    "Edit",
    "Error",
    "ErrorCode",
    "Event",
    "Join",
    "Message",
    "MsgType",
    "Ops",
    "Pending",
    "Ping",
    "Pong",
    "PongReceived",
    "Presence",
    "PresenceChanged",
    "ProtocolError",
    "ProtocolFailure",
    "RemoteChange",
    "RemoteOps",
    "Resync",
    "Resynced",
    "Role",
    "Room",
    "Send",
    "ServerError",
    "ServerSession",
    "Summary",
    "Welcome",
    "Welcomed",
    "decode_frame",
    "encode_frame",
    "error_frame",
    "normalize_summary",
    "parse_join",
    "text_digest",
]
