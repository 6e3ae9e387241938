"""Making a file's (or a directory's) contents durable."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """``fsync`` a file or a directory by path: a directory's fsync makes the names created or renamed in it
    durable (a new log segment, a graph file swapped in)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
