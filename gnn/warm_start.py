"""Warm start: initialise a model for a changed graph from the weights of the current bundle.

After a catalog update the graph has new nodes (and maybe fewer), so the id-embedding tables change size and
order. Every other parameter (text projections, relation weights) has the same shape and carries over as is.
Id-embedding rows are matched by node id through both bundles' id maps: a node that existed keeps its learned
row, a new node keeps its fresh initialisation (its layer 0 is then its text projection and what its
neighbours send, exactly as for an inductive embedding).

Id-embedding tables are recognised by name, ``[<module>.]emb.<node type>.weight`` (the convention of every
model in :mod:`gnn.models`); any other parameter whose shape changed is left freshly initialised and reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class WarmStartReport:
    """What :func:`warm_start` carried over."""

    copied: list[str] = field(default_factory=list)
    remapped: dict[str, tuple[int, int]] = field(default_factory=dict)
    """``emb.<type>.weight`` -> (rows carried over by id, rows of the new table)."""
    fresh: list[str] = field(default_factory=list)


def _embedding_type(key: str, id_maps: Mapping[str, Sequence[str]]) -> str | None:
    parts = key.split(".")
    if len(parts) >= 3 and parts[-3] == "emb" and parts[-1] == "weight" and parts[-2] in id_maps:
        return parts[-2]
    return None


def warm_start(model: torch.nn.Module, old_state: Mapping[str, Tensor], old_ids: Mapping[str, Sequence[str]],
               new_ids: Mapping[str, Sequence[str]]) -> WarmStartReport:
    """Load what ``old_state`` (trained with ``old_ids``) can give into ``model`` (built for ``new_ids``).

    Args:
        model: freshly initialised for the new graph.
        old_state: the current bundle's ``state_dict``.
        old_ids / new_ids: node type -> ids in index order, of the old and the new graph.
    """
    report = WarmStartReport()
    state = model.state_dict()
    with torch.no_grad():
        for key, target in state.items():
            old = old_state.get(key)
            node_type = _embedding_type(key, new_ids)
            if old is not None and node_type is not None and node_type in old_ids:
                position = {node_id: i for i, node_id in enumerate(old_ids[node_type])}
                pairs = [(i, position[n]) for i, n in enumerate(new_ids[node_type]) if n in position]
                pairs = [(i, j) for i, j in pairs if j < old.size(0)]  # rows beyond an old table: none to copy
                if pairs and old.shape[1:] == target.shape[1:]:
                    rows = torch.tensor(pairs, dtype=torch.long)
                    target[rows[:, 0]] = old[rows[:, 1]].to(target.dtype)
                report.remapped[key] = (len(pairs), target.size(0))
            elif old is not None and old.shape == target.shape:
                target.copy_(old)
                report.copied.append(key)
            else:
                report.fresh.append(key)
    model.load_state_dict(state)
    return report
