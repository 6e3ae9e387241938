"""The ingest report: what was read, accepted, quarantined and written, per record kind, and why.

It is a pydantic model so that it is saved as JSON (``report.json`` beside the quarantine file) and can be
read back by tools; :func:`report_tables` renders it for the terminal. The invariant every ingest keeps,
``accepted + quarantined == read`` per kind, is checked by :meth:`IngestReport.invariant_violations`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, computed_field
from rich.table import Table

from kg.ingest.quality import DataQuality, quality_table
from kg.ingest.records import RecordKind

LoadMethod = Literal["copy", "merge", "none"]


def _rate(n: int, seconds: float) -> float | None:
    return round(n / seconds, 1) if seconds > 0 else None


class KindStats(BaseModel):
    """Counts for one record kind. ``duplicates`` (identical repeats) and ``merged`` (repeated interactions
    of one user-product pair, folded into one edge) are part of ``accepted``. Of the nodes or edges the
    accepted records make, ``upserted`` were written (new or changed) and ``unchanged`` were already in the
    graph with the same values (a re-run writes nothing)."""

    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    merged: int = 0
    upserted: int = 0
    unchanged: int = 0
    load_seconds: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def records_per_s(self) -> float | None:
        """Accepted records per second of loading (the stages that write this kind's nodes and edges)."""
        return _rate(self.accepted, self.load_seconds)


class StageStats(BaseModel):
    """One loading stage: the rows written into one node label or relationship type."""

    target: str
    kind: RecordKind
    method: LoadMethod
    rows: int
    written: int
    unchanged: int = 0
    seconds: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_per_s(self) -> float | None:
        return _rate(self.rows, self.seconds)


class IngestReport(BaseModel):
    source: str
    started_at: str
    load_method: LoadMethod = "none"
    kinds: dict[RecordKind, KindStats] = Field(default_factory=lambda: {k: KindStats() for k in RecordKind})
    stages: list[StageStats] = Field(default_factory=list)
    quarantine_reasons: dict[str, int] = Field(default_factory=dict)
    """Quarantined records per reason (the reason's general part; the quarantine file has the specifics)."""
    warnings: dict[str, int] = Field(default_factory=dict)
    """Accepted records of which something could not be loaded (e.g. a product's unknown brand: no edge)."""
    cleaning: dict[str, int] = Field(default_factory=dict)
    reader_notes: dict[str, int] = Field(default_factory=dict)
    quality: DataQuality = Field(default_factory=DataQuality)
    """Data quality of the products this ingest read (see :mod:`kg.ingest.quality`)."""
    read_seconds: float = 0.0
    check_seconds: float = 0.0
    load_seconds: float = 0.0
    wall_seconds: float = 0.0
    quarantine_path: str = ""
    report_path: str = ""

    @property
    def read(self) -> int:
        return sum(s.read for s in self.kinds.values())

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.kinds.values())

    def invariant_violations(self) -> list[str]:
        """Kinds for which ``accepted + quarantined != read`` (always empty unless the pipeline has a bug)."""
        return [
            f"{kind.value}: accepted {s.accepted} + quarantined {s.quarantined} != read {s.read}"
            for kind, s in self.kinds.items()
            if s.accepted + s.quarantined != s.read
        ]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _counts_table(title: str, header: str, counts: dict[str, int]) -> Table:
    table = Table(header, "count", title=title)
    for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(name, str(n))
    return table


def report_tables(report: IngestReport) -> list[Table]:
    """The report as rich tables: per kind, per loading stage, then reasons, warnings and notes if any."""
    kinds = Table("kind", "read", "accepted", "quarantined", "duplicates", "merged", "upserted", "unchanged",
                  "load s", "records/s", title=f"ingest of {report.source} ({report.wall_seconds:.1f} s)")
    for kind, s in report.kinds.items():
        if s.read:
            kinds.add_row(kind.value, *(str(n) for n in (s.read, s.accepted, s.quarantined, s.duplicates,
                                                         s.merged, s.upserted, s.unchanged)),
                          f"{s.load_seconds:.2f}", f"{s.records_per_s or 0:,.0f}")
    stages = Table("stage", "method", "rows", "written", "unchanged", "seconds", "rows/s", title="loading stages")
    for st in report.stages:
        stages.add_row(st.target, st.method, str(st.rows), str(st.written), str(st.unchanged), f"{st.seconds:.2f}",
                       f"{st.rows_per_s or 0:,.0f}")
    tables = [kinds, stages]
    for title, header, counts in (
        ("quarantine reasons", "reason", report.quarantine_reasons),
        ("warnings", "warning", report.warnings),
        ("text cleaning", "what", report.cleaning),
        ("reader notes", "note", report.reader_notes),
    ):
        if counts:
            tables.append(_counts_table(title, header, counts))
    if report.quality.products:
        tables.append(quality_table(report.quality))
    return tables
