"""Layer 0 of the ``gnn`` encoders: every node type's input representation, before any message passing.

Both encoders (:mod:`gnn.models.kg_lightgcn`, :mod:`gnn.models.hetero_sage`) start from the same inputs:

- ``product``: ``Linear(text embedding)`` plus, optionally, a learned id embedding that counts only for
  *warm* products (multiplied by ``product.warm``), so products withheld from training, and products added
  after it, are represented by text and graph alone;
- ``entity``: ``Linear(text embedding)`` when text is available, else a learned embedding;
- every other node type (``user``, ``brand``, ``category``): a learned id embedding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, cast

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import NodeType

TextInput = Literal["add", "missing_id"]
TextInit = Literal["default", "zeros"]


class InputLayer(torch.nn.Module):
    r"""Id embeddings and text projections of every node type, summed per node.

    Args:
        node_types: the graph's node types.
        num_nodes: node type -> number of nodes at training time (sizes the id embeddings).
        text_dims: node type -> text feature width, for the node types that carry ``x``.
        hidden_channels: width of every representation.
        use_text: project text features; ``False`` = id embeddings for every node type.
        product_id_embedding: give products an id embedding besides their projected text (without text
            they always have one).
        id_dropout: while training, probability of dropping a warm product's id embedding, so that the text
            path learns to carry the signal on its own.
        text_input: ``"add"``: a product's representation is its id embedding plus its projected text;
            ``"missing_id"``: the projected text only where the product has no id embedding (cold, new, or
            id-dropped while training), so warm products are represented as in LightGCN.
        text_init: initialisation of the text projections: ``"default"`` (:class:`torch.nn.Linear`'s) or
            ``"zeros"`` (the text enters only as far as training finds it helps).

    Id embeddings are ``emb.<node type>``, text projections ``proj.<node type>``: the parameter names that
    bundles, :func:`gnn.warm_start.warm_start` and ``TrainConfig.text_lr`` rely on.

    Like the modules it holds, this one is initialised on construction without :meth:`reset_parameters`:
    the owning encoder calls it (first, before its own layers), which keeps the random number stream, and so
    the result of a seeded run, what it was before this layer was factored out.

    Shapes:
        - input: a :class:`HeteroData` with ``num_nodes`` per type, ``x`` ``[N_t, text_dims[t]]`` for text
          node types, ``product.warm`` ``[P]`` bool and optionally ``node_id`` ``[N_t]`` (the id-embedding
          row; absent: ``arange(N_t)``). Ids beyond ``num_nodes[t]`` (nodes added after training) get no id
          embedding.
        - output: node type -> ``[N_t, hidden_channels]``.
    """

    def __init__(
        self,
        node_types: Sequence[NodeType],
        num_nodes: Mapping[NodeType, int],
        text_dims: Mapping[NodeType, int],
        hidden_channels: int,
        *,
        use_text: bool = True,
        product_id_embedding: bool = True,
        id_dropout: float = 0.0,
        text_input: TextInput = "add",
        text_init: TextInit = "default",
    ) -> None:
        super().__init__()
        self.node_types = list(node_types)
        self.hidden_channels = hidden_channels
        self.id_dropout = id_dropout
        self.text_input = text_input
        self.text_init = text_init
        self.text_types = sorted(t for t in text_dims if use_text and t in self.node_types)
        self.proj = torch.nn.ModuleDict({t: torch.nn.Linear(text_dims[t], hidden_channels) for t in self.text_types})
        id_types = {t for t in self.node_types if t not in self.text_types}
        if "product" in self.text_types and product_id_embedding:
            id_types.add("product")
        self.emb = torch.nn.ModuleDict({t: torch.nn.Embedding(num_nodes[t], hidden_channels) for t in sorted(id_types)})

    def reset_parameters(self) -> None:
        for lin in self.proj.values():
            lin = cast(torch.nn.Linear, lin)
            if self.text_init == "zeros":
                torch.nn.init.zeros_(lin.weight)
                torch.nn.init.zeros_(lin.bias)
            else:
                lin.reset_parameters()
        for emb in self.emb.values():
            torch.nn.init.normal_(cast(torch.nn.Embedding, emb).weight, std=0.1)

    def forward(self, data: HeteroData) -> dict[NodeType, Tensor]:
        """Layer-0 representation of every node type, ``[N_t, hidden_channels]``."""
        h: dict[NodeType, Tensor] = {}
        for t in self.node_types:
            parts: list[Tensor] = []
            keep: Tensor | None = None
            if t in self.emb:
                e, keep = self._id_embedding(data, t)
                parts.append(e * keep.to(e.dtype).unsqueeze(-1))
            if t in self.text_types:
                text = self.proj[t](data[t].x)
                if self.text_input == "missing_id" and keep is not None:
                    text = text * (~keep).to(text.dtype).unsqueeze(-1)
                parts.append(text)
            h[t] = torch.stack(parts).sum(0) if len(parts) > 1 else parts[0]
        return h

    def _id_embedding(self, data: HeteroData, t: NodeType) -> tuple[Tensor, Tensor]:
        """``(id embeddings [N_t, hidden_channels], keep [N_t] bool)``: ``keep`` marks the rows that count."""
        n = int(data[t].num_nodes)
        ids = data[t].node_id if "node_id" in data[t] else torch.arange(n)
        emb = cast(torch.nn.Embedding, self.emb[t])
        keep = ids < emb.num_embeddings  # nodes added after training have no id embedding
        e = emb(torch.where(keep, ids, torch.zeros_like(ids)))
        if t == "product":
            keep = keep & data[t].warm
            if self.training and self.id_dropout > 0:
                keep = keep & (torch.rand(n) >= self.id_dropout)
        return e, keep
