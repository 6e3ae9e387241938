"""Training of the sequence model (:class:`gnn.models.kg_sasrec.KGSASRec`): next-item prediction with full
softmax cross-entropy over every product, at every position of every user's train history.

Each step recomputes the item vectors full-batch (the KG + text encoder is small) and scores a batch of
histories against all of them; sequences are cut to their last ``seq_max_len + 1`` items and batched by length
(sorted, then the batches shuffled) so that little is padding. Early stopping on valid NDCG@10, as
:mod:`gnn.train` does for the other models.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gnn.config import TrainConfig
from gnn.evaluation import embed_for, evaluate_phases
from gnn.models.kg_sasrec import KGSASRec, pad_histories
from gnn.prepared import Prepared

History = list[dict[str, float]]


def training_sequences(histories: Sequence[np.ndarray], max_len: int) -> list[np.ndarray]:
    """The last ``max_len + 1`` items of every history with at least two (input: all but the last; target:
    all but the first)."""
    return [h[-(max_len + 1):] for h in histories if len(h) >= 2]


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches of indexes: sorted by length (random order among equals), cut, then shuffled."""
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def _epoch(model: KGSASRec, optimizer: torch.optim.Optimizer, prepared: Prepared, sequences: list[np.ndarray],
           config: TrainConfig, rng: np.random.Generator) -> float:
    """One pass over the train sequences; the mean cross-entropy per predicted position."""
    model.train()
    lengths = np.array([len(s) for s in sequences])
    num_products = prepared.snapshot.num_products
    total, positions = 0.0, 0
    for chunk in length_batches(lengths, config.seq_batch_size, rng):
        seq, seq_len = pad_histories([sequences[i] for i in chunk], num_products)
        inputs, targets = seq[:, :-1], seq[:, 1:]
        item_vecs = model.item_vectors(prepared.data)
        states = model.states(item_vecs, inputs, seq_len - 1)
        real = targets != num_products
        loss = F.cross_entropy(states[real] @ item_vecs.T, targets[real])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n = int(real.sum())
        total, positions = total + float(loss.detach()) * n, positions + n
    return total / max(positions, 1)


def fit_sequence_model(model: KGSASRec, prepared: Prepared, config: TrainConfig, *,
                       progress: bool = True) -> tuple[History, int]:
    """Train until valid NDCG@10 stops improving for ``config.patience`` evaluations; leave the best state.

    Returns ``(history, best epoch)`` as :func:`gnn.train.train_model` records them.
    """
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.seq_lr, weight_decay=config.weight_decay)
    sequences = training_sequences(prepared.histories("valid"), config.seq_max_len)
    best_score, best_state, best_epoch, waited = -1.0, copy.deepcopy(model.state_dict()), 0, 0
    history: History = []
    bar = tqdm(range(1, config.epochs + 1), desc=config.model, unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        started = time.perf_counter()
        loss = _epoch(model, optimizer, prepared, sequences, config, rng)
        row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - started}
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            valid = evaluate_phases(prepared, lambda phase: embed_for(model, prepared, phase),
                                    batch_size=config.eval_batch_size, which=("valid",))["valid"]
            row.update({f"valid_{k}": v for k, v in valid.items() if k != "users"})
            if valid["ndcg@10"] > best_score:
                best_score, best_state, best_epoch, waited = valid["ndcg@10"], copy.deepcopy(model.state_dict()), \
                    epoch, 0
            else:
                waited += 1
            bar.set_postfix(loss=f"{loss:.4f}", ndcg10=f"{valid['ndcg@10']:.4f}", best=best_epoch)
        history.append(row)
        if waited >= config.patience:
            break
    model.load_state_dict(best_state)
    return history, best_epoch
