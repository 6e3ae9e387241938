"""The typed training configuration, saved as ``config.json`` beside the weights."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ModelKind = Literal["kg_sasrec", "gnn", "gnn_notext", "bpr_mf", "lightgcn", "popularity", "text_only",
                    "ease"]
#: ``auto``: train every kind in ``TrainConfig.candidates`` and keep the one with the best validation NDCG@10.
ModelChoice = Literal["auto", "kg_sasrec", "gnn", "gnn_notext", "bpr_mf", "lightgcn", "popularity", "text_only",
                      "ease"]
#: The candidates ``auto`` trains: the sequence model, the KG-LightGCN GNN, LightGCN, EASE (a closed-form
#: item-item regression: on a catalog with no time order, amazon-book-kgat, far above the others), popularity
#: (so that a catalog where order or the graph does not help still gets the best of these, chosen on validation).
DEFAULT_CANDIDATES: tuple[ModelKind, ...] = ("kg_sasrec", "gnn", "lightgcn", "ease", "popularity")
#: Models with parameters to learn (the others are computed from the train graph directly).
TRAINABLE: frozenset[str] = frozenset({"kg_sasrec", "gnn", "gnn_notext", "bpr_mf", "lightgcn"})


class TrainConfig(BaseModel):
    """Everything that determines a training run (with the graph snapshot and the seed, the result)."""

    model_config = ConfigDict(extra="forbid")

    model: ModelChoice = Field(default="auto", description="auto (train the candidates, keep the best on "
                               "validation), kg_sasrec (KG + text item GNN, self-attention over the ordered history), "
                               "gnn (KG + text GNN), gnn_notext, bpr_mf, lightgcn, popularity, text_only")
    candidates: list[ModelKind] = Field(default_factory=lambda: list(DEFAULT_CANDIDATES),
                                        description="the models 'auto' chooses among")
    hidden_channels: int = Field(default=64, ge=1, description="embedding / layer width")
    num_layers: int = Field(default=2, ge=0, description="message-passing rounds (gnn, lightgcn)")
    conv: Literal["lightgcn", "heteroconv", "to_hetero"] = Field(
        default="lightgcn", description="gnn encoder: lightgcn = LightGCN propagation over every relation "
        "(gnn.models.kg_lightgcn); heteroconv / to_hetero = heterogeneous GraphSAGE (gnn.models.hetero_sage)")
    relation_weights: Literal["learned", "mean"] = Field(
        default="mean", description="lightgcn encoder: learned softmax weight per relation, or uniform")
    text_input: Literal["add", "missing_id"] = Field(
        default="add", description="lightgcn encoder: product layer 0 = id + text (add), or text only where "
        "there is no id embedding (missing_id: cold / new / id-dropped products)")
    relations: list[str] | None = Field(
        default=None, description="lightgcn encoder: relations to propagate over (None: all), e.g. "
        "['interacts', 'rev_interacts', 'also_bought']")
    product_id_embedding: bool = Field(default=True, description="gnn: learned id embedding for warm products")
    id_dropout: float = Field(default=0.0, ge=0.0, lt=1.0,
                              description="gnn: drop warm products' id embedding while training")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    lr: float = Field(default=0.005, gt=0)
    text_lr: float | None = Field(default=1e-4, gt=0, description="gnn: learning rate of the text projections "
                                  "(None: lr); lower keeps the shared projection from swamping the id embeddings")
    weight_decay: float = Field(default=0.0, ge=0, description="Adam weight decay on all parameters")
    reg: float = Field(default=1e-4, ge=0, description="L2 on the batch's embeddings (BPR regulariser)")
    reg_on: Literal["output", "input"] = Field(
        default="output", description="which embeddings reg applies to: the encoder's output, or layer 0 (the "
        "parameters, as LightGCN does; models without a separate layer 0 use the output)")
    epochs: int = Field(default=300, ge=0, description="cap on epochs (early stopping on validation ends "
                        "training before it: 30 cut kg_sasrec off while still improving on ml-100k, 100 the gnn "
                        "and bpr_mf candidates on amazon-office)")
    batch_size: int = Field(default=4096, ge=1, description="train interactions per gradient step")
    negatives: int = Field(default=4, ge=1, description="sampled negative products per positive")
    patience: int = Field(default=10, ge=1, description="evaluations without a better valid NDCG@10 before "
                          "stopping (10, as every peer of bench/peers gets; 5 stopped ml-100k's kg_sasrec on a "
                          "dip of its noisy 943-user validation: 0.1286 at epoch 19 against 0.1301 at 26)")
    eval_every: int = Field(default=1, ge=1, description="epochs between validation runs")
    seq_patience_steps: int = Field(default=400, ge=0, description="kg_sasrec: the evaluations early stopping "
                                    "waits (patience) also span at least this many gradient steps "
                                    "(gnn.train_sequence.patience_in_evaluations). On ml-100k-kg an epoch is 19 "
                                    "steps, so ten epochs were 190 and its 943-user validation, which moves by "
                                    "0.005 from epoch to epoch, stopped runs on a one-epoch peak: seed 4 at epoch "
                                    "31 (best 21, test NDCG@10 0.1182); waiting 20 epochs it trained to epoch 85 "
                                    "(best 65, test 0.1311). amazon-beauty's ten epochs are 1,760 steps: unchanged")
    prune_ratio: float = Field(default=0.5, ge=0.0, lt=1.0, description="auto: a candidate whose best validation "
                               "NDCG@10 after prune_after epochs is below this share of the best candidate trained "
                               "before it stops there (it will not be served); 0: every candidate trains to early "
                               "stopping. Candidates asked for as baselines are never cut short")
    prune_after: int = Field(default=10, ge=1, description="auto: the epoch at which prune_ratio is applied")
    seed: int = 0
    cold_fraction: float = Field(default=0.0, ge=0.0, lt=1.0, description="share of products withheld (the cold "
                                 "slice, ranked among all products); 0 = the standard leave-one-out split")
    copurchase: bool = Field(default=False, description="use the co-purchase lists (also_bought, also_viewed, "
                             "bought_together) as graph edges. Off by default: the public Amazon lists were crawled "
                             "after the interactions they summarise, so they know the future of any split")
    min_interactions: int = Field(default=3, ge=1, description="users with fewer interactions are train only")
    min_entity_degree: int = Field(default=1, ge=1, description="graph models: leave out mentions of entities "
                                   "fewer products mention (2: drop single-product entities, which share nothing)")
    # kg_sasrec: the item side uses num_layers and product_id_embedding; these are its own.
    seq_hidden_channels: int | None = Field(default=128, ge=1, description="kg_sasrec: item and user vector "
                                            "width (None: hidden_channels). 128: on amazon-beauty validation "
                                            "0.0683 against 0.0657 at 64 (dot products, lr 1e-3)")
    seq_max_len: int = Field(default=50, ge=1, description="kg_sasrec: most recent history items read")
    seq_all_windows: bool = Field(default=True, description="kg_sasrec: train on every item of a history longer "
                                  "than seq_max_len + 1 (cut into windows), not only its last window")
    seq_window_stride: int | None = Field(default=None, ge=1, description="kg_sasrec: with seq_all_windows, "
                                          "how far apart the windows of a long history end; shorter than "
                                          "seq_max_len, they overlap and each target is read once after at least "
                                          "seq_max_len - stride items (gnn.train_sequence.training_windows); "
                                          "None: seq_max_len (windows that only touch)")
    seq_window_jitter: bool = Field(default=False, description="kg_sasrec: each epoch, move where a long history "
                                    "is cut into windows by a random offset, so that the targets read just after a "
                                    "cut, with little context, are not the same items every epoch "
                                    "(gnn.train_sequence.training_windows); histories that fit one window are "
                                    "unchanged. Off: on ml-100k-kg it lifted the model alone but lowered the served "
                                    "model's test NDCG@10 on two seeds (bench/results/kg_sasrec_experiments)")
    seq_blocks: int = Field(default=2, ge=1, description="kg_sasrec: self-attention blocks")
    seq_heads: int = Field(default=2, ge=1, description="kg_sasrec: attention heads (must divide its width)")
    seq_dropout: float = Field(default=0.5, ge=0.0, lt=1.0, description="kg_sasrec: dropout on inputs, attention "
                               "and residual branches (0.5: the sparse Amazon sets overfit quickly)")
    seq_pre_norm: bool = Field(default=False, description="kg_sasrec: pre-LayerNorm blocks and a final LayerNorm, "
                               "as the SASRec paper's code has them, instead of RecBole's post-LayerNorm blocks")
    seq_lr: float = Field(default=1e-3, gt=0, description="kg_sasrec: Adam learning rate")
    seq_temperature: float | None = Field(default=None, gt=0, description="kg_sasrec: cosine scores divided by "
                                          "this temperature; None: dot products. On amazon-beauty cosine "
                                          "(0.07, lr 2e-3) converged in half the epochs to about the same "
                                          "validation NDCG@10 but a lower test one in every run (0.0524-0.0532 "
                                          "against 0.0545 at width 64)")
    seq_batch_size: int = Field(default=128, ge=1, description="kg_sasrec: histories per gradient step")
    seq_logits_bf16: bool | None = Field(default=None, description="kg_sasrec: the full-softmax logits and "
                                         "cross-entropy in bfloat16 (the step's largest part: 4x cheaper on CPUs "
                                         "with native bf16, slower on CPUs without); None: when the CPU has it")
    seq_weight_average: float = Field(default=0.0, ge=0.0, description="kg_sasrec: validate and keep an "
                                      "exponential moving average of the weights with this half-life in epochs "
                                      "(0: the trained weights themselves)")
    seq_label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0, description="kg_sasrec: label smoothing of the "
                                       "next-item cross-entropy")
    seq_future_window: int = Field(default=4, ge=1, description="kg_sasrec: how many of the items after each "
                                   "position the loss asks for (gnn.train_sequence.future_window_loss): 1, the next "
                                   "item only; k > 1 adds the mean cross-entropy of the k - 1 items after it, on "
                                   "the same softmax, at seq_future_weight. 4 and 0.5 raised validation NDCG@10 on "
                                   "ml-100k-kg in each of 4 seeds (+3.6%) and on amazon-beauty (+1.7%), level on "
                                   "amazon-office (bench/results/kg_sasrec_experiments)")
    seq_future_weight: float = Field(default=0.5, ge=0.0, description="kg_sasrec: the weight of the later items' "
                                     "mean cross-entropy against the next item's (seq_future_window > 1; 0: off)")
    seq_cointeraction_rank: int = Field(default=512, ge=0, description="kg_sasrec: width k of the co-interaction "
                                        "channel (gnn.cointeraction; its weight is chosen on validation after "
                                        "training, 0 among the choices); 0: no channel")
    seq_attribute_width: int = Field(default=256, ge=0, description="kg_sasrec: width of the attribute channel "
                                     "(gnn.attributes: random projections of each product's brand; its weight is "
                                     "chosen on validation after training, 0 among the choices); 0: no channel")
    seq_attribute_relations: list[str] = Field(default_factory=lambda: ["made_by"], description="kg_sasrec: the "
                                               "product relations whose nodes make the attribute channel")
    seq_transition_rank: int = Field(default=256, ge=0, description="kg_sasrec: rank r of the transition channel "
                                     "(gnn.transitions: which product follows which in users' histories; its "
                                     "weight is chosen on validation after training, 0 among the choices; the "
                                     "served vectors grow by 2r); 0: no channel")
    seq_transition_lookup: int = Field(default=3, ge=0, description="kg_sasrec: how many of the user's newest "
                                       "items the transition lookup reads (gnn.transitions.TransitionLookup: the "
                                       "exact rows of which product follows which, added to the scores with a "
                                       "weight chosen on validation after training, 0 among the choices); "
                                       "0: no lookup")
    seq_transition_window: int = Field(default=3, ge=1, le=8, description="kg_sasrec: the widest window the "
                                       "transition lookup may read: validation chooses between the next item only "
                                       "and what came up to this many steps after a product, each later step at "
                                       "half the weight of the one before (gnn.transitions.transition_matrix, "
                                       "gnn.content.choose_transition_lookup); 1: the next item only")
    seq_transition_damping: float = Field(default=0.5, ge=0.0, le=1.0, description="kg_sasrec: the lookup's other "
                                          "row power: after the window, validation chooses between rows that are "
                                          "distributions (power 1) and rows divided by their totals to this power, "
                                          "so that a product seen followed more often weighs more among a user's "
                                          "newest items (gnn.transitions.transition_matrix); 1: distributions only")
    seq_calibration_grid_steps: int = Field(default=0, ge=0, le=8, description="kg_sasrec: how many times each "
                                            "channel's weight / decay grid grows past an edge its best validation "
                                            "cell sits on (gnn.content.extended_grid_scores: the largest weight "
                                            "doubled, the smallest decay times 0.7); 0: the grids as they are")
    ease_l2: float = Field(default=200.0, gt=0, description="ease: the ridge weight of the item-item regression "
                           "(gnn.baselines.ease)")
    ease_rank: int = Field(default=512, ge=1, description="ease: the width of its vectors, for similar items and "
                           "personalised search, and of its scores above ease_exact_max_products (the rank of the "
                           "factored item-item weights; at least the number of products: exact)")
    ease_exact_max_products: int = Field(default=30_000, ge=0, description="ease: the most products for which it "
                                         "ranks by its exact scores, the item-item weights kept whole in float16 "
                                         "(products^2 x 2 bytes in the bundle and the API: 1.2 GB at 24,915); 0: "
                                         "always by the rank-ease_rank factors")
    ease_max_products: int = Field(default=30_000, ge=1, description="ease: the most products it solves for (a "
                                   "dense products x products system: 30,000 take 3.6 GB and minutes a solve); "
                                   "'auto' leaves the candidate out above it")
    cold_gain_tolerance: float = Field(default=0.01, ge=0.0, lt=1.0, description="kg_sasrec: the share of "
                                       "validation NDCG@10 that the new products' text gain may give up so that "
                                       "new products are seen (gnn.content.choose_cold_text_gain: the largest gain "
                                       "within it of the best; 0: the best)")
    graph_weight: float = Field(default=0.5, ge=0.0, le=1.0, description="kg_sasrec: share of the propagated "
                                "KG layers in an item's vector (0: id + text only)")
    num_threads: int = Field(default=0, ge=0, description="torch intra-op threads per model trained; 0: the cores "
                             "this process may use, shared among train_workers (amazon-beauty's kg_sasrec: 749 s on "
                             "2 idle cores against about 1,700 s on 1). Set 1 where other jobs share the cores: "
                             "there 2 threads ran a training step up to 25x slower than 1, OpenMP threads spinning")
    train_workers: int = Field(default=1, ge=1, description="models trained at once, each in its own process "
                               "(auto's candidates and the baselines are independent; 2 on a 2-core machine halves "
                               "the wall time, at twice the memory)")
    eval_batch_size: int = Field(default=2048, ge=1, description="users per full-ranking batch")

    @property
    def seq_width(self) -> int:
        """kg_sasrec's vector width."""
        return self.seq_hidden_channels or self.hidden_channels

    @property
    def threads(self) -> int:
        """The torch threads one model trains with: ``num_threads``, or for 0 the usable cores per worker."""
        if self.num_threads:
            return self.num_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, cores // self.train_workers)

    @property
    def trainable(self) -> bool:
        return self.model in TRAINABLE

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.model_dump(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
