"""Training of the sequence model (:class:`gnn.models.kg_sasrec.KGSASRec`): next-item prediction with full
softmax cross-entropy over every product, at every position of every user's train history.

Each step recomputes the item vectors full-batch (the KG + text encoder is small) and scores a batch of
histories against all of them; sequences are cut to their last ``seq_max_len + 1`` items and batched by length
(sorted, then the batches shuffled) so that little is padding. Early stopping on valid NDCG@10, as
:mod:`gnn.train` does for the other models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gnn.allocator import released_allocator
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


def training_sequences(histories: Sequence[np.ndarray], max_len: int, *, all_windows: bool = True,
                       stride: int | None = None) -> list[np.ndarray]:
    """Windows of at most ``max_len + 1`` items (input: all but the last; target: all but the first) of every
    history with at least two.

    With ``all_windows`` a longer history is cut, from its newest item back, into windows that share one item
    with the next, so that every item after the first is a target exactly once; without, only its last window
    is read (on ml-100k, where users average 106 items, that left out half of the train interactions).
    :func:`training_windows` with a ``stride`` instead overlaps them, so that every target is read with a longer
    context; this is its windows alone."""
    return [window for window, _ in training_windows(histories, max_len, all_windows=all_windows, stride=stride)]


def training_windows(histories: Sequence[np.ndarray], max_len: int, *, all_windows: bool = True,
                     stride: int | None = None,
                     rng: np.random.Generator | None = None) -> list[tuple[np.ndarray, int]]:
    """``(window, targets kept)`` pairs: the windows of :func:`training_sequences`, each with how many of its
    last targets the loss reads.

    ``stride`` (at most ``max_len``; None: ``max_len``) is how far each window ends before the next newer one. At
    ``max_len`` the windows only touch and every target is kept; with a shorter stride they overlap and a window
    keeps only its last ``stride`` targets (the oldest window of a history keeps all of its own), so every target
    is still read exactly once, now after at least ``max_len - stride`` items of history where the history has
    them, as a model that reads the last ``max_len`` items before each target would (RecBole's SASRec, which
    makes one sample of every prefix, i.e. stride 1).

    With ``rng`` (each epoch its own draw) the newest window of a history longer than one window keeps a random
    number of its last targets, from 1 to the stride, and the cuts below it move with it: every target is still
    read once, but which targets sit just after a cut, with little context, changes from epoch to epoch instead of
    being the same items every epoch. Histories that fit one window are unchanged.
    """
    step = max_len if stride is None else min(max(stride, 1), max_len)
    windows = []
    for history in histories:
        end = len(history)
        kept = step if rng is None or end <= max_len + 1 else int(rng.integers(1, step + 1))
        while end >= 2:
            start = max(0, end - max_len - 1)
            last = start == 0 or not all_windows
            windows.append((history[start:end], end - start - 1 if last else kept))
            if last:
                break
            end, kept = end - kept, step
    return windows


def future_targets(targets: torch.Tensor, real: torch.Tensor, window: int,
                   pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The items after each next-item target, for the positions ``real`` selects.

    Args:
        targets: ``[B, T]`` next-item targets of a batch (``pad`` after each window's end).
        real: ``[B, T]`` bool, the positions the loss reads.
        window: ``k``: the next item and the ``k - 1`` after it.
        pad: the padding index.

    Returns:
        ``([N, k - 1]`` the items 2..k steps ahead of each of the ``N`` real positions, ``[N, k - 1]`` bool:
        which exist in the window).
    """
    width = targets.shape[1]  # a batch of short windows can be narrower than the future window
    shifted = [F.pad(targets[:, j:], (0, min(j, width)), value=pad) for j in range(1, window)]
    later = torch.stack(shifted, dim=-1)[real]
    return later, later != pad


def future_window_loss(logits: torch.Tensor, target: torch.Tensor, later: torch.Tensor, has_later: torch.Tensor,
                       weight: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """The next item's cross-entropy plus ``weight`` times the mean cross-entropy of the items after it, on one
    softmax (a multi-target next-k loss, as PinnerFormer's dense all-action loss reads a window of future actions):
    the state learns what the next few items share, which the order of items rated in one sitting (MovieLens) or
    bought in one basket does not decide.

    Args:
        logits: ``[N, P]`` the scores of ``N`` positions against every product.
        target: ``[N]`` the next item of each position.
        later: ``[N, k - 1]`` the items after it (any value where ``has_later`` is False).
        has_later: ``[N, k - 1]`` bool, which of ``later`` exist.
        weight: the later items' weight (0: plain cross-entropy).
        label_smoothing: as :func:`torch.nn.functional.cross_entropy`'s, on the next item's term.
    """
    log_p = F.log_softmax(logits, dim=-1)
    loss = F.nll_loss(log_p, target).float()
    if label_smoothing > 0:
        loss = (1 - label_smoothing) * loss - label_smoothing * log_p.mean(dim=-1).float().mean()
    if bool(has_later.any()):
        picked = log_p.gather(1, later.clamp(0, log_p.shape[1] - 1))  # padding and cold columns: masked here
        loss = loss - weight * picked[has_later].float().mean()
    return loss


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches of indexes: sorted by length (random order among equals), cut, then shuffled."""
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def _epoch(model: KGSASRec, optimizer: torch.optim.Optimizer, prepared: Prepared,
           sequences: list[tuple[np.ndarray, int]],
           config: TrainConfig, rng: np.random.Generator, after_step: Callable[[], None] | None = None) -> float:
    """One pass over the train sequences; the mean cross-entropy per predicted position. ``after_step`` runs
    after every optimizer step (the weight average's update)."""
    model.train()
    lengths = np.array([len(window) for window, _ in sequences])
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
        seq, seq_len = pad_histories([sequences[i][0] for i in chunk], num_products)
        inputs, targets = seq[:, :-1], seq[:, 1:]
        item_vecs = model.item_vectors(prepared.data)
        states = model.states(item_vecs, inputs, seq_len - 1)
        # The targets a window keeps: its last `kept` real ones (the older ones are another window's).
        kept = torch.tensor([sequences[i][1] for i in chunk])
        position = torch.arange(targets.shape[1]).unsqueeze(0)
        real = (targets != num_products) & (position >= (seq_len - 1 - kept).unsqueeze(1))
        user_states, target = states[real], targets[real]
        if known is not None:
            item_vecs, target = item_vecs[known], column[target]
        if bf16:  # autograd casts the gradients back to float32 for the encoders
            user_states, item_vecs = user_states.bfloat16(), item_vecs.bfloat16()
        logits = model.logits(user_states, item_vecs)
        if config.seq_future_window > 1 and config.seq_future_weight > 0:
            later, has_later = future_targets(targets, real, config.seq_future_window, num_products)
            if known is not None:  # to the warm columns; a withheld product (-1 there) is never a target
                later = column[later.clamp(max=num_products - 1)]
                has_later = has_later & (later >= 0)
            loss = future_window_loss(logits, target, later, has_later, config.seq_future_weight,
                                      config.seq_label_smoothing)
        else:
            loss = F.cross_entropy(logits, target, label_smoothing=config.seq_label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        n = int(real.sum())
        total, positions = total + float(loss.detach()) * n, positions + n
    return total / max(positions, 1)


def weight_average(model: KGSASRec, half_life_epochs: float, steps_per_epoch: int) -> AveragedModel:
    """An exponential moving average of ``model``'s weights whose half-life is ``half_life_epochs`` epochs of
    ``steps_per_epoch`` optimizer steps (buffers follow the model)."""
    decay = 0.5 ** (1.0 / max(half_life_epochs * steps_per_epoch, 1.0))
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))


#: The most :func:`patience_in_evaluations` stretches ``config.patience`` by.
PATIENCE_STRETCH = 3


def patience_in_evaluations(config: TrainConfig, steps_per_epoch: int) -> int:
    """How many evaluations without a better validation figure early stopping waits: ``config.patience``, or
    more where that many evaluations span fewer than ``config.seq_patience_steps`` gradient steps.

    Why steps: how far training moves between two evaluations is its steps, not its passes over the data. A
    catalog with few histories (ml-100k-kg: 19 steps an epoch) moves little in an epoch while its small
    validation set moves a lot, so ten epochs there end runs on a one-epoch peak that a larger catalog
    (amazon-beauty: 176 steps an epoch) would not. At most :data:`PATIENCE_STRETCH` times ``config.patience``:
    a toy catalog of one step an epoch would otherwise wait hundreds of epochs.
    """
    per_evaluation = max(steps_per_epoch, 1) * config.eval_every
    wanted = -(-config.seq_patience_steps // per_evaluation)
    return max(config.patience, min(wanted, PATIENCE_STRETCH * config.patience))


def fit_sequence_model(model: KGSASRec, prepared: Prepared, config: TrainConfig, *,
                       progress: bool = True, stop_below: float | None = None) -> tuple[History, int]:
    """Train until valid NDCG@10 stops improving for :func:`patience_in_evaluations` evaluations (or falls short of
    ``stop_below``, :func:`gnn.fitting.fit_with_early_stopping`); leave the best state.

    With ``config.seq_weight_average`` > 0 the weights validated, kept and served are an exponential moving
    average of the trained ones (that half-life in epochs): an average of nearby points of the trajectory
    (Polyak averaging; SWA), which often generalises better than its last point; on ml-100k-kg it smoothed
    validation but left the three-seed test figure unchanged, so it is off by default.

    Returns ``(history, best epoch)`` as :func:`gnn.train.train_model` records them.
    """
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.seq_lr, weight_decay=config.weight_decay)
    histories = prepared.histories("valid")

    def windows() -> list[tuple[np.ndarray, int]]:
        return training_windows(histories, config.seq_max_len, all_windows=config.seq_all_windows,
                                stride=config.seq_window_stride, rng=rng if config.seq_window_jitter else None)

    sequences = windows()
    steps = -(-len(sequences) // config.seq_batch_size)
    stopping = config.model_copy(update={"patience": patience_in_evaluations(config, steps)})
    evaluated: torch.nn.Module = model
    after_step = None
    if config.seq_weight_average > 0:
        averaged = weight_average(model, config.seq_weight_average, steps)
        evaluated, after_step = averaged.module, lambda: averaged.update_parameters(model)
    history, best_epoch = fit_with_early_stopping(
        evaluated, prepared, stopping,
        lambda: _epoch(model, optimizer, prepared, windows() if config.seq_window_jitter else sequences, config,
                       rng, after_step),
        progress=progress, stop_below=stop_below)
    if evaluated is not model:
        model.load_state_dict(evaluated.state_dict())
    model.items.fit_cold_ids(prepared.data)
    with released_allocator():  # scoring grids, not gradient steps: gnn.allocator
        calibrate(model, prepared, cold_gain_tolerance=config.cold_gain_tolerance,
                  grid_steps=config.seq_calibration_grid_steps)
    return history, best_epoch
