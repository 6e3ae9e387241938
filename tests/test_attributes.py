"""The attribute channel: random-projection rows of products' brands (hand-checked properties)."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from gnn.attributes import attribute_rows, attribute_vectors
from gnn.models.kg_sasrec import KGSASRec


def _graph(num_products: int = 4) -> HeteroData:
    data = HeteroData()
    data["product"].num_nodes = num_products
    data["product"].x = torch.randn(num_products, 3, generator=torch.Generator().manual_seed(0))
    data["brand"].num_nodes = 3
    data["category"].num_nodes = 2
    # products 0 and 1: brand 0; product 2: brand 1; product 3: no brand. Categories: 0, 0, 1, 1.
    data["product", "made_by", "brand"].edge_index = torch.tensor([[0, 1, 2], [0, 0, 1]])
    data["product", "in_category", "category"].edge_index = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
    return data


def test_a_products_row_is_the_vector_of_its_brand() -> None:
    rows = attribute_rows(_graph(), ["made_by"], 64)
    brands = attribute_vectors("brand", 3, 64)
    torch.testing.assert_close(rows[0], brands[0])
    torch.testing.assert_close(rows[1], brands[0])
    torch.testing.assert_close(rows[2], brands[1])
    assert not rows[3].any()  # no brand: no row
    both = attribute_rows(_graph(), ["made_by", "in_category"], 64)
    torch.testing.assert_close(both[0], brands[0] + attribute_vectors("category", 2, 64)[0])


def test_attribute_vectors_are_fixed_and_nearly_orthogonal() -> None:
    small, large = attribute_vectors("brand", 3, 256), attribute_vectors("brand", 2000, 256)
    torch.testing.assert_close(small, large[:3])  # a bigger graph extends the table, never redraws it
    assert not torch.allclose(attribute_vectors("category", 3, 256), small)
    gram = large @ large.T
    off_diagonal = gram[~torch.eye(2000, dtype=torch.bool)]
    assert abs(float(gram.diagonal().mean()) - 1) < 0.05 and float(off_diagonal.std()) < 2 / np.sqrt(256)


def test_the_attribute_channel_adds_its_weight_times_the_brand_cosine() -> None:
    model = KGSASRec({"product": 4, "user": 2, "brand": 3, "category": 2}, text_dim=3, hidden_channels=4,
                     max_len=3, num_heads=1, attribute_width=32).eval()
    data, histories = _graph(), [np.array([0, 2]), np.array([1])]
    with torch.no_grad():
        users_off, items_off = model.embed_histories(data, histories)
        model.attribute_weight.fill_(0.8)
        model.attribute_decay.fill_(0.5)
        users_on, items_on = model.embed_histories(data, histories)
    assert items_on.size(1) == items_off.size(1) + 32 and model.channel_widths() == (4, 0, 0, 32, 0)
    rows = model.attribute_rows(data)
    cosine = model.history_text(rows, histories, decay=0.5) @ rows.T
    torch.testing.assert_close(users_on @ items_on.T, users_off @ items_off.T + 0.8 * cosine)
    # A new product of brand 0, appended after training, gets brand 0's row from its edge alone.
    grown = _graph(5)
    grown["product", "made_by", "brand"].edge_index = torch.tensor([[0, 1, 2, 4], [0, 0, 1, 0]])
    torch.testing.assert_close(model.attribute_rows(grown)[4], rows[0])
