"""Progress with an ETA for the steps that take more than a few seconds (text encoding, snapshot, training,
exports), on stderr so that stdout keeps only results.

On a terminal it is a live bar (done, percentage, elapsed, remaining). Elsewhere (a log file, CI) a line every
:data:`LOG_EVERY_S` seconds says how far the step is and how long it has left, so a long step is never silent;
a step shorter than that prints nothing. Scripts silence all of it with ``cartograph --quiet`` (or
``CARTOGRAPH_QUIET=1``): :func:`set_quiet` is process-wide because the steps sit deep under the commands.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

LOG_EVERY_S = 15.0
T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) every progress display of this process."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet or os.environ.get("CARTOGRAPH_QUIET", "").lower() in ("1", "true", "yes")


def columns(count: bool = True) -> list[ProgressColumn]:
    """The bar's columns, with the remaining time (what a waiting operator wants to know); ``count``: show
    done/total (off when the units are not meaningful to a reader, e.g. characters)."""
    return [TextColumn("{task.description}"), BarColumn(), *([MofNCompleteColumn()] if count else []),
            TaskProgressColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]


def progress_bars(enabled: bool | None = None, *, count: bool = True) -> Progress:
    """A rich :class:`Progress` on stderr with ETA columns; ``enabled=None``: only on a terminal, never quiet."""
    console = Console(stderr=True)
    show = (console.is_terminal if enabled is None else enabled) and not is_quiet()
    return Progress(*columns(count), console=console, disable=not show)


class Step:
    """One long step: call :meth:`advance` as work completes."""

    def __init__(self, description: str, total: float, *, enabled: bool | None = None, count: bool = True) -> None:
        self.description, self.total, self.done, self.count = description, total, 0.0, count
        self.console = Console(stderr=True)
        self.live = not is_quiet() and (self.console.is_terminal if enabled is None else enabled)
        self.log = not is_quiet() and enabled is not False and not self.live
        self.started = self.last_log = time.monotonic()
        self.bars: Progress | None = None
        self.task = None

    def __enter__(self) -> Step:
        if self.live:
            self.bars = progress_bars(True, count=self.count)
            self.bars.start()
            self.task = self.bars.add_task(self.description, total=self.total)  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bars is not None:
            self.bars.stop()

    def advance(self, amount: float = 1) -> None:
        self.done += amount
        if self.bars is not None and self.task is not None:
            self.bars.update(self.task, completed=self.done)
        elif self.log and time.monotonic() - self.last_log >= LOG_EVERY_S:
            self.last_log = time.monotonic()
            self.console.print(self.line(), highlight=False, soft_wrap=True)

    def set_total(self, total: float) -> None:
        """Change how much work the step has in all (a training run's early-stopping bound moves as it goes)."""
        self.total = total
        if self.bars is not None and self.task is not None:
            self.bars.update(self.task, total=total)

    def describe(self, description: str) -> None:
        """Change what the bar says (e.g. the latest loss)."""
        self.description = description
        if self.bars is not None and self.task is not None:
            self.bars.update(self.task, description=description)

    def line(self) -> str:
        """``description: 40% (1,200/3,000), 1m05s elapsed, about 1m38s left``."""
        elapsed = time.monotonic() - self.started
        share = self.done / self.total if self.total else 1.0
        left = elapsed * (1 - share) / share if share > 0 else float("nan")
        eta = f"about {_duration(left)} left" if left == left else "time left unknown"
        done = f" ({self.done:,.0f}/{self.total:,.0f})" if self.count else ""
        return f"{self.description}: {share:.0%}{done}, {_duration(elapsed)} elapsed, {eta}"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


@contextmanager
def step(description: str, total: float, *, enabled: bool | None = None, count: bool = True) -> Iterator[Step]:
    """``with step("encoding texts", n) as s: ... s.advance(k)``."""
    with Step(description, total, enabled=enabled, count=count) as s:
        yield s


def track(items: Iterable[T], description: str, total: int, *, enabled: bool | None = None) -> Iterator[T]:
    """Iterate ``items`` with progress (one unit per item)."""
    with Step(description, total, enabled=enabled) as s:
        for item in items:
            yield item
            s.advance()
