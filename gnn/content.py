"""What the sequence model's softmax training leaves out, set after training without looking at test.

Eight calibrations of :class:`~gnn.models.kg_sasrec.KGSASRec`, kept in its buffers and recorded in the bundle:

- **The scale of products with no trained id** (:func:`fit_cold_scale`). A cold or new product's vector comes
  from its text and edges alone; its scores sat far below trained products' (its vector is shorter: the ridge
  map of :meth:`~gnn.models.item_graph.ItemGraphEncoder.fit_cold_ids` regresses to the mean). The scale is the
  least-squares fit, over trained products, of their full scores on the scores the same products get with no
  id. It uses no interaction with a cold product and no test item: it only puts an id-less vector on the scale
  an id-bearing one has, so a new product is neither favoured nor buried for being new.
- **The text channel** (:func:`choose_text_channel`): ``score + lambda * cos(user's decayed history text,
  product text)``. The item vectors already read the text through one linear map learned for the softmax; the
  raw cosine adds the content-based neighbour signal (a user who bought three staplers is shown staplers) that
  the softmax spreads thin on long-tail products. ``lambda`` (in units of the spread of the model's own scores
  over the spread of the cosines, so that one grid fits every catalog) and the decay are chosen by validation
  NDCG@10, 0 among them: a catalog where text does not help keeps the model as trained.
- **The co-interaction channel** (:func:`choose_cointeraction_channel`): ``+ mu * cos(s_u, s_p)`` on the
  unit rows of the co-interaction spectrum (:mod:`gnn.cointeraction`), chosen as the text channel is (on top
  of it, from :data:`CHANNEL_WEIGHT_GRID` x :data:`DECAY_GRID`, 0 among them). The softmax sees
  co-interaction only through next-item targets and a ``d``-wide bottleneck; the spectrum is the whole
  product graph's neighbourhoods at rank ``k``.
- **The attribute channel** (:func:`choose_attribute_channel`): the same on random-projection rows of each
  product's brand (:mod:`gnn.attributes`), chosen on top of the other two: how much of the user's recent
  history shares the product's brand, which the softmax spreads over every product of the brand's neighbours.
- **The transition channel** (:func:`choose_transition_channel`): the same on the factors of which product
  follows which in users' ordered histories (:mod:`gnn.transitions`), chosen on top of the other three: the
  history's decayed *from* rows against each product's *to* row, with its own decay grid
  (:data:`TRANSITION_DECAY_GRID`: what came right after the user's last item counts most).
- **The transition lookup** (:func:`choose_transition_lookup`): the exact rows of the transition matrix for the
  user's newest items (:class:`gnn.transitions.TransitionLookup`), the long tail of rare pairs that the
  channel's rank-``r`` factors leave out, added beside the dot products; its weight (in units of the spread of
  the model's scores) and decay chosen on top of the four channels, 0 among them.
- **The weight of a new product's text** (:func:`choose_cold_text_gain`): with no trained id, a product's text is
  most of what is known about it, so its text channel may weigh more than a trained product's. The gain is
  chosen on validation by letting a seeded 5% of the trained products play new ones (their id vectors replaced
  by what the text -> id map, refitted without them, predicts) and ranking every validation item among all
  products: a gain that lifts new products above what users pick instead costs the other users' rankings, so
  the objective cannot be won by pushing new products up. A ranking of new products' interactions alone (the
  cold slice) would be won that way: ``bench/quality.py --variant cold`` reports the cold slice at fixed gains
  beside the chosen one. Taking the best cell made new products all but invisible (on amazon-beauty the best
  cell, gain 1.5, ranked new products at 0.74x text-only while gain 4 cost 4% of validation NDCG@10), so the
  largest gain within ``TrainConfig.cold_gain_tolerance`` (1%) of the best cell is taken: a stated price in
  the other users' ranking for new products to be seen.
  With the transition lookup on, a new product, which nothing is known to follow anything into, is lent its
  text neighbours' columns of the transition matrix (:func:`gnn.transitions.imputed_columns`) times a second
  gain (``cold_lookup_gain``, :data:`COLD_LOOKUP_GAIN_GRID`, 0 among them), chosen with the text gain on the
  same cells (the simulated new products' columns emptied first). Lent columns are the other way a new product
  is seen, so the tolerance's rule holds for them too: at the chosen text gain, the largest lookup gain within
  the price (the best cell alone had lent nothing on an ml-100k-kg slice whose 3-step lookup lifted every
  trained film, and new films fell to 1.10x text-only from 1.59x).
- **The text of new products where the text channel is off** (:func:`choose_new_product_text`). Where validation
  turns the text channel off (ml-100k-kg: a film's title adds nothing to a trained film's id), the text gain has
  nothing to multiply, and a new product was scored by its id-less vector alone: every trained film, lifted by
  channels a new one cannot have (co-interaction, transitions, the lookup), ranked above it (the cold slice read
  0.14x text-only on one seed). The text channel is then kept for products with no trained id only, its weight
  chosen on the same simulated new products by the same rule (the largest within the tolerance of the best),
  then, at that weight, the lookup gain of their lent columns, by the same rule.

All run on the best state :func:`gnn.fitting.fit_with_early_stopping` restored. The text channel is chosen on the
same validation interactions early stopping read, one of :data:`WEIGHT_GRID` x :data:`DECAY_GRID`: the valid
figure it reports is that much optimistic; test is untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gnn.cointeraction import predicted_rows, text_to_rows_map
from gnn.evaluation import evaluate_grid
from gnn.metrics import GridScoreFn
from gnn.models.kg_sasrec import KGSASRec
from gnn.prepared import Prepared
from gnn.transitions import TransitionLookup, lookup_matrix

#: lambda tried, in units of sd(model scores) / sd(text cosines) over the same users' candidates.
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.125, 0.25, 0.5, 1.0)
#: gamma tried: 1.0 is the plain mean of the history's text; 0.7 halves an item's weight every two newer ones.
DECAY_GRID: tuple[float, ...] = (0.7, 1.0)
#: The co-interaction and attribute channels' weights tried, in the text channel's units (their cosines are
#: sharper than text's: finer steps).
CHANNEL_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.0625, 0.125, 0.25, 0.5)
#: The transition channel's decays: 0.1 reads almost only the last item (what follows it), 0.7 the last few.
TRANSITION_DECAY_GRID: tuple[float, ...] = (0.1, 0.3, 0.7)
#: The transition channel's weights, in the text channel's units (its cosines are near 0 for most products, the
#: spread ratio large: finer steps still).
TRANSITION_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.03125, 0.0625, 0.125, 0.25)
#: A channel's grid may grow past an edge its best cell sits on (:func:`extended_grid_scores`,
#: ``TrainConfig.seq_calibration_grid_steps`` times, 0 by default): the largest weight doubled, the smallest decay
#: times :data:`DECAY_STEP` (not below :data:`MIN_DECAY`). On ml-100k-kg the co-interaction channel's best weight
#: was the grid's largest in 16 runs of 17 and every channel's best decay its smallest, yet growing the grids there
#: changed nothing beyond the noise (bench/results/kg_sasrec_experiments/README.md).
DECAY_STEP = 0.7
MIN_DECAY = 0.1
#: The transition lookup's weights, in units of the spread of the model's scores (0: off).
LOOKUP_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
#: The transition lookup's decays: each older item of the newest ``lookup_last`` weighs this times the next.
LOOKUP_DECAY_GRID: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
#: cold_text_gain tried: 1 weighs a new product's text as a trained product's.
COLD_GAIN_GRID: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
#: cold_lookup_gain tried: how much of its text neighbours' transition columns a new product is lent (0: none).
COLD_LOOKUP_GAIN_GRID: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
#: The new products' own text weight tried where the text channel is off, in the text channel's units: its
#: cosines lift only a few products, so small steps (on one ml-100k-kg slice 1/16 cost 2.3% of the best cell's
#: validation NDCG@10 and 1/8 14%), refined between two of them by :data:`NEW_TEXT_REFINE_STEPS` halvings.
NEW_TEXT_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.0078125, 0.015625, 0.03125, 0.0625, 0.125, 0.25, 0.5)
NEW_TEXT_REFINE_STEPS = 4
#: Share of the trained products that play new ones while the gain is chosen (the cold slice's share).
SIMULATED_COLD_SHARE = 0.05
#: Users whose scores estimate the spreads and the cold scale (a sample: the figures are averages).
SAMPLE_USERS = 512
#: Validation users every grid is scored on (a seeded sample where there are more): amazon-beauty's 22,363
#: made the calibrations 40% of `cartograph train`; a difference of 0.002 in NDCG@10 between two cells is
#: still several standard errors on 8,192 users, and the smaller catalogs are scored whole.
GRID_USERS = 8192


def _sample_users(histories: list[np.ndarray], seed: int = 0) -> list[int]:
    users = [u for u, h in enumerate(histories) if len(h)]
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(users, size=min(SAMPLE_USERS, len(users)), replace=False).tolist()) if users else []


@torch.no_grad()
def fit_cold_scale(model: KGSASRec, prepared: Prepared) -> float | None:
    """Set ``model.cold_scale`` to the least-squares slope of trained products' scores on their id-less scores
    (over sampled train histories) and return it; ``None`` (left at 1) when the model has no ids or no user."""
    data, histories = prepared.graph_for("valid"), prepared.histories("valid")
    trained = model.items.trained_mask(data)
    users = _sample_users(histories)
    if "product" not in model.items.emb or not users or not bool(trained.any()):
        return None
    model.eval()
    full = model.output_vectors(model.item_vectors(data))
    idless_graph = copy.copy(data)
    idless_graph["product"].warm = torch.zeros(int(data["product"].num_nodes), dtype=torch.bool)
    idless = model.output_vectors(model.item_vectors(idless_graph))
    states = model.user_vectors(full, [histories[u] for u in users])
    y, x = states @ full[trained].T, states @ idless[trained].T
    scale = float((x * y).sum() / (x * x).sum().clamp(min=1e-12))
    scale = min(max(scale, 0.0), 10.0)  # a degenerate fit must not blow cold products up or flip them
    model.cold_scale.fill_(scale)
    return scale


def _spread(users: Tensor, items: Tensor) -> float:
    """Mean over users of the standard deviation of their scores over ``items``."""
    return float((users @ items.T).std(dim=1).mean())


@torch.no_grad()
def choose_text_channel(model: KGSASRec, prepared: Prepared, *, grid_steps: int = 0) -> dict[str, Any] | None:
    """Try every (lambda, gamma) of :data:`WEIGHT_GRID` x :data:`DECAY_GRID` on validation, set the best (the
    smaller lambda on a tie) in the model's buffers and return the record; ``None`` (channel off) when the
    products have no text."""
    data, histories = prepared.graph_for("valid"), prepared.histories("valid")
    if model.items.text_proj is None or "x" not in data["product"] or not any(len(h) for h in histories):
        return None
    model.eval()
    model.content_weight.fill_(0.0)
    model.cold_text_weight.fill_(0.0)  # chosen last, where this one is off
    model.cointeraction_weight.fill_(0.0)  # chosen after this one, on top of it
    model.attribute_weight.fill_(0.0)
    model.transition_weight.fill_(0.0)
    model.lookup_weight.fill_(0.0)
    return _choose_channel(model, prepared, "content", F.normalize(data["product"].x.float(), dim=1), WEIGHT_GRID,
                           grid_steps=grid_steps)


def _choose_channel(model: KGSASRec, prepared: Prepared, name: str, rows: Tensor,
                    grid: tuple[float, ...] = CHANNEL_WEIGHT_GRID, *, history_rows: Tensor | None = None,
                    decays: tuple[float, ...] = DECAY_GRID, grid_steps: int = 0) -> dict[str, Any]:
    """Try every (weight, gamma) of ``grid`` x ``decays`` for the channel ``name`` (buffers ``<name>_weight``
    and ``<name>_decay``) over the ``[P, k]`` unit ``rows``, on top of the channels already chosen; set the best
    (the smaller weight on a tie) and return the record. Weights are in units of the spread of the model's scores
    over the spread of the channel's cosines, so that one grid fits every catalog. ``history_rows``: the rows a
    history is summed over when they are not ``rows`` (the transition channel's from rows)."""
    data, histories = prepared.graph_for("valid"), prepared.histories("valid")
    items = model.served_item_vectors(data, histories=histories)
    users = model.user_vectors(items, histories)
    sample = _sample_users(histories)
    source = rows if history_rows is None else history_rows
    unit = {g: model.history_text(source, histories, decay=g) for g in decays}
    spread_ratio = _spread(users[sample], items) / max(_spread(unit[decays[-1]][sample], rows), 1e-12)

    def cells(pairs: list[tuple[float, float]]) -> GridScoreFn:
        def score(batch: Tensor) -> Iterator[tuple[str, Tensor]]:
            # score(w, g) = <user, item> + w * <history rows(g), row>: the shared parts once per batch.
            base = users[batch] @ items.T
            for gamma in sorted({g for _, g in pairs}):
                if gamma not in unit:
                    unit[gamma] = model.history_text(source, histories, decay=gamma)
                channel = unit[gamma][batch] @ rows.T
                for relative in (w for w, g in pairs if g == gamma):
                    yield cell_key(relative, gamma), base + (relative * spread_ratio) * channel
        return score

    scores = extended_grid_scores(lambda pairs: _grid_ndcg(prepared, cells(pairs)), list(grid), list(decays),
                                  steps=grid_steps)
    record = _set_best(model, name, scores, spread_ratio)
    return {**record, "width": rows.size(1), "spread_ratio": round(spread_ratio, 6),
            "valid_ndcg@10": record.pop("valid_ndcg@10")}


def _grid_ndcg(prepared: Prepared, cells: GridScoreFn) -> dict[str, float]:
    """Each cell's validation NDCG@10, over :data:`GRID_USERS` users."""
    return {str(key): round(m["ndcg@10"], 6)
            for key, m in evaluate_grid(prepared, cells, max_users=GRID_USERS, ndcg_only=True).items()}


def cell_key(relative: float, gamma: float) -> str:
    return f"{relative:g}@{gamma:g}"


def _best_cell(scores: dict[str, float]) -> tuple[float, float]:
    """(relative weight, decay) of the best ``"<weight>@<decay>"`` cell, the smaller weight on a tie."""
    best = max(scores, key=lambda k: (scores[k], -float(k.split("@")[0])))
    relative, gamma = (float(v) for v in best.split("@"))
    return relative, gamma


def extended_grid_scores(evaluate: Callable[[list[tuple[float, float]]], dict[str, float]],
                         weights: list[float], decays: list[float], *, steps: int = 0) -> dict[str, float]:
    """Validation NDCG@10 of every (weight, decay) of ``weights`` x ``decays``, then, while the best cell sits on
    the grid's largest weight (above 0) or its smallest decay, of the cells one step past that edge
    (``steps`` at most; 0: the grid as given): a grid that fits most catalogs need not cap the one whose best
    weight lies beyond it. ``evaluate(pairs)``: the ``"<weight>@<decay>"`` cells' figures for those pairs."""
    weights, decays = sorted(weights), sorted(decays)
    pending = [(w, g) for g in decays for w in weights]
    scores: dict[str, float] = {}
    for step in range(steps + 1):
        scores.update(evaluate(pending))
        if step == steps:
            break
        relative, gamma = _best_cell(scores)
        if relative > 0 and relative == weights[-1]:
            weights.append(2 * relative)
        if len(decays) > 1 and gamma == decays[0] and round(gamma * DECAY_STEP, 4) >= MIN_DECAY:
            decays.insert(0, round(gamma * DECAY_STEP, 4))
        pending = [(w, g) for g in decays for w in weights if cell_key(w, g) not in scores]
        if not pending:
            break
    return scores


def _set_best(model: KGSASRec, name: str, scores: dict[str, float], unit: float) -> dict[str, Any]:
    """Set the best of the ``"<relative weight>@<decay>"`` cells' validation ``scores`` (the smaller weight on a
    tie) in the buffers ``<name>_weight`` (``relative * unit``) and ``<name>_decay``; the record."""
    relative, gamma = _best_cell(scores)
    getattr(model, f"{name}_weight").fill_(relative * unit)
    getattr(model, f"{name}_decay").fill_(gamma)
    return {"weight": round(relative * unit, 6), "relative_weight": relative, "decay": gamma,
            "valid_ndcg@10": scores}


@torch.no_grad()
def choose_cointeraction_channel(model: KGSASRec, prepared: Prepared, *, grid_steps: int = 0) -> dict[str, Any] | None:
    """The co-interaction channel's (mu, gamma), chosen on validation on top of the text channel (the attribute
    channel off); ``None`` (channel off) when the model has no channel width or no user has a history."""
    model.cointeraction_weight.fill_(0.0)
    model.attribute_weight.fill_(0.0)  # chosen after this one, on top of it
    model.transition_weight.fill_(0.0)
    model.lookup_weight.fill_(0.0)
    if model.cointeraction_rank <= 0 or not any(len(h) for h in prepared.histories("valid")):
        return None
    model.eval()
    return _choose_channel(model, prepared, "cointeraction", model.cointeraction_rows(prepared.graph_for("valid")),
                           grid_steps=grid_steps)


@torch.no_grad()
def choose_attribute_channel(model: KGSASRec, prepared: Prepared, *, grid_steps: int = 0) -> dict[str, Any] | None:
    """The attribute channel's (weight, gamma), chosen on validation on top of the text and co-interaction
    channels; ``None`` (channel off) when the model has no channel width, no product has an attribute over its
    relations, or no user has a history."""
    model.attribute_weight.fill_(0.0)
    model.transition_weight.fill_(0.0)  # chosen after this one, on top of it
    model.lookup_weight.fill_(0.0)
    rows = model.attribute_rows(prepared.graph_for("valid")) if model.attribute_width > 0 else None
    if rows is None or not bool(rows.any()) or not any(len(h) for h in prepared.histories("valid")):
        return None
    model.eval()
    return _choose_channel(model, prepared, "attribute", rows, grid_steps=grid_steps)


@torch.no_grad()
def choose_transition_channel(model: KGSASRec, prepared: Prepared, *, grid_steps: int = 0) -> dict[str, Any] | None:
    """The transition channel's (weight, gamma), chosen on validation on top of the text, co-interaction and
    attribute channels; ``None`` (channel off) when the model has no transition rank or no history has two
    items."""
    model.transition_weight.fill_(0.0)
    model.lookup_weight.fill_(0.0)
    histories = prepared.histories("valid")
    if model.transition_rank <= 0 or not any(len(h) > 1 for h in histories):
        return None
    model.eval()
    source, target = model.transition_rows(histories, int(prepared.graph_for("valid")["product"].num_nodes))
    return _choose_channel(model, prepared, "transition", target, TRANSITION_WEIGHT_GRID, history_rows=source,
                           decays=TRANSITION_DECAY_GRID, grid_steps=grid_steps)


@torch.no_grad()
def choose_transition_lookup(model: KGSASRec, prepared: Prepared) -> dict[str, Any] | None:
    """The transition lookup's (weight, decay, window, row power) (:class:`gnn.transitions.TransitionLookup`),
    chosen on validation on top of the four channels from :data:`LOOKUP_WEIGHT_GRID` (in units of the spread of
    the model's scores: the likeliest next product gains that many standard deviations of a user's scores) x
    :data:`LOOKUP_DECAY_GRID`, 0 among them: first for each window of :func:`lookup_windows` (how many steps after
    a product its row counts; the smaller window on a tie), then, at that window, for each row power of
    :func:`lookup_row_powers` (1 on a tie). ``None`` (lookup off) when the model reads no items for it or no
    history has two items."""
    model.lookup_weight.fill_(0.0)
    model.lookup_window.fill_(1.0)
    model.lookup_row_power.fill_(1.0)
    histories = prepared.histories("valid")
    if model.lookup_last <= 0 or not any(len(h) > 1 for h in histories):
        return None
    model.eval()
    items = model.served_item_vectors(prepared.graph_for("valid"), histories=histories)
    users = model.user_vectors(items, histories)
    spread = _spread(users[_sample_users(histories)], items)

    def grid(window: int, power: float) -> dict[str, float]:
        return _grid_ndcg(prepared, _lookup_cells(model, users, items, histories, spread, window, power))

    grids = {window: grid(window, 1.0) for window in lookup_windows(model)}
    window = max(grids, key=lambda w: (max(grids[w].values()), -w))
    powers = {power: grids[window] if power == 1.0 else grid(window, power) for power in lookup_row_powers(model)}
    power = max(powers, key=lambda q: (max(powers[q].values()), q))
    record = _set_best(model, "lookup", powers[power], spread)
    model.lookup_window.fill_(float(window))
    model.lookup_row_power.fill_(power)
    matrix = model.transitions.matrix(histories, items.size(0), window=window, power=power)
    return {**record, "window": window, "windows": {str(w): max(g.values()) for w, g in grids.items()},
            "row_power": power, "row_powers": {f"{q:g}": max(g.values()) for q, g in powers.items()},
            "last": model.lookup_last, "spread": round(spread, 6), "transitions": int(matrix.nnz),
            "valid_ndcg@10": record.pop("valid_ndcg@10")}


def lookup_windows(model: KGSASRec) -> list[int]:
    """The lookup windows validation chooses between: the next item only, and ``model.lookup_max_window``."""
    return sorted({1, max(int(model.lookup_max_window), 1)})


def lookup_row_powers(model: KGSASRec) -> list[float]:
    """The lookup row powers validation chooses between: 1 (distributions) and ``model.lookup_damped_power``."""
    return sorted({1.0, float(model.lookup_damped_power)})


def _lookup_cells(model: KGSASRec, users: Tensor, items: Tensor, histories: list[np.ndarray], spread: float,
                  window: int, power: float) -> GridScoreFn:
    """The lookup grid's cells over the ``window``-step transition matrix of ``histories`` (rows divided by their
    totals to ``power``)."""
    matrix = model.transitions.matrix(histories, items.size(0), window=window, power=power)

    def cells(batch: Tensor) -> Iterator[tuple[str, Tensor]]:
        base = users[batch] @ items.T
        batch_histories = [histories[u] for u in batch.tolist()]
        for gamma in LOOKUP_DECAY_GRID:
            lookup = TransitionLookup(matrix, 1.0, gamma, model.lookup_last).scores(batch_histories)
            for relative in LOOKUP_WEIGHT_GRID:
                yield f"{relative:g}@{gamma:g}", base + (relative * spread) * lookup

    return cells


@torch.no_grad()
def simulated_new_products(model: KGSASRec, prepared: Prepared, share: float = SIMULATED_COLD_SHARE,
                           seed: int = 0) -> tuple[Tensor, Tensor] | None:
    """(indexes ``[S]`` of a seeded ``share`` of the trained products, ``[P, d']`` served vectors with those
    products' ids taken away), on the validation graph; the text -> id map is refitted without them for the
    purpose and restored. ``None`` when the model has no ids, no text or no trained product."""
    data = prepared.graph_for("valid")
    trained = model.items.trained_mask(data)
    if "product" not in model.items.emb or model.items.cold_id_map is None or not bool(trained.any()):
        return None
    rng = np.random.default_rng(seed)
    pool = torch.nonzero(trained).flatten().numpy()
    chosen = torch.from_numpy(np.sort(rng.choice(pool, size=max(1, int(share * len(pool))), replace=False)))
    graph = copy.copy(data)
    warm = trained.clone()
    warm[chosen] = False
    graph["product"].warm = warm
    kept = model.items.cold_id_map.clone()
    try:
        model.items.fit_cold_ids(graph)
        vectors = model.served_item_vectors(graph, histories=prepared.histories("valid"))
    finally:
        model.items.cold_id_map.copy_(kept)
    return chosen, vectors


def _simulated_new_spectrum_rows(model: KGSASRec, prepared: Prepared, chosen: Tensor) -> Tensor:
    """``[S, k]`` the unit co-interaction rows the ``chosen`` products would have as new products: predicted
    from their text by a map fitted without them."""
    data = prepared.graph_for("valid")
    rows = model.spectrum.interaction_rows(data)
    fitted = rows.abs().sum(dim=1) > 0
    fitted[chosen] = False
    text = data["product"].x
    return F.normalize(predicted_rows(text[chosen], text_to_rows_map(text, rows, fitted)), dim=1)


def _simulated_lookups(model: KGSASRec, prepared: Prepared, chosen: Tensor,
                       num_products: int) -> dict[float, TransitionLookup] | None:
    """Per gain of :data:`COLD_LOOKUP_GAIN_GRID`, the lookup over the validation histories as the ``chosen``
    products would see it if they were new: nothing known to follow anything into them (their columns emptied),
    then their text neighbours' columns times the gain (0: left empty). ``None`` with the lookup off."""
    histories = prepared.histories("valid")
    if not model.has_transition_lookup:
        return None
    matrix = model.transitions.matrix(histories, num_products, window=int(model.lookup_window),
                                      power=float(model.lookup_row_power)).tolil(copy=True)
    matrix[:, chosen.numpy()] = 0.0
    emptied = matrix.tocsr()
    emptied.eliminate_zeros()
    text = getattr(prepared.graph_for("valid")["product"], "x", None)
    gains = COLD_LOOKUP_GAIN_GRID if text is not None else (0.0,)
    return {gain: TransitionLookup(lookup_matrix(emptied, text, gain), float(model.lookup_weight),
                                   float(model.lookup_decay), model.lookup_last) for gain in gains}


def _as_new_products(model: KGSASRec, prepared: Prepared, chosen: Tensor, without_ids: Tensor) -> Tensor:
    """``[S, d']`` the ``chosen`` products' served vectors as new products would have them: their id-less
    vectors (:func:`simulated_new_products`), the co-interaction row their text predicts (they have no
    interaction) and no transition rows (nothing is known to follow or precede them)."""
    d, text_width, spectrum_width, attribute_width, transition_width = model.channel_widths()
    vectors = without_ids[chosen].clone()
    if spectrum_width:
        start = d + text_width
        vectors[:, start:start + spectrum_width] = _simulated_new_spectrum_rows(model, prepared, chosen)
    transitions_from = d + text_width + spectrum_width + attribute_width
    vectors[:, transitions_from:transitions_from + transition_width] = 0.0
    return vectors


@torch.no_grad()
def choose_cold_text_gain(model: KGSASRec, prepared: Prepared, tolerance: float = 0.0) -> dict[str, Any] | None:
    """Try every gain of :data:`COLD_GAIN_GRID` (and, with the transition lookup on, every gain of
    :data:`COLD_LOOKUP_GAIN_GRID` on the columns a new product's text lends it) on validation with simulated new
    products (see the module docstring), set the best (the smaller gains on a tie) as ``model.cold_text_gain``
    and ``model.cold_lookup_gain`` and return the record; ``None`` (gains 1 and 0) without the text channel or
    ids. With a ``tolerance`` (a share of validation NDCG@10, ``TrainConfig.cold_gain_tolerance``), the largest
    text gain whose cell is within it of the best: new products get that much of the other users' ranking
    quality to be seen at all."""
    histories = prepared.histories("valid")
    model.cold_text_weight.fill_(0.0)  # the text channel kept for new products only: where this one is off
    if float(model.content_weight) <= 0 or not any(len(h) for h in histories):
        return None
    model.eval()
    model.cold_text_gain.fill_(1.0)
    model.cold_lookup_gain.fill_(0.0)
    simulated = simulated_new_products(model, prepared)
    if simulated is None:
        return None
    chosen, without_ids = simulated
    served = model.served_item_vectors(prepared.graph_for("valid"), histories=histories)
    users = model.user_vectors(served, histories)
    as_new = _as_new_products(model, prepared, chosen, without_ids)
    text_width = model.channel_widths()[1]
    new_vectors: dict[float, Tensor] = {}
    for gain in COLD_GAIN_GRID:
        vectors = as_new.clone()
        vectors[:, model.hidden_channels:model.hidden_channels + text_width] *= gain
        new_vectors[gain] = vectors
    lookups = _simulated_lookups(model, prepared, chosen, served.size(0)) or {}

    def cells(batch: Tensor) -> Iterator[tuple[str, Tensor]]:
        # Only the simulated new products' columns change with the text gain; the lookup gain moves every
        # column a little (the row's peak may change), so each is its own base.
        dots = users[batch] @ served.T
        chosen_dots = {gain: users[batch] @ vectors.T for gain, vectors in new_vectors.items()}
        bases = {None: dots} if not lookups else {
            lookup_gain: dots + lookup.scores([histories[u] for u in batch.tolist()])
            for lookup_gain, lookup in lookups.items()}
        for lookup_gain, base in bases.items():
            for gain, new_dots in chosen_dots.items():
                cell = base.clone()
                cell[:, chosen] = new_dots + (base[:, chosen] - dots[:, chosen])
                yield _cold_key(gain, lookup_gain), cell

    scores = _grid_ndcg(prepared, cells)
    best = largest_gain_within(scores, tolerance)
    text_gain, _, lookup_gain = best.partition("/")
    model.cold_text_gain.fill_(float(text_gain))
    model.cold_lookup_gain.fill_(float(lookup_gain or 0.0))
    return {"gain": float(text_gain), "lookup_gain": float(lookup_gain or 0.0), "tolerance": tolerance,
            "simulated_new_products": len(chosen), "valid_ndcg@10": scores}


def largest_gain_within(scores: dict[str, float], tolerance: float) -> str:
    """The cell (``"<text gain>[/<lookup gain>]"``) with the largest text gain whose score is within ``tolerance``
    (a share) of the best, then the largest lookup gain within it at that text gain: with 0, the best cell (the
    smaller gains on a tie)."""
    floor = max(scores.values()) * (1.0 - tolerance)

    def gains(key: str) -> tuple[float, ...]:
        return tuple(float(v) for v in key.split("/"))

    within = [k for k, v in scores.items() if v >= floor]
    if tolerance <= 0:
        return max(within, key=lambda k: (scores[k], *(-g for g in gains(k))))
    # The lent lookup columns are the other way new products are seen: within the price, the largest too.
    return max(within, key=lambda k: (*gains(k), scores[k]))


@torch.no_grad()
def choose_new_product_text(model: KGSASRec, prepared: Prepared, tolerance: float = 0.0) -> dict[str, Any] | None:
    """Where validation turned the text channel off, keep it for products with no trained id alone: try every
    (weight, decay) of :data:`NEW_TEXT_WEIGHT_GRID` x :data:`DECAY_GRID` (weights in units of the spread of the
    model's scores over the spread of the text cosines, as the text channel's) on validation with the simulated
    new products of :func:`choose_cold_text_gain`, set the chosen one as ``model.cold_text_weight`` and
    ``model.cold_text_decay`` and return the record. The rule is the text gain's: the largest weight whose cell
    is within ``tolerance`` of the best (with 0, the best, the smaller weight on a tie), then
    :data:`NEW_TEXT_REFINE_STEPS` halvings (in log scale) of the step to the next weight, which the grid's
    factor of 2 leaves too coarse for a price stated in percent. With the transition lookup on, the gain of the
    columns lent to new products (``model.cold_lookup_gain``) is then chosen at that weight
    (:func:`largest_lookup_gain_within`). ``None`` (left off) with the text channel on
    (the text gain is its new products' weight), no text, no ids or no history."""
    data, histories = prepared.graph_for("valid"), prepared.histories("valid")
    model.cold_text_weight.fill_(0.0)
    model.cold_text_decay.fill_(1.0)
    if (float(model.content_weight) > 0 or model.items.text_proj is None or "x" not in data["product"]
            or not any(len(h) for h in histories)):
        return None
    model.eval()
    simulated = simulated_new_products(model, prepared)
    if simulated is None:
        return None
    chosen, without_ids = simulated
    served = model.served_item_vectors(data, histories=histories)
    users = model.user_vectors(served, histories)
    new_vectors = _as_new_products(model, prepared, chosen, without_ids)
    lookups = _simulated_lookups(model, prepared, chosen, served.size(0)) or {}
    text = F.normalize(data["product"].x.float(), dim=1)
    unit = {g: model.history_text(text, histories, decay=g) for g in DECAY_GRID}
    sample = _sample_users(histories)
    spread_ratio = _spread(users[sample], served) / max(_spread(unit[DECAY_GRID[-1]][sample], text), 1e-12)

    def evaluate(pairs: list[tuple[float, float]], lookup_gain: float = 0.0) -> dict[str, float]:
        lookup = lookups.get(lookup_gain)

        def cells(batch: Tensor) -> Iterator[tuple[str, Tensor]]:
            dots = users[batch] @ served.T
            base = dots if lookup is None else dots + lookup.scores([histories[u] for u in batch.tolist()])
            new_scores = users[batch] @ new_vectors.T + (base[:, chosen] - dots[:, chosen])
            for gamma in sorted({g for _, g in pairs}):
                cosines = unit[gamma][batch] @ text[chosen].T
                for relative in (w for w, g in pairs if g == gamma):
                    cell = base.clone()
                    cell[:, chosen] = new_scores + (relative * spread_ratio) * cosines
                    yield cell_key(relative, gamma), cell
        return _grid_ndcg(prepared, cells)

    scores = evaluate([(w, g) for g in DECAY_GRID for w in NEW_TEXT_WEIGHT_GRID])
    relative, gamma = largest_weight_within(scores, tolerance)
    if tolerance > 0 and relative < NEW_TEXT_WEIGHT_GRID[-1]:
        relative = _refined_weight(evaluate, scores, relative, gamma, tolerance)
    model.cold_text_weight.fill_(relative * spread_ratio)
    model.cold_text_decay.fill_(gamma if relative > 0 else 1.0)
    chosen_cell = cell_key(relative, gamma)
    # Gain 0 is the lookup every cell above was scored with: its figure is already there.
    lent = {gain: scores[chosen_cell] if gain == 0 else evaluate([(relative, gamma)], gain)[chosen_cell]
            for gain in lookups}
    lookup_gain = largest_lookup_gain_within(lent, max(scores.values()), tolerance) if lent else 0.0
    model.cold_lookup_gain.fill_(lookup_gain)
    return {"weight": round(relative * spread_ratio, 6), "relative_weight": relative, "decay": gamma,
            "spread_ratio": round(spread_ratio, 6), "tolerance": tolerance, "simulated_new_products": len(chosen),
            "valid_ndcg@10": scores, "lookup_gain": lookup_gain,
            "lookup_valid_ndcg@10": {f"{gain:g}": figure for gain, figure in lent.items()}}


def largest_lookup_gain_within(scores: dict[float, float], best: float, tolerance: float) -> float:
    """The lookup gain lent to new products (``scores``: validation NDCG@10 per gain at the chosen text weight):
    with a ``tolerance``, the largest whose figure is within it of ``best`` (the best cell of the whole search;
    the lent columns are the other way new products are seen, so they get the text weight's price); with 0,
    the best (the smaller gain on a tie). 0 when no gain is within it."""
    if tolerance <= 0:
        return max(scores, key=lambda gain: (scores[gain], -gain))
    floor = max(best, *scores.values()) * (1.0 - tolerance)
    return max((gain for gain, figure in scores.items() if figure >= floor), default=0.0)


def largest_weight_within(scores: dict[str, float], tolerance: float) -> tuple[float, float]:
    """(weight, decay) of the ``"<weight>@<decay>"`` cell with the largest weight whose score is within
    ``tolerance`` (a share) of the best, the better score among equals; with 0, :func:`_best_cell`."""
    if tolerance <= 0:
        return _best_cell(scores)
    floor = max(scores.values()) * (1.0 - tolerance)
    cells = [(float(w), float(g), v) for k, v in scores.items() if v >= floor for w, g in [k.split("@")]]
    weight, gamma, _ = max(cells, key=lambda c: (c[0], c[2], -c[1]))
    return weight, gamma


def _refined_weight(evaluate: Callable[[list[tuple[float, float]]], dict[str, float]], scores: dict[str, float],
                    weight: float, gamma: float, tolerance: float) -> float:
    """The largest weight within ``tolerance`` of the best cell found by :data:`NEW_TEXT_REFINE_STEPS` log-scale
    bisections between ``weight`` (within it) and the grid's next weight (not); the cells tried join ``scores``."""
    floor = max(scores.values()) * (1.0 - tolerance)
    low = weight
    high = min(w for w in NEW_TEXT_WEIGHT_GRID if w > weight)
    for _ in range(NEW_TEXT_REFINE_STEPS):
        middle = round(float(np.sqrt(low * high)) if low > 0 else high / 2, 6)
        key = cell_key(middle, gamma)
        scores.update(evaluate([(middle, gamma)]))
        low, high = (middle, high) if scores[key] >= floor else (low, middle)
    return low


def _cold_key(gain: float, lookup_gain: float | None) -> str:
    """A cell's name: the text gain, then ``/`` and the lookup gain when the lookup is on."""
    return f"{gain:g}" if lookup_gain is None else f"{gain:g}/{lookup_gain:g}"


def calibrate(model: KGSASRec, prepared: Prepared, *, cold_gain_tolerance: float = 0.0,
              grid_steps: int = 0) -> dict[str, Any]:
    """The eight calibrations, in order (the text channel is chosen with cold products already on scale, the
    co-interaction channel on top of it, the attribute channel on top of both, the transition channel on top of
    the three, the transition lookup on top of the four, the new products' text gain once all are set, or, with
    the text channel off, the new products' own text channel); the
    record is kept on ``model.calibration`` for the bundle's metrics. ``grid_steps``: how far each channel's grid
    may grow past an edge its best cell sits on (:func:`extended_grid_scores`)."""
    record: dict[str, Any] = {"cold_scale": fit_cold_scale(model, prepared),
                              "text_channel": choose_text_channel(model, prepared, grid_steps=grid_steps)}
    record["cointeraction_channel"] = choose_cointeraction_channel(model, prepared, grid_steps=grid_steps)
    record["attribute_channel"] = choose_attribute_channel(model, prepared, grid_steps=grid_steps)
    record["transition_channel"] = choose_transition_channel(model, prepared, grid_steps=grid_steps)
    record["transition_lookup"] = choose_transition_lookup(model, prepared)
    record["cold_text_gain"] = choose_cold_text_gain(model, prepared, cold_gain_tolerance)
    record["new_product_text"] = choose_new_product_text(model, prepared, cold_gain_tolerance)
    model.calibration = record
    return record
