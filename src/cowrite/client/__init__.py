"""The asyncio Python client: a full peer of a cowrite server that keeps working offline.

::

    from cowrite.client import Client, ClientSettings

    async with Client("ws://127.0.0.1:8000", "notes", token, path="notes.cwc") as c:
        c.insert(0, "Hello")          # applied locally at once, sent on the next tick
        c.set_cursor(5)               # shown to the others as a stable position
        c.on_change(lambda edits: print("remote:", edits))
        c.on_notice(lambda n: print(n.kind, n.message))
        await c.synced()              # connected and everything acknowledged (durable)

Edits made while the server is unreachable stay in the local replica (and, with
``path``, in its state file) and are merged when the client reconnects.  Edits the
server refuses are typed again on a fresh copy of its document; a client the
server stops keeps them (:meth:`Client.unsent`).

The writer's features the server answers over HTTP (restore, named versions,
diffs, comments, suggestions, export and import, titles) are
:class:`DocumentApi`'s, on the same URL and token.

Modules: ``client`` (the API), ``documents`` (:class:`DocumentApi`), ``connection`` (connect/read/write/reconnect),
``failover`` (which server next, how long to wait),
``edits`` (the user's edits into replica and journal), ``storage`` (the state
file), ``settings`` (:class:`ClientSettings`).
"""

from cowrite.protocol import Edit

from .client import Client, Notice, NoticeKind, Peer, State, Unsent
from .documents import (
    Comment,
    CommentList,
    DiffRun,
    DocumentApi,
    DocumentInfo,
    ImportResult,
    NamedVersion,
    Suggestion,
    SuggestionList,
    TextState,
    Title,
    VersionDiff,
)
from .failover import backoff_delay
from .settings import ClientSettings
from ..errors import ClientClosed, ClientError, FatalError, ReadOnlyError, RequestError, StateFileError

__all__ = [
    "Client",
    "ClientClosed",
    "ClientError",
    "ClientSettings",
    "Comment",
    "CommentList",
    "DiffRun",
    "DocumentApi",
    "DocumentInfo",
    "Edit",
    "FatalError",
    "ImportResult",
    "NamedVersion",
    "Notice",
    "NoticeKind",
    "Peer",
    "ReadOnlyError",
    "RequestError",
    "State",
    "StateFileError",
    "Suggestion",
    "SuggestionList",
    "TextState",
    "Title",
    "Unsent",
    "VersionDiff",
    "backoff_delay",
]
