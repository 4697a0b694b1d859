"""Op logs with times for the tests of ``oplog.py`` and the codecs: random linear
histories (valid positions, their text) and the time-column invariants."""

from __future__ import annotations

from hypothesis import strategies as st

from cowrite.engine import Op
from cowrite.engine.oplog import OpLog

T0 = 1_700_000_000


def times(ol: OpLog) -> tuple[list[int], list[int]]:
    return ol.time_starts, ol.time_values


def per_lv(ol: OpLog) -> list[int]:
    return [ol.time_of(lv) for lv in range(len(ol))]


def check_invariants(ol: OpLog) -> None:
    starts, values = times(ol)
    assert len(starts) == len(values)
    assert bool(starts) == bool(len(ol))
    if starts:
        assert starts[0] == 0
        assert all(a < b for a, b in zip(starts, starts[1:]))
        assert starts[-1] < len(ol)
        assert all(a != b for a, b in zip(values, values[1:]))  # a run starts only on a change


def replay(ops: list[Op]) -> OpLog:
    ol = OpLog()
    for op in ops:
        ol.add_remote(op)
    return ol


# -- a random linear history with times, valid positions and its text -----------------------

edit = st.tuples(
    st.sampled_from(["ins", "del", "back"]),
    st.sampled_from(["alice", "bob"]),
    st.floats(0, 1),
    st.text("ab日👋", min_size=1, max_size=5),
    st.sampled_from([0, T0, T0 + 1, T0 + 60, T0 - 5]),
)


def build(edits: list[tuple[str, str, float, str, int]]) -> tuple[OpLog, str]:
    ol = OpLog()
    text = ""
    for kind, agent, frac, content, t in edits:
        pos = int(frac * len(text))
        if kind == "ins" or not text:
            ol.add_insert(agent, pos, content, time=t)
            text = text[:pos] + content + text[pos:]
        else:
            n = min(len(content), len(text) - pos)
            if n == 0:
                pos, n = len(text) - 1, 1
            if kind == "back":  # Backspace held: one op per character, each at the previous pos - 1
                for i in range(n):
                    ol.add_delete(agent, pos + n - 1 - i, 1, time=t + (i % 2 if t else 0))
            else:
                ol.add_delete(agent, pos, n, time=t)
            text = text[:pos] + text[pos + n :]
    return ol, text


def random_time_columns(data: st.DataObject, n: int) -> tuple[list[int], list[int]]:
    """Valid time columns for ``n`` LVs: ascending starts from 0, adjacent values distinct."""
    if n == 0:
        return [], []
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=8)) if n > 1 else set())
    starts = [0, *cuts]
    values: list[int] = []
    for _ in starts:
        choices = [t for t in (0, 1, T0, T0 + 3, T0 - 100, 2**53 - 1) if not values or t != values[-1]]
        values.append(data.draw(st.sampled_from(choices)))
    return starts, values
