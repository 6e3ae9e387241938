"""bench/peers: the RecBole converter keeps Cartograph's split exactly (pairs, refit set, sequential histories);
atomic file format; amazon-book split; KGAT's NDCG convention; the plain-torch torch_scatter stand-in; how a
RecBole run's stop is classified; per-seed aggregation, bootstrap and the report. Small hand-made inputs: no
peers venv needed. The end-to-end run (both venvs, real data) is marked ``bench``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from kg.config import PROJECT_ROOT

PEERS = PROJECT_ROOT / "bench" / "peers"
DATA = PROJECT_ROOT.parent / "shared" / "data"


def _module(name: str) -> ModuleType:
    if str(PEERS) not in sys.path:
        sys.path.insert(0, str(PEERS))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def convert() -> ModuleType:
    return _module("convert")


@pytest.fixture(scope="module")
def atomic() -> ModuleType:
    return _module("atomic")


def _write(path: Path, text: str) -> None:
    path.write_text(text.replace("|", "\t"), encoding="utf-8")


@pytest.fixture
def ml_dir(tmp_path: Path) -> Path:
    """A 3-user, 4-movie ml-100k in RecBole's atomic format, with a KG around movies 1, 2 and 3."""
    src = tmp_path / "ml"
    src.mkdir()
    _write(src / "ml-100k.item", "item_id:token|movie_title:token_seq|release_year:token|class:token_seq\n"
           "1|Toy Story|1995|Animation Comedy\n2|GoldenEye|1995|Action\n3|Heat|1995|Crime\n4|Fargo|1996|Crime\n")
    # user 10: 4 ratings (last by time: movie 2); user 20: 3 ratings with a tie at the end (product index
    # breaks it: movie 4 after movie 3); user 30: 2 ratings (train only).
    _write(src / "ml-100k.inter", "user_id:token|item_id:token|rating:float|timestamp:float\n"
           "10|1|5|100\n10|2|4|400\n10|3|3|200\n10|4|2|300\n"
           "20|1|4|50\n20|3|4|60\n20|4|4|60\n"
           "30|2|1|10\n30|1|1|20\n")
    _write(src / "ml-100k.link", "item_id:token|entity_id:token\n1|m.toy\n2|m.gold\n3|m.heat\n")
    _write(src / "ml-100k.kg", "head_id:token|relation_id:token|tail_id:token\n"
           "m.toy|film.film.genre|m.animation\nm.actor|film.actor.film|m.heat\nm.gold|film.film.sequel|m.heat\n"
           "m.toy|film.film.genre|m.comedy\n")
    return src


def test_ml100k_snapshot(convert: ModuleType, ml_dir: Path) -> None:
    snap = convert.ml100k_snapshot(ml_dir)
    assert snap.ids["product"] == ["1", "2", "3", "4"]
    assert snap.ids["user"] == ["10", "20", "30"]
    assert snap.titles[0] == "Toy Story (1995)" and snap.descriptions[0] == "Animation Comedy"
    assert snap.inter_user.size == 9 and set(snap.inter_kind.tolist()) == {2}  # RATED
    # Every triple with a movie at one end: product MENTIONS the other end (both ways for movie-movie).
    mentions = {(snap.ids["product"][p], snap.ids["entity"][e]) for p, e in snap.item_edges["mentions"].T.tolist()}
    assert mentions == {("1", "m.animation"), ("1", "m.comedy"), ("3", "m.actor"), ("2", "m.heat"), ("3", "m.gold")}
    assert snap.snapshot_id == snap.compute_id()


def test_split_written_and_read_back_exactly(convert: ModuleType, atomic: ModuleType, ml_dir: Path,
                                             tmp_path: Path) -> None:
    snap = convert.ml100k_snapshot(ml_dir)
    split = convert.peer_split(snap)
    assert split.cold_products.size == 0 and split.cold.shape[1] == 0
    out = tmp_path / "work"
    summary = convert.write_recbole_dataset(snap, split, out, "ml", shipped_kg=ml_dir)
    assert summary["rows"] == {"train": 5, "valid": 2, "test": 2, "kg": 4, "link": 3}
    ids = {part: {(u, p) for u, p in atomic.read_atomic(out / "ml" / f"ml.{part}.inter")[1]} for part in convert.PARTS}
    # leave-one-out by time: user 10's last item is movie 2 (ts 400), before it movie 4 (ts 300); user 20's tie at
    # ts 60 goes to the higher product index (4) as test; user 30 (2 interactions) is train only.
    assert ids["test"] == {("10", "2"), ("20", "4")}
    assert ids["valid"] == {("10", "4"), ("20", "3")}
    assert ids["train"] == {("10", "1"), ("10", "3"), ("20", "1"), ("30", "2"), ("30", "1")}
    back = convert.read_split(out / "ml", "ml", snap)
    for part in convert.PARTS:
        assert convert.same_pairs(back[part], getattr(split, part)), part
    header, _ = atomic.read_atomic(out / "ml" / "ml.train.inter")
    assert header == ["user_id:token", "item_id:token"]
    assert (out / "ml" / "ml.kg").read_text().splitlines()[0] == "head_id:token\trelation_id:token\ttail_id:token"
    assert json.loads((out / "ml" / "split.json").read_text())["snapshot_id"] == snap.snapshot_id


def test_snapshot_kg_from_product_relations(convert: ModuleType, ml_dir: Path) -> None:
    snap = convert.ml100k_snapshot(ml_dir)
    snap.ids["brand"], snap.names["brand"] = ["acme"], ["Acme"]
    snap.item_edges["made_by"] = np.array([[0, 2], [0, 0]])
    snap.item_edges["also_bought"] = np.array([[1], [3]])
    triples, links = convert.snapshot_kg(snap)
    assert ("p:1", "made_by", "b:acme") in triples and ("p:3", "made_by", "b:acme") in triples
    assert ("p:1", "mentions", "e:m.animation") in triples
    leaves = [t for t in triples if t[1] == convert.NO_ATTRIBUTE]
    assert len(triples) - len(leaves) == 2 + 5  # the co-purchase lists know the future: left out by default
    # Every linked product is the head of some triple (RecBole cannot load one that is not): one with no
    # relation gets a leaf entity of its own.
    assert {h for h, _, _ in triples} == {e for _, e in links}
    assert ("p:4", convert.NO_ATTRIBUTE, "n:4") in leaves  # movie 4: no brand, no KG link
    assert all(t == h.replace("p:", "n:", 1) for h, _, t in leaves) and len({t for *_, t in leaves}) == len(leaves)
    with_copurchase, _ = convert.snapshot_kg(snap, copurchase=True)
    assert set(with_copurchase) - set(triples) == {("p:2", "also_bought", "p:4")}
    assert links == [("1", "p:1"), ("2", "p:2"), ("3", "p:3"), ("4", "p:4")]


def test_tune_splits_mentions_by_freebase_role(convert: ModuleType, ml_dir: Path, tmp_path: Path) -> None:
    tune = _module("tune")
    assert tune.freebase_role("film.film.directed_by") == tune.freebase_role("film.director.film") == "director"
    assert tune.freebase_role("film.film_genre.films_in_this_genre") == tune.freebase_role("film.film.genre")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ml-100k-kg").symlink_to(ml_dir, target_is_directory=True)
    roles = tune.entity_roles(tmp_path / "data")
    assert roles == {"m.animation": "genre", "m.comedy": "genre", "m.actor": "actor", "m.heat": "sequel",
                     "m.gold": "sequel"}
    from gnn.data import to_hetero_data

    snap = convert.ml100k_snapshot(ml_dir)
    data = tune.split_mentions_by_role(to_hetero_data(snap, convert.peer_split(snap)), snap, roles)
    typed = {et[1]: {(snap.ids["product"][p], snap.ids["entity"][e]) for p, e in data[et].edge_index.T.tolist()}
             for et in data.edge_types if et[0] == "product" and et[1].startswith("mentions_")}
    assert typed == {"mentions_genre": {("1", "m.animation"), ("1", "m.comedy")}, "mentions_actor": {("3", "m.actor")},
                     "mentions_sequel": {("2", "m.heat"), ("3", "m.gold")}}
    assert ("product", "mentions", "entity") not in data.edge_types
    actor = snap.ids["entity"].index("m.actor")
    assert data["entity", "rev_mentions_actor", "product"].edge_index.tolist() == [[actor], [2]]


def test_significance_per_user_ndcg_and_paired_bootstrap(convert: ModuleType, ml_dir: Path) -> None:
    sig, side = _module("significance"), _module("cartograph_side")
    snap = convert.ml100k_snapshot(ml_dir)
    split = convert.peer_split(snap)
    # test: user 10 -> movie 2, user 20 -> movie 4; user 20's train movie 1 and valid movie 3 are skipped in ranking
    doc = {"top_k": 20, "rankings": {"10": ["2", "3", "1"], "20": ["1", "2", "4"]}}
    scores = sig.per_user_ndcg(doc, snap, split, 20)
    by_user = dict(zip((snap.ids["user"][u] for u in np.unique(split.test[0])), scores.tolist(), strict=True))
    assert by_user == pytest.approx({"10": 1.0, "20": 1 / math.log2(3)})
    assert scores.mean() == pytest.approx(side.evaluate_export(doc, snap, split)["ndcg@20"])
    theirs = np.array([0.5, 0.1, 0.2, 0.25])
    same = sig.bootstrap_ratio(1.2 * theirs, theirs, resamples=200)
    assert same["ratio"] == pytest.approx(1.2) and same["p_at_least_target"] == 1.0
    assert same["ci95_low"] == pytest.approx(1.2) and same["ci95_high"] == pytest.approx(1.2)
    noisy = sig.bootstrap_ratio(np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.5, 0.5, 0.0]), resamples=500)
    # (1/2)^4 = 6% of resamples draw only users 0 and 3, where the other model scores 0: no upper end.
    assert noisy["ratio"] == pytest.approx(1.0) and noisy["ci95_low"] < 0.5 and noisy["ci95_high"] is None
    assert sig.interval_text(noisy).endswith("-unbounded")
    wide = sig.bootstrap_ratio(np.array([1.0, 0.0, 0.0, 0.0, 0.5, 0.5]), np.array([0.0, 0.5, 0.5, 0.0, 0.5, 0.5]),
                               resamples=500)
    assert wide["ci95_low"] < 1.0 < 2.0 < wide["ci95_high"] < 10.0  # a bounded interval stays a number


def test_atomic_format_checks(atomic: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "x.inter"
    assert atomic.write_atomic(path, ["user_id:token", "item_id:token"], [("u1", "i1"), ("u2", "i 2")]) == 2
    assert path.read_text() == "user_id:token\titem_id:token\nu1\ti1\nu2\ti 2\n"
    assert atomic.read_atomic(path) == (["user_id:token", "item_id:token"], [["u1", "i1"], ["u2", "i 2"]])
    with pytest.raises(atomic.AtomicFormatError, match="tab"):
        atomic.write_atomic(path, ["user_id:token"], [("a\tb",)])
    with pytest.raises(atomic.AtomicFormatError, match="RecBole type"):
        atomic.write_atomic(path, ["user_id"], [])
    with pytest.raises(atomic.AtomicFormatError, match="2 values for 1 columns"):
        atomic.write_atomic(path, ["user_id:token"], [("a", "b")])
    _write(path, "user_id:token|item_id:token\nu1\n")
    with pytest.raises(atomic.AtomicFormatError, match=r"x\.inter:2: 1 values for 2 columns"):
        atomic.read_atomic(path)


def test_amazon_book_split(tmp_path: Path) -> None:
    side = _module("cartograph_side")
    src = tmp_path / "book"
    src.mkdir()
    (src / "train.txt").write_text("0 0 1 2 3\n1 2 3\n2 1 4 5 10\n")
    (src / "test.txt").write_text("0 4\n1 0 1\n2 3\n")
    snap, split = side.amazon_book_split(src, valid_users=2, seed=0)
    assert snap.num_users == 3 and snap.num_products == 11
    item = snap.index("product")
    user = snap.index("user")

    def raw(pairs: np.ndarray) -> set[tuple[str, str]]:
        return {(snap.ids["user"][u], snap.ids["product"][p]) for u, p in pairs.T.tolist()}

    assert raw(split.test) == {("0", "4"), ("1", "0"), ("1", "1"), ("2", "3")}
    # users 0 and 2 have >= 3 train items: one each held out as valid, not trained on
    assert split.valid.shape[1] == 2 and {snap.ids["user"][u] for u in split.valid[0]} == {"0", "2"}
    assert raw(split.train) | raw(split.valid) == {("0", "0"), ("0", "1"), ("0", "2"), ("0", "3"), ("1", "2"),
                                                   ("1", "3"), ("2", "1"), ("2", "4"), ("2", "5"), ("2", "10")}
    assert not raw(split.train) & raw(split.valid)
    assert item["10"] == 2 and user["2"] == 2  # ids are sorted as strings


def test_book_is_converted_on_its_own_split_without_sequential_files(convert: ModuleType, atomic: ModuleType,
                                                                     tmp_path: Path) -> None:
    """KGAT's split is used as published (several test items per user), never re-split by time order, and a
    dataset without time order gets no sequential set (so no sequential peer can be run on it)."""
    src = tmp_path / "data" / "amazon-book-kgat"
    src.mkdir(parents=True)
    (src / "train.txt").write_text("0 0 1 2 3\n1 2 3\n2 1 4 5 10\n")
    (src / "test.txt").write_text("0 4\n1 0 1\n2 3\n")
    work = tmp_path / "work"
    _, split, summary = convert.convert("amazon-book-kgat", tmp_path / "data", work)
    given = _module("cartograph_side").amazon_book_split(src)[1]
    for part in convert.PARTS:
        assert convert.same_pairs(getattr(split, part), getattr(given, part))
    assert summary["rows"]["test"] == 4 and "rows_sequential" not in summary
    assert not (work / "amazon-book-kgat-seq").exists()
    _, train = atomic.read_atomic(work / "amazon-book-kgat-refit" / "amazon-book-kgat-refit.train.inter")
    assert len(train) == split.train.shape[1] + split.valid.shape[1]


def test_kgat_ndcg_convention() -> None:
    side = _module("cartograph_side")
    rankings = np.array([[5, 1, 7, 2], [3, 4, 0, 6]])
    positives = np.array([[0, 0, 0, 1], [1, 2, 9, 8]])  # user 0: {1, 2, 9}; user 1: {8}
    # user 0: hits at ranks 2 and 4 -> DCG = 1/log2(3) + 1/log2(5); KGAT's ideal = the 2 hits on top
    # = 1 + 1/log2(3) (the usual ideal would count min(3, 4) = 3 hits); user 1: no hit -> 0.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert side.kgat_ndcg(rankings, positives, 4) == pytest.approx(dcg / (1 + 1 / math.log2(3)) / 2)


def test_torch_scatter_stand_in() -> None:
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(PEERS / "compat"))
    try:
        ts = importlib.import_module("torch_scatter")
    finally:
        sys.path.remove(str(PEERS / "compat"))
    if not str(getattr(ts, "__file__", "")).startswith(str(PEERS)):
        pytest.skip("the real torch_scatter is installed")
    src = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    index = torch.tensor([0, 2, 0])
    assert ts.scatter_mean(src=src, index=index, dim=0, dim_size=4).tolist() == [[3, 4], [0, 0], [3, 4], [0, 0]]
    soft = ts.scatter_softmax(torch.tensor([0.0, 0.0, math.log(3.0)]), torch.tensor([0, 1, 0]), dim=0)
    assert soft.tolist() == pytest.approx([0.25, 1.0, 0.75])


def test_refit_and_sequential_files(convert: ModuleType, atomic: ModuleType, ml_dir: Path, tmp_path: Path) -> None:
    snap = convert.ml100k_snapshot(ml_dir)
    split = convert.peer_split(snap)
    out = tmp_path / "work"
    convert.write_recbole_dataset(snap, split, out, "ml", shipped_kg=ml_dir)
    assert convert.write_refit_dataset(out, "ml") == {"train": 7}
    refit = {(u, p) for u, p in atomic.read_atomic(out / "ml-refit" / "ml-refit.train.inter")[1]}
    assert refit == {("10", "1"), ("10", "3"), ("20", "1"), ("30", "2"), ("30", "1"), ("10", "4"), ("20", "3")}
    assert (out / "ml-refit" / "ml-refit.kg").read_text() == (out / "ml" / "ml.kg").read_text()
    # user 10 in time order: 1 (100), 3 (200), 4 (300, valid), 2 (400, test); user 20: 1, 3 (valid), 4 (test);
    # user 30 (train only): 2, 1. History cut to 1 item to check the cut keeps the most recent.
    assert convert.write_sequential_dataset(snap, split, out, "ml", max_len=1) == {"train": 2, "valid": 2, "test": 2}
    rows = {part: atomic.read_atomic(out / "ml-seq" / f"ml-seq.{part}.inter")[1] for part in convert.PARTS}
    assert rows["train"] == [["10", "1", "3"], ["30", "2", "1"]]
    assert rows["valid"] == [["10", "3", "4"], ["20", "1", "3"]]
    assert rows["test"] == [["10", "4", "2"], ["20", "3", "4"]]
    convert.check_sequential(out, "ml", snap, split, max_len=1)
    convert.write_sequential_dataset(snap, split, out, "ml")
    rows = {part: atomic.read_atomic(out / "ml-seq" / f"ml-seq.{part}.inter")[1] for part in convert.PARTS}
    assert rows["valid"] == [["10", "1 3", "4"], ["20", "1", "3"]]
    assert rows["test"] == [["10", "1 3 4", "2"], ["20", "1 3", "4"]]  # test reads train + valid, in order
    convert.check_sequential(out, "ml", snap, split)
    path = out / "ml-seq" / "ml-seq.test.inter"
    path.write_text(path.read_text().replace("1 3 4\t2", "1 3\t2"))  # the valid item missing from a test history
    with pytest.raises(RuntimeError, match="history of user 10 is not the test history"):
        convert.check_sequential(out, "ml", snap, split)


class _FakeTrainer:
    """What ``run_recbole_models.fit`` and ``record_epochs`` use of a RecBole trainer: a fit loop that stops
    after ``stop_after`` epochs (RecBole's early stop) or at ``epochs``."""

    def __init__(self, epochs: int, stop_after: int | None, epoch_seconds: float = 0.0, start_epoch: int = 0) -> None:
        self.epochs, self.stop_after, self.epoch_seconds = epochs, stop_after, epoch_seconds
        self.start_epoch = start_epoch  # RecBole's, set by resume_checkpoint
        self.train_loss_dict: dict[int, float] = {}

    def _train_epoch(self, *args: object, **kwargs: object) -> float:
        import time

        time.sleep(self.epoch_seconds)
        return 1.0

    def _valid_epoch(self, *args: object, **kwargs: object) -> tuple[float, dict[str, float]]:
        return 0.1 * len(self.train_loss_dict), {}

    def fit(self, *args: object, **kwargs: object) -> None:
        for epoch in range(self.start_epoch, self.epochs):
            self.train_loss_dict[epoch] = self._train_epoch()
            self._valid_epoch()
            if self.stop_after is not None and epoch + 1 >= self.stop_after:
                return


def test_recbole_stop_reasons() -> None:
    runner = _module("run_recbole_models")
    args = type("Args", (), {"epochs": 50, "time_cap": 0.0, "stop_file": None})()
    trainer = _FakeTrainer(50, stop_after=12)
    log = runner.record_epochs(trainer)
    assert runner.fit(trainer, None, None, args) == "early stopping"
    assert len(log) == 12 and log[-1]["epoch"] == 12 and log[-1]["valid_ndcg@10"] == pytest.approx(1.2)
    capped_by_epochs = runner.fit(_FakeTrainer(50, stop_after=None), None, None, args)
    assert capped_by_epochs.startswith("epoch cap (50): did not converge")
    capped = type("Args", (), {"epochs": 50, "time_cap": 0.05, "stop_file": None})()
    slow = _FakeTrainer(50, stop_after=None, epoch_seconds=0.02)
    assert runner.fit(slow, None, None, capped) == "time cap (0 s): did not converge, lower bound"
    assert 2 <= len(slow.train_loss_dict) < 50


def test_a_stop_file_ends_a_run_before_its_next_epoch(tmp_path: Path) -> None:
    runner = _module("run_recbole_models")
    stop = tmp_path / "STOP"
    args = type("Args", (), {"epochs": 50, "time_cap": 0.0, "stop_file": stop})()
    trainer = _FakeTrainer(50, stop_after=None)
    epoch = trainer._train_epoch

    def train_then_ask_to_stop() -> float:  # the operator touches the file during the third epoch
        if len(trainer.train_loss_dict) == 2:
            stop.touch()
        return epoch()

    trainer._train_epoch = train_then_ask_to_stop
    assert runner.fit(trainer, None, None, args) == "stopped on request (stop file): did not converge, lower bound"
    assert len(trainer.train_loss_dict) == 3 and not stop.exists()  # consumed: the next run is not stopped
    assert runner.fit(_FakeTrainer(5, stop_after=None), None, None, args) == "early stopping"


def test_a_resumed_run_counts_the_epochs_its_checkpoint_had_seen(tmp_path: Path) -> None:
    runner = _module("run_recbole_models")
    # A run stopped by its time cap after 15 epochs resumes at epoch 16: the epoch cap counts all of them.
    resumed = _FakeTrainer(20, stop_after=None, start_epoch=15)
    log = runner.record_epochs(resumed, first_epoch=16)
    args = type("Args", (), {"epochs": 20, "time_cap": 0.0, "stop_file": None})()
    assert runner.fit(resumed, None, None, args).startswith("epoch cap (20): did not converge")
    assert [e["epoch"] for e in log] == [16, 17, 18, 19, 20]
    # The earlier run is found by its export and its newest checkpoint; either missing: nothing to resume.
    args = type("Args", (), {"out": tmp_path, "dataset": "beauty", "model": "SASRec", "seed": 7})()
    assert runner.prior_run(args, "beauty-seq") is None
    export = tmp_path / "beauty" / "SASRec" / "seed7.json"
    export.parent.mkdir(parents=True)
    export.write_text(json.dumps({"converged": False, "epoch_log": [{"epoch": 1}]}))
    assert runner.prior_run(args, "beauty-seq") is None
    checkpoints = tmp_path / "checkpoints" / "beauty-seq-SASRec-7"
    checkpoints.mkdir(parents=True)
    (checkpoints / "SASRec-old.pth").write_bytes(b"")
    newest = checkpoints / "SASRec-new.pth"
    newest.write_bytes(b"")
    os.utime(checkpoints / "SASRec-old.pth", (1, 1))
    prior = runner.prior_run(args, "beauty-seq")
    assert prior is not None and prior.checkpoint == newest and prior.export["epoch_log"] == [{"epoch": 1}]


def test_a_run_converged_under_a_smaller_patience_is_resumed() -> None:
    runner = _module("run_recbole_models")
    stopped_after_10 = {"converged": True, "stopping_step": 10}
    assert not runner.converged_under(stopped_after_10, 50)  # the plan now asks for 50: continue it
    assert runner.converged_under(stopped_after_10, 10)
    assert runner.converged_under({"converged": True, "stopping_step": 50}, 10)
    assert not runner.converged_under({"converged": False, "stopping_step": 50}, 10)  # capped: a lower bound
    assert not runner.converged_under({"converged": True}, 10)  # an export that does not say: resume
    # No better epoch after the resume: the export's best figures only if its log reaches the checkpoint.
    export = {"epoch_log": [{"epoch": 1}, {"epoch": 34}], "recbole_best_valid": {"ndcg@10": 0.05, "recall@10": 0.1}}
    assert runner.prior_best_valid(export, 34, 0.05) == {"ndcg@10": 0.05, "recall@10": 0.1}
    assert runner.prior_best_valid(export, 201, 0.0845) == {"ndcg@10": 0.0845}  # a newer checkpoint's


def test_collect_seeds_compare_and_report(convert: ModuleType, ml_dir: Path, tmp_path: Path) -> None:
    sig, report, side = _module("significance"), _module("report"), _module("cartograph_side")
    snap = convert.ml100k_snapshot(ml_dir)
    split = convert.peer_split(snap)  # test: user 10 -> movie 2, user 20 -> movie 4

    def export(row: str, seed: int, rankings: dict[str, list[str]], **extra: object) -> None:
        path = side.export_path(tmp_path, "ml", row, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"seed": seed, "top_k": 20, "rankings": rankings, **extra}))

    export("Cartograph", 0, {"10": ["2"], "20": ["4"]}, served_kind="kg_sasrec", converged=True)
    export("SASRec", 1, {"10": ["4", "2"], "20": ["4"]}, kind="sequential", converged=True, epochs_run=15,
           best_epoch=4, seconds_per_epoch=2.0, train_seconds=30.0)
    export("SASRec", 2, {"10": ["2"], "20": ["1", "2", "4"]}, kind="sequential", converged=True, epochs_run=14,
           best_epoch=3, seconds_per_epoch=2.0, train_seconds=28.0)
    export("BPR", 1, {"10": ["2"], "20": ["2"]}, kind="graph", converged=False, epochs_run=500, best_epoch=500,
           stopped_by="epoch cap (500): did not converge, lower bound", rankings_train_input={"10": [], "20": []},
           refit={"epochs": 500, "train_seconds": 9.0, "rankings": {}})
    export("Popularity", 0, {"10": ["3"], "20": ["2"]})
    rows = sig.collect(tmp_path, "ml", snap, split, ["Cartograph", "SASRec", "BPR", "KGAT"],
                       errors={"KGAT": "not run: too slow"})
    assert list(rows) == ["Cartograph", "SASRec", "BPR", "KGAT", "Popularity"]
    assert rows["KGAT"] == {"error": "not run: too slow"}
    assert rows["Cartograph"]["mean"]["ndcg@10"] == pytest.approx(1.0)
    # SASRec seed 1: user 10's valid movie 4 is skipped, so movie 2 ranks first; user 20 -> 1. Seed 2: user 10 -> 1;
    # user 20's train movie 1 is skipped, movie 2 ranks first, movie 4 second -> 1/log2(3).
    sas, second = rows["SASRec"], 1 / math.log2(3)
    assert [s["metrics"]["ndcg@10"] for s in sas["seeds"]] == pytest.approx([1.0, (1 + second) / 2])
    assert sas["mean"]["ndcg@10"] == pytest.approx((3 + second) / 4)
    assert sas["std"]["ndcg@10"] == pytest.approx(np.std([1.0, (1 + second) / 2], ddof=1))
    assert sas["converged"] and sas["kind"] == "sequential"
    assert rows["BPR"]["mean"]["ndcg@10"] == pytest.approx(0.5) and not rows["BPR"]["converged"]
    assert rows["BPR"]["seeds"][0]["metrics_train_input"]["ndcg@10"] == 0.0
    assert "rankings" not in rows["BPR"]["seeds"][0]["refit"]
    assert rows["Popularity"]["kind"] == "sanity"
    compared = sig.compare(rows, resamples=200)
    assert compared["best_peer"] == "SASRec" and compared["best_converged_peer"] == "SASRec"
    assert compared["vs"]["BPR"]["ratio"] == pytest.approx(2.0)
    doc = {"datasets": {"amazon-beauty": {"split": {"products": 4, "split": {"test": 2}}, "rows": rows,
                                          "significance": compared}}, "machine": {"cpus": 2}, "threads": 2}
    md = report.markdown(doc)
    assert "| **epoch cap (500): did not converge, lower bound** |" in md
    assert "| **Cartograph** (kg_sasrec) |" in md and "| KGAT | | | not run: too slow |" in md
    assert "Cartograph / best peer (SASRec, mean NDCG@10 0.9077): **1.10x** (95% interval 1.00-" in md
    assert "**not met**" in md  # the interval does not exclude 1
    assert "BPR 0.0000 -> 0.5000" in md and "WEARec | 0.0599 | 0.0688" in md


def test_per_user_figures_outlive_the_exports(convert: ModuleType, ml_dir: Path, tmp_path: Path) -> None:
    sig, side = _module("significance"), _module("cartograph_side")
    snap = convert.ml100k_snapshot(ml_dir)
    split = convert.peer_split(snap)  # test: user 10 -> movie 2, user 20 -> movie 4
    out = tmp_path / "out"

    def export(row: str, rankings: dict[str, list[str]], **extra: object) -> None:
        path = side.export_path(out, "ml", row, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"seed": 0, "top_k": 20, "rankings": rankings, **extra}))

    export("Cartograph", {"10": ["2"], "20": ["4"]}, served_kind="kg_sasrec", converged=True)
    export("SASRec", {"10": ["3", "2"], "20": ["4"]}, kind="sequential", converged=True)
    first = sig.collect(out, "ml", snap, split, ["Cartograph", "SASRec"])
    archive = tmp_path / "peers_per_user" / "ml.npz"
    sig.save_per_user(first, archive)
    before = sig.compare(first, resamples=200)["vs"]["SASRec"]
    # The machine goes: SASRec's export is lost, Cartograph is re-run (a new export, the same figures).
    (side.export_path(out, "ml", "SASRec", 0)).unlink()
    again = sig.collect(out, "ml", snap, split, ["Cartograph", "SASRec"])
    assert again["SASRec"] == {"error": "no export"}
    previous = {k: {kk: vv for kk, vv in v.items() if kk != "per_user_ndcg@10"} for k, v in first.items()}
    assert sig.restore_rows(again, previous, archive) == ["SASRec"]
    assert again["SASRec"]["from_archive"] == "ml.npz"
    assert again["SASRec"]["mean"] == first["SASRec"]["mean"]
    np.testing.assert_allclose(again["SASRec"]["per_user_ndcg@10"], first["SASRec"]["per_user_ndcg@10"], rtol=1e-6)
    after = sig.compare(again, resamples=200)["vs"]["SASRec"]
    assert after["ratio"] == pytest.approx(before["ratio"], rel=1e-6) and after["ci95_low"] == pytest.approx(
        before["ci95_low"], rel=1e-6)
    # A row that still has its export is never replaced, and nothing is restored without an archive.
    assert sig.restore_rows(again, previous, tmp_path / "missing.npz") == []
    assert "from_archive" not in again["Cartograph"]


def test_a_lead_over_a_peer_that_did_not_converge_is_never_called_met() -> None:
    report = _module("report")
    vs = {"SASRec": {"ratio": 1.21, "ci95_low": 1.10, "ci95_high": 1.35}}
    entry = {"rows": {"SASRec": {"converged": False, "mean": {"ndcg@10": 0.1095}}},
             "significance": {"best_peer": "SASRec", "vs": vs}}
    assert "**not established (the best peer did not converge)**" in report.verdict(entry)
    assert "a lower bound" in report.verdict(entry)
    entry["rows"]["SASRec"]["converged"] = True
    assert "interval above 1: **met**" in report.verdict(entry)


@pytest.mark.bench
def test_peers_quick_end_to_end(tmp_path: Path) -> None:
    """bench/peers.py --quick on ml-100k-kg with two peers: both venvs, real data, real training."""
    peers_python = PROJECT_ROOT / ".venv-peers" / "bin" / "python"
    if not peers_python.exists() or not (DATA / "ml-100k-kg").is_dir():
        pytest.skip("needs .venv-peers (bash bench/peers/setup.sh) and ../shared/data/ml-100k-kg")
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "peers.py"), "--quick", "--datasets", "ml-100k-kg",
         "--models", "SASRec,BPR", "--no-book", "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=3000, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "peers_quick.json").read_text())
    rows = doc["datasets"]["ml-100k-kg"]["rows"]
    assert {"SASRec", "BPR", "Cartograph", "Popularity"} <= set(rows)
    for name, row in rows.items():
        assert "mean" in row, (name, row.get("error"))
        assert row["seeds"][0]["metrics"]["users"] == 943
        assert 0 < row["mean"]["ndcg@20"] < 1
    assert "refit" in rows["BPR"]["seeds"][0]
    assert (tmp_path / "out" / "peers_quick.png").stat().st_size > 1000



def test_a_model_of_the_plan_may_be_given_more_patience_and_epochs(tmp_path: Path) -> None:
    """The plan's per-model ``stopping_step`` and ``epochs`` reach RecBole's command; the others keep the plan's;
    --quick overrides both."""
    spec = importlib.util.spec_from_file_location("peers_script", PROJECT_ROOT / "bench" / "peers.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    plan = json.loads((PROJECT_ROOT / "bench" / "configs" / "peers.json").read_text())

    def option(model: str, name: str, quick: bool = False) -> int:
        args = argparse.Namespace(quick=quick, time_cap=None, peers_python=tmp_path / "python", work_dir=tmp_path,
                                  threads=1, resume=False)
        cmd = script.peer_command(args, plan, "amazon-office", model, 2020)
        return int(cmd[cmd.index(name) + 1])

    assert option("LightGCN", "--stopping-step") == plan["models"]["LightGCN"]["stopping_step"] == 50
    assert option("LightGCN", "--epochs") == plan["models"]["LightGCN"]["epochs"] == 1500
    assert option("BPR", "--stopping-step") == plan["stopping_step"] == 10
    assert option("BPR", "--epochs") == plan["epochs"] == 500
    assert option("LightGCN", "--stopping-step", quick=True) == plan["quick"]["stopping_step"] == 1
    assert option("LightGCN", "--epochs", quick=True) == plan["quick"]["epochs"] == 1
