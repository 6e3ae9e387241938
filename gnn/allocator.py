"""glibc's allocator kept from returning memory to the kernel while a model trains.

Why: every training step of a full-softmax model allocates and frees buffers of hundreds of megabytes (the
``[positions, products]`` logits and their gradient: about 300 MB a step on amazon-beauty). glibc serves an
allocation above its mmap threshold (which grows to at most 32 MB on its own) with fresh pages from the kernel
and unmaps them on free, so each step faults every page of those buffers in again: a full ``cartograph train``
on amazon-beauty took 191 M minor page faults, and 406 of its 2,231 CPU-seconds were spent in the kernel.
With the thresholds raised for the duration of training, freed buffers stay in the heap and are reused: a
micro-benchmark of the cross-entropy step (``[6000, 128] x [12101, 128]``, bf16, forward and backward) ran in
7.8 s instead of 13.1 s. The price is that the process keeps its peak heap while the model trains; on leaving,
glibc's defaults are set back and the free heap is returned (``malloc_trim``).

Only the gradient steps need it. The calibrations after training (:func:`gnn.content.calibrate`) score grids of
``[users, products]`` matrices of many sizes; kept in the heap, those took a full ``cartograph train`` on
amazon-beauty from a 2.7 GB peak to 6.85 GB. :func:`released_allocator` gives glibc its defaults back for such a
block inside a training one.

Elsewhere (musl, macOS, Windows) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

# mallopt(3) parameters.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
_INT_MAX = 2**31 - 1  # mallopt takes a C int
#: While training: nothing up to 1 GB is mmapped, nothing freed is trimmed, and the heap grows 256 MB at a time.
TRAINING_SETTINGS: tuple[tuple[int, int], ...] = (
    (M_MMAP_THRESHOLD, 1 << 30), (M_TRIM_THRESHOLD, _INT_MAX), (M_TOP_PAD, 256 << 20))
#: After: what glibc's dynamic thresholds settle at on 64-bit (mmap 32 MB, trim twice that) and its top pad.
RESTORED_SETTINGS: tuple[tuple[int, int], ...] = (
    (M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 64 << 20), (M_TOP_PAD, 128 << 10))


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def _apply(settings: tuple[tuple[int, int], ...]) -> bool:
    libc = _glibc()
    return libc is not None and all(libc.mallopt(param, value) == 1 for param, value in settings)


_depth = 0  # blocks open in this process: only the outermost one sets and restores


@contextmanager
def training_allocator() -> Iterator[bool]:
    """Within the block, freed memory stays in the process for reuse (see the module docstring); yields whether
    the settings are in force (False off glibc). Blocks nest: only the outermost sets and restores them."""
    global _depth
    outermost = _depth == 0
    applied = _apply(TRAINING_SETTINGS) if outermost else _glibc() is not None
    _depth += 1
    try:
        yield applied
    finally:
        _depth -= 1
        if outermost and applied:
            _apply(RESTORED_SETTINGS)
            libc = _glibc()
            if libc is not None:
                libc.malloc_trim(0)


@contextmanager
def released_allocator() -> Iterator[None]:
    """Within a :func:`training_allocator` block: glibc's defaults (and the free heap returned) for the duration,
    the training settings again after; elsewhere, nothing changes."""
    if _depth == 0 or _glibc() is None:
        yield
        return
    _apply(RESTORED_SETTINGS)
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    try:
        yield
    finally:
        _apply(TRAINING_SETTINGS)
