"""Fault injection for the crash tests: a process kills itself with SIGKILL at a named point.

``$CARTOGRAPH_FAULT`` names the point; every other run passes through at the cost of one environment lookup.
SIGKILL, not an exception: nothing gets to clean up, as with a real crash (power loss, OOM killer, kill -9).
Points: ``<step>:start`` for every rebuild step, ``graph:after-ingest``, ``model:after-train``,
``publish:before-swap`` (rebuild jobs); ``ingest:mid-load`` (after the first stage of an ingest is written)
and ``ingest:before-publish`` (a staged ingest, loaded, just before the swap).
"""

from __future__ import annotations

import os
import signal

#: Environment variable naming a fault point (:func:`fault_point`).
FAULT_ENV = "CARTOGRAPH_FAULT"


def fault_point(name: str) -> None:
    """Die here, like a killed process, when ``$CARTOGRAPH_FAULT`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
