"""Bad settings are ``ConfigError`` (a ``CowriteError``), naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SECRET
from cowrite.errors import ConfigError
from cowrite.server import Limits, Server
from cowrite.store import SQLiteStore


def test_an_unknown_guest_role_is_a_config_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    try:
        with pytest.raises(ConfigError, match="guests must be one of"):
            Server(store, SECRET, guests="root")
    finally:
        store.close()


@pytest.mark.parametrize(
    "field, value",
    [("max_batch_ops", 0), ("max_outbox_bytes", -1), ("max_request_bytes", 1.5), ("snapshot_ratio", 0),
     ("messages_per_second", float("inf")), ("max_history_runs", True), ("idle_unload_seconds", "60")],
)
def test_a_limit_out_of_range_is_a_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_the_default_limits_are_valid_and_documented() -> None:
    import dataclasses

    lim = Limits()
    for f in dataclasses.fields(lim):
        assert getattr(lim, f.name) > 0
    assert lim.max_request_bytes < lim.max_message_bytes
