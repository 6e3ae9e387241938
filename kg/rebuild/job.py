"""The rebuild job runner: ordered, resumable steps under a lock, with a durable job record.

A job is identified by its inputs (:class:`~kg.rebuild.record.JobInputs`): running the same command again after
a crash finds the job's record under ``<home>/rebuild/<job id>/job.json`` and resumes at the first step that is
not done. Every step must be idempotent, since a crash can stop it half-way and the re-run does it again:

- ``plan`` reads the export and computes the :class:`~kg.rebuild.diff.ChangeSet` against the graph *before*
  anything is written, and saves it (``changes.json``): after a crash in a later step the graph already holds
  part of the change, so the diff could not be computed again.
- ``graph`` ingests the export and the events (upserts: idempotent), deletes the brand and category edges the
  new records no longer state, and deactivates the removed products.
- ``extract`` extracts entities from the products whose text changed (:mod:`kg.extract`);
- ``model``, ``gate``, ``publish``: see :mod:`gnn.rebuild` (they need the model layer, above this one).

Later steps do not trust the change set for correctness: text embeddings are cached by content hash, and
extraction is incremental by content hash, so each finds its own work even after a crash between steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kg.config import Settings
from kg.errors import CartographError, RebuildError
from kg.faults import FAULT_ENV as FAULT_ENV  # re-exported: the crash tests name it from here
from kg.faults import fault_point
from kg.rebuild.diff import ChangeSet, diff_catalog
from kg.rebuild.lock import RebuildLock
from kg.rebuild.record import JobInputs, JobRecord, Outcome, file_sha256, utc_now
from kg.schema import NodeLabel, RelType

Log = Callable[[str], None]




@dataclass
class JobContext:
    """What a step gets: settings, the job's inputs, record and folder, and a logger."""

    settings: Settings
    inputs: JobInputs
    record: JobRecord
    job_dir: Path
    log: Log
    progress: bool | None = None

    @property
    def changes_path(self) -> Path:
        return self.job_dir / "changes.json"

    def changes(self) -> ChangeSet:
        return ChangeSet.model_validate_json(self.changes_path.read_text(encoding="utf-8"))


class Step(Protocol):
    """One unit of a rebuild; ``run`` returns the details recorded in the job record."""

    name: str

    def run(self, ctx: JobContext) -> dict[str, Any]: ...


class PlanStep:
    """Compute what the export changes, before writing anything (see the module docstring)."""

    name = "plan"

    def run(self, ctx: JobContext) -> dict[str, Any]:
        from kg.ingest.pipeline import plan_products
        from kg.ingest.readers import open_reader
        from kg.store import open_store

        reader = open_reader(Path(ctx.inputs.catalog))
        with open_store(ctx.settings) as store:
            store.init_schema()
            changes = diff_catalog(plan_products(reader, store), store)
        ctx.changes_path.write_text(changes.model_dump_json(indent=1) + "\n", encoding="utf-8")
        return changes.summary()


class GraphStep:
    """Apply the export and the events to the graph: ingest, stale edges out, removed products inactive."""

    name = "graph"

    def run(self, ctx: JobContext) -> dict[str, Any]:
        from kg.ingest.pipeline import ingest
        from kg.ingest.readers import open_reader
        from kg.store import open_store

        changes = ctx.changes()
        details: dict[str, Any] = {}
        with open_store(ctx.settings) as store:
            sources = [("catalog", Path(ctx.inputs.catalog))]
            if ctx.inputs.events:
                sources.append(("events", Path(ctx.inputs.events)))
            for name, path in sources:
                report = ingest(open_reader(path), store, quarantine_path=ctx.job_dir / f"{name}.quarantine.jsonl",
                                report_path=ctx.job_dir / f"{name}.report.json", progress=ctx.progress)
                details[name] = {"read": report.read, "quarantined": report.quarantined,
                                 "upserted": sum(k.upserted for k in report.kinds.values())}
                if report.quarantined:
                    ctx.log(f"{name}: {report.quarantined} records quarantined, see {report.quarantine_path}")
            fault_point("graph:after-ingest")
            details["stale_edges_deleted"] = (store.delete_relationships(RelType.MADE_BY, changes.stale_made_by)
                                              + store.delete_relationships(RelType.IN_CATEGORY,
                                                                           changes.stale_in_category))
            details["deactivated"] = store.deactivate(NodeLabel.PRODUCT, changes.removed)
        return details


class ExtractStep:
    """Extract entities from new and changed product text (incremental by content hash, so after a crash a
    re-run still finds exactly the products whose text it has not processed)."""

    name = "extract"

    def run(self, ctx: JobContext) -> dict[str, Any]:
        from kg.extract.pipeline import run_extract

        summary = run_extract(ctx.settings, progress=ctx.progress)
        if summary.message:
            ctx.log(summary.message)
        return {"extractor": summary.extractor, "processed": summary.products_processed,
                "unchanged": summary.products_unchanged, "failed": summary.products_failed,
                "entities_new": summary.entities_new, "mentions": summary.mentions,
                "model_calls": summary.model_calls}


def graph_steps() -> list[Step]:
    """The graph steps of every rebuild, in order; the model steps (:mod:`gnn.rebuild`) follow them."""
    return [PlanStep(), GraphStep(), ExtractStep()]


def outcome_of(record: JobRecord) -> tuple[Outcome, str | None]:
    """The job's outcome from its steps: published, kept (the gate said no, and why), or graph-only."""
    publish = record.steps.get("publish")
    if publish is None or publish.status != "done":
        return "graph-only", None
    if publish.details.get("published"):
        return "published", None
    return "kept", "; ".join(record.step("gate").details.get("reasons", []))


class RebuildJob:
    """Run ``steps`` for ``inputs`` on ``settings``' home, resumably (see the module docstring)."""

    def __init__(self, settings: Settings, inputs: JobInputs, steps: Sequence[Step], *, log: Log = print,
                 progress: bool | None = None) -> None:
        self.settings, self.inputs, self.steps, self.log, self.progress = settings, inputs, steps, log, progress
        self.job_dir = settings.home / "rebuild" / inputs.job_id
        self.record_path = self.job_dir / "job.json"

    def run(self) -> JobRecord:
        with RebuildLock(self.settings.home / "rebuild" / "rebuild.lock", self.inputs.job_id):
            record = self._open_record()
            ctx = JobContext(self.settings, self.inputs, record, self.job_dir, self.log, self.progress)
            for step in self.steps:
                state = record.step(step.name)
                if state.status == "done":
                    self.log(f"{step.name}: done in an earlier run, skipped")
                    continue
                self._run_step(step, ctx)
            record.outcome, record.reason = outcome_of(record)
            record.save(self.record_path)
            return record

    def _open_record(self) -> JobRecord:
        if self.record_path.exists():
            record = JobRecord.load(self.record_path)
            if record.inputs != self.inputs:
                raise RebuildError(f"job record {self.record_path} belongs to other inputs; remove it to start over")
            self.log(f"resuming job {record.job_id} (run {record.runs + 1})")
        else:
            record = JobRecord(job_id=self.inputs.job_id, inputs=self.inputs)
        record.runs += 1
        record.outcome, record.reason = "running", None
        for name in [s.name for s in self.steps]:
            record.step(name)
        record.save(self.record_path)
        return record

    def _run_step(self, step: Step, ctx: JobContext) -> None:
        record, state = ctx.record, ctx.record.step(step.name)
        state.status, state.started_at, state.error = "running", utc_now(), None
        state.attempts += 1
        record.save(self.record_path)
        fault_point(f"{step.name}:start")
        started = time.perf_counter()
        try:
            details = step.run(ctx)
        except Exception as e:  # recorded for the operator, then re-raised as a rebuild error
            state.status, state.error = "failed", f"{type(e).__name__}: {e}"
            state.seconds = round(time.perf_counter() - started, 3)
            record.outcome, record.reason = "failed", f"step {step.name} failed: {state.error}"
            record.save(self.record_path)
            if isinstance(e, CartographError):
                raise
            raise RebuildError(f"rebuild step {step.name!r} failed: {e}") from e
        state.status, state.finished_at, state.details = "done", utc_now(), details
        state.seconds = round(time.perf_counter() - started, 3)
        record.save(self.record_path)
        self.log(f"{step.name}: done in {state.seconds:.1f} s {details}")


def job_inputs(catalog: Path, events: Path | None, *, full: bool = False, train: bool = True,
               model: bool = True) -> JobInputs:
    """Inputs of a job, with the content hashes that identify it (a missing file is a clear error)."""
    for path in (catalog, events):
        if path is not None and not path.exists():
            raise RebuildError(f"{path} does not exist")
    return JobInputs(catalog=str(catalog.resolve()), catalog_sha256=file_sha256(catalog),
                     events=str(events.resolve()) if events else None,
                     events_sha256=file_sha256(events) if events else None, full=full, train=train,
                     model=model)
