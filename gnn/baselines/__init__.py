"""Baselines, evaluated in the same harness and on the same split as the GNN (one per file).

Each exposes ``embed(data) -> (user embeddings [U, d], product embeddings [P, d])`` with score = dot product,
so training, evaluation and the artifact bundle treat every model alike. Trainable ones are
:class:`torch.nn.Module`; :class:`Popularity`, :class:`TextOnly` and :class:`EASE` (closed form) have no
parameters to learn.
"""

from gnn.baselines.bpr_mf import BPRMF
from gnn.baselines.ease import EASE
from gnn.baselines.lightgcn import LightGCNRecommender
from gnn.baselines.popularity import Popularity
from gnn.baselines.text_only import TextOnly

__all__ = ["BPRMF", "EASE", "LightGCNRecommender", "Popularity", "TextOnly"]
