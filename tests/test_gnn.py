"""gnn: snapshot, split, models, baselines, bundle, inductive embeddings, text cache, CLI (tiny data, CPU)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
import torch

from gnn.bundle import current_bundle_path, load_bundle
from gnn.config import ModelKind, TrainConfig
from gnn.content import (
    CHANNEL_WEIGHT_GRID,
    COLD_GAIN_GRID,
    COLD_LOOKUP_GAIN_GRID,
    DECAY_GRID,
    LOOKUP_DECAY_GRID,
    LOOKUP_WEIGHT_GRID,
    NEW_TEXT_REFINE_STEPS,
    NEW_TEXT_WEIGHT_GRID,
    TRANSITION_DECAY_GRID,
    TRANSITION_WEIGHT_GRID,
    WEIGHT_GRID,
    cell_key,
    choose_cold_text_gain,
    choose_new_product_text,
    extended_grid_scores,
    largest_gain_within,
    largest_lookup_gain_within,
    largest_weight_within,
    lookup_row_powers,
    lookup_windows,
    simulated_new_products,
)
from gnn.data import INTERACTS, snapshot_from_store, split_snapshot, to_hetero_data
from gnn.evaluation import embed_for, evaluate_phases, ranking_inputs
from gnn.inductive import InductiveEncoder, NewProduct, embed_new_products
from gnn.models import InputLayer
from gnn.models.kg_sasrec import KGSASRec
from gnn.models.registry import ENCODERS, MODELS, ModelShape, build_model, model_from_bundle
from gnn.pipeline import save_result, train_all
from gnn.prepared import prepare_split
from gnn.train import model_meta, train_model
from gnn.train_sequence import future_targets, future_window_loss, training_sequences, training_windows
from kg.config import PROJECT_ROOT, Settings
from kg.queries import QueryLibrary
from kg.store import GraphStore
from kg.store.embedded import EmbeddedStore

N_USERS, N_PRODUCTS = 10, 24
TEXT_DIM = 16


def _graph_rows(reverse: bool = False) -> dict[str, list[dict[str, object]]]:
    rng = np.random.default_rng(7)
    rows: dict[str, list[dict[str, object]]] = {
        "Product": [{"id": f"p{i:02d}", "title": f"product {i} shade {i % 3}", "description": f"brand {i % 3}",
                     "active": True} for i in range(N_PRODUCTS)],
        "User": [{"id": f"u{i:02d}"} for i in range(N_USERS)],
        "Brand": [{"id": f"b{i}", "name": f"brand {i}"} for i in range(3)],
        "Category": [{"id": f"c{i}", "name": f"cat {i}"} for i in range(2)],
        "Entity": [{"id": f"e{i}", "name": f"ingredient {i}", "type": "ingredient"} for i in range(2)],
        "MADE_BY": [{"src": f"p{i:02d}", "dst": f"b{i % 3}"} for i in range(N_PRODUCTS)],
        "IN_CATEGORY": [{"src": f"p{i:02d}", "dst": f"c{i % 2}"} for i in range(N_PRODUCTS)],
        "MENTIONS": [{"src": f"p{i:02d}", "dst": f"e{i % 2}", "confidence": 0.9} for i in range(0, N_PRODUCTS, 3)],
        "ALSO_BOUGHT": [{"src": f"p{i:02d}", "dst": f"p{(i + 1) % N_PRODUCTS:02d}"} for i in range(N_PRODUCTS)],
        "BOUGHT_TOGETHER": [{"src": f"p{i:02d}", "dst": f"p{(i + 5) % N_PRODUCTS:02d}"} for i in range(0, 10)],
        "PURCHASED": [],
        "VIEWED": [],
    }
    for u in range(N_USERS):
        n = 2 if u == 0 else int(rng.integers(4, 9))  # user u00 has < 3 interactions: train only
        items = rng.choice(N_PRODUCTS, size=n, replace=False)
        for seq, item in enumerate(items):
            rows["PURCHASED"].append({"src": f"u{u:02d}", "dst": f"p{item:02d}", "seq": seq, "count": 1})
    rows["VIEWED"].append({"src": "u01", "dst": rows["PURCHASED"][2]["dst"], "seq": 99})  # merged with a purchase
    if reverse:
        rows = {k: list(reversed(v)) for k, v in rows.items()}
    return rows


def _fill(store: GraphStore, reverse: bool = False) -> None:
    rows = _graph_rows(reverse)
    for label in ("Product", "User", "Brand", "Category", "Entity"):
        store.upsert_nodes(label, rows[label])
    for rel in ("MADE_BY", "IN_CATEGORY", "MENTIONS", "ALSO_BOUGHT", "BOUGHT_TOGETHER", "PURCHASED", "VIEWED"):
        store.upsert_relationships(rel, rows[rel])


def _new_store(path: Path) -> EmbeddedStore:
    store = EmbeddedStore(path, QueryLibrary(PROJECT_ROOT / "cypher"))
    store.init_schema()
    return store


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with _new_store(tmp_path_factory.mktemp("gnn") / "graph.lbug") as store:
        _fill(store)
        return snapshot_from_store(store)


def _features(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, TEXT_DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def prepared(snapshot):  # type: ignore[no-untyped-def]
    feats = {"product": _features(snapshot.num_products), "entity": _features(snapshot.num_nodes("entity"), 1)}
    return prepare_split(snapshot, split_snapshot(snapshot, cold_fraction=0.2, seed=0), feats,
                         TrainConfig(copurchase=True))


def _tiny(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"epochs": 1, "hidden_channels": 8, "seq_hidden_channels": None, "batch_size": 16,
                               "num_threads": 1, "eval_batch_size": 4}
    return TrainConfig.model_validate({**base, **kw})


# -- snapshot ---------------------------------------------------------------------------------------------
def test_snapshot_reads_everything(snapshot) -> None:  # type: ignore[no-untyped-def]
    assert snapshot.ids["product"] == sorted(snapshot.ids["product"])
    assert snapshot.num_products == N_PRODUCTS and snapshot.num_users == N_USERS
    assert snapshot.num_nodes("entity") == 2 and snapshot.names["brand"][0] == "brand 0"
    assert snapshot.item_edges["made_by"].shape == (2, N_PRODUCTS)
    assert snapshot.item_edges["mentions"].shape[1] == 8
    assert snapshot.item_edges["also_viewed"].shape == (2, 0)
    n_purchases = len(_graph_rows()["PURCHASED"])
    assert len(snapshot.inter_user) == n_purchases  # the VIEWED edge merged into an existing pair
    assert snapshot.product_texts()[1] == "product 1 shade 1. brand 1"


def test_snapshot_is_deterministic_and_content_addressed(tmp_path: Path, snapshot) -> None:  # type: ignore[no-untyped-def]
    with _new_store(tmp_path / "other.lbug") as store:
        _fill(store, reverse=True)  # same content, inserted in the opposite order
        again = snapshot_from_store(store)
        assert again.snapshot_id == snapshot.snapshot_id
        np.testing.assert_array_equal(again.inter_product, snapshot.inter_product)
        store.upsert_nodes("Product", [{"id": "p00", "title": "changed"}])
        assert snapshot_from_store(store).snapshot_id != snapshot.snapshot_id


# -- split ------------------------------------------------------------------------------------------------
def _pairs(a: np.ndarray) -> set[tuple[int, int]]:
    return {(int(u), int(p)) for u, p in a.T}


def test_split_is_leak_free(snapshot, prepared) -> None:  # type: ignore[no-untyped-def]
    split, data = prepared.split, prepared.data
    mp = _pairs(data[INTERACTS].edge_index.numpy())
    assert mp == _pairs(split.train)
    assert not mp & _pairs(split.valid) and not mp & _pairs(split.test) and not mp & _pairs(split.cold)
    rev = data["product", "rev_interacts", "user"].edge_index.numpy()
    assert _pairs(rev[::-1]) == mp
    cold = set(split.cold_products.tolist())
    assert cold and not cold & set(split.train[1].tolist())
    assert not cold & (set(split.valid[1].tolist()) | set(split.test[1].tolist()))
    assert not data["product"].warm[split.cold_products].any()
    # every pair in exactly one part
    parts = [_pairs(split.train), _pairs(split.valid), _pairs(split.test), _pairs(split.cold)]
    assert sum(len(p) for p in parts) == len(snapshot.inter_user)
    # leave-one-out by order: the test item is the user's last warm interaction, valid the one before
    seq = {(int(u), int(p)): int(s) for u, p, s in
           zip(snapshot.inter_user, snapshot.inter_product, snapshot.inter_seq, strict=True)}
    for u, p in _pairs(split.test):
        own = sorted((s, q) for (v, q), s in seq.items() if v == u and q not in cold)
        assert own[-1][1] == p
        assert (u, own[-2][1]) in _pairs(split.valid)
    user0 = snapshot.index("user")["u00"]
    assert user0 not in split.valid[0] and user0 not in split.test[0]  # < 3 interactions: train only


def test_split_is_deterministic(snapshot) -> None:  # type: ignore[no-untyped-def]
    a, b = split_snapshot(snapshot, seed=3, cold_fraction=0.2), split_snapshot(snapshot, seed=3, cold_fraction=0.2)
    for name in ("train", "valid", "test", "cold", "cold_products"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    d1, d2 = to_hetero_data(snapshot, a, None), to_hetero_data(snapshot, b, None)
    for et in d1.edge_types:
        assert torch.equal(d1[et].edge_index, d2[et].edge_index)


def test_hetero_data_shape(prepared) -> None:  # type: ignore[no-untyped-def]
    data = prepared.data
    assert set(data.node_types) == {"user", "product", "brand", "category", "entity"}
    assert ("product", "also_bought", "product") in data.edge_types
    assert ("product", "also_viewed", "product") not in data.edge_types  # empty relation skipped
    assert ("entity", "rev_mentions", "product") in data.edge_types
    assert data["product"].x.shape == (N_PRODUCTS, TEXT_DIM)


def test_copurchase_lists_are_left_out_by_default(snapshot) -> None:  # type: ignore[no-untyped-def]
    split = split_snapshot(snapshot, cold_fraction=0.0)
    default = prepare_split(snapshot, split, None, TrainConfig()).data
    assert ("product", "also_bought", "product") not in default.edge_types
    assert ("product", "made_by", "brand") in default.edge_types
    assert ("product", "also_bought", "product") in prepare_split(snapshot, split, None,
                                                                  TrainConfig(copurchase=True)).data.edge_types


def test_each_phase_reads_what_is_known_by_then(prepared) -> None:  # type: ignore[no-untyped-def]
    split = prepared.split
    edges = {phase: _pairs(prepared.graph_for(phase)[INTERACTS].edge_index.numpy())
             for phase in ("valid", "test", "serve")}
    assert edges["valid"] == _pairs(split.train)
    assert edges["test"] == _pairs(split.train) | _pairs(split.valid)
    assert edges["serve"] == _pairs(split.train) | _pairs(split.valid) | _pairs(split.test)
    assert _pairs(prepared.data[INTERACTS].edge_index.numpy()) == _pairs(split.train)  # training graph unchanged


def test_histories_are_in_time_order_and_end_before_the_target(snapshot, prepared) -> None:  # type: ignore[no-untyped-def]
    from gnn.data import user_histories

    split = prepared.split
    valid_h, test_h = user_histories(snapshot, split, "valid"), user_histories(snapshot, split, "test")
    seq = {(int(u), int(p)): int(s) for u, p, s in
           zip(snapshot.inter_user, snapshot.inter_product, snapshot.inter_seq, strict=True)}
    for u, p in _pairs(split.test):
        assert [seq[(u, q)] for q in test_h[u]] == sorted(seq[(u, q)] for q in test_h[u])
        assert p not in test_h[u] and int(test_h[u][-1]) == int(split.valid[1][split.valid[0] == u][0])
        assert list(test_h[u][:-1]) == list(valid_h[u])
    assert sum(len(h) for h in valid_h) == split.train.shape[1]


def test_cold_products_are_chosen_by_id_so_additions_do_not_reshuffle(snapshot) -> None:  # type: ignore[no-untyped-def]
    before = split_snapshot(snapshot, cold_fraction=0.3, seed=1)
    keep = np.ones(snapshot.num_products, dtype=bool)
    keep[before.cold_products[:1]] = False  # a catalog without one of the cold products: the others stay cold
    ids = [pid for pid, k in zip(snapshot.ids["product"], keep, strict=True) if k]
    remap = -np.ones(snapshot.num_products, dtype=np.int64)
    remap[keep] = np.arange(keep.sum())
    rows = keep[snapshot.inter_product]
    smaller = dataclasses.replace(
        snapshot, ids={**snapshot.ids, "product": ids}, inter_user=snapshot.inter_user[rows],
        inter_product=remap[snapshot.inter_product[rows]], inter_ts=snapshot.inter_ts[rows],
        inter_seq=snapshot.inter_seq[rows], inter_count=snapshot.inter_count[rows],
        inter_kind=snapshot.inter_kind[rows], active=snapshot.active[keep])
    after = split_snapshot(smaller, cold_fraction=0.3, seed=1)
    assert {ids[i] for i in after.cold_products} == {snapshot.ids["product"][i] for i in before.cold_products[1:]}


def test_min_entity_degree_drops_single_product_entities(snapshot) -> None:  # type: ignore[no-untyped-def]
    # entity 0 is mentioned by products 0 and 3, entity 1 by product 6 only
    mentions = np.array([[0, 3, 6], [0, 0, 1]], dtype=np.int64)
    snap = dataclasses.replace(snapshot, item_edges={**snapshot.item_edges, "mentions": mentions})
    split = split_snapshot(snap, seed=0, cold_fraction=0.0)
    assert to_hetero_data(snap, split, None)["product", "mentions", "entity"].edge_index.tolist() == mentions.tolist()
    data = to_hetero_data(snap, split, None, min_entity_degree=2)
    assert data["product", "mentions", "entity"].edge_index.tolist() == [[0, 3], [0, 0]]
    assert data["entity", "rev_mentions", "product"].edge_index.tolist() == [[0, 0], [0, 3]]
    assert data["entity"].num_nodes == 2  # the node stays: indexes do not depend on the threshold
    from_config = prepare_split(snap, split, None, TrainConfig(min_entity_degree=2)).data  # the path training takes
    assert from_config["product", "mentions", "entity"].edge_index.tolist() == [[0, 3], [0, 0]]
    none = to_hetero_data(snap, split, None, min_entity_degree=3)
    assert ("product", "mentions", "entity") not in none.edge_types
    assert ("entity", "rev_mentions", "product") not in none.edge_types


# -- models and baselines ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    {"model": "gnn"}, {"model": "gnn", "relation_weights": "mean"}, {"model": "gnn", "reg_on": "input"},
    {"model": "gnn", "relations": ["interacts", "rev_interacts", "also_bought"]},
    {"model": "gnn", "conv": "heteroconv"}, {"model": "gnn", "conv": "to_hetero"},
    {"model": "gnn", "conv": "heteroconv", "id_dropout": 0.5},
    {"model": "gnn_notext"}, {"model": "gnn_notext", "conv": "heteroconv"}, {"model": "bpr_mf"},
    {"model": "lightgcn"}, {"model": "lightgcn", "reg_on": "input"}, {"model": "popularity"},
    {"model": "text_only"}, {"model": "ease"}, {"model": "ease", "ease_rank": 3},
    {"model": "kg_sasrec"}, {"model": "kg_sasrec", "graph_weight": 0.0},
    {"model": "kg_sasrec", "product_id_embedding": False, "seq_blocks": 1, "hidden_channels": 16, "seq_heads": 2},
], ids=lambda kw: "-".join(str(v) if not isinstance(v, list) else "+".join(v) for v in kw.values()))
def test_one_epoch_smoke(prepared, kw: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    result = train_model(prepared, _tiny(**kw), progress=False)
    assert set(result.metrics) == {"valid", "test", "cold"}
    for part in result.metrics.values():
        assert all(math.isfinite(v) for v in part.values())
        assert 0.0 <= part["ndcg@10"] <= 1.0
    assert result.user_emb.shape[0] == N_USERS and result.product_emb.shape[0] == N_PRODUCTS
    if _tiny(**kw).trainable:
        assert len(result.history) == 1 and math.isfinite(result.history[0]["loss"])


def test_kg_lightgcn_on_interactions_only_is_lightgcn(prepared) -> None:  # type: ignore[no-untyped-def]
    """Restricted to the user-product relation, without text, the KG encoder computes exactly PyG's LightGCN."""
    from torch_geometric.nn.models import LightGCN

    from gnn.models import KGLightGCNRecommender

    data = prepared.data.clone()
    data["product"].warm = torch.ones(N_PRODUCTS, dtype=torch.bool)  # LightGCN has no notion of cold items
    num_nodes = {t: int(data[t].num_nodes) for t in data.node_types}
    model = KGLightGCNRecommender(data.metadata(), num_nodes, {}, 8, 3, use_text=False,
                                  relations=("interacts", "rev_interacts")).eval()
    reference = LightGCN(N_USERS + N_PRODUCTS, 8, 3)
    with torch.no_grad():
        reference.embedding.weight.copy_(torch.cat([model.emb["user"].weight, model.emb["product"].weight]))
    ei = data[INTERACTS].edge_index
    homogeneous = torch.cat([torch.stack([ei[0], ei[1] + N_USERS]), torch.stack([ei[1] + N_USERS, ei[0]])], dim=1)
    expected = reference.get_embedding(homogeneous).detach()
    users, products = model.embed(data)
    torch.testing.assert_close(users.detach(), expected[:N_USERS])
    torch.testing.assert_close(products.detach(), expected[N_USERS:])


def test_kg_lightgcn_relation_weights(prepared) -> None:  # type: ignore[no-untyped-def]
    """Per node, the weights of the relations it has edges in sum to 1 (a cold product, with no user edge,
    gets its whole message from its other relations); the learned table is a softmax per node type."""
    model = train_model(prepared, _tiny(model="gnn", epochs=1), progress=False).model
    table = model.relation_weight_table()
    assert {"interacts", "rev_made_by", "also_bought"} <= set(table["product"])
    for weights in table.values():
        assert math.isclose(sum(weights.values()), 1.0, rel_tol=1e-5)
    adj = model.adjacency(prepared.data)
    rels = [et for et in adj if et[2] == "product"]
    weights = model._relation_weights("product", rels, adj, N_PRODUCTS)
    total = torch.stack(weights).sum(0).squeeze(-1)
    cold = torch.from_numpy(prepared.split.cold_products)
    torch.testing.assert_close(total, torch.ones(N_PRODUCTS))
    assert (weights[rels.index(INTERACTS)].squeeze(-1)[cold] == 0).all()


def test_training_is_reproducible(prepared) -> None:  # type: ignore[no-untyped-def]
    a = train_model(prepared, _tiny(model="gnn", epochs=2, seed=5), progress=False)
    b = train_model(prepared, _tiny(model="gnn", epochs=2, seed=5), progress=False)
    assert a.metrics == b.metrics
    assert torch.equal(a.product_emb, b.product_emb)


# -- model registry and input layer -------------------------------------------------------------------------
def test_registry_builds_every_model_kind_and_conv() -> None:
    assert set(MODELS) == set(get_args(ModelKind))
    assert set(ENCODERS) == set(get_args(TrainConfig.model_fields["conv"].annotation))
    for kind in ("gnn", "text_only"):
        with pytest.raises(ValueError, match=f"model '{kind}' needs product text"):
            build_model(_tiny(model=kind), _shape_without_text())
    with pytest.raises(ValueError, match="unknown model"):
        build_model(_tiny().model_copy(update={"model": "nope"}), _shape_without_text())


def _shape_without_text() -> ModelShape:
    return ModelShape(node_types=("user", "product"), edge_types=(INTERACTS,), num_nodes={"user": 2, "product": 3},
                      text_dims={}, num_users=2, num_products=3)


@pytest.mark.parametrize("conv", ["lightgcn", "heteroconv", "to_hetero"])
def test_model_from_bundle_rebuilds_the_model(prepared, conv: str) -> None:  # type: ignore[no-untyped-def]
    """The bundle's path (meta through JSON, weights) builds the same module as training did, in eval mode."""
    config = _tiny(model="gnn", conv=conv, id_dropout=0.5)
    meta = json.loads(json.dumps(model_meta(prepared)))
    assert ModelShape.from_meta(meta) == prepared.shape
    torch.manual_seed(0)
    trained = build_model(config, prepared.shape)
    rebuilt = model_from_bundle(config, meta, trained.state_dict())
    assert not rebuilt.training and type(rebuilt) is type(trained)
    trained.eval()
    with torch.no_grad():
        for a, b in zip(trained.embed(prepared.data), rebuilt.embed(prepared.data), strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("conv", ["lightgcn", "heteroconv"])
def test_encoders_keep_their_parameter_names(prepared, conv: str) -> None:  # type: ignore[no-untyped-def]
    """Layer 0 is shared (InputLayer) but its parameters keep the names bundles and warm start rely on."""
    model = build_model(_tiny(model="gnn", conv=conv), prepared.shape)
    layer0 = {k for k in model.state_dict() if k.split(".")[0] in ("proj", "emb")}
    assert layer0 == {"proj.entity.weight", "proj.entity.bias", "proj.product.weight", "proj.product.bias",
                      "emb.user.weight", "emb.product.weight", "emb.brand.weight", "emb.category.weight"}
    assert isinstance(model.layer0, InputLayer) and "layer0" not in dict(model.named_modules())
    assert model.layer0.emb["user"] is model.emb["user"]


def test_input_layer_drops_ids_only_while_training(prepared) -> None:  # type: ignore[no-untyped-def]
    data = prepared.data
    layer = InputLayer(data.node_types, {t: int(data[t].num_nodes) for t in data.node_types}, prepared.text_dims, 8,
                       id_dropout=0.9, text_input="missing_id")
    layer.reset_parameters()
    warm = data["product"].warm
    layer.eval()
    first, again = layer(data), layer(data)
    assert all(x.shape == (int(data[t].num_nodes), 8) for t, x in first.items())
    assert torch.equal(first["product"], again["product"])
    # missing_id: a warm product is its id embedding, a cold one its projected text
    product_ids = layer.emb["product"]
    assert isinstance(product_ids, torch.nn.Embedding)
    torch.testing.assert_close(first["product"][warm], product_ids.weight[warm])
    torch.testing.assert_close(first["product"][~warm], layer.proj["product"](data["product"].x[~warm]))
    layer.train()
    assert not torch.equal(layer(data)["product"], first["product"])


# -- bundle -----------------------------------------------------------------------------------------------
def test_bundle_round_trip_and_atomic_failure(tmp_path: Path, prepared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    main, others, _ = train_all(prepared, _tiny(model="gnn"), baselines=("popularity",), progress=False)
    artifacts = tmp_path / "artifacts"
    path = save_result(artifacts, prepared, main, others)
    assert current_bundle_path(artifacts) == path
    bundle = load_bundle(artifacts)
    assert bundle.path == path and bundle.snapshot_id == prepared.snapshot.snapshot_id
    assert bundle.config == main.config
    assert main.serve_product_emb is not None  # the bundle serves the model over everything known
    np.testing.assert_allclose(bundle.product_embeddings, main.serve_product_emb.numpy())
    assert bundle.id_maps["product"] == prepared.snapshot.ids["product"]
    assert bundle.metrics["metrics"]["test"] == main.metrics["test"]
    assert "popularity" in bundle.metrics["baselines"]
    assert (path / "training_curve.png").stat().st_size > 1000
    assert bundle.state_dict is not None and bundle.graph is not None

    import gnn.bundle as bundle_module

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(bundle_module, "_plot_curve", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_result(artifacts, prepared, main, others)
    assert current_bundle_path(artifacts) == path  # previous bundle still current
    assert sorted(p.name for p in artifacts.iterdir()) == sorted(["current", "switches.jsonl", path.name])  # no temp


# -- inductive ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("conv", ["lightgcn", "heteroconv"])
def test_inductive_embedding_matches_cold_product(prepared, tmp_path: Path, conv: str) -> None:  # type: ignore[no-untyped-def]
    """Detach a cold product from the graph and attach it again as a new product: same embedding."""
    main = train_model(prepared, _tiny(model="gnn", epochs=2, conv=conv), progress=False)
    snapshot, data = prepared.snapshot, prepared.graph_for("test")  # the graph main.product_emb was read from
    cold = int(prepared.split.cold_products[0])
    cold_id = snapshot.ids["product"][cold]
    ids = snapshot.ids
    edges = snapshot.item_edges
    new = NewProduct(
        id="new-" + cold_id,
        brands=[ids["brand"][j] for i, j in edges["made_by"].T if i == cold],
        categories=[ids["category"][j] for i, j in edges["in_category"].T if i == cold],
        entities=[ids["entity"][j] for i, j in edges["mentions"].T if i == cold],
        also_bought=sorted({ids["product"][b if a == cold else a] for a, b in edges["also_bought"].T
                            if cold in (a, b) and a != b}),
        bought_together=sorted({ids["product"][b if a == cold else a] for a, b in edges["bought_together"].T
                                if cold in (a, b) and a != b}),
    )
    detached = data.clone()
    for et in detached.edge_types:
        ei = detached[et].edge_index
        keep = torch.ones(ei.size(1), dtype=torch.bool)
        if et[0] == "product":
            keep &= ei[0] != cold
        if et[2] == "product":
            keep &= ei[1] != cold
        detached[et].edge_index = ei[:, keep]
    x = data["product"].x[cold:cold + 1].numpy()
    result = embed_new_products(main.model, detached, ids, [new], x)
    torch.testing.assert_close(result.embeddings[0], main.product_emb[cold], rtol=1e-4, atol=1e-5)
    assert result.unknown == {}

    # Through a bundle, with an unknown neighbour reported and ignored.
    path = save_result(tmp_path / "artifacts", prepared, main, {})
    encoder = InductiveEncoder(load_bundle(path))
    odd = NewProduct(id="new2", brands=["b1", "no-such-brand"], categories=["c0"])
    out = encoder.embed([odd], text_features=x)
    assert out.embeddings.shape == (1, 8) and torch.isfinite(out.embeddings).all()
    assert out.unknown == {"new2": ["no-such-brand"]}
    plain = encoder.embed([NewProduct(id="new3")], text_features=x).embeddings
    assert not torch.allclose(plain, out.embeddings)  # the brand/category edges matter


def test_inductive_ignores_neighbours_the_model_never_trained(snapshot) -> None:  # type: ignore[no-untyped-def]
    """An entity without text and without edges in the trained graph (e.g. left out by min_entity_degree) keeps
    its random initial embedding: a new product must not be attached to it. With text it is usable."""
    mentions = np.array([[0, 3], [0, 0]], dtype=np.int64)  # entity 1: no product mentions it
    snap = dataclasses.replace(snapshot, item_edges={**snapshot.item_edges, "mentions": mentions})
    split = split_snapshot(snap, seed=0, cold_fraction=0.0)
    x = _features(snap.num_products)
    trained, isolated = snap.ids["entity"]
    for entity_text, expect_unknown in ((None, True), (_features(snap.num_nodes("entity"), 1), False)):
        feats = {"product": x} if entity_text is None else {"product": x, "entity": entity_text}
        prepared = prepare_split(snap, split, feats, _tiny())
        data = prepared.data
        model = train_model(prepared, _tiny(model="gnn", epochs=1), progress=False).model
        alone = embed_new_products(model, data, snap.ids, [NewProduct(id="n")], x[:1])
        out = embed_new_products(model, data, snap.ids, [NewProduct(id="n", entities=[isolated])], x[:1])
        assert out.unknown == ({"n": [isolated]} if expect_unknown else {})
        assert torch.allclose(out.embeddings, alone.embeddings) == expect_unknown
        usable = embed_new_products(model, data, snap.ids, [NewProduct(id="n", entities=[trained])], x[:1])
        assert usable.unknown == {} and not torch.allclose(usable.embeddings, alone.embeddings)


# -- text encoder (real MiniLM, ~10 short texts) ---------------------------------------------------------------
def test_text_encoder_and_cache(tmp_path: Path) -> None:
    from kg.text import TextEncoder

    texts = [f"hydrating face cream number {i}" for i in range(9)] + ["red lipstick"]
    enc = TextEncoder(cache_dir=tmp_path / "cache", batch_size=4, num_threads=1)
    assert enc._model is None  # lazy: nothing loaded yet
    first = enc.encode(texts)
    assert first.shape == (10, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    assert enc.stats["encoded"] == 10 and enc.stats["texts_per_s"] > 0
    sim = first @ first.T
    assert sim[0, 1] > sim[0, 9]  # similar creams closer than a lipstick
    calls = enc.model_calls
    again = TextEncoder(cache_dir=tmp_path / "cache")
    second = again.encode(list(reversed(texts)))
    assert again._model is None and again.stats["cache_hits"] == 10  # served from disk, model never loaded
    np.testing.assert_array_equal(second, first[::-1])
    enc.encode([*texts[:3], "a new text"])
    assert enc.model_calls == calls + 1 and enc.stats["encoded"] == 1


# -- CLI --------------------------------------------------------------------------------------------------
def test_cli_train_and_evaluate(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cartograph.cli import app
    from kg.store import open_store

    with open_store(settings) as store:
        store.init_schema()
        _fill(store)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(settings.home))
    monkeypatch.setenv("CARTOGRAPH_STORE_BACKEND", "embedded")
    monkeypatch.delenv("CARTOGRAPH_NEO4J_URI", raising=False)
    runner = CliRunner()
    cfg = settings.home / "train.json"
    _tiny(model="gnn").save(cfg)
    result = runner.invoke(app, ["train", "--config", str(cfg), "--epochs", "1", "--baselines"])
    assert result.exit_code == 0, result.output
    assert "bpr_mf" in result.output and "lightgcn" in result.output and "ndcg@10" in result.output
    bundle = load_bundle(settings.artifacts_dir)
    assert bundle.config.epochs == 1 and bundle.config.model == "gnn"
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 0, result.output
    assert "popularity" in result.output and "text_only" in result.output


def test_cold_products_compete_with_every_product(prepared) -> None:  # type: ignore[no-untyped-def]
    """The cold slice ranks a new product among all products: a scorer that puts every warm product above every
    cold one finds no cold positive in its top 10 once there are 10 or more other candidates."""
    from gnn.evaluation import evaluate_embeddings

    split = prepared.split
    n_users = split.num_users
    product_emb = torch.from_numpy(split.warm_mask.astype(np.float32)).unsqueeze(1) + 1.0  # warm 2.0, cold 1.0
    user_emb = torch.ones(n_users, 1)
    cold = evaluate_embeddings(prepared, user_emb, product_emb, which=("cold",))["cold"]
    warm_candidates = int((split.warm_mask & prepared.snapshot.active).sum())
    assert warm_candidates >= 10 and cold["hit@10"] == 0.0 and cold["users"] > 0
    # With the warm products scored below, the same positives are found: the metric is not broken, just honest.
    flipped = evaluate_embeddings(prepared, user_emb, 3.0 - product_emb, which=("cold",))["cold"]
    assert flipped["hit@10"] > 0.0


def test_the_sequence_model_reads_the_valid_item_at_test_time(prepared) -> None:  # type: ignore[no-untyped-def]
    """The user vector for the test is the encoder after train + valid: equal to running it on those histories."""

    result = train_model(prepared, _tiny(model="kg_sasrec", epochs=2), progress=False)
    model = result.model
    with torch.no_grad():
        items = model.served_item_vectors(prepared.graph_for("test"), histories=prepared.histories("test"))
        expected = model.user_vectors(items, prepared.histories("test"))
    torch.testing.assert_close(result.user_emb, expected)
    valid_users, _ = embed_for(model, prepared, "valid")
    moved = [u for u in prepared.split.valid[0] if not torch.equal(valid_users[u], result.user_emb[u])]
    assert moved  # users with a valid item: their test vector read one more item


def test_auto_serves_the_best_candidate_on_validation(prepared) -> None:  # type: ignore[no-untyped-def]
    from gnn.pipeline import train_all

    cfg = _tiny(model="auto", candidates=["kg_sasrec", "gnn", "popularity"], epochs=2)
    main, others, selection = train_all(prepared, cfg, baselines=("bpr_mf",), progress=False)
    assert selection is not None and set(selection.valid_ndcg10) == {"kg_sasrec", "gnn", "popularity"}
    best = max(selection.valid_ndcg10.values())
    assert main.config.model == selection.chosen and selection.valid_ndcg10[selection.chosen] == best
    assert set(others) == {"kg_sasrec", "gnn", "popularity", "bpr_mf"} - {selection.chosen}
    assert "bpr_mf" not in selection.valid_ndcg10  # baselines are reported, never chosen


def test_a_candidate_below_the_bar_stops_at_prune_after(prepared) -> None:  # type: ignore[no-untyped-def]
    cfg = _tiny(model="lightgcn", epochs=6, patience=6, prune_after=2)
    cut = train_model(prepared, cfg, progress=False, stop_below=1.01)  # no NDCG@10 reaches it
    assert len(cut.history) == 2 and cut.stopped_by == "pruned"
    full = train_model(prepared, cfg, progress=False, stop_below=0.0)  # every NDCG@10 reaches it
    assert len(full.history) == 6 and full.stopped_by == "epoch cap"
    assert cut.history[-1]["pruned_below"] == 1.01 and "pruned_below" not in full.history[1]
    assert [r["loss"] for r in cut.history] == [r["loss"] for r in full.history[:2]]  # same seed, same two epochs


def test_auto_sets_the_bar_from_the_leader_and_spares_the_baselines(prepared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gnn.pipeline as pipeline

    bars: dict[str, float | None] = {}
    real = pipeline.train_model

    def spy(prepared, config, *, progress=True, stop_below=None):  # type: ignore[no-untyped-def]
        bars[config.model] = stop_below
        return real(prepared, config, progress=progress, stop_below=stop_below)

    monkeypatch.setattr(pipeline, "train_model", spy)
    cfg = _tiny(model="auto", candidates=["popularity", "gnn", "lightgcn"], epochs=2, prune_ratio=0.5)
    main, others, selection = pipeline.train_all(prepared, cfg, baselines=("lightgcn", "bpr_mf"), progress=False)
    leader = others.get("popularity", main).metrics["valid"]["ndcg@10"]
    assert bars["popularity"] is None  # the first has no bar
    assert bars["gnn"] == pytest.approx(0.5 * max(leader, 0.0))
    assert bars["lightgcn"] is None and bars["bpr_mf"] is None  # asked for as baselines: trained in full
    assert selection is not None and set(selection.stopped_by) == {"popularity", "gnn", "lightgcn"}
    assert selection.stopped_by["popularity"] == "not trained"


def test_tune_searches_on_validation_and_keeps_the_best_trial(prepared) -> None:  # type: ignore[no-untyped-def]
    from gnn.tune import tune

    tuned = tune(prepared, _tiny(model="lightgcn", epochs=1), trials=3)
    scores = [t["valid_ndcg@10"] for t in tuned.trials]
    assert len(scores) == 3 and tuned.trials[0]["lr"] == _tiny().lr  # trial 0 is the configured model
    assert round(tuned.result.metrics["valid"]["ndcg@10"], 6) == max(scores)
    assert tuned.config.model == "lightgcn"


def test_models_trained_in_processes_match_those_trained_in_turn(prepared) -> None:  # type: ignore[no-untyped-def]
    from gnn.pipeline import train_models

    configs = [_tiny(model="kg_sasrec", epochs=2), _tiny(model="lightgcn", epochs=2)]
    in_turn = train_models(prepared, configs, progress=False)
    at_once = train_models(prepared, configs, workers=2, progress=False)
    assert list(at_once) == ["kg_sasrec", "lightgcn"]
    assert not at_once["kg_sasrec"].model.items._adjacency  # sent back without the graphs it had cached
    for kind, result in in_turn.items():
        assert at_once[kind].metrics == result.metrics
        assert at_once[kind].history[-1]["loss"] == result.history[-1]["loss"]
        torch.testing.assert_close(at_once[kind].serving_embeddings(prepared)[1],
                                   result.serving_embeddings(prepared)[1])
        assert result.serve_product_emb is not None  # made once, on demand


def test_kg_sasrec_trains_with_bf16_logits_and_label_smoothing(prepared) -> None:  # type: ignore[no-untyped-def]
    plain = train_model(prepared, _tiny(model="kg_sasrec", epochs=1, seq_logits_bf16=False), progress=False)
    cheap = train_model(prepared, _tiny(model="kg_sasrec", epochs=1, seq_logits_bf16=True, seq_label_smoothing=0.5),
                        progress=False)
    assert math.isfinite(cheap.history[0]["loss"]) and cheap.history[0]["loss"] != plain.history[0]["loss"]
    torch.manual_seed(_tiny().seed)  # train_model's initial state: the bf16 logits' gradients reached the item ids
    initial = build_model(_tiny(model="kg_sasrec"), prepared.shape).items.table("product")
    assert not torch.equal(cheap.model.items.table("product"), initial)


def test_kg_sasrec_keeps_the_moving_average_of_its_weights(prepared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gnn.train_sequence as train_sequence

    averages = []
    real = train_sequence.weight_average

    def recording(model, half_life, steps):  # type: ignore[no-untyped-def]
        averages.append(real(model, half_life, steps))
        return averages[-1]

    monkeypatch.setattr(train_sequence, "weight_average", recording)
    # Batches of 4 histories: several steps in the one epoch, so that the average is not the last step's weights.
    plain = train_model(prepared, _tiny(model="kg_sasrec", epochs=1, seq_batch_size=4), progress=False)
    averaged = train_model(prepared, _tiny(model="kg_sasrec", epochs=1, seq_batch_size=4, seq_weight_average=0.5),
                           progress=False)
    (average,) = averages
    assert int(average.n_averaged) >= 2  # updated after every step, not once
    kept, trained = dict(averaged.model.named_parameters()), dict(plain.model.named_parameters())
    for name, value in average.module.named_parameters():
        torch.testing.assert_close(kept[name], value)
    # Same seed, same steps: only the average differs.
    assert any(not torch.equal(kept[name], trained[name]) for name in kept)


def test_patience_spans_at_least_the_configured_steps_and_at_most_three_times_its_evaluations() -> None:
    from gnn.train_sequence import patience_in_evaluations

    config = TrainConfig(patience=10, seq_patience_steps=400)
    assert patience_in_evaluations(config, steps_per_epoch=176) == 10  # amazon-beauty: 1,760 steps already
    assert patience_in_evaluations(config, steps_per_epoch=19) == 22  # ml-100k-kg: ceil(400 / 19)
    assert patience_in_evaluations(config, steps_per_epoch=25) == 16  # amazon-office: ceil(400 / 25)
    assert patience_in_evaluations(config, steps_per_epoch=1) == 30  # a toy catalog: three times 10, not 400
    assert patience_in_evaluations(config.model_copy(update={"eval_every": 2}), steps_per_epoch=19) == 11
    assert patience_in_evaluations(config.model_copy(update={"seq_patience_steps": 0}), steps_per_epoch=19) == 10


def test_the_sequence_model_stops_on_the_stretched_patience(prepared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gnn import train_sequence

    waited = []
    real = train_sequence.fit_with_early_stopping

    def recording(model, prepared, config, run_epoch, **kw):  # type: ignore[no-untyped-def]
        waited.append(config.patience)
        return real(model, prepared, config, run_epoch, **kw)

    monkeypatch.setattr(train_sequence, "fit_with_early_stopping", recording)
    config = _tiny(model="kg_sasrec", epochs=1, patience=2, seq_batch_size=4, seq_patience_steps=1000)
    steps = -(-len(train_sequence.training_windows(prepared.histories("valid"), config.seq_max_len)) // 4)
    train_model(prepared, config, progress=False)
    assert waited == [max(2, min(-(-1000 // steps), 6))]


def test_a_weight_average_half_life_sets_the_per_step_decay() -> None:
    from gnn.train_sequence import weight_average

    model = torch.nn.Linear(2, 1)
    average = weight_average(model, half_life_epochs=2.0, steps_per_epoch=5)  # type: ignore[arg-type]
    with torch.no_grad():
        model.weight.fill_(0.0)
    average.update_parameters(model)  # the first update copies
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(10):  # two epochs of five steps: half the way to the new weights
        average.update_parameters(model)
    torch.testing.assert_close(average.module.weight, torch.full((1, 2), 0.5))


def test_long_histories_are_cut_into_windows_that_target_every_item_once() -> None:
    long, short, single = np.arange(12), np.arange(100, 104), np.array([7])
    windows = training_sequences([long, short, single], max_len=4)
    # From the newest item back; neighbours share one item (the next window's input starts where this one ends).
    assert [w.tolist() for w in windows] == [[7, 8, 9, 10, 11], [3, 4, 5, 6, 7], [0, 1, 2, 3], [100, 101, 102, 103]]
    targets = np.concatenate([w[1:] for w in windows])
    assert sorted(targets.tolist()) == [*range(1, 12), 101, 102, 103]
    last_only = training_sequences([long, short, single], max_len=4, all_windows=False)
    assert [w.tolist() for w in last_only] == [[7, 8, 9, 10, 11], [100, 101, 102, 103]]


def test_overlapping_windows_read_every_target_once_after_the_longest_context() -> None:
    long, short = np.arange(12), np.arange(100, 104)
    windows = training_windows([long, short], max_len=4, stride=2)
    assert [(w.tolist(), kept) for w, kept in windows] == [
        ([7, 8, 9, 10, 11], 2), ([5, 6, 7, 8, 9], 2), ([3, 4, 5, 6, 7], 2), ([1, 2, 3, 4, 5], 2), ([0, 1, 2, 3], 3),
        ([100, 101, 102, 103], 3)]
    kept_targets = [t for w, kept in windows for t in w[1:][len(w) - 1 - kept:].tolist()]
    assert sorted(kept_targets) == [*range(1, 12), 101, 102, 103]
    # Each kept target of the long history follows at least max_len - stride = 2 items, where there are two.
    assert all(len(w) - 1 - kept >= 2 for w, kept in windows[:4])
    # The stride defaults to max_len: the windows of training_sequences, every target kept.
    touching = training_windows([long, short], max_len=4)
    assert [w.tolist() for w, _ in touching] == [w.tolist() for w in training_sequences([long, short], max_len=4)]
    assert [kept for _, kept in touching] == [len(w) - 1 for w, _ in touching]


def test_jittered_windows_move_the_cuts_and_still_read_every_target_once() -> None:
    long, short = np.arange(12), np.arange(100, 104)
    rng = np.random.default_rng(0)
    newest_kept = set()
    for _ in range(20):  # twenty epochs' draws
        windows = training_windows([long, short], max_len=4, rng=rng)
        kept_targets = [t for w, kept in windows for t in w[1:][len(w) - 1 - kept:].tolist()]
        assert sorted(kept_targets) == [*range(1, 12), 101, 102, 103]
        assert all(len(w) <= 5 for w, _ in windows)
        newest, kept = windows[0]
        assert newest.tolist() == [7, 8, 9, 10, 11] and 1 <= kept <= 4
        newest_kept.add(kept)
        # The window below the newest one ends where the newest one's kept targets begin.
        assert windows[1][0][-1] == 11 - kept
        assert windows[-1][0].tolist() == short.tolist() and windows[-1][1] == 3  # one window: unchanged
    assert newest_kept == {1, 2, 3, 4}  # the cut moves from epoch to epoch
    # With a stride the offset is drawn up to the stride; no rng: the fixed windows.
    for _ in range(10):
        assert 1 <= training_windows([long], max_len=4, stride=2, rng=rng)[0][1] <= 2
    fixed = [(w.tolist(), kept) for w, kept in training_windows([long], max_len=4)]
    assert fixed == [([7, 8, 9, 10, 11], 4), ([3, 4, 5, 6, 7], 4), ([0, 1, 2, 3], 3)]


def test_future_targets_are_the_items_after_each_next_item_within_the_window() -> None:
    pad = 9
    targets = torch.tensor([[1, 2, 3, pad], [4, 5, pad, pad]])
    later, exists = future_targets(targets, targets != pad, window=3, pad=pad)
    # One row per real position, in order: (b0 t0), (b0 t1), (b0 t2), (b1 t0), (b1 t1); nothing past a window.
    assert later.tolist() == [[2, 3], [3, pad], [pad, pad], [5, pad], [pad, pad]]
    assert exists.tolist() == [[True, True], [True, False], [False, False], [True, False], [False, False]]
    # Windows shorter than the future window (a batch of two-item histories).
    later, exists = future_targets(torch.tensor([[3, 4], [5, pad]]), torch.tensor([[True, True], [True, False]]),
                                   window=4, pad=pad)
    assert later.tolist() == [[4, pad, pad], [pad, pad, pad], [pad, pad, pad]] and int(exists.sum()) == 1


def test_future_window_loss_adds_the_later_items_mean_log_probability() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    target, later = torch.tensor([0, 1]), torch.tensor([[1], [7]])
    exists = torch.tensor([[True], [False]])
    log_z0, log_z1 = math.log(math.exp(2) + 2), math.log(math.e + 2)
    next_item = ((log_z0 - 2.0) + (log_z1 - 1.0)) / 2
    # Weight 0.5 on the one later item that exists (row 0's item 1: log p = 0 - log_z0).
    assert float(future_window_loss(logits, target, later, exists, 0.5)) == pytest.approx(next_item + 0.5 * log_z0)
    assert float(future_window_loss(logits, target, later, exists, 0.0)) == pytest.approx(next_item)
    smoothed = torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.2)
    assert float(future_window_loss(logits, target, later, exists, 0.0, 0.2)) == pytest.approx(float(smoothed))


def test_kg_sasrec_trains_with_the_future_window_loss(prepared) -> None:  # type: ignore[no-untyped-def]
    plain = train_model(prepared, _tiny(model="kg_sasrec", epochs=1, seq_future_window=1), progress=False)
    future = train_model(prepared, _tiny(model="kg_sasrec", epochs=1, seq_future_window=3, seq_future_weight=0.5),
                         progress=False)
    # The same seed and batches; the later items' cross-entropy (about log P each at the start) is added on top.
    assert math.isfinite(future.history[0]["loss"])
    assert future.history[0]["loss"] > plain.history[0]["loss"] + 0.25 * math.log(prepared.snapshot.num_products)


def test_kg_sasrec_reads_only_the_targets_a_window_keeps(prepared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gnn.train_sequence as train_sequence

    counted = []
    real_cross_entropy = train_sequence.F.cross_entropy

    def counting(logits, target, **kwargs):  # type: ignore[no-untyped-def]
        counted.append(int(target.numel()))
        return real_cross_entropy(logits, target, **kwargs)

    monkeypatch.setattr(train_sequence.F, "cross_entropy", counting)
    # The next-item loss alone (the next-k loss computes it from its own log-softmax).
    config = _tiny(model="kg_sasrec", epochs=1, seq_max_len=3, seq_window_stride=1, seq_future_window=1)
    train_model(prepared, config, progress=False)
    windows = training_windows(prepared.histories("valid"), 3, stride=1)
    # Every train target once, though the windows overlap.
    assert sum(counted) == sum(kept for _, kept in windows) == sum(max(len(h) - 1, 0)
                                                                    for h in prepared.histories("valid"))
    assert len(windows) > len(training_sequences(prepared.histories("valid"), 3))


def test_jittered_training_redraws_the_windows_each_epoch(prepared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gnn.train_sequence as train_sequence

    epochs: list[list[int]] = []
    real_epoch = train_sequence._epoch

    def recording(model, optimizer, prepared_, sequences, *args, **kwargs):  # type: ignore[no-untyped-def]
        epochs.append([kept for _, kept in sequences])
        return real_epoch(model, optimizer, prepared_, sequences, *args, **kwargs)

    monkeypatch.setattr(train_sequence, "_epoch", recording)
    config = _tiny(model="kg_sasrec", epochs=4, patience=10, seq_max_len=2, seq_window_jitter=True)
    train_model(prepared, config, progress=False)
    targets = sum(max(len(h) - 1, 0) for h in prepared.histories("valid"))
    assert len(epochs) == 4 and all(sum(kept) == targets for kept in epochs)  # every target once an epoch
    assert len({tuple(kept) for kept in epochs}) > 1  # the cuts moved


def test_kg_sasrec_never_trains_against_withheld_products(prepared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    scored: list[int] = []
    logits = KGSASRec.logits

    def recording(self: KGSASRec, states: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        scored.append(items.size(0))
        return logits(self, states, items)

    monkeypatch.setattr(KGSASRec, "logits", recording)
    train_model(prepared, _tiny(model="kg_sasrec", epochs=1), progress=False)
    warm = int(prepared.split.warm_mask.sum())
    assert warm < prepared.snapshot.num_products and set(scored) == {warm}


def test_products_with_no_trained_id_get_one_from_their_text(prepared) -> None:  # type: ignore[no-untyped-def]
    model = train_model(prepared, _tiny(model="kg_sasrec", epochs=1), progress=False).model.eval()
    items = model.items
    warm = torch.from_numpy(prepared.split.warm_mask)
    ids = items._product_ids(prepared.data)
    assert bool(items.cold_id_map.any())
    torch.testing.assert_close(ids[warm], items.table("product")[warm])
    torch.testing.assert_close(ids[~warm], items.predicted_ids(prepared.data["product"].x[~warm]))
    # The map is the least-squares fit on the warm products: it predicts their ids better than zeros do.
    residual = items.predicted_ids(prepared.data["product"].x[warm]) - items.table("product")[warm]
    assert residual.norm() < items.table("product")[warm].norm()


# -- calibration after training (gnn.content) -------------------------------------------------------------
def _peaked_at(weight: float, decay: float, calls: list[list[tuple[float, float]]]):  # type: ignore[no-untyped-def]
    """A validation stand-in whose figure falls with the distance from (``weight``, ``decay``); records each call."""
    def evaluate(pairs: list[tuple[float, float]]) -> dict[str, float]:
        calls.append(pairs)
        return {cell_key(w, g): -abs(w - weight) - abs(g - decay) for w, g in pairs}
    return evaluate


def _cells(calls: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    return [pair for call in calls for pair in call]


def _best(scores: dict[str, float]) -> str:
    return max(scores, key=lambda k: scores[k])


def test_a_grid_whose_best_cell_is_inside_is_scored_once() -> None:
    calls: list[list[tuple[float, float]]] = []
    scores = extended_grid_scores(_peaked_at(0.25, 1.0, calls), [0.0, 0.25, 0.5], [0.7, 1.0], steps=3)
    assert len(calls) == 1 and len(scores) == 6 and _best(scores) == "0.25@1"


def test_a_best_cell_on_the_grid_edge_grows_the_grid_past_it() -> None:
    calls: list[list[tuple[float, float]]] = []
    # Best weight 2 (two doublings past 0.5), best decay 0.49 (one step of 0.7 below 0.7).
    scores = extended_grid_scores(_peaked_at(2.0, 0.49, calls), [0.0, 0.25, 0.5], [0.7, 1.0], steps=3)
    assert _best(scores) == "2@0.49"
    # Step 1: weight 1 and decay 0.49 added; step 2: weight 2 and decay 0.343; step 3: the best is inside.
    assert sorted({w for w, _ in _cells(calls)}) == [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
    assert sorted({g for _, g in _cells(calls)}) == [0.343, 0.49, 0.7, 1.0]
    assert len(_cells(calls)) == len(scores)  # no cell scored twice


def test_grid_growth_is_bounded_and_never_grows_an_off_channel() -> None:
    calls: list[list[tuple[float, float]]] = []
    scores = extended_grid_scores(_peaked_at(1000.0, 1.0, calls), [0.0, 0.25, 0.5], [0.7, 1.0], steps=3)
    assert len(calls) == 4 and _best(scores) == "4@1"  # three doublings: 1, 2, 4
    calls.clear()
    scores = extended_grid_scores(_peaked_at(-1.0, 1.0, calls), [0.0, 0.25, 0.5], [1.0], steps=3)
    assert len(calls) == 1 and _best(scores) == "0@1"  # weight 0 best: the channel is off; a lone decay stays
    calls.clear()
    extended_grid_scores(_peaked_at(0.25, 0.0, calls), [0.0, 0.25, 0.5], [0.1, 0.3], steps=3)
    assert min(g for _, g in _cells(calls)) == 0.1  # no decay below MIN_DECAY
    calls.clear()
    scores = extended_grid_scores(_peaked_at(1000.0, 0.0, calls), [0.0, 0.25, 0.5], [0.7, 1.0])
    assert len(calls) == 1 and len(scores) == 6  # steps 0 (the default): the grid as given


def _small_sequence_model() -> KGSASRec:
    return KGSASRec({"product": 4, "user": 2}, text_dim=3, hidden_channels=4, max_len=2, num_heads=1)


def test_history_text_is_the_decayed_sum_of_the_last_items() -> None:
    model = _small_sequence_model()
    text = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 0]])
    got = model.history_text(text, [np.array([0, 1, 2]), np.array([], dtype=np.int64)], decay=0.5)
    # max_len 2: items 1 and 2 are read; the newer (2) weighs 1, the older 0.5.
    expected = torch.tensor([0.0, 0.5, 1.0]) / math.sqrt(1.25)
    torch.testing.assert_close(got[0], expected)
    assert torch.equal(got[1], torch.zeros(3))


def test_history_text_sums_a_repeated_product_and_reads_rows_as_unit_vectors(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model = KGSASRec({"product": 6, "user": 2}, text_dim=3, hidden_channels=4, max_len=4, num_heads=1)
    monkeypatch.setattr(KGSASRec, "HISTORY_BATCH", 2)  # three batches, one of them empty
    text = torch.tensor([[2.0, 0, 0], [0, 3.0, 0], [0, 0, 1.0], [1.0, 1.0, 0], [0, 0, 0], [5.0, 0, 5.0]])
    histories = [np.array([1, 0, 1]), np.array([5]), np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                 np.array([0, 2, 3, 1, 2])]
    got = model.history_text(text, histories, decay=0.5)
    unit = torch.nn.functional.normalize(text, dim=1)
    # Product 1 twice (ages 0 and 2), product 0 once (age 1); the last history keeps its newest 4 items.
    expected = [unit[1] * 1.25 + unit[0] * 0.5, unit[5], torch.zeros(3), torch.zeros(3),
                unit[2] + 0.5 * unit[1] + 0.25 * unit[3] + 0.125 * unit[2]]
    expected = [torch.nn.functional.normalize(e, dim=0) for e in expected]
    torch.testing.assert_close(got, torch.stack(expected))


def test_the_text_channel_adds_lambda_times_the_text_cosine(prepared) -> None:  # type: ignore[no-untyped-def]
    model = build_model(_tiny(model="kg_sasrec"), prepared.shape).eval()
    graph, histories = prepared.graph_for("test"), prepared.histories("test")
    with torch.no_grad():
        users_off, items_off = model.embed_histories(graph, histories)
        model.content_weight.fill_(0.3)
        model.content_decay.fill_(0.7)
        users_on, items_on = model.embed_histories(graph, histories)
    d = model.hidden_channels
    assert items_off.size(1) == d and items_on.size(1) == d + graph["product"].x.size(1)
    text = torch.nn.functional.normalize(graph["product"].x.float(), dim=1)
    cosine = model.history_text(text, histories, decay=0.7) @ text.T
    torch.testing.assert_close(users_on @ items_on.T, users_off @ items_off.T + 0.3 * cosine)


def test_cold_scale_moves_only_products_without_a_trained_id(prepared) -> None:  # type: ignore[no-untyped-def]
    model = build_model(_tiny(model="kg_sasrec"), prepared.shape).eval()
    graph = prepared.graph_for("test")
    with torch.no_grad():
        before = model.served_item_vectors(graph)
        model.cold_scale.fill_(2.5)
        after = model.served_item_vectors(graph)
    trained = model.items.trained_mask(graph)
    assert bool(trained.any()) and not bool(trained.all())
    torch.testing.assert_close(after[trained], before[trained])
    torch.testing.assert_close(after[~trained], 2.5 * before[~trained])


def test_the_new_products_text_gain_moves_only_their_text_and_not_the_users(prepared) -> None:  # type: ignore[no-untyped-def]
    model = build_model(_tiny(model="kg_sasrec"), prepared.shape).eval()
    graph, histories = prepared.graph_for("test"), prepared.histories("test")
    model.content_weight.fill_(0.3)
    with torch.no_grad():
        users_before, before = model.embed_histories(graph, histories)
        model.cold_text_gain.fill_(3.0)
        users_after, after = model.embed_histories(graph, histories)
    trained, d = model.items.trained_mask(graph), model.hidden_channels
    torch.testing.assert_close(after[trained], before[trained])
    torch.testing.assert_close(after[~trained, :d], before[~trained, :d])
    torch.testing.assert_close(after[~trained, d:], 3.0 * before[~trained, d:])
    # A history's text is the mean direction of its items' text, whatever the gain of new products in it.
    torch.testing.assert_close(users_after, users_before)


def test_the_text_gain_is_the_best_validation_cell_with_simulated_new_products(prepared) -> None:  # type: ignore[no-untyped-def]
    result = train_model(prepared, _tiny(model="kg_sasrec", epochs=2), progress=False)
    model = result.model
    model.content_weight.fill_(0.5)  # on, whatever validation chose on this toy data
    model.lookup_weight.fill_(0.0)  # off: the text gain alone (both: the next test)
    kept_map = model.items.cold_id_map.clone()
    simulated = simulated_new_products(model, prepared)
    assert simulated is not None
    chosen, vectors = simulated
    trained = model.items.trained_mask(prepared.graph_for("valid"))
    assert len(chosen) >= 1 and bool(trained[chosen].all())
    assert torch.equal(model.items.cold_id_map, kept_map)  # the refitted map was only borrowed
    with torch.no_grad():
        served = model.served_item_vectors(prepared.graph_for("valid"))
    assert vectors.shape == served.shape and not torch.allclose(vectors[chosen], served[chosen])
    record = choose_cold_text_gain(model, prepared)
    assert record is not None and set(record["valid_ndcg@10"]) == {f"{g:g}" for g in COLD_GAIN_GRID}
    cells = record["valid_ndcg@10"]
    best = max(cells.values())
    assert record["gain"] == min(float(k) for k, v in cells.items() if v == best)
    assert float(model.cold_text_gain) == record["gain"]
    model.content_weight.fill_(0.0)
    assert choose_cold_text_gain(model, prepared) is None  # no channel: nothing for the gain to act on


def test_with_the_text_channel_off_new_products_keep_their_own_text(prepared) -> None:  # type: ignore[no-untyped-def]
    """The text kept for new products only: their scores gain weight x cos(history text, their text); trained
    products' scores do not move, and the history's text is still read from every product (the last rows)."""
    model = build_model(_tiny(model="kg_sasrec"), prepared.shape).eval()
    graph, histories = prepared.graph_for("test"), prepared.histories("test")
    with torch.no_grad():
        users_off, items_off = model.embed_histories(graph, histories)
        model.cold_text_weight.fill_(0.3)
        model.cold_text_decay.fill_(0.7)
        users_on, items_on = model.embed_histories(graph, histories)
    assert model.text_for_new_products_only and model.has_text_channel
    text_dim, d = graph["product"].x.size(1), model.hidden_channels
    assert items_on.size(1) == d + 2 * text_dim and model.scored_width() == d + text_dim
    assert not users_on[:, model.scored_width():].any()  # the history-only rows are never scored
    trained = model.items.trained_mask(graph)
    assert bool(trained.any()) and not bool(trained.all())
    text = torch.nn.functional.normalize(graph["product"].x.float(), dim=1)
    cosine = model.history_text(text, histories, decay=0.7) @ text.T
    expected = users_off @ items_off.T + 0.3 * cosine * (~trained).float()
    torch.testing.assert_close(users_on @ items_on.T, expected)
    model.content_weight.fill_(0.5)  # the text channel on: the gain is its new products' weight, not this
    assert not model.text_for_new_products_only and model.history_text_width() == 0


def test_the_new_products_own_text_is_chosen_on_simulated_new_products_only_with_the_channel_off(prepared) -> None:  # type: ignore[no-untyped-def]
    result = train_model(prepared, _tiny(model="kg_sasrec", epochs=2), progress=False)
    model = result.model
    model.content_weight.fill_(0.0)
    record = choose_new_product_text(model, prepared)
    assert record is not None
    cells = record["valid_ndcg@10"]
    assert set(cells) == {cell_key(w, g) for w in NEW_TEXT_WEIGHT_GRID for g in DECAY_GRID}
    best = max(cells.values())
    assert record["relative_weight"] == min(float(k.split("@")[0]) for k, v in cells.items() if v == best)
    assert float(model.cold_text_weight) == pytest.approx(record["weight"], rel=1e-5)
    assert record["weight"] == pytest.approx(record["relative_weight"] * record["spread_ratio"], rel=1e-4)
    tolerant = choose_new_product_text(model, prepared, tolerance=0.5)
    assert tolerant is not None
    floor = max(tolerant["valid_ndcg@10"].values()) * 0.5
    assert tolerant["valid_ndcg@10"][cell_key(tolerant["relative_weight"], tolerant["decay"])] >= floor
    if tolerant["relative_weight"] < NEW_TEXT_WEIGHT_GRID[-1]:  # refined between two grid weights
        assert len(tolerant["valid_ndcg@10"]) == len(cells) + NEW_TEXT_REFINE_STEPS
    # The lent lookup columns' gain, chosen at that weight by the same rule, is what the model now holds.
    lent = {float(g): v for g, v in tolerant["lookup_valid_ndcg@10"].items()}
    assert set(lent) == set(COLD_LOOKUP_GAIN_GRID)
    chosen = cell_key(tolerant["relative_weight"], tolerant["decay"])
    assert lent[0.0] == pytest.approx(tolerant["valid_ndcg@10"][chosen])
    floor = max(floor, *(v * 0.5 for v in lent.values()))
    assert tolerant["lookup_gain"] == max(g for g, v in lent.items() if v >= floor)
    assert float(model.cold_lookup_gain) == tolerant["lookup_gain"]
    model.content_weight.fill_(0.5)
    assert choose_new_product_text(model, prepared) is None and float(model.cold_text_weight) == 0.0


def test_a_tolerance_takes_the_largest_new_text_weight_within_it() -> None:
    scores = {"0@1": 0.100, "0.25@0.7": 0.101, "0.5@0.7": 0.0995, "0.5@1": 0.0999, "1@1": 0.090}
    assert largest_weight_within(scores, 0.0) == (0.25, 0.7)
    assert largest_weight_within(scores, 0.01) == (0.25, 0.7)  # floor 0.09999: neither 0.5 cell
    assert largest_weight_within(scores, 0.02) == (0.5, 1.0)  # the better of the two 0.5 cells
    assert largest_weight_within(scores, 0.2) == (1.0, 1.0)


def test_a_tolerance_takes_the_largest_text_gain_within_it_of_the_best_cell() -> None:
    scores = {"1/0": 0.0760, "1.5/0": 0.0770, "1.5/1": 0.0771, "2/0": 0.0765, "2/1": 0.0766, "3/0": 0.0760,
              "4/0": 0.0740}
    assert largest_gain_within(scores, 0.0) == "1.5/1"  # the best cell
    assert largest_gain_within(scores, 0.01) == "2/1"  # 2 is within 1% of 0.0771 (floor 0.076329), 3 is not
    assert largest_gain_within(scores, 0.02) == "3/0"
    assert largest_gain_within({"1": 0.05, "2": 0.05}, 0.0) == "1"  # a tie: the smaller gain
    # At the chosen text gain, the largest lookup gain within the price, not the better score.
    lent = {"1/0": 0.0771, "1/0.5": 0.0769, "1/1": 0.0765, "1/2": 0.0700}
    assert largest_gain_within(lent, 0.0) == "1/0"
    assert largest_gain_within(lent, 0.01) == "1/1"  # floor 0.076329


def test_the_lent_lookup_gain_is_the_largest_within_the_price_of_the_best_cell() -> None:
    lent = {0.0: 0.1000, 0.5: 0.1002, 1.0: 0.0995, 2.0: 0.0980}
    assert largest_lookup_gain_within(lent, 0.1002, 0.0) == 0.5  # the best
    assert largest_lookup_gain_within({0.0: 0.1, 1.0: 0.1}, 0.1, 0.0) == 0.0  # a tie: the smaller gain
    assert largest_lookup_gain_within(lent, 0.1002, 0.01) == 1.0  # floor 0.099198
    assert largest_lookup_gain_within(lent, 0.1010, 0.01) == 0.5  # the whole search's best sets the floor
    assert largest_lookup_gain_within(lent, 0.2, 0.01) == 0.0  # none within: nothing lent


def test_with_the_lookup_on_the_cold_gains_are_chosen_together(prepared) -> None:  # type: ignore[no-untyped-def]
    """Every (text gain, lookup gain) pair is a cell; the best (smaller gains on a tie) is set on the model."""
    result = train_model(prepared, _tiny(model="kg_sasrec", epochs=1), progress=False)
    model = result.model
    model.content_weight.fill_(0.5)
    model.lookup_weight.fill_(1.0)
    assert model.has_transition_lookup  # the default config reads the newest items
    record = choose_cold_text_gain(model, prepared)
    assert record is not None
    cells = record["valid_ndcg@10"]
    assert set(cells) == {f"{g:g}/{lg:g}" for g in COLD_GAIN_GRID for lg in COLD_LOOKUP_GAIN_GRID}
    best = max(cells.values())
    ties = sorted((float(k.split("/")[0]), float(k.split("/")[1])) for k, v in cells.items() if v == best)
    assert (record["gain"], record["lookup_gain"]) == ties[0]
    assert (float(model.cold_text_gain), float(model.cold_lookup_gain)) == ties[0]


def test_calibration_loads_as_trained_from_bundles_without_it(prepared) -> None:  # type: ignore[no-untyped-def]
    model = build_model(_tiny(model="kg_sasrec"), prepared.shape)
    model.content_weight.fill_(0.4)
    state = model.state_dict()
    fresh = build_model(_tiny(model="kg_sasrec"), prepared.shape)
    fresh.load_state_dict(state)
    assert float(fresh.content_weight) == pytest.approx(0.4)
    old = {k: v for k, v in state.items() if k not in KGSASRec.CALIBRATION_DEFAULTS}
    fresh.load_state_dict(old)
    assert {k: float(getattr(fresh, k)) for k in KGSASRec.CALIBRATION_DEFAULTS} == KGSASRec.CALIBRATION_DEFAULTS


def _chosen_on_top(model: KGSASRec, record: dict, buffer: str, cells: int, previous: float | None = None,
                   zero_cell: str = "0@1") -> float:
    """Check one calibration's record: at least the grid's ``cells`` cells (more where the best sat on an edge:
    :func:`gnn.content.extended_grid_scores`), the chosen one the best, its weight in the model's
    ``buffer``, and (``previous`` given) its weight-0 cell equal to the previous calibration's choice, since it
    is chosen on top of it. Returns the chosen cell's validation figure."""
    figures = record["valid_ndcg@10"]
    assert len(figures) >= cells
    if previous is not None:
        assert figures[zero_cell] == pytest.approx(previous, abs=1e-5)
    chosen = f"{record['relative_weight']:g}@{record['decay']:g}"
    assert figures[chosen] == max(figures.values())
    assert float(getattr(model, buffer)) == pytest.approx(record["weight"], rel=1e-5)
    return figures[chosen]


def test_the_text_channel_chosen_is_the_best_validation_cell_and_what_is_evaluated(prepared) -> None:  # type: ignore[no-untyped-def]
    result = train_model(prepared, _tiny(model="kg_sasrec", epochs=2), progress=False)
    model, record = result.model, result.model.calibration
    text = _chosen_on_top(model, record["text_channel"], "content_weight", len(WEIGHT_GRID) * len(DECAY_GRID))
    # Each later calibration is chosen on top of the ones before: its weight-0 cells are their choice.
    channel_cells = len(CHANNEL_WEIGHT_GRID) * len(DECAY_GRID)
    spectrum = _chosen_on_top(model, record["cointeraction_channel"], "cointeraction_weight", channel_cells, text)
    attribute = _chosen_on_top(model, record["attribute_channel"], "attribute_weight", channel_cells, spectrum)
    # The transition channel and the lookup have their own decays.
    transition = _chosen_on_top(model, record["transition_channel"], "transition_weight",
                                len(TRANSITION_WEIGHT_GRID) * len(TRANSITION_DECAY_GRID), attribute, "0@0.7")
    lookup = _chosen_on_top(model, record["transition_lookup"], "lookup_weight",
                            len(LOOKUP_WEIGHT_GRID) * len(LOOKUP_DECAY_GRID), transition, "0@0.7")
    # The lookup's window is the one whose best cell is best; the grid in the record is the chosen cell's.
    windows, window = record["transition_lookup"]["windows"], record["transition_lookup"]["window"]
    assert set(windows) == {str(w) for w in lookup_windows(model)} and len(windows) == 2  # the default tries two
    assert windows[str(window)] == max(windows.values()) and float(model.lookup_window) == window
    # Then the row power at that window, the same way (1 on a tie).
    powers, power = record["transition_lookup"]["row_powers"], record["transition_lookup"]["row_power"]
    assert set(powers) == {f"{q:g}" for q in lookup_row_powers(model)} == {"1", "0.5"}  # the default tries two
    assert powers[f"{power:g}"] == max(powers.values()) == pytest.approx(lookup, abs=1e-6)
    assert powers["1"] == windows[str(window)] and float(model.lookup_row_power) == power
    # The valid figure the model reports is the last choice's (evaluation scores the calibrated vectors and
    # adds the lookup's scores).
    assert result.metrics["valid"]["ndcg@10"] == pytest.approx(lookup, abs=1e-5)
    assert record["cold_scale"] is not None and float(model.cold_scale) == pytest.approx(record["cold_scale"])


def test_the_quality_bench_reports_the_model_with_its_calibration_undone(prepared) -> None:  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from quality import calibration_ablations

    result = train_model(prepared, _tiny(model="kg_sasrec", epochs=2), progress=False)
    model = result.model
    model.content_weight.fill_(0.5)  # on, whatever validation chose on this toy data
    model.cold_scale.fill_(3.0)
    rows = calibration_ablations(model, prepared)
    off = rows["kg_sasrec without the text channel"]["metrics"]
    neither = rows["kg_sasrec without the text channel or the cold scale"]["metrics"]
    assert set(off) == {"test", "cold"} and set(neither) == {"test", "cold"}
    # The buffers are restored, and undoing them changes what the model scores.
    assert float(model.content_weight) == 0.5 and float(model.cold_scale) == 3.0
    model.content_weight.fill_(0.0)
    model.cold_scale.fill_(1.0)
    assert evaluate_phases(prepared, lambda phase: ranking_inputs(model, prepared, phase)) == neither
    assert calibration_ablations(object(), prepared) == {}


def test_the_quality_bench_gives_every_ratio_an_interval(prepared) -> None:  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from quality import per_user_figures, ratio_intervals

    served = train_model(prepared, _tiny(model="kg_sasrec", epochs=2), progress=False)
    other = train_model(prepared, _tiny(model="popularity"), progress=False)
    ratios = ratio_intervals(served, {"popularity": other}, prepared)
    row = ratios["popularity"]
    ours, theirs = per_user_figures(served, prepared), per_user_figures(other, prepared)
    assert len(ours) == len(np.unique(prepared.split.test[0])) and row["metric"] == "test ndcg@10"
    assert row["ratio"] == pytest.approx(ours.mean() / theirs.mean())
    assert row["ci95_low"] <= row["ratio"] <= row["ci95_high"]
    if "cold" in served.metrics:  # the fixture's split withholds products: the cold slice gets its ratio too
        cold = ratios["popularity (cold)"]
        assert cold["metric"] == "cold recall@20"
        assert cold["ratio"] == pytest.approx(served.metrics["cold"]["recall@20"] / other.metrics["cold"]["recall@20"])
    # A model against itself: the ratio is 1, and no resample puts it above 1.
    same = ratio_intervals(served, {"itself": served}, prepared)["itself"]
    assert same["ratio"] == pytest.approx(1.0) and same["p_above_1"] == 0.0
    # The per-user arrays behind the ratios are handed out for pooling (bench/pool_slices.py).
    per_user: dict[str, np.ndarray] = {}
    ratio_intervals(served, {"popularity": other}, prepared, per_user)
    np.testing.assert_array_equal(per_user["test/kg_sasrec"], ours)
    np.testing.assert_array_equal(per_user["test/popularity"], theirs)


def test_a_bundle_with_every_channel_serves_what_the_model_scores(prepared, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Text, co-interaction and attribute channels on: the bundle's product table, the request-time encoder and a
    product added after training all use the same layout as the model."""
    from gnn.history import HistoryEncoder

    main = train_model(prepared, _tiny(model="kg_sasrec", epochs=1, seq_cointeraction_rank=6,
                                     seq_attribute_width=5), progress=False)
    model = main.model
    model.content_weight.fill_(0.5)
    model.cointeraction_weight.fill_(0.7)
    model.attribute_weight.fill_(0.9)
    main.serve_user_emb, main.serve_product_emb = embed_for(model, prepared, "serve")  # with the channels on
    path = save_result(tmp_path / "artifacts", prepared, main, {})
    bundle = load_bundle(path)
    d, text_width = model.hidden_channels, prepared.data["product"].x.size(1)
    assert bundle.product_embeddings.shape[1] == d + text_width + 6 + 5
    encoder = HistoryEncoder.from_bundle(bundle, bundle.product_embeddings)
    assert encoder is not None
    history = next(h for h in prepared.histories("serve") if len(h) >= 2)
    with torch.no_grad():
        expected = model.user_vectors(torch.from_numpy(bundle.product_embeddings), [history])[0].numpy()
    vector = encoder.encode(history.tolist())
    assert vector is not None
    np.testing.assert_allclose(vector, expected, rtol=1e-4, atol=1e-5)
    assert float(np.abs(vector[d + text_width:d + text_width + 6]).sum()) > 0  # the co-interaction part is there
    assert float(np.abs(vector[d + text_width + 6:]).sum()) > 0  # and the attribute part
    x = prepared.data["product"].x[:1].numpy()
    new = InductiveEncoder(bundle).embed([NewProduct(id="brand-new", brands=["b1"])], text_features=x)
    assert new.embeddings.shape == (1, d + text_width + 6 + 5)


def test_a_bundle_with_the_text_kept_for_new_products_serves_it(prepared, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The text channel off and kept for new products: the bundle carries the history-only text rows last, the
    request-time encoder reads them, and a product added after training gets its text in the scored rows."""
    from gnn.history import HistoryEncoder

    main = train_model(prepared, _tiny(model="kg_sasrec", epochs=1), progress=False)
    model = main.model
    for other in ("content_weight", "cointeraction_weight", "attribute_weight", "transition_weight"):
        getattr(model, other).fill_(0.0)  # whatever validation chose on this toy data: the text rows alone
    model.cold_text_weight.fill_(0.8)
    main.serve_user_emb, main.serve_product_emb = embed_for(model, prepared, "serve")
    bundle = load_bundle(save_result(tmp_path / "artifacts", prepared, main, {}))
    d, text_width = model.hidden_channels, prepared.data["product"].x.size(1)
    assert bundle.product_embeddings.shape[1] == d + 2 * text_width
    encoder = HistoryEncoder.from_bundle(bundle, bundle.product_embeddings)
    assert encoder is not None and encoder.model.text_for_new_products_only
    history = next(h for h in prepared.histories("serve") if len(h) >= 2)
    vector = encoder.encode(history.tolist())
    assert vector is not None and float(np.abs(vector[d:d + text_width]).sum()) > 0  # the history's text
    assert not vector[d + text_width:].any()
    x = prepared.data["product"].x[:1].numpy()
    new = InductiveEncoder(bundle).embed([NewProduct(id="brand-new", brands=["b1"])], text_features=x)
    unit = torch.nn.functional.normalize(torch.from_numpy(x).float(), dim=1)[0]
    torch.testing.assert_close(new.embeddings[0, d:d + text_width], unit)  # scored: a new product's text
    torch.testing.assert_close(new.embeddings[0, d + text_width:], unit)


def test_a_grid_sample_keeps_whole_users() -> None:
    from gnn.evaluation import sample_users

    positives = np.array([[0, 0, 1, 2, 3], [5, 6, 7, 8, 9]])
    assert sample_users(positives, 4) is positives  # no more users than asked: all of them
    sampled = sample_users(positives, 2)
    users = set(sampled[0].tolist())
    assert len(users) == 2 and sampled.shape[1] == sum(int((positives[0] == u).sum()) for u in users)
    np.testing.assert_array_equal(sample_users(positives, 2), sampled)  # seeded: the same sample every time
