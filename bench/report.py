"""Results as records, and their rendering: a text table for the terminal and a markdown
section (with cowrite/peer ratios) that can replace the generated part of BENCHMARKS.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

START_MARK = "<!-- bench:start -->"
END_MARK = "<!-- bench:end -->"

OK, SKIP, WRONG, ERROR = "ok", "skip", "wrong", "error"
#: pseudo-peer of the whole-process benchmark: interpreter + JSON parse + print only
BASELINE = "python(parse-only)"


@dataclass
class Record:
    """One measurement (or the reason there is none) for one bench x trace x peer variant.

    ``value`` is in base units: seconds for timings, bytes for sizes and memory.
    """

    bench: str
    trace: str
    peer: str
    variant: str = ""
    value: float | None = None
    status: str = OK
    note: str = ""
    patches: int = 0
    runs: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.peer}[{self.variant}]" if self.variant else self.peer

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class BenchSpec:
    """How one benchmark is shown: ``value * scale`` (divided by the patch count when
    ``per_patch``), in ``unit``, formatted with ``fmt``."""

    title: str
    unit: str
    scale: float
    fmt: str
    per_patch: bool = False

    def display(self, r: Record) -> float:
        if r.value is None:
            raise ValueError(f"{r.bench}/{r.trace}/{r.label} has no value")
        return r.value * self.scale / (r.patches if self.per_patch else 1)


BENCHES: dict[str, BenchSpec] = {
    "local": BenchSpec("Local replay", "µs/patch", 1e6, "{:.2f}", per_patch=True),
    "incremental": BenchSpec(
        "Incremental merge, one update per txn", "ms", 1e3, "{:.1f}"
    ),
    "bulk": BenchSpec("Bulk merge, one blob per agent", "ms", 1e3, "{:.1f}"),
    "load": BenchSpec("Load full-history doc and read text", "ms", 1e3, "{:.2f}"),
    "size": BenchSpec("Encoded full-history doc", "bytes", 1, "{:,.0f}"),
    "memory": BenchSpec(
        "Memory per loaded doc (RSS delta)", "KiB", 1 / 1024, "{:,.0f}"
    ),
    "process": BenchSpec(
        "Whole-process replay (start, parse, apply, print)", "ms", 1e3, "{:.0f}"
    ),
}


def _cell(spec: BenchSpec, r: Record | None) -> str:
    if r is None:
        return ""
    if r.status == OK and r.value is not None:
        return spec.fmt.format(spec.display(r))
    if r.status == WRONG:
        return "WRONG"
    return r.status


def _grid(
    records: list[Record], bench: str
) -> tuple[list[str], list[str], dict[tuple[str, str], Record]]:
    rows: list[str] = []
    cols: list[str] = []
    cells: dict[tuple[str, str], Record] = {}
    for r in records:
        if r.bench != bench:
            continue
        if r.trace not in rows:
            rows.append(r.trace)
        if r.label not in cols:
            cols.append(r.label)
        cells[(r.trace, r.label)] = r
    return rows, cols, cells


def _ratio_cols(cols: list[str]) -> list[str]:
    if "cowrite" not in cols:
        return []
    # Only against each peer's default variant: the variants are context, not rivals.
    return [c for c in cols if "[" not in c and c != "cowrite" and c != BASELINE]


def _ratio(spec: BenchSpec, a: Record | None, b: Record | None) -> str:
    if not a or not b or a.status != OK or b.status != OK or not a.value or not b.value:
        return ""
    x = spec.display(a) / spec.display(b)
    if x >= 10:
        return f"{x:.0f}x"
    return f"{x:.1f}x" if x >= 1 else f"{x:.2g}x"


def bench_table(records: list[Record], bench: str, markdown: bool) -> list[str]:
    """Rows = traces, columns = peer variants, then cowrite/peer ratio columns."""
    spec = BENCHES[bench]
    rows, cols, cells = _grid(records, bench)
    if not rows:
        return []
    ratio_cols = _ratio_cols(cols)
    header = [f"trace ({spec.unit})"] + cols + [f"cowrite/{c}" for c in ratio_cols]
    body = []
    for t in rows:
        line = [t] + [_cell(spec, cells.get((t, c))) for c in cols]
        line += [
            _ratio(spec, cells.get((t, "cowrite")), cells.get((t, c)))
            for c in ratio_cols
        ]
        body.append(line)
    title = f"{spec.title} ({spec.unit})"
    if markdown:
        out = [f"### {title}", "", "| " + " | ".join(header) + " |"]
        out.append("| --- | " + " | ".join("---:" for _ in header[1:]) + " |")
        out += ["| " + " | ".join(line) + " |" for line in body]
        return out + [""]
    widths = [max(len(x[i]) for x in [header] + body) for i in range(len(header))]
    fmt = lambda line: "  ".join(
        (x.ljust(w) if i == 0 else x.rjust(w))
        for i, (x, w) in enumerate(zip(line, widths, strict=True))
    )
    return [title, fmt(header)] + [fmt(line) for line in body] + [""]


def notes(records: Iterable[Record]) -> list[str]:
    """Skip reasons and errors, one line each, without repeating the same message."""
    seen: dict[str, list[str]] = {}
    for r in records:
        if r.status != OK and r.note:
            key = f"{r.label} {r.bench} {r.status}: {r.note}"
            seen.setdefault(key, []).append(r.trace)
    return [
        f"- {k} ({', '.join(v) if len(v) < 4 else str(len(v)) + ' traces'})"
        for k, v in seen.items()
    ]


def text_report(records: list[Record]) -> str:
    lines: list[str] = []
    for bench in BENCHES:
        lines += bench_table(records, bench, markdown=False)
    n = notes(records)
    if n:
        lines += ["Notes:"] + n
    return "\n".join(lines)


def markdown_section(
    records: list[Record], header: list[str], footer: list[str]
) -> str:
    lines = [START_MARK] + header + [""]
    for bench in BENCHES:
        lines += bench_table(records, bench, markdown=True)
    n = notes(records)
    if n:
        lines += ["Skipped or failed:", ""] + n + [""]
    lines += footer + [END_MARK]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace the text between the markers in ``path`` (creating the file if needed)."""
    if not path.exists():
        path.write_text(
            "# Benchmarks\n\nHow to run and what is measured: `bench/README.md`.\n\n"
            + section
        )
        return
    old = path.read_text()
    start, end = old.find(START_MARK), old.find(END_MARK)
    if start == -1 or end == -1 or end < start:
        path.write_text(old.rstrip("\n") + "\n\n" + section)
        return
    path.write_text(old[:start] + section.rstrip("\n") + old[end + len(END_MARK) :])
