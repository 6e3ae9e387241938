"""The hybrid extractor, the offline default: patterns and lexicons, plus a token classifier for brands.

Measured on the gold set's dev half and on brand recovery (``bench/extract.py``): the MiniLM token classifier
fine-tuned on weak labels finds brands that no lexicon lists (on amazon-office products whose brand was held
out of both the lexicon and training, it recovers about 60% of brands from titles, the lexicon 3%), while for
the other types it adds more wrong spans than right ones (sizes, quantities, model numbers are what the
patterns do best; product-type and feature boundaries it learnt from the lexicon, noisily). So the hybrid
keeps every pattern and lexicon mention and adds the model's brand mentions that do not overlap them; the
model reads titles only (where brands are, and ten times cheaper than descriptions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kg.extract.base import EntityExtractor, ItemResult, TextItem, remove_overlaps
from kg.extract.lexicon import LexiconExtractor
from kg.extract.schema import EntityType
from kg.extract.tokens import TokenClassifierExtractor

MODEL_TYPES = frozenset({EntityType.BRAND})
"""Types taken from the model (chosen on the gold set's dev half, see the module docstring)."""


class HybridExtractor(EntityExtractor):
    kind = "hybrid"

    def __init__(self, model: TokenClassifierExtractor, lexicon: LexiconExtractor,
                 model_types: frozenset[EntityType] = MODEL_TYPES) -> None:
        super().__init__()
        self.model, self.lexicon, self.model_types = model, lexicon, model_types

    @property
    def name(self) -> str:
        types = "+".join(sorted(t.value for t in self.model_types))
        return f"hybrid:{self.model.name}[{types}]+{self.lexicon.name}"

    @property
    def model_calls(self) -> int:
        return self.model.model_calls

    @model_calls.setter
    def model_calls(self, value: int) -> None:  # the base constructor sets it; the model's counter is the truth
        pass

    def extract_batch(self, items: Sequence[TextItem]) -> list[ItemResult]:
        from_lexicon = self.lexicon.extract_batch(items)
        from_model = self.model.extract_batch(items)
        priority = {self.lexicon.name: 1, self.model.name: 0}
        out = []
        for a, b in zip(from_lexicon, from_model, strict=True):
            result = ItemResult(error=a.error or b.error, notes={**b.notes, **a.notes})
            learnt = [m for m in b.mentions if m.type in self.model_types]
            result.mentions = remove_overlaps([*a.mentions, *learnt], priority)
            out.append(result)
        return out


def default_hybrid(model_dir: Path, lexicon: LexiconExtractor) -> HybridExtractor:
    """The offline default: the trained model on titles, for brands, plus patterns and lexicons."""
    return HybridExtractor(TokenClassifierExtractor(model_dir, fields=("title",)), lexicon)
