"""An exclusive, crash-safe lock on one Cartograph home, so that two rebuild jobs never interleave.

``fcntl.flock`` on a lock file: the kernel drops the lock when the holding process dies, even by SIGKILL, so a
crashed job never leaves a stale lock behind (a pid file would). The file's content (pid, start time, job) is
only for the error message of whoever finds it taken.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from kg.errors import RebuildLockedError


class RebuildLock:
    """``with RebuildLock(path, job_id):`` holds the lock or raises :class:`RebuildLockedError` at once.

    Args:
        path: the lock file (created if missing; never deleted, which would race with a waiting locker).
        job_id: written into the file for the message another job gets.
    """

    def __init__(self, path: Path, job_id: str) -> None:
        self.path = path
        self.job_id = job_id
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            holder = _read_holder(fd)
            os.close(fd)
            raise RebuildLockedError(
                f"another rebuild is running on this home ({holder}); wait for it to finish. The lock is released "
                f"automatically when that process exits: there is nothing to clean up ({self.path})") from e
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "job": self.job_id, "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.write(fd, json.dumps(info).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RebuildLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    return f"job {info.get('job', '?')}, pid {info.get('pid', '?')}, since {info.get('since', '?')}"
