"""The log filter that blanks ``?token=`` values (``cowrite serve`` installs it)."""

from __future__ import annotations

import logging

import pytest
from uvicorn.logging import AccessFormatter

from cowrite.server import RedactTokens, redact_tokens_in_logs
from cowrite.server.logs import redact


@pytest.mark.parametrize(
    "text, expected",
    [
        ("GET /ws/d?token=abc.def.ghi HTTP/1.1", "GET /ws/d?token=[redacted] HTTP/1.1"),
        ("/x?a=1&token=abc&b=2", "/x?a=1&token=[redacted]&b=2"),
        ("/x?TOKEN=abc", "/x?TOKEN=[redacted]"),
        ("/x?access_token=abc#frag", "/x?access_token=[redacted]#frag"),
        ('"WebSocket /ws/d?token=abc" [accepted]', '"WebSocket /ws/d?token=[redacted]" [accepted]'),
        ("/x?token=a&token=b", "/x?token=[redacted]&token=[redacted]"),
        ("/x?mytoken=abc", "/x?mytoken=abc"),  # another parameter
        ("GET /d/notes?share=KeY-1_x HTTP/1.1", "GET /d/notes?share=[redacted] HTTP/1.1"),  # a link key
        ('"WebSocket /ws/d?share=k&token=t"', '"WebSocket /ws/d?share=[redacted]&token=[redacted]"'),
        ("/d/notes?join=c0de", "/d/notes?join=[redacted]"),  # a document invite
        ("/x?timeshare=1", "/x?timeshare=1"),
        ("no query here", "no query here"),
        # the server percent-decodes query names, so the log must blank these too
        ("GET /ws/d?%74oken=secret HTTP/1.1", "GET /ws/d?%74oken=[redacted] HTTP/1.1"),
        ("/x?a=1&tok%65n=secret", "/x?a=1&tok%65n=[redacted]"),
        ("/x?access%5Ftoken=secret", "/x?access%5Ftoken=[redacted]"),
        ("/d/n?%73hare=k&%6Aoin=c", "/d/n?%73hare=[redacted]&%6Aoin=[redacted]"),
        ("/?inv%69te=code", "/?inv%69te=[redacted]"),
        ("/x?%74oken%3D=abc", "/x?%74oken%3D=abc"),  # the name decodes to 'token=', another parameter
        ("a = b, c=d", "a = b, c=d"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_filter_scrubs_arguments_so_uvicorns_access_formatter_still_works() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/d/x?token=secret-value", "1.1", 200), None,
    )
    assert RedactTokens().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert "secret-value" not in line and "/d/x?token=[redacted]" in line


def test_installing_it_twice_adds_it_once() -> None:
    logger = logging.getLogger("uvicorn.access")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        redact_tokens_in_logs()
        redact_tokens_in_logs()
        assert sum(isinstance(f, RedactTokens) for f in logger.filters) == 1
        assert sum(isinstance(f, RedactTokens) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)
        from cowrite.server.logs import LOGGERS

        for t in [logging.getLogger(), *(logging.getLogger(n) for n in LOGGERS)]:
            for f in [f for f in t.filters if isinstance(f, RedactTokens)]:
                t.removeFilter(f)
