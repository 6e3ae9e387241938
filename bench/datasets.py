"""The benchmark datasets as Cartograph snapshots (and, where the dataset fixes one, its split).

- ``amazon-beauty``, ``amazon-office``: ingested through Cartograph's own readers into an embedded store under
  the work dir (reused when present), entities extracted from the product text as ``cartograph quickstart``
  does (the default extractor), then read back with :func:`gnn.data.snapshot_from_store`;
- ``ml-100k-kg``: RecBole's atomic files with the Freebase KG (``bench/peers/convert.py``);
- ``amazon-book-kgat``: KGAT's published train/test split, interactions only (``bench/peers/cartograph_side.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (ROOT, HERE / "peers"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import cartograph_side  # noqa: E402
import convert  # noqa: E402

from gnn.data import GraphSnapshot, Split, snapshot_from_store  # noqa: E402
from kg.config import PROJECT_ROOT, Settings  # noqa: E402
from kg.extract.pipeline import run_extract  # noqa: E402
from kg.ingest.pipeline import ingest  # noqa: E402
from kg.ingest.readers import open_reader  # noqa: E402
from kg.queries import QueryLibrary  # noqa: E402
from kg.store.embedded import EmbeddedStore  # noqa: E402

DATASETS = ("amazon-beauty", "amazon-office", "ml-100k-kg", "amazon-book-kgat")
#: Datasets whose co-purchase lists exist (and were crawled after the interactions: they know the future).
WITH_COPURCHASE = frozenset({"amazon-beauty"})


def _ingested(src: Path, store_path: Path) -> GraphSnapshot:
    if not store_path.exists():
        store_path.parent.mkdir(parents=True, exist_ok=True)
        with EmbeddedStore(store_path, QueryLibrary(PROJECT_ROOT / "cypher")) as store:
            store.init_schema()
            ingest(open_reader(src), store, quarantine_path=store_path.with_suffix(".quarantine.jsonl"),
                   report_path=store_path.with_suffix(".ingest.json"), progress=False)
        settings = Settings(store_backend="embedded", home=store_path.parent, embedded_path=store_path)
        run_extract(settings, progress=False)
    with EmbeddedStore(store_path, QueryLibrary(PROJECT_ROOT / "cypher"), read_only=True) as store:
        return snapshot_from_store(store)


def load(dataset: str, data_dir: Path, work_dir: Path) -> tuple[GraphSnapshot, Split | None]:
    """(snapshot, the dataset's own split or None) for one of :data:`DATASETS` found under ``data_dir``."""
    src = data_dir / dataset
    if not src.is_dir():
        raise FileNotFoundError(f"{src} does not exist: --data-dir must hold the {dataset} folder")
    if dataset in ("amazon-beauty", "amazon-office"):
        return _ingested(src, work_dir / f"{dataset}.lbug"), None
    if dataset == "ml-100k-kg":
        return convert.ml100k_snapshot(src), None
    if dataset == "amazon-book-kgat":
        return cartograph_side.amazon_book_split(src)
    raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
