"""IdMap against a plain list of LVs: random inserts and deletes, every query."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite.engine.idmap import IdMap

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "200"))

edit = st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(1, 40))


@settings(max_examples=EXAMPLES, deadline=None)
@given(edits=st.lists(edit, max_size=300), queries=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 60)), max_size=8))
def test_idmap_matches_a_list(edits, queries):
    ids = IdMap()
    model: list[int] = []
    next_lv = 0
    for is_insert, where, n in edits:
        if is_insert or not model:
            pos = where % (len(model) + 1)
            ids.insert(pos, next_lv, n)
            model[pos:pos] = range(next_lv, next_lv + n)
            next_lv += n + (where % 3)  # sometimes leave gaps in the LVs
        else:
            pos = where % len(model)
            k = min(n, len(model) - pos)
            removed = ids.delete(pos, k)
            assert [lv + i for lv, m in removed for i in range(m)] == model[pos : pos + k]
            del model[pos : pos + k]
        assert len(ids) == len(model)
    assert [lv + i for lv, m in ids.runs() for i in range(m)] == model
    for i in range(0, len(model), max(1, len(model) // 50)):
        assert ids.lv_at(i) == model[i]
    where = {lv: i for i, lv in enumerate(model)}
    for lv in range(0, next_lv + 2, max(1, next_lv // 60)):
        assert ids.index_of(lv) == where.get(lv)
    ranges = sorted({(a, a + b) for a, b in queries})
    disjoint: list[tuple[int, int]] = []
    for a, b in ranges:
        if b > a and (not disjoint or a >= disjoint[-1][1]):
            disjoint.append((a, b))
    want: list[tuple[int, int]] = []
    for i, lv in enumerate(model):
        if any(a <= lv < b for a, b in disjoint):
            if want and want[-1][0] + want[-1][1] == i:
                want[-1] = (want[-1][0], want[-1][1] + 1)
            else:
                want.append((i, 1))
    assert ids.find_ranges(disjoint) == want
