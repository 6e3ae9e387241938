"""The event log: an append-only file of accepted events, acknowledged only once on disk (group commit).

Layout of the directory (``settings.event_log_dir``, one API process per directory):

- ``<first seq, 20 digits>.log``: segments of JSON lines ``{"seq", "user_id", "product_id", "type", "ts"}``,
  ``seq`` rising by one from line to line and across segments (it is the event's id). A new segment starts
  when the active one passes ``segment_bytes``.
- ``checkpoint``: the highest ``seq`` the graph writer has written into the graph (all below it too). Written
  atomically (temporary file, fsync, rename); segments wholly at or below it are deleted (compaction).

Group commit: :meth:`EventLog.append` / :meth:`EventLog.append_async` hand the event (``append_many*``: a batch
of events, never split) to one flusher thread and wait; the flusher writes every event waiting (up to
``commit_max``, or one larger batch whole) with one ``write`` and one ``fdatasync``, then wakes their callers.
Events that arrive while an fsync runs form the next group, so under load one fsync serves many requests;
``commit_window_s`` can also hold a group open to gather more. A caller returns only after its events' fsync:
an acknowledged event survives a kill -9 (or a power cut, on a disk that honours fsync). A failed write or
fsync fails every caller of its group (nothing acknowledged) and cuts the segment back to its size before the
group.

Recovery (:meth:`EventLog.open`): a kill during a write can leave a torn last line in the last segment; it was
never acknowledged, and is cut off. Numbering resumes after the highest ``seq`` on disk or in the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.durable import fsync_path
from kg.errors import CartographError

log = logging.getLogger("cartograph.api")
SUFFIX = ".log"
CHECKPOINT = "checkpoint"
LOCK = "lock"


class EventLogError(CartographError):
    """The event log cannot be opened or written (the event is not acknowledged)."""


@dataclass(frozen=True)
class LoggedEvent:
    """One event as the log holds it: ``seq`` is its id, ``ts`` is resolved (epoch seconds)."""

    seq: int
    user_id: str
    product_id: str
    type: str
    ts: int

    def line(self) -> bytes:
        return (json.dumps({"seq": self.seq, "user_id": self.user_id, "product_id": self.product_id,
                            "type": self.type, "ts": self.ts}, separators=(",", ":")) + "\n").encode()

    @classmethod
    def parse(cls, line: bytes) -> LoggedEvent:
        """Raises ValueError (or KeyError/TypeError) for anything but a whole, well-formed line."""
        if not line.endswith(b"\n"):
            raise ValueError("torn line (no newline)")
        d = json.loads(line)
        return cls(int(d["seq"]), str(d["user_id"]), str(d["product_id"]), str(d["type"]), int(d["ts"]))


Waiter = Callable[[BaseException | None], None]


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def _read_segment(path: Path, start: int = 0) -> tuple[list[tuple[LoggedEvent, int]], int]:
    """(events with the byte offset after each, offset after the last whole line) from ``start``."""
    out: list[tuple[LoggedEvent, int]] = []
    pos = start
    with path.open("rb") as f:
        f.seek(start)
        for line in f:
            try:
                event = LoggedEvent.parse(line)
            except (ValueError, KeyError, TypeError):
                break  # a torn tail (only the last segment can have one)
            pos += len(line)
            out.append((event, pos))
    return out, pos


def _settle(group: list[tuple[list[LoggedEvent], Any]], error: BaseException | None) -> None:
    """Wake the callers of a group: a callable is called here; asyncio futures are resolved on their own loop,
    with one ``call_soon_threadsafe`` per loop per group (not one per submission)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for _, waiter in group:
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append(waiter)
        else:
            waiter(error)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, futures, error)


def _resolve(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (client gone); the event is logged all the same
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(EventLogError(f"event log write failed: {error}"))


class EventLog:
    """See the module docstring. Thread-safe; :meth:`open` before use, :meth:`close` after."""

    def __init__(self, directory: Path, *, segment_bytes: int = 16 << 20, commit_max: int = 1000,
                 commit_window_s: float = 0.0) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.commit_max = commit_max
        self.commit_window_s = commit_window_s
        self._cond = threading.Condition()  # guards _pending, _next_seq, _closing
        self._pending: list[tuple[list[LoggedEvent], Any]] = []  # submissions: events and their one waiter
        self._pending_events = 0
        self._next_seq = 1
        self._closing = False
        self._durable_cv = threading.Condition()  # guards _durable_seq
        self._durable_seq = 0
        self._segments: list[int] = []  # first seq of each segment, ascending; the last is the active one
        self._seg_lock = threading.Lock()
        self._fd: int | None = None
        self._active_size = 0
        self._checkpoint = 0
        self._cursor: tuple[int, int, int] | None = None  # (after seq, segment, byte offset) of the last read
        self._flusher: threading.Thread | None = None
        self._lock_fd: int | None = None

    # -- opening and closing ------------------------------------------------------------------------------
    def open(self) -> EventLog:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._checkpoint = self._read_checkpoint()
            self._segments = sorted(int(p.stem) for p in self.directory.glob(f"*{SUFFIX}") if p.stem.isdigit())
            last_seq = self._recover_tail()
            self._next_seq = last_seq + 1
            self._durable_seq = last_seq
            if not self._segments or self._active_size >= self.segment_bytes:
                self._start_segment(self._next_seq)
            else:
                self._open_active()
        except OSError as e:
            raise EventLogError(f"cannot open the event log in {self.directory}: {e}") from e
        self._compact()
        self._flusher = threading.Thread(target=self._flush_loop, name="event-log-flusher", daemon=True)
        self._flusher.start()
        return self

    def _take_lock(self) -> None:
        """One writer per directory (two would interleave their seqs): an advisory lock, gone with the process."""
        fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(fd)
            raise EventLogError(f"the event log {self.directory} is in use by another API process (one "
                                "process per log: give each its own event_log_dir)") from e
        self._lock_fd = fd

    def _read_checkpoint(self) -> int:
        path = self.directory / CHECKPOINT
        if not path.is_file():
            return 0
        text = path.read_text(encoding="utf-8").strip()
        if not text.isdigit():
            raise EventLogError(f"checkpoint {path} holds {text[:40]!r}, not a sequence number")
        return int(text)

    def _recover_tail(self) -> int:
        """Cut a torn last line off the last segment; return the highest seq on disk or checkpointed."""
        last_seq = self._checkpoint
        if not self._segments:
            return last_seq
        path = self._path(self._segments[-1])
        events, end = _read_segment(path)
        size = path.stat().st_size
        if end < size:
            log.warning("event log: cut a torn tail of %d bytes off %s (never acknowledged)", size - end, path)
            with path.open("r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())
        self._active_size = end
        return max(last_seq, events[-1][0].seq if events else self._segments[-1] - 1)

    def _path(self, first_seq: int) -> Path:
        return self.directory / _segment_name(first_seq)

    def _open_active(self) -> None:
        self._fd = os.open(self._path(self._segments[-1]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.fsync(self._fd)  # lines a killed process wrote but did not sync are on disk before we go on

    def _start_segment(self, first_seq: int) -> None:
        fd = os.open(self._path(first_seq), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        fsync_path(self.directory)  # the new file's name is durable before any event in it is acknowledged
        old, self._fd, self._active_size = self._fd, fd, 0
        with self._seg_lock:
            self._segments.append(first_seq)
        if old is not None:
            os.close(old)

    def close(self) -> None:
        """Write what is waiting, stop the flusher, close the file. Safe to call twice."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    # -- appending (group commit) ----------------------------------------------------------------------
    def _submit(self, events: list[tuple[str, str, str, int]], waiter: Any) -> list[LoggedEvent]:
        """Number ``events`` (user, product, type, ts) and queue them as one submission: the flusher writes a
        submission whole, in one group, so its waiter learns one outcome for all of its events."""
        with self._cond:
            if self._closing or self._flusher is None:
                raise EventLogError("the event log is closed")
            first = self._next_seq
            logged = [LoggedEvent(first + i, *event) for i, event in enumerate(events)]
            self._next_seq += len(logged)
            self._pending.append((logged, waiter))  # in seq order: seq is given under the same lock
            self._pending_events += len(logged)
            self._cond.notify()
        return logged

    def append(self, user_id: str, product_id: str, type_: str, ts: int) -> LoggedEvent:
        """Log one event; returns once it is on disk. Raises :class:`EventLogError` when it could not be."""
        return self.append_many([(user_id, product_id, type_, ts)])[0]

    def append_many(self, events: list[tuple[str, str, str, int]]) -> list[LoggedEvent]:
        """Log events (user, product, type, ts) together: all are on disk when it returns (one fsync), or none
        is acknowledged (:class:`EventLogError`)."""
        done = threading.Event()
        outcome: list[BaseException | None] = []

        def waiter(error: BaseException | None) -> None:
            outcome.append(error)
            done.set()

        logged = self._submit(events, waiter)
        done.wait()
        if outcome[0] is not None:
            raise EventLogError(f"event log write failed: {outcome[0]}") from outcome[0]
        return logged

    async def append_async(self, user_id: str, product_id: str, type_: str, ts: int) -> LoggedEvent:
        """:meth:`append` for the event loop: waits for the fsync without holding a thread."""
        return (await self.append_many_async([(user_id, product_id, type_, ts)]))[0]

    async def append_many_async(self, events: list[tuple[str, str, str, int]]) -> list[LoggedEvent]:
        """:meth:`append_many` for the event loop (a batch request): one submission, one fsync."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        logged = self._submit(events, future)
        await future
        return logged

    def _take_group(self) -> list[tuple[list[LoggedEvent], Any]]:
        """Whole submissions from the front of the queue, up to ``commit_max`` events (at least one
        submission, however large: a batch is never split). Called with ``_cond`` held."""
        taken, count = 0, 0
        while taken < len(self._pending):
            size = len(self._pending[taken][0])
            if taken and count + size > self.commit_max:
                break
            count, taken = count + size, taken + 1
        group = self._pending[:taken]
        del self._pending[:taken]
        self._pending_events -= count
        return group

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return  # closing, nothing left
                if self.commit_window_s > 0 and not self._closing:
                    self._cond.wait_for(lambda: self._pending_events >= self.commit_max or self._closing,
                                        self.commit_window_s)
                group = self._take_group()
            _settle(group, self._write_group([event for events, _ in group for event in events]))

    def _write_group(self, events: list[LoggedEvent]) -> OSError | None:
        assert self._fd is not None
        data = memoryview(b"".join(event.line() for event in events))
        before, total = self._active_size, len(data)
        try:
            while data:
                data = data[os.write(self._fd, data):]
            os.fdatasync(self._fd)
        except OSError as e:
            log.error("event log write failed, %d events not acknowledged: %s", len(events), e)
            try:
                os.ftruncate(self._fd, before)  # no half group left for the reader or the next start
            except OSError:
                log.exception("event log: cannot cut the failed group off; the next start will")
            return e
        self._active_size = before + total
        with self._durable_cv:
            self._durable_seq = events[-1].seq
            self._durable_cv.notify_all()
        if self._active_size >= self.segment_bytes:
            try:
                self._start_segment(events[-1].seq + 1)
            except OSError:  # the group is on disk all the same; keep appending to the old segment
                log.exception("event log: cannot start a new segment")
        return None

    # -- reading (the graph writer) and the checkpoint ----------------------------------------------------
    @property
    def durable_seq(self) -> int:
        """The highest seq on disk (every event at or below it that was acknowledged is)."""
        with self._durable_cv:
            return self._durable_seq

    @property
    def checkpoint(self) -> int:
        """The highest seq written into the graph (the graph writer's checkpoint)."""
        return self._checkpoint

    @property
    def backlog(self) -> int:
        """Events on disk not yet written into the graph (at most; failed groups leave gaps in seq)."""
        return max(0, self.durable_seq - self._checkpoint)

    def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Wait until an event after ``seq`` is on disk, or ``timeout`` seconds; returns whether one is."""
        with self._durable_cv:
            return self._durable_cv.wait_for(lambda: self._durable_seq > seq, timeout)

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` events on disk with ``seq > after``, in order. Sequential reads (``after`` the
        last event of the previous read) continue from where that read stopped instead of scanning."""
        durable = self.durable_seq
        out: list[LoggedEvent] = []
        if after >= durable or limit <= 0:
            return out
        segment, pos = self._locate(after)
        while len(out) < limit:
            events, pos, exhausted = self._scan(segment, pos, after, durable, limit - len(out))
            out.extend(events)
            following = self._segment_after(segment)
            if not exhausted or following is None:
                break
            segment, pos = following, 0
        if out:
            self._cursor = (out[-1].seq, segment, pos)
        return out

    def _locate(self, after: int) -> tuple[int, int]:
        with self._seg_lock:
            segments = list(self._segments)
        if self._cursor is not None and self._cursor[0] == after and self._cursor[1] in segments:
            return self._cursor[1], self._cursor[2]
        holding = [first for first in segments if first <= after + 1]
        return (holding[-1] if holding else segments[0]), 0

    def _segment_after(self, segment: int) -> int | None:
        with self._seg_lock:
            later = [first for first in self._segments if first > segment]
        return later[0] if later else None

    def _scan(self, segment: int, pos: int, after: int, durable: int, limit: int
              ) -> tuple[list[LoggedEvent], int, bool]:
        """(events, byte offset after the last one taken, whether the segment's end was reached)."""
        out: list[LoggedEvent] = []
        with self._path(segment).open("rb") as f:
            f.seek(pos)
            for line in f:
                try:
                    event = LoggedEvent.parse(line)
                except (ValueError, KeyError, TypeError):
                    return out, pos, False  # a group being written now: not durable yet
                if event.seq > durable:
                    return out, pos, False
                pos += len(line)
                if event.seq > after:
                    out.append(event)
                    if len(out) >= limit:
                        return out, pos, False
        return out, pos, True

    def commit_checkpoint(self, seq: int) -> None:
        """Record that every event up to ``seq`` is in the graph (atomically, durably), then delete the
        segments wholly at or below it."""
        if seq <= self._checkpoint:
            return
        path, tmp = self.directory / CHECKPOINT, self.directory / f"{CHECKPOINT}.tmp"
        try:
            with tmp.open("w", encoding="utf-8") as f:
                f.write(f"{seq}\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fsync_path(self.directory)
        except OSError as e:
            raise EventLogError(f"cannot write the event log checkpoint {path}: {e}") from e
        self._checkpoint = seq
        self._compact()

    def _compact(self) -> None:
        """Delete every segment but the active one whose events are all at or below the checkpoint."""
        with self._seg_lock:
            done = [first for first, following in zip(self._segments, self._segments[1:], strict=False)
                    if following - 1 <= self._checkpoint]
            self._segments = [first for first in self._segments if first not in done]
        for first in done:
            try:
                self._path(first).unlink(missing_ok=True)
            except OSError:
                log.exception("event log: cannot delete the written segment %s", self._path(first))

    def segment_files(self) -> list[Path]:
        with self._seg_lock:
            return [self._path(first) for first in self._segments]

    def import_jsonl(self, path: Path) -> int:
        """Log the events of an older spool file (``{"user_id", "product_id", "type", "ts"}`` lines, as the
        API before the event log kept them), then delete it; returns how many. A torn last line is dropped."""
        if not path.is_file():
            return 0
        count = 0
        for line in path.read_bytes().splitlines(keepends=True):
            try:
                d = json.loads(line)
                self.append(str(d["user_id"]), str(d["product_id"]), str(d["type"]), int(d["ts"]))
                count += 1
            except (ValueError, KeyError, TypeError):
                log.warning("spool %s: unreadable line dropped: %r", path, line[:200])
        path.unlink()
        return count
