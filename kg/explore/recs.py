"""Writing a model's recommendations back into the graph: RECOMMENDED {score, model, rank} for each user's top-k
and SIMILAR_TO {score, model, rank} for each product's top-k, so analysts can explore them with Cypher.

Inputs are plain arrays (ids in index order and their embeddings), so this module does not depend on how a
bundle is stored; ``cartograph export-recs`` reads them from the current bundle with :mod:`gnn.bundle`.

Scores: RECOMMENDED is the model's own score, the dot product of user and product embeddings, plus any score
no vector carries that the model adds when it serves (``ModelOutput.extra_scores``: a sequence model's
transition lookup), so the edges rank as the API does; SIMILAR_TO is the cosine similarity of product
embeddings. A user's seen products (any PURCHASED, VIEWED or RATED edge in the graph now) and inactive products
are never recommended; a product is never similar to itself.

How the previous model's edges are replaced, batch by batch (``batch_size`` users or products at a time):
  1. MERGE the batch's new top-k edges (a pair that stays gets the new score, model and rank);
  2. delete the batch's edges that are not in the new top-k;
  3. once every batch is done, delete the edges of any other model (sources no longer in the bundle).
Each statement commits on its own, so a reader (or a crash) between statements sees: sources of finished
batches with exactly the new model's edges; sources of later batches with the old model's complete edges; the
batch in flight, between steps 1 and 2, with the new top-k plus leftover old edges (told apart by ``r.model``).
Filtering on ``r.model`` therefore always gives a coherent list per source. Re-running is idempotent: the same
bundle writes the same edges, and a run interrupted anywhere is completed by running it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kg.errors import ValidationError
from kg.store.base import GraphStore

BatchCallback = Callable[[str, int], None]
ExtraScores = Callable[[Sequence[str]], np.ndarray]
"""User ids of a batch -> ``[len(ids), P]`` scores added to their dot products, columns in product order."""
"""Called after each batch with the relationship type and the number of sources (users or products) done."""

_NO_ID = ""  # no node has an empty id; it keeps keep-lists non-empty (see cypher/queries/recs/prune_*.cypher)


@dataclass(frozen=True)
class ModelOutput:
    """A model's embeddings with the ids of their rows, and the name written into ``r.model``."""

    model: str
    user_ids: Sequence[str]
    product_ids: Sequence[str]
    users: np.ndarray
    products: np.ndarray
    extra_scores: ExtraScores | None = None
    """Scores the model adds beside the dot products when it serves (None: the dot products alone)."""
    own_scores: ExtraScores | None = None
    """The model's scores in place of the dot products, where it ranks by scores no vector carries (EASE's exact
    item regression); None: the dot products (and ``extra_scores``)."""

    def __post_init__(self) -> None:
        if not self.model:
            raise ValidationError("the model name written on the edges must not be empty")
        for what, ids, matrix in (("user", self.user_ids, self.users), ("product", self.product_ids, self.products)):
            if matrix.ndim != 2 or matrix.shape[0] != len(ids):
                raise ValidationError(
                    f"{what} embeddings have shape {matrix.shape} but there are {len(ids)} {what} ids")
        if self.users.shape[1] != self.products.shape[1]:
            raise ValidationError(f"user and product embeddings differ in width: {self.users.shape[1]} vs "
                                  f"{self.products.shape[1]}")


@dataclass(frozen=True)
class EdgeExport:
    """What one relationship type's export did."""

    rel_type: str
    sources: int
    """Users (RECOMMENDED) or products (SIMILAR_TO) of the bundle that were processed."""
    written: int
    """Edges merged (new or updated)."""
    missing_endpoints: int
    """Edges not written because an endpoint is no longer in the graph (deleted since training)."""
    pruned: int
    """Old edges of processed sources that fell out of their top-k."""
    other_models_removed: int
    """Edges of other models removed at the end (sources no longer in the bundle)."""


def top_k(scores: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """For each row, the column indices and scores of its ``k`` best finite scores, best first; ties go to the
    lower index so that re-runs write the same ranks."""
    n = scores.shape[1]
    out: list[list[tuple[int, float]]] = []
    kk = min(k, n)
    if kk <= 0:
        return [[] for _ in range(scores.shape[0])]
    candidates = np.argpartition(-scores, kk - 1, axis=1)[:, :kk] if kk < n else np.tile(np.arange(n), (len(scores), 1))
    for row, cols in zip(scores, candidates, strict=True):
        values = row[cols]
        order = np.lexsort((cols, -values))
        out.append([(int(cols[j]), float(values[j])) for j in order if np.isfinite(values[j])])
    return out


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


class RecsExporter:
    """Writes one model's RECOMMENDED and SIMILAR_TO edges into ``store`` (see the module docstring)."""

    def __init__(self, store: GraphStore, output: ModelOutput, *, k: int = 10, similar_k: int = 10,
                 batch_size: int = 500, on_batch: BatchCallback | None = None) -> None:
        if k < 1 or similar_k < 1 or batch_size < 1:
            raise ValidationError(f"k, similar_k and batch_size must be >= 1 (got {k}, {similar_k}, {batch_size})")
        self.store, self.output = store, output
        self.k, self.similar_k, self.batch_size = k, similar_k, batch_size
        self.on_batch = on_batch
        self.product_index = {pid: i for i, pid in enumerate(output.product_ids)}
        self._recommendable: np.ndarray | None = None

    @property
    def recommendable(self) -> np.ndarray:
        """Boolean mask over the bundle's products: in the graph now and not inactive."""
        if self._recommendable is None:
            mask = np.zeros(len(self.output.product_ids), dtype=bool)
            for row in self.store.run_named("recs/recommendable_products", {}):
                index = self.product_index.get(row["id"])
                if index is not None:
                    mask[index] = True
            self._recommendable = mask
        return self._recommendable

    def export_recommended(self) -> EdgeExport:
        """Each user's top-k unseen, active products by the model's score."""
        out = self.output
        written = missing = pruned = 0
        for start in range(0, len(out.user_ids), self.batch_size):
            ids = list(out.user_ids[start:start + self.batch_size])
            if out.own_scores is not None:
                scores = self._extra(ids, out.own_scores)
            else:
                scores = out.users[start:start + len(ids)] @ out.products.T
                if out.extra_scores is not None:
                    scores = scores + self._extra(ids, out.extra_scores)
            scores[:, ~self.recommendable] = -np.inf
            for row, cols in self._seen(ids).items():
                scores[row, cols] = -np.inf
            w, m, p = self._write_batch("RECOMMENDED", ids, top_k(scores, self.k))
            written, missing, pruned = written + w, missing + m, pruned + p
        removed = self._drop_other_models("recs/drop_other_recommended")
        return EdgeExport("RECOMMENDED", len(out.user_ids), written, missing, pruned, removed)

    def export_similar(self) -> EdgeExport:
        """Each product's top-k most similar active products (cosine of embeddings), itself excluded."""
        out = self.output
        unit = _unit_rows(out.products.astype(np.float32))
        written = missing = pruned = 0
        for start in range(0, len(out.product_ids), self.batch_size):
            ids = list(out.product_ids[start:start + self.batch_size])
            scores = unit[start:start + len(ids)] @ unit.T
            scores[:, ~self.recommendable] = -np.inf
            scores[np.arange(len(ids)), np.arange(start, start + len(ids))] = -np.inf
            w, m, p = self._write_batch("SIMILAR_TO", ids, top_k(scores, self.similar_k))
            written, missing, pruned = written + w, missing + m, pruned + p
        removed = self._drop_other_models("recs/drop_other_similar")
        return EdgeExport("SIMILAR_TO", len(out.product_ids), written, missing, pruned, removed)

    def _extra(self, user_ids: list[str], scores: ExtraScores) -> np.ndarray:
        extra = np.array(scores(user_ids), dtype=np.float32)  # a copy: excluded products are set to -inf
        expected = (len(user_ids), len(self.output.product_ids))
        if extra.shape != expected:
            raise ValidationError(f"extra scores have shape {extra.shape}, expected {expected}")
        return extra

    def _seen(self, user_ids: list[str]) -> dict[int, list[int]]:
        """Row in the batch -> the bundle indices of the products that user has interacted with."""
        row_of = {uid: i for i, uid in enumerate(user_ids)}
        seen: dict[int, list[int]] = {}
        for rec in self.store.run_named("recs/seen_products", {"user_ids": user_ids}):
            index = self.product_index.get(rec["product_id"])
            if index is not None:
                seen.setdefault(row_of[rec["user_id"]], []).append(index)
        return seen

    def _write_batch(self, rel_type: str, source_ids: list[str],
                     best: list[list[tuple[int, float]]]) -> tuple[int, int, int]:
        """Steps 1 and 2 for one batch; returns (written, missing endpoints, pruned)."""
        product_ids, model = self.output.product_ids, self.output.model
        rows = [
            {"src": src, "dst": product_ids[col], "score": score, "model": model, "rank": rank}
            for src, picks in zip(source_ids, best, strict=True)
            for rank, (col, score) in enumerate(picks, start=1)
        ]
        result = self.store.upsert_relationships(rel_type, rows)
        keep = [{"id": src, "keep": [product_ids[c] for c, _ in picks] + [_NO_ID]}
                for src, picks in zip(source_ids, best, strict=True)]
        prune = "recs/prune_recommended" if rel_type == "RECOMMENDED" else "recs/prune_similar"
        pruned = sum(int(r["deleted"]) for r in self.store.run_named(prune, {"rows": keep}))
        if self.on_batch:
            self.on_batch(rel_type, len(source_ids))
        return result.written, result.missing_endpoints, pruned

    def _drop_other_models(self, query: str) -> int:
        return sum(int(r["deleted"]) for r in self.store.run_named(query, {"model": self.output.model}))
