"""A snapshot with its split and the graphs every model reads: built once, shared by every model trained on it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from torch_geometric.data import HeteroData

from gnn.config import TrainConfig
from gnn.data import (
    COPURCHASE_RELATIONS,
    ITEM_RELATIONS,
    GraphSnapshot,
    Phase,
    Split,
    set_interactions,
    to_hetero_data,
    user_histories,
)
from gnn.models.registry import ModelShape


@dataclass
class Prepared:
    """A snapshot with its split and its train message-passing graph (shared by every model)."""

    snapshot: GraphSnapshot
    split: Split
    data: HeteroData
    _graphs: dict[str, HeteroData] = field(default_factory=dict, repr=False)
    _histories: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)

    def graph_for(self, phase: Phase) -> HeteroData:
        """The message-passing graph a model reads when it ranks for ``phase``: the train graph for validation,
        with the valid interactions added for the test, with every warm interaction for serving
        (:meth:`gnn.data.Split.known`). Trained on ``data``; only the input edges differ."""
        if phase == "valid":
            return self.data
        if phase not in self._graphs:
            graph = copy.copy(self.data)
            set_interactions(graph, self.split.known(phase))
            self._graphs[phase] = graph
        return self._graphs[phase]

    def histories(self, phase: Phase) -> list[np.ndarray]:
        """Per user, the ordered product indexes known when ranking for ``phase`` (sequence models' input)."""
        if phase not in self._histories:
            self._histories[phase] = user_histories(self.snapshot, self.split, phase)
        return self._histories[phase]

    @property
    def shape(self) -> ModelShape:
        """What sizes a model trained on this graph (a bundle's ``model_meta.json``)."""
        return ModelShape.of_graph(self.data, self.snapshot.num_users, self.snapshot.num_products)

    @property
    def text_dims(self) -> dict[str, int]:
        """Node type -> text feature width, for the node types that carry text."""
        return dict(self.shape.text_dims)


def prepare_split(snapshot: GraphSnapshot, split: Split,
                  text_features: np.ndarray | Mapping[str, np.ndarray] | None, config: TrainConfig) -> Prepared:
    """The train graph of a given ``split`` with every graph option of ``config`` (the one place that maps
    config fields to :func:`to_hetero_data` arguments; :func:`gnn.pipeline.prepare_with_text` uses it too)."""
    relations = [r for r in ITEM_RELATIONS if config.copurchase or r not in COPURCHASE_RELATIONS]
    return Prepared(snapshot, split, to_hetero_data(snapshot, split, text_features, relations=relations,
                                                    min_entity_degree=config.min_entity_degree))


