"""Training of the sequence model (:class:`gnn.models.kg_sasrec.KGSASRec`): next-item prediction with full
softmax cross-entropy over every product, at every position of every user's train history.

Each step recomputes the item vectors full-batch (the KG + text encoder is small) and scores a batch of
histories against all of them; sequences are cut to their last ``seq_max_len + 1`` items and batched by length
(sorted, then the batches shuffled) so that little is padding. Early stopping on valid NDCG@10, as
:mod:`gnn.train` does for the other models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gnn.config import TrainConfig
from gnn.content import calibrate
from gnn.fitting import History, fit_with_early_stopping
from gnn.models.kg_sasrec import KGSASRec, pad_histories
from gnn.prepared import Prepared


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX, Arm BF16): where it does not, bf16
    matmuls are emulated and slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & set(flags))


def training_sequences(histories: Sequence[np.ndarray], max_len: int, *, all_windows: bool = True) -> list[np.ndarray]:
    """Windows of at most ``max_len + 1`` items (input: all but the last; target: all but the first) of every
    history with at least two.

    With ``all_windows`` a longer history is cut, from its newest item back, into windows that share one item
    with the next, so that every item after the first is a target exactly once; without, only its last window
    is read (on ml-100k, where users average 106 items, that left out half of the train interactions)."""
    windows = []
    for history in histories:
        end = len(history)
        while end >= 2:
            windows.append(history[max(0, end - max_len - 1):end])
            if not all_windows:
                break
            end -= max_len
    return windows


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
    bf16 = config.seq_logits_bf16 if config.seq_logits_bf16 is not None else cpu_has_native_bf16()
    # Products withheld from training (the cold slice) do not exist yet for the model: never negatives.
    warm = prepared.data["product"].warm
    known = None if bool(warm.all()) else warm.nonzero().flatten()
    column = torch.full((num_products,), -1, dtype=torch.long)
    if known is not None:
        column[known] = torch.arange(known.numel())
    total, positions = 0.0, 0
    for chunk in length_batches(lengths, config.seq_batch_size, rng):
        seq, seq_len = pad_histories([sequences[i] for i in chunk], num_products)
        inputs, targets = seq[:, :-1], seq[:, 1:]
        item_vecs = model.item_vectors(prepared.data)
        states = model.states(item_vecs, inputs, seq_len - 1)
        real = targets != num_products
        user_states, target = states[real], targets[real]
        if known is not None:
            item_vecs, target = item_vecs[known], column[target]
        if bf16:  # autograd casts the gradients back to float32 for the encoders
            user_states, item_vecs = user_states.bfloat16(), item_vecs.bfloat16()
        loss = F.cross_entropy(model.logits(user_states, item_vecs), target,
                               label_smoothing=config.seq_label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n = int(real.sum())
        total, positions = total + float(loss.detach()) * n, positions + n
    return total / max(positions, 1)


def fit_sequence_model(model: KGSASRec, prepared: Prepared, config: TrainConfig, *,
                       progress: bool = True, stop_below: float | None = None) -> tuple[History, int]:
    """Train until valid NDCG@10 stops improving for ``config.patience`` evaluations (or falls short of
    ``stop_below``, :func:`gnn.fitting.fit_with_early_stopping`); leave the best state.

    Returns ``(history, best epoch)`` as :func:`gnn.train.train_model` records them.
    """
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.seq_lr, weight_decay=config.weight_decay)
    sequences = training_sequences(prepared.histories("valid"), config.seq_max_len,
                                   all_windows=config.seq_all_windows)
    history, best_epoch = fit_with_early_stopping(model, prepared, config,
                                                  lambda: _epoch(model, optimizer, prepared, sequences, config, rng),
                                                  progress=progress, stop_below=stop_below)
    model.items.fit_cold_ids(prepared.data)
    calibrate(model, prepared, cold_gain_tolerance=config.cold_gain_tolerance)
    return history, best_epoch
