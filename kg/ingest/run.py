"""One ingest run: create the schema, load a dataset, and count the graph.

On the embedded store the run is staged (:mod:`kg.ingest.staging`): loaded into a copy of the graph and
swapped in whole, so readers see the old graph or the new one, never a half-loaded one.

Every run writes its quarantine file and report under ``<home>/ingest/<UTC timestamp>/`` unless told otherwise,
so earlier runs stay inspectable. Quarantined records are data problems, reported, not failures of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from kg.config import Settings
from kg.ingest.cleaning import MAX_DESCRIPTION_CHARS
from kg.ingest.pipeline import ingest
from kg.ingest.readers import open_reader
from kg.ingest.report import IngestReport
from kg.ingest.staging import staged
from kg.store import open_store


class Format(StrEnum):
    AUTO = "auto"
    CARTOGRAPH = "cartograph"
    AMAZON_BEAUTY = "amazon-beauty"
    AMAZON_2018 = "amazon-2018"
    AMAZON_2023 = "amazon-2023"
    AMAZON_INDEX = "amazon-index"
    AMAZON_OFFICE = "amazon-office"
    JSONLD = "jsonld"
    TURTLE = "turtle"


@dataclass(frozen=True)
class IngestRun:
    report: IngestReport
    nodes: dict[str, int]
    relationships: dict[str, int]


def run_dir(settings: Settings) -> Path:
    """A new folder ``<home>/ingest/<UTC timestamp>[-n]`` for one run's quarantine file and report."""
    base = settings.home / "ingest" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_ingest(
    settings: Settings,
    source: Path,
    fmt: Format = Format.AUTO,
    *,
    quarantine: Path | None = None,
    report: Path | None = None,
    progress: bool | None = None,
    max_description_chars: int = MAX_DESCRIPTION_CHARS,
) -> IngestRun:
    """Create the schema, ingest ``source`` into the configured store, return the report and graph counts."""
    reader = open_reader(source, None if fmt is Format.AUTO else fmt.value)
    folder = run_dir(settings)
    # Embedded: built in a copy, swapped in only once complete (the store closes before the swap).
    with staged(settings) as target, open_store(target) as store:
        store.init_schema()
        result = ingest(
            reader, store,
            quarantine_path=quarantine or folder / "quarantine.jsonl",
            report_path=report or folder / "report.json",
            progress=progress, max_description_chars=max_description_chars,
        )
        counts = store.count_nodes(), store.count_relationships()
    return IngestRun(result, *counts)
