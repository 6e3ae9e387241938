"""Warm start carries parameters over by name and id-embedding rows over by node id."""

from __future__ import annotations

import torch

from gnn.warm_start import warm_start


class Tiny(torch.nn.Module):
    def __init__(self, num_users: int, num_products: int, text_dim: int = 3) -> None:
        super().__init__()
        self.emb = torch.nn.ModuleDict({"user": torch.nn.Embedding(num_users, 2),
                                        "product": torch.nn.Embedding(num_products, 2)})
        self.proj = torch.nn.ModuleDict({"product": torch.nn.Linear(text_dim, 2)})


def test_rows_follow_their_ids_and_new_nodes_stay_fresh() -> None:
    torch.manual_seed(0)
    old = Tiny(2, 3)
    old_ids = {"user": ["u1", "u2"], "product": ["a", "b", "c"]}
    new_ids = {"user": ["u2", "u1", "u3"], "product": ["c", "d", "a"]}  # reordered, one new, "b" removed
    new = Tiny(3, 3)
    fresh_u3, fresh_d = new.emb["user"].weight[2].clone(), new.emb["product"].weight[1].clone()
    report = warm_start(new, old.state_dict(), old_ids, new_ids)
    ou, op = old.emb["user"].weight, old.emb["product"].weight
    nu, np_ = new.emb["user"].weight, new.emb["product"].weight
    assert torch.equal(nu[0], ou[1]) and torch.equal(nu[1], ou[0]) and torch.equal(nu[2], fresh_u3)
    assert torch.equal(np_[0], op[2]) and torch.equal(np_[2], op[0]) and torch.equal(np_[1], fresh_d)
    assert report.remapped == {"emb.user.weight": (2, 3), "emb.product.weight": (2, 3)}
    assert torch.equal(new.proj["product"].weight, old.proj["product"].weight)
    assert sorted(report.copied) == ["proj.product.bias", "proj.product.weight"]


def test_a_parameter_whose_shape_changed_is_left_fresh() -> None:
    old, new = Tiny(1, 1, text_dim=3), Tiny(1, 1, text_dim=5)  # another text model: another width
    before = new.proj["product"].weight.clone()
    report = warm_start(new, old.state_dict(), {"user": ["u"], "product": ["p"]}, {"user": ["u"], "product": ["p"]})
    assert report.fresh == ["proj.product.weight"]
    assert torch.equal(new.proj["product"].weight, before)
