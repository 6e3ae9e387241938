"""Heterogeneous GraphSAGE encoder with text features, dot-product decoder (trained with BPR).

Node inputs (all projected to ``hidden_channels``; :class:`~gnn.models.input_layer.InputLayer`):

- ``product``: ``Linear(text embedding)`` plus, optionally, a learned id embedding. The id embedding is
  multiplied by ``product.warm``, so products withheld from training (and products added after it) are
  represented by text and graph alone; ``id_dropout`` drops it for random warm products while training
  so the text path learns to carry the signal on its own.
- ``entity``: ``Linear(text embedding)`` when text is available, else a learned embedding.
- ``user``, ``brand``, ``category``: learned id embeddings.

With ``use_text=False`` every node type uses learned id embeddings only (the "GNN without text" ablation:
cold products then start from zero and get only what their brand / category / co-purchase neighbours send).

The encoder is ``num_layers`` rounds of :class:`~torch_geometric.nn.HeteroConv` over one
:class:`~torch_geometric.nn.SAGEConv` per edge type (sum over edge types), or, with
``conv="to_hetero"``, :func:`~torch_geometric.nn.to_hetero` applied to a homogeneous SAGE stack.
The output of a node is the mean of its representations after each layer (layer 0 included), which keeps
the id signal of layer 0 and the neighbourhood signal of deeper layers, as LightGCN does.
"""

from __future__ import annotations

from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn import HeteroConv, SAGEConv, to_hetero
from torch_geometric.typing import EdgeType, Metadata, NodeType

from gnn.models.input_layer import InputLayer

ConvKind = Literal["heteroconv", "to_hetero"]


class HeteroSAGERecommender(torch.nn.Module):
    r"""User -> product link prediction over the heterogeneous knowledge graph.

    Args:
        metadata: ``(node_types, edge_types)`` of the graph (``data.metadata()``).
        num_nodes: node type -> number of nodes (sizes the id embeddings).
        text_dims: node type -> text feature width, for the node types that carry ``x`` (product, entity).
        hidden_channels: width of every layer and of the output embeddings.
        num_layers: message-passing rounds.
        use_text: project text features; ``False`` = id embeddings only.
        product_id_embedding: add a learned id embedding to warm products' text projection.
        id_dropout: while training, probability of dropping a warm product's id embedding.
        dropout: dropout between layers.
        conv: ``"heteroconv"`` or ``"to_hetero"`` (see module docstring).

    Shapes:
        - input: a :class:`HeteroData` with ``num_nodes`` per type, ``x`` ``[N_t, text_dims[t]]`` for text
          node types, ``product.warm`` ``[P]`` bool, ``edge_index`` ``[2, E]`` per edge type.
        - :meth:`forward`: node type -> ``[N_t, hidden_channels]``.
        - :meth:`embed`: ``(users [U, hidden_channels], products [P, hidden_channels])``.
    """

    #: Layer 0. Held outside the module tree: its ``proj`` / ``emb`` are registered on this module directly,
    #: so the state_dict keys stay ``proj.<type>.*`` / ``emb.<type>.weight``, those of every saved bundle.
    layer0: InputLayer

    def __init__(
        self,
        metadata: Metadata,
        num_nodes: dict[NodeType, int],
        text_dims: dict[NodeType, int],
        hidden_channels: int = 64,
        num_layers: int = 2,
        *,
        use_text: bool = True,
        product_id_embedding: bool = True,
        id_dropout: float = 0.0,
        dropout: float = 0.0,
        conv: ConvKind = "heteroconv",
    ) -> None:
        super().__init__()
        self.node_types, self.edge_types = list(metadata[0]), [tuple(e) for e in metadata[1]]
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.conv_kind = conv
        layer0 = InputLayer(self.node_types, num_nodes, text_dims, hidden_channels, use_text=use_text,
                            product_id_embedding=product_id_embedding, id_dropout=id_dropout)
        self.proj, self.emb = layer0.proj, layer0.emb
        object.__setattr__(self, "layer0", layer0)  # see the class attribute's comment
        if conv == "heteroconv":
            self.convs = torch.nn.ModuleList(
                HeteroConv({et: SAGEConv(hidden_channels, hidden_channels) for et in self.edge_types}, aggr="sum")
                for _ in range(num_layers)
            )
            self.hetero_gnn: torch.nn.Module | None = None
        elif conv == "to_hetero":
            self.convs = torch.nn.ModuleList()
            base = _JKSage(hidden_channels, num_layers, dropout)
            self.hetero_gnn = to_hetero(base, (self.node_types, self.edge_types), aggr="sum")
        else:
            raise ValueError(f"unknown conv {conv!r}")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.layer0.reset_parameters()
        for conv in self.convs:
            cast(HeteroConv, conv).reset_parameters()
        if self.hetero_gnn is not None:
            for module in self.hetero_gnn.modules():
                reset = getattr(module, "reset_parameters", None)
                if module is not self.hetero_gnn and callable(reset):
                    reset()

    def inputs(self, data: HeteroData) -> dict[NodeType, Tensor]:
        """Layer-0 representation of every node type, ``[N_t, hidden_channels]``."""
        self.layer0.train(self.training)  # not a submodule, so train() / eval() do not reach it
        return self.layer0(data)

    def forward(self, data: HeteroData) -> dict[NodeType, Tensor]:
        """Encode every node: node type -> ``[N_t, hidden_channels]``."""
        h = self.inputs(data)
        edge_index_dict: dict[EdgeType, Tensor] = {et: data[et].edge_index for et in self.edge_types}
        if self.hetero_gnn is not None:
            out: dict[NodeType, Tensor] = self.hetero_gnn(h, edge_index_dict)
            return out
        layers = {t: [x] for t, x in h.items()}
        for i, conv in enumerate(self.convs):
            new = conv(h, edge_index_dict)
            for t in h:  # node types no edge type points to keep their representation
                x = new.get(t, h[t])
                if i < self.num_layers - 1:
                    x = F.dropout(F.relu(x), p=self.dropout, training=self.training)
                new[t] = x
            h = new
            for t, x in h.items():
                layers[t].append(x)
        return {t: torch.stack(xs).mean(0) for t, xs in layers.items()}

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """``(user embeddings [U, d], product embeddings [P, d])``; score = their dot product."""
        out = self.forward(data)
        return out["user"], out["product"]


class _JKSage(torch.nn.Module):
    """Homogeneous GraphSAGE with mean-over-layers output, for :func:`to_hetero` (forward arg must be
    called ``edge_index``)."""

    def __init__(self, hidden_channels: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList(SAGEConv(hidden_channels, hidden_channels) for _ in range(num_layers))
        self.num_layers = num_layers

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        xs = [x]
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if i < self.num_layers - 1:
                x = F.relu(x)
            xs.append(x)
        return torch.stack(xs).mean(0)
