"""The shared test vectors (testdata/vectors): never stale, and true of the Python engine.

The JS suite (web/test) checks its port against the same files; here we check
that regenerating them gives the committed bytes and that the Python side agrees
with every vector.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cowrite.engine import DecodeError, Document, InvalidOpError, Position
from cowrite.engine import decode_document, decode_patch, encode_document, encode_patch
from cowrite.protocol import ProtocolError
from cowrite.protocol.messages import MsgType, decode_frame, encode_frame
from tools.vectors import FILES, b64, build_vectors, main, msg_from_json, op_from_json, op_to_json, unb64

VECTORS = Path(__file__).resolve().parents[1] / "testdata" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text("ascii"))


def _version(v: Any) -> list[list[Any]]:
    return [[a, s] for a, s in v]


def test_committed_vectors_are_up_to_date() -> None:
    fresh = build_vectors()
    assert sorted(fresh) == sorted(FILES)
    stale = [name for name, data in fresh.items() if (VECTORS / name).read_bytes() != data]
    assert not stale, f"testdata/vectors is stale: run `python tools/vectors.py` ({stale})"


def test_tool_writes_the_vectors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "v")]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in printed) == sorted(FILES)
    for name in ("positions.json", "frames.json"):  # the cheap ones; the rest is checked above
        assert (tmp_path / "v" / name).read_bytes() == (VECTORS / name).read_bytes()


def test_vectors_stay_small() -> None:
    total = sum((VECTORS / name).stat().st_size for name in FILES)
    assert total < 2_000_000


# -- encoding --------------------------------------------------------------------------------


def test_patches() -> None:
    v = load("encoding.json")
    for p in v["patches"]:
        ops = decode_patch(unb64(p["bytes"]))
        assert [op_to_json(o) for o in ops] == p["ops"], p["name"]
        assert encode_patch([op_from_json(o) for o in p["ops"]]) == unb64(p["reencoded"]), p["name"]


def test_documents() -> None:
    v = load("encoding.json")
    for d in v["documents"]:
        oplog, text, version = decode_document(unb64(d["bytes"]))
        cg = oplog.cg
        assert text == d["text"], d["name"]
        assert _version(cg.frontier_to_raw(version)) == d["version"]
        assert _version(cg.frontier_to_raw(cg.heads)) == d["heads"]
        assert [op_to_json(o) for o in oplog.ops_since(())] == d["ops"], d["name"]
        assert encode_document(oplog, text, version) == unb64(d["reencoded"])
        # the ops alone rebuild the same log
        doc = Document("reader")
        doc.add_ops(op_from_json(o) for o in d["ops"])
        assert doc.version == tuple(map(tuple, d["heads"]))


@pytest.mark.parametrize("section,fn", [("invalid_patches", decode_patch), ("invalid_documents", decode_document)])
def test_invalid_encodings(section: str, fn: Any) -> None:
    for case in load("encoding.json")[section]:
        assert case["error"] == "DecodeError"
        with pytest.raises(DecodeError) as info:
            fn(unb64(case["bytes"]))
        assert str(info.value) == case["message"], case["name"]


def test_invalid_ops() -> None:
    for case in load("encoding.json")["invalid_ops"]:
        with pytest.raises(InvalidOpError):
            encode_patch([op_from_json(o) for o in case["ops"]])


def test_mutants() -> None:
    mutants = load("encoding.json")["mutants"]
    assert any(m["error"] is None for m in mutants) and any(m["error"] for m in mutants)
    for m in mutants:
        data = unb64(m["bytes"])
        fn = decode_patch if m["kind"] == "patch" else decode_document
        if m["error"]:
            with pytest.raises(DecodeError):
                fn(data)
        elif m["kind"] == "patch":
            assert [op_to_json(o) for o in decode_patch(data)] == m["ops"]
        else:
            oplog, text, _ = decode_document(data)
            assert text == m["text"]
            assert [op_to_json(o) for o in oplog.ops_since(())] == m["ops"]


# -- positions and frames ---------------------------------------------------------------------


def test_positions() -> None:
    v = load("positions.json")
    for case in v["valid"]:
        p = Position.decode(unb64(case["bytes"]))
        assert p.to_json() == case["json"]
        assert b64(p.encode()) == case["reencoded"]
        assert Position.from_json(case["json"]) == p
    for case in v["invalid"]:
        with pytest.raises(DecodeError):
            Position.decode(unb64(case["bytes"]))
    for case in v["invalid_json"]:
        with pytest.raises(DecodeError):
            Position.from_json(case["json"])


def test_frames() -> None:
    v = load("frames.json")
    types = {case["message"]["type"] for case in v["valid"]}
    assert len(types) == len(MsgType)  # every message type
    for case in v["valid"]:
        msg = decode_frame(unb64(case["bytes"]))
        assert msg == msg_from_json(case["message"]), case["name"]
        assert encode_frame(msg) == unb64(case["reencoded"])
    for case in v["invalid"]:
        with pytest.raises(ProtocolError) as info:
            decode_frame(unb64(case["bytes"]), case["max_size"])
        assert int(info.value.code) == case["code"]
        assert str(info.value) == case["message"]
    for case in v["invalid_messages"]:
        with pytest.raises((ProtocolError, InvalidOpError)):
            encode_frame(msg_from_json(case["message"]))


# -- merge histories -----------------------------------------------------------------------------


def _xf_json(xf: Any) -> list[dict[str, Any]]:
    return [
        {"kind": "ins", "pos": pos, "text": arg} if kind == 0 else {"kind": "del", "pos": pos, "length": arg}
        for kind, pos, arg in xf
    ]


def test_merge_histories() -> None:
    histories = load("merge.json")["histories"]
    assert len(histories) >= 30
    for h in histories:
        doc = Document("checker")
        for step in h["steps"]:
            xf = doc.apply_patch(unb64(step["patch"]))
            assert doc.text == step["text"]
            assert _version(doc.version) == step["version"]
            assert _xf_json(xf) == step["xf"]
        assert doc.text == h["text"]
        assert _version(doc.version) == h["version"]
        assert {a: [list(r) for r in runs] for a, runs in doc.summary().items()} == h["summary"]
        for load_ in h["loads"]:
            d = Document.decode(unb64(load_["document"]), "loader")
            assert d.text == load_["text"]
            assert _version(d.version) == load_["version"]
            k = load_["from_step"]
            assert load_["patches"] == [s["patch"] for s in h["steps"][k:]]
            for patch, step in zip(load_["patches"], h["steps"][k:]):
                d.apply_patch(unb64(patch))
                assert d.text == step["text"]
            assert d.text == h["text"]


def test_merge_histories_cover_the_hard_cases() -> None:
    histories = load("merge.json")["histories"]
    steps = [s for h in histories for s in h["steps"]]
    assert any(not s["xf"] for s in steps), "a duplicate delivery"
    assert any(len(s["xf"]) > 1 for s in steps), "a merge that transforms several edits"
    assert any(h["offline"] for h in histories)
    assert any(any(ord(c) > 0xFFFF for c in h["text"]) for h in histories), "astral characters"
    assert all(h["loads"] for h in histories)


def test_positions_resolve() -> None:
    histories = load("positions_resolve.json")["histories"]
    deleted = 0
    for h in histories:
        doc = Document.decode(unb64(h["document"]), "resolver")
        positions = []
        for case in h["cases"]:
            p = doc.position(case["index"], case["assoc"])
            assert b64(p.encode()) == case["position"]
            assert p.to_json() == case["json"]
            positions.append(p)
        for patch in h["patches"]:
            doc.apply_patch(unb64(patch))
        assert doc.text == h["final_text"]
        for p, case in zip(positions, h["cases"]):
            assert doc.resolve(p) == case["resolved_at_end"]
        # characters a later edit deleted: the position is on a character no longer there
        alive = {doc.position(i, 1) for i in range(len(doc))}
        deleted += sum(1 for p in positions if p.agent is not None and p.assoc == 1 and p not in alive)
    assert deleted >= 5
