"""The job record: a rebuild's durable account, written after every step (atomically) and printed at the end.

It is what makes a job resumable (a step marked done is not run again when the same job is re-run) and what
an operator reads afterwards: the inputs, what changed, each step's timing and details, the metrics before and
after, and the outcome.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StepStatus = Literal["pending", "running", "done", "failed"]
Outcome = Literal["running", "published", "kept", "failed", "graph-only"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StepRecord(BaseModel):
    """One step: its status, timing and what it reports (counts, paths, metrics)."""

    model_config = ConfigDict(extra="forbid")

    status: StepStatus = "pending"
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    attempts: int = 0
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class JobInputs(BaseModel):
    """What determines a job: same inputs, same job (a re-run resumes it)."""

    model_config = ConfigDict(extra="forbid")

    catalog: str
    catalog_sha256: str
    events: str | None = None
    events_sha256: str | None = None
    full: bool = False
    train: bool = True
    model: bool = True

    @property
    def job_id(self) -> str:
        key = json.dumps([self.catalog_sha256, self.events_sha256, self.full, self.train, self.model])
        return hashlib.sha256(key.encode()).hexdigest()[:16]


class JobRecord(BaseModel):
    """The whole job (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str
    inputs: JobInputs
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    runs: int = 0
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    outcome: Outcome = "running"
    reason: str | None = None

    def step(self, name: str) -> StepRecord:
        return self.steps.setdefault(name, StepRecord())

    def save(self, path: Path) -> None:
        """Write atomically (temp file, fsync, rename): a crash leaves the previous record, never half of one."""
        self.updated_at = utc_now()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(self.model_dump_json(indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> JobRecord:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


def file_sha256(path: Path) -> str:
    """Content hash of a file, or of a folder's files (names and contents, in name order)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        h.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        with file.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
