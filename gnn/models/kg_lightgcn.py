"""LightGCN over the whole knowledge graph, with text: the default ``gnn`` encoder ("LightGCN + KG + text").

Why this encoder (measured on amazon-beauty, see docs/gnn.md): the heterogeneous GraphSAGE encoder
(:mod:`gnn.models.hetero_sage`) reached test NDCG@10 0.0098 against LightGCN's 0.0203. Its per-relation
weight matrices and non-linearities overfit the sparse interaction signal, and its un-normalised sum over
relations lets the dense co-purchase and category relations drown the user-product one. LightGCN's
parameter-free, degree-normalised propagation is what works for collaborative filtering; this module keeps
it and adds what LightGCN cannot see: the brand / category / entity / co-purchase edges, and the text.
On the sample, this encoder without text beats LightGCN on warm items and every model on cold ones; with text
it needs a slow text projection (``TrainConfig.text_lr``, starting from zero) not to lose warm quality.

Layer 0 (all ``hidden_channels`` wide; :class:`~gnn.models.input_layer.InputLayer`):

- ``product``: ``Linear(text embedding)`` (initialised to zero; ``text_input="missing_id"`` uses it only
  where there is no id embedding) plus a learned id embedding for *warm* products only (multiplied
  by ``product.warm``), so products withheld from training, and products added after it, are represented by
  text and graph alone; ``id_dropout`` drops warm products' id embedding at random while training so that
  the text path learns to carry the signal on its own;
- ``entity``: ``Linear(text embedding)`` when text is available, else a learned embedding;
- ``user``, ``brand``, ``category``: learned id embeddings.

Layer ``l + 1``, for each node type ``t``: ``h_t = sum_r a_{t,r} * A_r h_{src(r)}``, over the relations ``r``
pointing to ``t``. ``A_r`` is the relation's adjacency with LightGCN's symmetric normalisation
``1 / sqrt(deg_dst(i) * deg_src(j))`` (degrees within the relation), so no relation dominates by its
density. ``a_{t,.}`` is a softmax over the relations into ``t`` of learned logits (``relation_weights=
"learned"``; an attention over edge types with one weight per type), or uniform (``"mean"``), renormalised
per node over the relations in which that node has an edge: a cold product without user edges still gets a
full-strength message from its brand, category and co-purchase neighbours. No weight matrix and no
non-linearity between layers. The output of a node is the mean of its layers ``0..L``, as in LightGCN.

Without text (``use_text=False``) every node type starts from a learned id embedding: the "GNN without text"
ablation (cold products start from zero and get only what their neighbours send).
"""

from __future__ import annotations

import warnings
from typing import Literal, cast

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import EdgeType, Metadata, NodeType

from gnn.models.input_layer import InputLayer, TextInput

RelationWeights = Literal["learned", "mean"]


def normalized_adjacency(edge_index: Tensor, num_src: int, num_dst: int) -> tuple[Tensor, Tensor]:
    """``(A [num_dst, num_src] sparse CSR, has_edge [num_dst] bool)``; ``A[i, j] = 1 / sqrt(deg(i) deg(j))``.

    Degrees are counted within this edge list only (in-degree of destinations, out-degree of sources).
    Duplicate edges count once per copy, as in LightGCN.
    """
    src, dst = edge_index[0], edge_index[1]
    ones = torch.ones(src.numel())
    deg_src = torch.zeros(num_src).index_add_(0, src, ones)
    deg_dst = torch.zeros(num_dst).index_add_(0, dst, ones)
    value = (deg_dst[dst] * deg_src[src]).rsqrt()
    adj = torch.sparse_coo_tensor(torch.stack([dst, src]), value, (num_dst, num_src), check_invariants=False)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": CSR is what spmm is fastest on
        warnings.simplefilter("ignore", UserWarning)
        return adj.coalesce().to_sparse_csr(), deg_dst > 0


class KGLightGCNRecommender(torch.nn.Module):
    r"""User -> product link prediction with LightGCN propagation over every relation of the graph.

    Layer 0 is an :class:`~gnn.models.input_layer.InputLayer` with zero-initialised text projections.

    Args:
        metadata: ``(node_types, edge_types)`` of the graph (``data.metadata()``).
        num_nodes: node type -> number of nodes (sizes the id embeddings).
        text_dims: node type -> text feature width, for the node types that carry ``x`` (product, entity).
        hidden_channels: embedding width.
        num_layers: propagation rounds.
        use_text: project text features; ``False`` = id embeddings only.
        product_id_embedding: add a learned id embedding to warm products' text projection.
        id_dropout: while training, probability of dropping a warm product's id embedding.
        relation_weights: ``"learned"`` (softmax over relations per node type) or ``"mean"``.
        relations: relation names to propagate over (``None``: all); e.g. ``("interacts", "rev_interacts")``
            is plain LightGCN on the user-product graph.
        text_input: ``"add"``: a product's layer 0 is its id embedding plus its projected text;
            ``"missing_id"``: the projected text only where the product has no id embedding (cold, new, or
            id-dropped while training), so warm products are represented as in LightGCN.

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
        relation_weights: RelationWeights = "learned",
        relations: tuple[str, ...] | None = None,
        text_input: TextInput = "add",
    ) -> None:
        super().__init__()
        self.node_types = list(metadata[0])
        self.edge_types: list[EdgeType] = [
            cast(EdgeType, tuple(e)) for e in metadata[1] if relations is None or e[1] in relations
        ]
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.relation_weights = relation_weights
        # Zero text projections: training starts as LightGCN over the KG and the text enters as far as it helps.
        # A random projection of MiniLM vectors (which share a large common direction) made every product look
        # alike and cost most of the warm ranking quality (docs/gnn.md).
        layer0 = InputLayer(self.node_types, num_nodes, text_dims, hidden_channels, use_text=use_text,
                            product_id_embedding=product_id_embedding, id_dropout=id_dropout,
                            text_input=text_input, text_init="zeros")
        self.proj, self.emb = layer0.proj, layer0.emb
        object.__setattr__(self, "layer0", layer0)  # see the class attribute's comment
        # One logit per relation, grouped by destination type; zeros = uniform weights.
        self.targets = sorted({et[2] for et in self.edge_types})
        self.rel_logits = torch.nn.ParameterDict({
            t: torch.nn.Parameter(torch.zeros(sum(1 for et in self.edge_types if et[2] == t)),
                                  requires_grad=relation_weights == "learned")
            for t in self.targets
        })
        self._adj_cache: tuple[list[Tensor], tuple[int, ...], dict[EdgeType, tuple[Tensor, Tensor]]] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.layer0.reset_parameters()
        for p in self.rel_logits.values():
            torch.nn.init.zeros_(p)

    def inputs(self, data: HeteroData) -> dict[NodeType, Tensor]:
        """Layer-0 representation of every node type, ``[N_t, hidden_channels]``."""
        self.layer0.train(self.training)  # not a submodule, so train() / eval() do not reach it
        return self.layer0(data)

    def adjacency(self, data: HeteroData) -> dict[EdgeType, tuple[Tensor, Tensor]]:
        """Normalised adjacency and has-edge mask per relation, cached while ``data``'s edges are unchanged."""
        present = [et for et in self.edge_types if et in data.edge_types]
        # Keyed by the edge tensors themselves (held, so compared by identity safely) and the node counts.
        edges = [data[et].edge_index for et in present]
        counts = tuple(int(data[t].num_nodes) for t in self.node_types)
        cached = self._adj_cache
        if (cached is None or cached[1] != counts or len(cached[0]) != len(edges)
                or any(a is not b for a, b in zip(cached[0], edges, strict=True))):
            adj = {et: normalized_adjacency(data[et].edge_index, int(data[et[0]].num_nodes),
                                            int(data[et[2]].num_nodes)) for et in present}
            cached = self._adj_cache = (edges, counts, adj)
        return cached[2]

    def _relation_weights(self, target: NodeType, rels: list[EdgeType],
                          adj: dict[EdgeType, tuple[Tensor, Tensor]], n: int) -> list[Tensor]:
        """Per relation, ``[n, 1]`` weights: softmax of the logits, renormalised over each node's relations."""
        all_rels = [et for et in self.edge_types if et[2] == target]
        w = torch.softmax(self.rel_logits[target], dim=0)
        per_rel = [w[all_rels.index(et)] * adj[et][1].to(w.dtype) for et in rels]
        total = torch.stack(per_rel).sum(0).clamp_min(1e-12)
        return [(p / total).unsqueeze(-1) for p in per_rel]

    def forward(self, data: HeteroData) -> dict[NodeType, Tensor]:
        """Encode every node: node type -> ``[N_t, hidden_channels]``."""
        return self.encode(data)[0]

    def encode(self, data: HeteroData) -> tuple[dict[NodeType, Tensor], dict[NodeType, Tensor]]:
        """``(outputs, layer 0)``, each node type -> ``[N_t, hidden_channels]``."""
        h0 = h = self.inputs(data)
        adj = self.adjacency(data)
        into = {t: [et for et in adj if et[2] == t] for t in self.targets}
        weights = {t: self._relation_weights(t, rels, adj, int(data[t].num_nodes)) for t, rels in into.items() if rels}
        layers = {t: [x] for t, x in h.items()}
        for _ in range(self.num_layers):
            new: dict[NodeType, Tensor] = {}
            for t, x in h.items():
                rels = into.get(t, [])
                if not rels:
                    new[t] = x  # no relation points here: keep the representation
                    continue
                messages = [w * (adj[et][0] @ h[et[0]]) for et, w in zip(rels, weights[t], strict=True)]
                new[t] = torch.stack(messages).sum(0)
            h = new
            for t, x in h.items():
                layers[t].append(x)
        return {t: torch.stack(xs).mean(0) for t, xs in layers.items()}, h0

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """``(user embeddings [U, d], product embeddings [P, d])``; score = their dot product."""
        out = self.forward(data)
        return out["user"], out["product"]

    def embed_with_inputs(self, data: HeteroData) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """:meth:`embed` plus the layer-0 user and product representations (what ``reg_on="input"`` penalises)."""
        out, h0 = self.encode(data)
        return out["user"], out["product"], h0["user"], h0["product"]

    def relation_weight_table(self) -> dict[str, dict[str, float]]:
        """The learned softmax weight of each relation, per destination node type (for reports)."""
        out: dict[str, dict[str, float]] = {}
        for t in self.targets:
            w = torch.softmax(self.rel_logits[t].detach(), dim=0)
            rels = [et for et in self.edge_types if et[2] == t]
            out[t] = {et[1]: float(v) for et, v in zip(rels, w, strict=True)}
        return out
