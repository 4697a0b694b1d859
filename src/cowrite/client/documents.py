"""The writer's features over the server's HTTP API: versions, diffs, comments, suggestions,
export and import, titles.

::

    from cowrite.client import DocumentApi

    api = DocumentApi("ws://127.0.0.1:8000", token)      # the Client's URL and token
    named = await api.name_version("notes", "draft 1")    # the version now, labelled
    await api.restore("notes", named.version)             # as new ops: concurrent typing merges
    thread = await api.add_comment("notes", Anchor.over(client.doc, 0, 5), "why?")
    await api.resolve("notes", thread.id)
    html = await api.export("notes", "html")

The WebSocket :class:`~cowrite.client.Client` is the live replica; these are the
requests around it that the server answers on its own (a restore, a label, a
comment), each one round trip.  The server decides who may do what, so nothing is
checked here beyond the shape of the arguments: every refusal comes back as a
:class:`~cowrite.errors.RequestError` carrying the server's ``status``, ``code`` (e.g.
``forbidden``, ``not_found``, ``bad_version``, ``conflict``) and message, and a
refused request changed nothing on the server.  When the server cannot be reached
(refused, reset, timed out) the error is a :class:`~cowrite.errors.ClientError`:
whether the server got a request that was cut off is unknown, so retry only what is
safe to repeat (every read; a label is refused as ``exists`` the second time).

Requests run on ``urllib`` in a worker thread (no dependency beyond the standard
library) so the event loop keeps serving the live clients meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from cowrite.engine import RawVersion
from cowrite.engine.anchors import Anchor

from ..errors import ClientError, ConfigError, InvalidOpError, RequestError

__all__ = [
    "Comment",
    "CommentList",
    "DiffRun",
    "DocumentApi",
    "DocumentInfo",
    "ImportResult",
    "NamedVersion",
    "Suggestion",
    "SuggestionList",
    "TextState",
    "Title",
    "VersionDiff",
]

ExportFormat = Literal["txt", "md", "html"]
ImportMode = Literal["replace", "append", "new"]
_MAX_ERROR_TEXT = 300  # of a non-JSON error body quoted in the exception


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextState:
    """The document after a change the server made (a restore, an accepted suggestion):
    its ``version`` and text ``length``; ``edits`` how many places a restore changed."""

    version: RawVersion
    length: int
    edits: int = 0


@dataclass(frozen=True, slots=True)
class NamedVersion:
    """A label on a version of a document."""

    name: str
    version: RawVersion
    created_by: str
    created_by_name: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class DiffRun:
    """A run of the diff between two versions: ``kind`` is ``same``, ``insert`` or ``delete``;
    ``agent`` (and its ``user``, that user's display ``name``) made the change."""

    kind: str
    text: str
    agent: str | None
    user: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class VersionDiff:
    start: RawVersion
    end: RawVersion
    runs: tuple[DiffRun, ...]

    @property
    def old_text(self) -> str:
        """The text at ``start`` (the ``same`` and ``delete`` runs)."""
        return "".join(r.text for r in self.runs if r.kind != "insert")

    @property
    def new_text(self) -> str:
        """The text at ``end`` (the ``same`` and ``insert`` runs)."""
        return "".join(r.text for r in self.runs if r.kind != "delete")


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment: a thread's first one (``id == thread``: it has the ``anchor``, the
    ``quote`` of the text it was made on, whether it is ``resolved``, and its ``range`` in
    the server's text now, ``None`` once that text is gone) or a reply to one."""

    id: str
    thread: str
    author: str
    name: str | None
    body: str
    created_at: float
    edited_at: float | None
    deleted: bool
    anchor: Anchor | None = None
    quote: str | None = None
    resolved: bool = False
    range: tuple[int, int] | None = None

    @property
    def is_thread(self) -> bool:
        return self.id == self.thread

    @property
    def detached(self) -> bool:
        """A thread whose text was deleted (shown with its quote, never dropped)."""
        return self.is_thread and self.range is None


@dataclass(frozen=True, slots=True)
class CommentList:
    """A document's comments at ``revision``, and the caller's ``role`` on it."""

    revision: int
    comments: tuple[Comment, ...]
    role: str
    can_comment: bool

    def thread(self, thread_id: str) -> tuple[Comment, ...]:
        """A thread's comments, its first one first."""
        return tuple(c for c in self.comments if c.thread == thread_id)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An open suggestion: its ``runs`` are the server's text now as ``same`` text,
    ``insert`` (the suggestion adds it) and ``delete`` (it removes it); ``problem`` says
    why it no longer applies (then ``runs`` is empty)."""

    id: str
    agent: str
    author: str
    name: str | None
    created_at: float
    updated_at: float
    runs: tuple[tuple[str, str], ...]
    problem: str | None

    @property
    def text(self) -> str:
        """The text the document would have if the suggestion were accepted now."""
        return "".join(t for kind, t in self.runs if kind != "delete")


@dataclass(frozen=True, slots=True)
class SuggestionList:
    version: RawVersion
    text_length: int
    suggestions: tuple[Suggestion, ...]
    role: str
    can_suggest: bool
    can_decide: bool


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: the document's ``version`` and ``length`` after it, and how many
    characters it ``deleted`` and ``inserted``."""

    id: str
    mode: str
    version: RawVersion
    length: int
    deleted: int
    inserted: int


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A document as the server lists it: ``length`` as last stored (``None``: not known
    yet), ``role`` the caller's (``None`` for a token of every document)."""

    id: str
    created_at: float
    updated_at: float
    ops: int
    length: int | None
    title: str
    role: str | None


@dataclass(frozen=True, slots=True)
class Title:
    """A document's title (``""``: none) and the caller's role on it."""

    id: str
    title: str
    role: str | None


# -- parsing the server's answers --------------------------------------------------------


def _version(value: Any) -> RawVersion:
    return tuple(sorted((str(a), int(s)) for a, s in value))


def _version_json(version: RawVersion | Sequence[tuple[str, int]]) -> list[list[object]]:
    """A version as the API takes it, its shape checked here (InvalidOpError) so a wrong
    argument fails before a round trip; whether the document has it is the server's to say."""
    if isinstance(version, (str, bytes)):
        raise InvalidOpError(f"a version is a sequence of (agent, seq) pairs, not {version!r}")
    out: list[list[object]] = []
    for item in version:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise InvalidOpError(f"a version is a sequence of (agent, seq) pairs, not {version!r}")
        agent, seq = item
        if not isinstance(agent, str) or type(seq) is not int:
            raise InvalidOpError(f"a version is a sequence of (agent: str, seq: int) pairs, not {version!r}")
        out.append([agent, seq])
    return out


def _named(v: Mapping[str, Any]) -> NamedVersion:
    return NamedVersion(v["name"], _version(v["version"]), v["created_by"], v.get("created_by_name"), v["created_at"])


def _comment(c: Mapping[str, Any]) -> Comment:
    span = c.get("range")
    anchor = c.get("anchor")
    return Comment(
        id=c["id"],
        thread=c["thread"],
        author=c["author"],
        name=c.get("name"),
        body=c["body"],
        created_at=c["created_at"],
        edited_at=c.get("edited_at"),
        deleted=bool(c.get("deleted")),
        anchor=None if anchor is None else Anchor.from_json(anchor),
        quote=c.get("quote"),
        resolved=bool(c.get("resolved", False)),
        range=None if span is None else (int(span[0]), int(span[1])),
    )


def _suggestion(s: Mapping[str, Any]) -> Suggestion:
    return Suggestion(
        id=s["id"],
        agent=s["agent"],
        author=s["author"],
        name=s.get("name"),
        created_at=s["created_at"],
        updated_at=s["updated_at"],
        runs=tuple((r["kind"], r["text"]) for r in s.get("spans") or ()),
        problem=s.get("problem"),
    )


def _doc_info(d: Mapping[str, Any]) -> DocumentInfo:
    return DocumentInfo(d["id"], d["created_at"], d["updated_at"], d["ops"], d["length"], d["title"], d.get("role"))


def _imported(d: Mapping[str, Any]) -> ImportResult:
    return ImportResult(d["id"], d["mode"], _version(d["version"]), d["length"], d["deleted"], d["inserted"])


def _http_base(url: str) -> str:
    """The server's HTTP base URL from the one a Client is given (``ws://`` -> ``http://``)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https", "http": "http", "https": "https"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ConfigError(f"expected the server's URL (http://host:port or ws://host:port), not {url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _refusal(status: int, body: bytes) -> RequestError:
    """The server's ``{"error", "message"}`` as a RequestError (or the status and the start
    of a body that is not the API's, e.g. a proxy's error page)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return RequestError(status, data["error"], str(data.get("message", data["error"])))
    text = body[:_MAX_ERROR_TEXT].decode("utf-8", "replace").strip()
    return RequestError(status, "http_error", f"HTTP {status}" + (f": {text}" if text else ""))


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:  # e.g. a proxy's page in front of the server
            raise ClientError(f"the server answered {self.status} with something that is not JSON ({self.content_type or 'no type'})") from None


# -- the API -----------------------------------------------------------------------------


class DocumentApi:
    """The HTTP routes of the server at ``url`` (the URL a :class:`~cowrite.client.Client`
    is given, ``ws://`` or ``http://``), as the holder of ``token`` (a str, or a function
    asked before each request, as the Client's).  ``share``: a document's link key, sent
    with every request (what a link guest's token needs).  ``proxy``: ``True`` takes the
    HTTP proxy from the environment (as ``urllib`` does), ``None`` connects directly."""

    def __init__(
        self,
        url: str,
        token: str | Callable[[], str],
        *,
        share: str | None = None,
        timeout: float = 30.0,
        proxy: str | Literal[True] | None = True,
    ) -> None:
        if not isinstance(url, str):
            raise ConfigError(f"expected the server's URL, not {url!r}")
        if not (isinstance(token, str) or callable(token)):
            raise ConfigError("token must be a str or a function returning one")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"timeout must be a number of seconds > 0, not {timeout!r}")
        self.base = _http_base(url)
        self.share = share
        self.timeout = float(timeout)
        self._token = token
        handlers: list[urllib.request.BaseHandler] = []
        if proxy is None:
            handlers.append(urllib.request.ProxyHandler({}))
        elif isinstance(proxy, str):
            handlers.append(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
        self._opener = urllib.request.build_opener(*handlers)

    # -- plumbing --------------------------------------------------------------------------

    def _url(self, doc_id: str | None, tail: str, query: Mapping[str, str] | None = None) -> str:
        path = "/api/docs" if doc_id is None else "/api/docs/" + quote(doc_id, safe="")
        params = dict(query or {})
        if self.share is not None:
            params["share"] = self.share
        return self.base + path + tail + ("?" + urlencode(params) if params else "")

    def _send(self, method: str, url: str, body: bytes | None, content_type: str | None) -> _Answer:
        token = self._token() if callable(self._token) else self._token
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Accept", "application/json")
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return _Answer(response.status, response.headers.get("Content-Type", ""), response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                raise _refusal(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout
            reason = getattr(exc, "reason", exc)
            raise ClientError(f"{method} {url.split('?')[0]}: could not reach the server ({reason})") from None

    async def _request(
        self,
        method: str,
        doc_id: str | None,
        tail: str = "",
        *,
        json_body: Mapping[str, Any] | None = None,
        raw: bytes | None = None,
        query: Mapping[str, str] | None = None,
    ) -> _Answer:
        body, content_type = raw, "application/octet-stream" if raw is not None else None
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode(), "application/json"
        return await asyncio.to_thread(self._send, method, self._url(doc_id, tail, query), body, content_type)

    # -- documents ---------------------------------------------------------------------------

    async def create_document(self, doc_id: str) -> DocumentInfo:
        """A new, empty document (an account that creates it owns it); ``409 exists`` if taken."""
        return _doc_info((await self._request("POST", None, json_body={"id": doc_id})).json())

    async def text(self, doc_id: str, version: RawVersion | None = None) -> str:
        """The document's text now (durable ops only), or at ``version``."""
        query = None if version is None else {"version": json.dumps(_version_json(version))}
        return (await self._request("GET", doc_id, "/text", query=query)).body.decode("utf-8")

    async def get_title(self, doc_id: str) -> Title:
        d = (await self._request("GET", doc_id, "/title")).json()
        return Title(d["id"], d["title"], d.get("role"))

    async def set_title(self, doc_id: str, title: str) -> str:
        """Set the title (``""`` clears it); the server trims it and answers what it stored."""
        return str((await self._request("PUT", doc_id, "/title", json_body={"title": title})).json()["title"])

    # -- versions ----------------------------------------------------------------------------

    async def restore(self, doc_id: str, version: RawVersion) -> TextState:
        """Make the text what it was at ``version``, as new ops of this caller: edits made
        meanwhile elsewhere (or offline) merge with it instead of being overwritten."""
        d = (await self._request("POST", doc_id, "/restore", json_body={"version": _version_json(version)})).json()
        return TextState(_version(d["version"]), d["length"], d["edits"])

    async def name_version(self, doc_id: str, name: str, version: RawVersion | None = None) -> NamedVersion:
        """Label ``version`` (default: the document's version now); ``409 exists`` if the
        name is taken."""
        body: dict[str, Any] = {"name": name}
        if version is not None:
            body["version"] = _version_json(version)
        return _named((await self._request("POST", doc_id, "/versions", json_body=body)).json())

    async def named_versions(self, doc_id: str) -> list[NamedVersion]:
        return [_named(v) for v in (await self._request("GET", doc_id, "/versions")).json()["versions"]]

    async def delete_named_version(self, doc_id: str, name: str) -> None:
        await self._request("DELETE", doc_id, "/versions/" + quote(name, safe=""))

    async def diff(self, doc_id: str, start: RawVersion = (), end: RawVersion | None = None) -> VersionDiff:
        """What changed from ``start`` (default: the empty document) to ``end`` (default: now),
        and who changed it."""
        query = {"from": json.dumps(_version_json(start))}
        if end is not None:
            query["to"] = json.dumps(_version_json(end))
        d = (await self._request("GET", doc_id, "/diff", query=query)).json()
        runs = tuple(DiffRun(s["kind"], s["text"], s.get("agent"), s.get("user"), s.get("name")) for s in d["spans"])
        return VersionDiff(_version(d["from"]), _version(d["to"]), runs)

    # -- comments ----------------------------------------------------------------------------

    async def comments(self, doc_id: str) -> CommentList:
        d = (await self._request("GET", doc_id, "/comments")).json()
        you = d.get("you") or {}
        return CommentList(d["revision"], tuple(_comment(c) for c in d["comments"]), you.get("role", ""), bool(you.get("can_comment")))

    async def add_comment(self, doc_id: str, anchor: Anchor, body: str) -> Comment:
        """Start a thread on the range ``anchor`` names (``Anchor.over(client.doc, start, end)``:
        made from a replica, so it stays on those characters while others type).  A
        ``409 conflict`` while the characters have not reached the server: retry once the
        client's edits are acknowledged (``await client.synced()``)."""
        if not isinstance(anchor, Anchor):
            raise InvalidOpError(f"anchor must be an Anchor (Anchor.over(doc, start, end)), not {type(anchor).__name__}")
        answer = await self._request("POST", doc_id, "/comments", json_body={"body": body, "anchor": anchor.to_json()})
        return _comment(answer.json())

    async def reply(self, doc_id: str, thread: str, body: str) -> Comment:
        return _comment((await self._request("POST", doc_id, "/comments", json_body={"body": body, "thread": thread})).json())

    async def edit_comment(self, doc_id: str, comment_id: str, body: str) -> Comment:
        """Change the body of one's own comment."""
        return await self._change_comment(doc_id, comment_id, {"body": body})

    async def resolve(self, doc_id: str, thread: str) -> Comment:
        return await self._change_comment(doc_id, thread, {"resolved": True})

    async def reopen(self, doc_id: str, thread: str) -> Comment:
        return await self._change_comment(doc_id, thread, {"resolved": False})

    async def delete_comment(self, doc_id: str, comment_id: str) -> None:
        """Delete one's own comment (an owner: anyone's); deleting it twice is no error."""
        await self._request("DELETE", doc_id, "/comments/" + quote(comment_id, safe=""))

    async def _change_comment(self, doc_id: str, comment_id: str, change: Mapping[str, Any]) -> Comment:
        answer = await self._request("PATCH", doc_id, "/comments/" + quote(comment_id, safe=""), json_body=change)
        return _comment(answer.json())

    # -- suggestions -------------------------------------------------------------------------

    async def suggestions(self, doc_id: str) -> SuggestionList:
        d = (await self._request("GET", doc_id, "/suggestions")).json()
        you = d.get("you") or {}
        return SuggestionList(
            _version(d["version"]),
            d["text_length"],
            tuple(_suggestion(s) for s in d["suggestions"]),
            you.get("role", ""),
            bool(you.get("can_suggest")),
            bool(you.get("can_decide")),
        )

    async def suggest(self, doc_id: str, version: RawVersion, text: str) -> Suggestion:
        """Suggest that the text the caller saw at ``version`` read ``text`` instead: the
        server makes the edits at ``version``, so they merge with everything typed since."""
        body = {"version": _version_json(version), "text": text}
        return _suggestion((await self._request("POST", doc_id, "/suggestions", json_body=body)).json())

    async def update_suggestion(self, doc_id: str, suggestion_id: str, version: RawVersion, text: str) -> Suggestion:
        """Replace one's own suggestion's edits (as :meth:`suggest` makes them)."""
        body = {"version": _version_json(version), "text": text}
        path = "/suggestions/" + quote(suggestion_id, safe="")
        return _suggestion((await self._request("PUT", doc_id, path, json_body=body)).json())

    async def accept(self, doc_id: str, suggestion_id: str) -> TextState:
        """Merge the suggestion into the document (its author stays the author of its text)."""
        d = (await self._request("POST", doc_id, "/suggestions/" + quote(suggestion_id, safe="") + "/accept")).json()
        return TextState(_version(d["version"]), d["length"])

    async def reject(self, doc_id: str, suggestion_id: str) -> None:
        """Drop someone's suggestion (editors and owners)."""
        await self._request("DELETE", doc_id, "/suggestions/" + quote(suggestion_id, safe=""))

    async def withdraw(self, doc_id: str, suggestion_id: str) -> None:
        """Take back one's own suggestion (the same request as a rejection; the server
        allows it to the author whatever their role)."""
        await self.reject(doc_id, suggestion_id)

    # -- files -------------------------------------------------------------------------------

    async def export(self, doc_id: str, fmt: ExportFormat = "txt") -> str:
        """The document as a ``txt`` or ``md`` file's text, or a standalone sanitised ``html`` page."""
        return (await self._request("GET", doc_id, "/export", query={"format": fmt})).body.decode("utf-8")

    async def import_text(self, doc_id: str, data: bytes | str, mode: ImportMode = "replace") -> ImportResult:
        """A file's text into the document: ``replace`` its text (only what differs
        changes), ``append`` it, or make ``new`` document ``doc_id`` of it (``409 exists``
        if there is one).  ``data`` must be UTF-8 (``400 bad_encoding`` otherwise)."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return _imported((await self._request("POST", doc_id, "/import", raw=raw, query={"mode": mode})).json())
