"""Products' knowledge-graph attributes as fixed-width rows: the fourth channel of the sequence model
(:class:`gnn.models.kg_sasrec.KGSASRec`).

A product's row is the sum of one fixed random Gaussian vector per attribute node it links to over the chosen
relations (``made_by``: its brand; ``in_category``, ``mentions``), ``k`` wide. Random projection keeps inner
products (Johnson-Lindenstrauss): two products with the same brand have rows whose dot product is about 1, two
with different brands about 0 (spread ``1 / sqrt(k)``), so a history's decayed sum of rows dotted with a
product's row counts how much of the history shares the product's attributes, with no table as wide as the
number of brands. The attribute vectors depend only on the node's index and a fixed seed: a product added after
training gets its row from its own edges, with nothing to fit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

#: The seed of the attribute vectors (fixed: the rows of a product must not change between graphs).
ATTRIBUTE_SEED = 20261204


def attribute_vectors(node_type: str, count: int, width: int) -> Tensor:
    """``[count, width]`` the fixed random vectors of ``node_type``'s nodes (entries ``N(0, 1 / width)``): node
    ``i`` always gets the same vector, whatever ``count`` is."""
    seed = [ATTRIBUTE_SEED, *node_type.encode("utf-8")]
    rng = np.random.default_rng(seed)
    # Drawn in fixed blocks, so that a graph with more nodes extends the table instead of redrawing it.
    block = 1024
    blocks = [rng.standard_normal((block, width)) for _ in range(-(-max(count, 1) // block))]
    return torch.from_numpy(np.concatenate(blocks)[:count] / np.sqrt(width)).float()


def attribute_rows(data: HeteroData, relations: list[str], width: int) -> Tensor:
    """``[P, width]`` each product's sum of the vectors of the nodes it links to over ``relations``
    (``(product, relation, *)`` edge types of ``data``); a zero row for a product with none."""
    num_products = int(data["product"].num_nodes)
    out = torch.zeros(num_products, width)
    for src, rel, dst in data.edge_types:
        if src != "product" or rel not in relations:
            continue
        edges = data[src, rel, dst].edge_index
        vectors = attribute_vectors(dst, int(data[dst].num_nodes), width)
        out.index_add_(0, edges[0], vectors[edges[1]])
    return out
