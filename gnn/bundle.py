"""Versioned artifact bundles, written atomically.

Layout of ``artifacts_dir``::

    artifacts_dir/
      current                  <- one line: the name of the current bundle (replaced atomically)
      switches.jsonl           <- every move of ``current``: time, from, to, action (see gnn/versions.py)
      20250101T120000Z-<snapshot>-<rand>/
        manifest.json          <- format version, bundle version, snapshot id, created time, model, sizes, files
        config.json            <- TrainConfig
        model.pt               <- state_dict (absent for popularity / text-only; EASE: its history rows)
        model_meta.json        <- what is needed to rebuild the module (metadata, node counts, text dims)
        graph.pt               <- the train message-passing graph (tensors only) for inductive inference
        user_embeddings.npy    <- [U, d] float32
        product_embeddings.npy <- [P, d] float32
        id_maps.json           <- node type -> ids in index order
        metrics.json           <- model metrics (valid/test/cold) and, when given, the baselines'
        history.json           <- training curve rows
        training_curve.png

A bundle is written into a temporary directory inside ``artifacts_dir`` and renamed into place
(``os.replace`` on the same file system: atomic); only then is ``current`` replaced (write a temp file,
fsync, ``os.replace``). A failure at any point leaves the previous bundle and ``current`` as they were.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from gnn.config import TrainConfig

BUNDLE_FORMAT = 1
CURRENT = "current"
SWITCHES = "switches.jsonl"


@dataclass
class Bundle:
    """A loaded bundle. ``state_dict``/``model_meta``/``graph`` are ``None`` for parameter-free models."""

    path: Path
    manifest: dict[str, Any]
    config: TrainConfig
    user_embeddings: np.ndarray
    product_embeddings: np.ndarray
    id_maps: dict[str, list[str]]
    metrics: dict[str, Any]
    history: list[dict[str, float]]
    state_dict: dict[str, torch.Tensor] | None
    model_meta: dict[str, Any] | None
    graph: dict[str, Any] | None

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def snapshot_id(self) -> str:
        return str(self.manifest["snapshot_id"])


def graph_to_dict(data: HeteroData) -> dict[str, Any]:
    """Tensors of ``data`` in plain dicts (loadable with ``torch.load(weights_only=True)``)."""
    nodes = {t: {k: v for k, v in data[t].items() if isinstance(v, torch.Tensor)} for t in data.node_types}
    num_nodes = {t: int(data[t].num_nodes) for t in data.node_types}
    edges = {"__".join(et): data[et].edge_index for et in data.edge_types}
    return {"nodes": nodes, "num_nodes": num_nodes, "edges": edges}


def graph_from_dict(d: dict[str, Any]) -> HeteroData:
    data = HeteroData()
    for t, n in d["num_nodes"].items():
        data[t].num_nodes = int(n)
        for k, v in d["nodes"][t].items():
            data[t][k] = v
    for key, ei in d["edges"].items():
        src, rel, dst = key.split("__")
        data[src, rel, dst].edge_index = ei
    return data


def _plot_curve(history: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax1 = plt.subplots(figsize=(7, 4))
    if history:
        epochs = [h["epoch"] for h in history]
        ax1.plot(epochs, [h["loss"] for h in history], color="tab:blue", label="train BPR loss")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("train loss", color="tab:blue")
        evald = [h for h in history if "valid_ndcg@10" in h]
        if evald:
            ax2 = ax1.twinx()
            ax2.plot([h["epoch"] for h in evald], [h["valid_ndcg@10"] for h in evald], color="tab:orange",
                     marker="o", label="valid NDCG@10")
            ax2.set_ylabel("valid NDCG@10", color="tab:orange")
    else:
        ax1.text(0.5, 0.5, "no training (parameter-free model)", ha="center", va="center")
    ax1.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n", encoding="utf-8")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bundle(
    artifacts_dir: Path,
    *,
    config: TrainConfig,
    snapshot_id: str,
    id_maps: dict[str, list[str]],
    user_embeddings: torch.Tensor | np.ndarray,
    product_embeddings: torch.Tensor | np.ndarray,
    metrics: dict[str, Any],
    history: list[dict[str, float]] | None = None,
    model: Any = None,
    model_state: dict[str, torch.Tensor] | None = None,
    model_meta: dict[str, Any] | None = None,
    graph: HeteroData | None = None,
    extra: dict[str, Any] | None = None,
    set_current: bool = True,
) -> Path:
    """Write a new bundle atomically and (by default) make it current; return its directory. ``model_state``:
    the tensors of a model that is not a module (EASE's history rows), written as ``model.pt``."""
    artifacts_dir = Path(artifacts_dir)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    version = f"{created:%Y%m%dT%H%M%S}Z-{snapshot_id[:8] or 'nosnap'}-{secrets.token_hex(3)}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-bundle-", dir=artifacts_dir))
    try:
        files: list[str] = []

        def save_npy(name: str, arr: torch.Tensor | np.ndarray) -> None:
            value = arr.detach().cpu().numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr)
            np.save(tmp / name, value.astype(np.float32))
            files.append(name)

        config.save(tmp / "config.json")
        files.append("config.json")
        save_npy("user_embeddings.npy", user_embeddings)
        save_npy("product_embeddings.npy", product_embeddings)
        _write_json(tmp / "id_maps.json", id_maps)
        _write_json(tmp / "metrics.json", metrics)
        _write_json(tmp / "history.json", history or [])
        files += ["id_maps.json", "metrics.json", "history.json"]
        state = model.state_dict() if isinstance(model, torch.nn.Module) else model_state
        if state is not None:
            torch.save(state, tmp / "model.pt")
            files.append("model.pt")
        if model_meta is not None:
            _write_json(tmp / "model_meta.json", model_meta)
            files.append("model_meta.json")
        if graph is not None:
            torch.save(graph_to_dict(graph), tmp / "graph.pt")
            files.append("graph.pt")
        _plot_curve(history or [], tmp / "training_curve.png", f"{config.model} on {snapshot_id}")
        files.append("training_curve.png")
        manifest = {
            "format": BUNDLE_FORMAT,
            "version": version,
            "snapshot_id": snapshot_id,
            "created": created.isoformat(),
            "model": config.model,
            "num_users": len(id_maps.get("user", [])),
            "num_products": len(id_maps.get("product", [])),
            "embedding_dim": int(np.shape(user_embeddings)[1]) if np.ndim(user_embeddings) == 2 else 0,
            "torch": torch.__version__,
            "files": sorted(files),
            **(extra or {}),
        }
        _write_json(tmp / "manifest.json", manifest)
        _fsync_dir(tmp)
        final = artifacts_dir / version
        os.replace(tmp, final)
        _fsync_dir(artifacts_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if set_current:
        set_current_bundle(artifacts_dir, version, action="train")
    return final


def set_current_bundle(artifacts_dir: Path, version: str, *, action: str = "publish") -> None:
    """Point ``artifacts_dir/current`` at ``version`` atomically (temp file + fsync + ``os.replace``) and
    append the move to ``switches.jsonl`` (``action``: train, publish, use, rollback), which rollbacks read."""
    if not (artifacts_dir / version / "manifest.json").is_file():
        raise FileNotFoundError(f"no bundle {version} in {artifacts_dir}")
    pointer = artifacts_dir / CURRENT
    previous = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else None
    fd, tmp_name = tempfile.mkstemp(prefix=".current-", dir=artifacts_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(version + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, artifacts_dir / CURRENT)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(artifacts_dir)
    if previous != version:
        _record_switch(artifacts_dir, previous, version, action)


def _record_switch(artifacts_dir: Path, previous: str | None, version: str, action: str) -> None:
    """One line per pointer move; appended after the move, so a crash between the two loses a log line, never
    the served bundle (a rollback then falls back to bundle creation times)."""
    entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "from": previous, "to": version,
             "action": action}
    with (artifacts_dir / SWITCHES).open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def current_bundle_path(artifacts_dir: Path) -> Path:
    pointer = Path(artifacts_dir) / CURRENT
    if not pointer.is_file():
        raise FileNotFoundError(f"no current bundle in {artifacts_dir} (run `cartograph train`)")
    return Path(artifacts_dir) / pointer.read_text(encoding="utf-8").strip()


def load_bundle(path: Path) -> Bundle:
    """Load a bundle directory, or the current bundle when ``path`` is an artifacts directory."""
    path = Path(path)
    if not (path / "manifest.json").is_file():
        path = current_bundle_path(path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"bundle {path} has format {manifest.get('format')}, expected {BUNDLE_FORMAT}")

    def read_json(name: str) -> Any:
        return json.loads((path / name).read_text(encoding="utf-8"))

    state_dict = torch.load(path / "model.pt", weights_only=True) if (path / "model.pt").is_file() else None
    graph = torch.load(path / "graph.pt", weights_only=True) if (path / "graph.pt").is_file() else None
    return Bundle(
        path=path,
        manifest=manifest,
        config=TrainConfig.load(path / "config.json"),
        user_embeddings=np.load(path / "user_embeddings.npy"),
        product_embeddings=np.load(path / "product_embeddings.npy"),
        id_maps=read_json("id_maps.json"),
        metrics=read_json("metrics.json"),
        history=read_json("history.json"),
        state_dict=state_dict,
        model_meta=read_json("model_meta.json") if (path / "model_meta.json").is_file() else None,
        graph=graph,
    )
