"""The event log (group commit, torn tails, rotation, checkpoint, one writer per directory) and the graph writer
that moves its events into the graph (batches, retries while the graph is held, resumes, writes nothing twice)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from api.event_writer import GraphWriter
from api.eventlog import EventLog, EventLogError, LoggedEvent
from api.events import store_events
from kg.config import PROJECT_ROOT
from kg.errors import StoreUnavailableError
from kg.store import GraphStore


def _log(path: Path, **kwargs: Any) -> EventLog:
    return EventLog(path, **kwargs).open()


def test_appended_events_are_read_back_in_order_and_numbering_survives_a_restart(tmp_path: Path) -> None:
    log = _log(tmp_path)
    seqs = [log.append(f"u{i}", "p1", "view", 100 + i).seq for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5] and log.durable_seq == 5 and log.backlog == 5
    assert [e.user_id for e in log.read(2, 10)] == ["u2", "u3", "u4"]
    assert [e.seq for e in log.read(4, 10)] == [5] and log.read(5, 10) == []
    log.close()
    again = _log(tmp_path)
    assert again.append("u5", "p1", "purchase", 200).seq == 6
    assert [e.ts for e in again.read(0, 100)] == [100, 101, 102, 103, 104, 200]
    again.close()


def test_concurrent_appends_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        syncs.append(fd)
        time.sleep(0.005)  # a disk slower than tmpfs: groups form while one fsync runs
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    log = _log(tmp_path)
    threads = [threading.Thread(target=lambda i=i: log.append(f"u{i}", "p", "view", i)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.durable_seq == 200 and len(log.read(0, 1000)) == 200
    assert len(syncs) < 100, f"{len(syncs)} fsyncs for 200 events: no group commit"
    log.close()


def test_async_appends_wait_for_their_fsync(tmp_path: Path) -> None:
    log = _log(tmp_path, commit_window_s=0.002)

    async def burst() -> list[LoggedEvent]:
        return list(await asyncio.gather(*(log.append_async(f"u{i}", "p", "cart", i) for i in range(50))))

    events = asyncio.run(burst())
    assert sorted(e.seq for e in events) == list(range(1, 51)) and log.durable_seq == 50
    log.close()


def test_a_failed_fsync_acknowledges_nothing_and_leaves_no_half_group(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path)
    log.append("ok", "p", "view", 1)

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(EventLogError, match="No space left"):
        log.append("lost", "p", "view", 2)
    monkeypatch.undo()
    log.append("after", "p", "view", 3)
    assert [e.user_id for e in log.read(0, 10)] == ["ok", "after"]
    log.close()
    assert [e.user_id for e in _log(tmp_path).read(0, 10)] == ["ok", "after"]


def _on_disk(log: EventLog) -> list[tuple[int, str]]:
    """(seq, user) of every whole line in the log's segment files, read from the files themselves."""
    return [(e.seq, e.user_id) for path in log.segment_files()
            for e in (LoggedEvent.parse(line) for line in path.read_bytes().splitlines(keepends=True))]


def test_a_batch_is_written_whole_with_one_fsync_and_never_split(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    groups: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        groups.append(len(_on_disk(log)))  # events on disk at each fsync
        time.sleep(0.01)  # singles arrive while the batch is waiting for its fsync
        real(fd)

    log = _log(tmp_path, commit_max=10)
    monkeypatch.setattr(os, "fdatasync", counting)
    singles = [threading.Thread(target=lambda i=i: log.append(f"single{i}", "p", "view", i)) for i in range(15)]
    for t in singles[:5]:
        t.start()
    batch = log.append_many([(f"batch{i}", "p", "purchase", i) for i in range(25)])  # over commit_max
    for t in singles[5:]:
        t.start()
    for t in singles:
        t.join()
    assert [e.seq for e in batch] == list(range(batch[0].seq, batch[0].seq + 25))  # consecutive ids
    disk = _on_disk(log)
    assert [seq for seq, _ in disk] == list(range(1, 41)) and log.durable_seq == 40
    # acknowledged == on disk: when append_many returned, the whole batch was in the files
    assert {e.seq for e in batch} <= {seq for seq, _ in disk}
    # no fsync saw part of the batch: it went to disk whole, in one group
    first = batch[0].seq - 1
    assert all(n <= first or n >= first + 25 for n in groups), groups
    log.close()


def test_a_failed_fsync_fails_the_whole_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path)
    log.append("before", "p", "view", 1)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(EventLogError, match="Input/output error"):
        log.append_many([(f"lost{i}", "p", "view", i) for i in range(50)])
    monkeypatch.undo()
    log.append_many([("after1", "p", "view", 2), ("after2", "p", "cart", 3)])
    assert [user for _, user in _on_disk(log)] == ["before", "after1", "after2"]
    log.close()


def test_async_batches_wait_for_their_fsync(tmp_path: Path) -> None:
    log = _log(tmp_path)

    async def batches() -> list[list[LoggedEvent]]:
        return list(await asyncio.gather(*(log.append_many_async([(f"b{b}-{i}", "p", "view", i) for i in range(30)])
                                           for b in range(10))))

    for batch in asyncio.run(batches()):
        assert [e.seq for e in batch] == list(range(batch[0].seq, batch[0].seq + 30))
    assert log.durable_seq == 300 and len(_on_disk(log)) == 300
    log.close()


def test_a_torn_tail_is_cut_at_open_and_numbering_goes_on(tmp_path: Path) -> None:
    log = _log(tmp_path)
    for i in range(3):
        log.append(f"u{i}", "p", "view", i)
    log.close()
    segment = log.segment_files()[-1]
    with segment.open("ab") as f:
        f.write(b'{"seq":4,"user_id":"half')  # a kill in the middle of a write
    again = _log(tmp_path)
    assert again.durable_seq == 3
    assert again.append("u3", "p", "view", 3).seq == 4
    assert [e.user_id for e in again.read(0, 10)] == ["u0", "u1", "u2", "u3"]
    again.close()


def test_segments_rotate_and_checkpointed_ones_are_deleted(tmp_path: Path) -> None:
    log = _log(tmp_path, segment_bytes=300)  # about four events per segment
    for i in range(40):
        log.append(f"user-{i}", "product", "purchase", 1000 + i)
    assert len(log.segment_files()) >= 8
    assert [e.seq for e in log.read(0, 100)] == list(range(1, 41))  # across segments
    log.commit_checkpoint(30)
    remaining = log.segment_files()
    assert len(remaining) <= 4 and [e.seq for e in log.read(30, 100)] == list(range(31, 41))
    log.commit_checkpoint(40)
    log.close()
    again = _log(tmp_path, segment_bytes=300)
    assert again.checkpoint == 40 and again.backlog == 0 and len(again.segment_files()) == 1
    assert again.append("next", "product", "view", 1).seq == 41  # never a seq the graph already has
    again.close()


def test_one_process_per_log_directory(tmp_path: Path) -> None:
    log = _log(tmp_path)
    with pytest.raises(EventLogError, match="in use by another API process"):
        EventLog(tmp_path).open()
    log.close()
    _log(tmp_path).close()  # the lock goes with the holder


def test_a_spool_file_from_before_the_log_is_taken_in(tmp_path: Path) -> None:
    spool = tmp_path / "pending.jsonl"
    spool.write_text('{"user_id": "a", "product_id": "p", "type": "view", "ts": 5}\n'
                     '{"user_id": "b", "product_id": "p", "type": "purchase", "ts": 6}\n{"user_id": "c", "pro')
    log = _log(tmp_path / "log")
    assert log.import_jsonl(spool) == 2 and not spool.exists()
    assert [(e.user_id, e.ts) for e in log.read(0, 10)] == [("a", 5), ("b", 6)]
    log.close()


KILLED_APPENDER = r"""
import sys, threading
from api.eventlog import EventLog
log = EventLog(sys.argv[1], segment_bytes=4096).open()
out = threading.Lock()
def run(t):
    i = 0
    while True:
        e = log.append(f"t{t}-{i}", "p", "view", i)
        with out:  # one whole line per acknowledged event
            sys.stdout.write(f"{e.seq}\n")
            sys.stdout.flush()
        i += 1
for t in range(8):
    threading.Thread(target=run, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_events_acknowledged_before_a_kill_9_are_all_in_the_log(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED_APPENDER, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert child.stdout is not None
    acked: list[int] = []
    deadline = time.monotonic() + 60
    while len(acked) < 300 and time.monotonic() < deadline:
        acked.append(int(child.stdout.readline()))
    os.kill(child.pid, signal.SIGKILL)
    acked += [int(line) for line in child.stdout.read().split()]  # printed before the kill landed
    assert child.wait() == -signal.SIGKILL and len(acked) >= 300
    log = _log(tmp_path, segment_bytes=4096)
    logged = [e.seq for e in log.read(0, 10**6)]
    assert set(acked) <= set(logged) and logged == sorted(set(logged))
    log.close()


# -- the graph writer ----------------------------------------------------------------------------------------
def _graph_with_products(store: GraphStore, n: int = 3) -> list[str]:
    products = [f"P{i}" for i in range(n)]
    store.upsert_nodes("Product", [{"id": p, "title": p, "active": True} for p in products])
    return products


def _edges(store: GraphStore) -> list[tuple[str, str, str, int]]:
    rows = store.query("MATCH (u:User)-[r]->(p:Product) RETURN u.id AS u, label(r) AS rel, p.id AS p, r.ts AS ts"
                       if store.dialect == "kuzu" else
                       "MATCH (u:User)-[r]->(p:Product) RETURN u.id AS u, type(r) AS rel, p.id AS p, r.ts AS ts")
    return sorted((r["u"], r["rel"], r["p"], r["ts"]) for r in rows)


def test_a_batch_is_written_with_the_last_ts_per_pair_and_twice_is_once(store: GraphStore) -> None:
    p0, p1, _ = _graph_with_products(store)
    events = [LoggedEvent(1, "u1", p0, "view", 10), LoggedEvent(2, "u1", p0, "cart", 20),
              LoggedEvent(3, "u1", p0, "purchase", 30), LoggedEvent(4, "u2", p1, "view", 40),
              LoggedEvent(5, "u2", "GONE", "view", 50)]
    assert store_events(store, events) == 1  # the unknown product is counted, not written
    expected = [("u1", "PURCHASED", p0, 30), ("u1", "VIEWED", p0, 20), ("u2", "VIEWED", p1, 40)]
    assert _edges(store) == expected
    store_events(store, events)  # replayed after a crash before the checkpoint
    assert _edges(store) == expected
    assert store.count_nodes()["User"] == 2


class FlakyStore:
    """A store that refuses the first ``failures`` batches as a graph held by a rebuild job does."""

    def __init__(self, store: GraphStore, failures: int) -> None:
        self.store, self.failures = store, failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def holding(self) -> Any:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("cannot open embedded graph (is another process using it?)")
        return self.store.holding()


def test_the_writer_retries_while_the_graph_is_held_then_writes_everything_once(store: GraphStore,
                                                                               tmp_path: Path) -> None:
    products = _graph_with_products(store)
    log = _log(tmp_path)
    flaky = FlakyStore(store, failures=3)
    writer = GraphWriter(log, flaky, linger_s=0.0, min_backoff_s=0.01)  # type: ignore[arg-type]
    writer.start()
    for i in range(30):
        log.append(f"w{i}", products[i % 3], "purchase", i)
    assert writer.flush(timeout=30), writer.last_error
    writer.stop()
    assert flaky.failures == 0 and log.checkpoint == 30 and log.backlog == 0
    assert len(_edges(store)) == 30
    log.close()


def test_a_restarted_writer_resumes_from_the_checkpoint(store: GraphStore, tmp_path: Path) -> None:
    products = _graph_with_products(store)
    log = _log(tmp_path)
    for i in range(10):
        log.append(f"r{i}", products[0], "view", i)
    GraphWriter(log, store, batch=4).write_once()  # one batch, then the process "dies"
    assert log.checkpoint == 4 and len(_edges(store)) == 4
    log.close()
    log = _log(tmp_path)
    writer = GraphWriter(log, store, batch=4, linger_s=0.0)
    writer.start()
    assert writer.flush(timeout=30)
    writer.stop()
    assert writer.written == 6 and len(_edges(store)) == 10
    log.close()


def test_the_graph_writer_never_writes_a_forgotten_users_events(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from kg.privacy import record_forgotten

    written: list[str] = []
    monkeypatch.setattr("api.event_writer.store_events",
                        lambda store, events: written.extend(e.user_id for e in events) or 0)
    registry = tmp_path / "forgotten.txt"
    record_forgotten(registry, "gone-user")
    log = EventLog(tmp_path / "events").open()
    try:
        for user in ("kept-user", "gone-user", "kept-user"):
            log.append(user, "p1", "view", 1)
        writer = GraphWriter(log, object(), linger_s=0, forgotten=registry)  # type: ignore[arg-type]
        assert writer.write_once() and log.backlog == 0  # the checkpoint moves past the skipped event too
    finally:
        log.close()
    assert written == ["kept-user", "kept-user"]
