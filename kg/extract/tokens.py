"""Token-classification extractor for any local transformers model directory (the transformers pipeline).

Works with the model ``cartograph extract-train`` fine-tunes (labels ``B-brand``, ``I-product_type``, ...)
and with any other token-classification model whose labels name schema types; labels that do not (a generic
NER model's ``PER``, ``LOC``) can be mapped with ``label_map``, and are otherwise dropped and counted.

Long texts are cut into chunks of at most ``chunk_chars`` characters at whitespace, so every chunk fits the
model's window; offsets are mapped back to the field.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kg.errors import ExtractionError
from kg.extract.base import EntityExtractor, ItemResult, Mention, TextItem
from kg.extract.schema import EntityType, parse_type

_EDGE_JUNK = " \t\n,;:.!?()[]{}\"'-/|*"


def chunks(text: str, max_chars: int) -> list[tuple[int, str]]:
    """(offset, piece) covering ``text``, each piece at most ``max_chars`` long, cut at whitespace."""
    out: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            space = text.rfind(" ", start + max_chars // 2, end)
            end = space if space > start else end
        piece = text[start:end]
        if piece.strip():
            out.append((start, piece))
        start = end
    return out


def model_fingerprint(model_dir: Path) -> str:
    """Short hash of the model's config and weights' sizes: changes when the model is retrained."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(str(path.stat().st_size).encode())
            if name == "config.json":
                digest.update(path.read_bytes())
    info = model_dir / "train_info.json"
    if info.is_file():
        digest.update(info.read_bytes())
    return digest.hexdigest()[:10]


class TokenClassifierExtractor(EntityExtractor):
    """Entities from a token-classification model directory.

    Args:
        model_dir: a transformers model directory with a token-classification head.
        label_map: model label (without ``B-``/``I-``) -> schema type name, for models with other labels.
        batch_size: chunks per forward pass.
        chunk_chars: the longest piece of text given to the model at once.
        min_score: aggregated spans scoring lower are dropped.
        max_field_chars: characters of each field the model reads (the head of a long description; the
            hybrid's patterns and lexicons still read all of it). ``None``: everything.
        num_threads: torch intra-op threads (``None``: leave as is).
        fields: the text fields the model reads (``None``: all).
    """

    kind = "tokens"

    def __init__(self, model_dir: Path, *, label_map: Mapping[str, str] | None = None, batch_size: int = 32,
                 chunk_chars: int = 400, min_score: float = 0.5, max_field_chars: int | None = 1200,
                 num_threads: int | None = 2, fields: Sequence[str] | None = None) -> None:
        super().__init__()
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise ExtractionError(f"{self.model_dir} is not a transformers model directory (no config.json)")
        self.label_map = {k.lower(): v for k, v in (label_map or {}).items()}
        self.batch_size, self.chunk_chars, self.min_score = batch_size, chunk_chars, min_score
        self.num_threads, self.max_field_chars = num_threads, max_field_chars
        self.fields = tuple(fields) if fields is not None else None
        self._pipe: Any = None
        self._name = f"tokens:{self.model_dir.name}#{model_fingerprint(self.model_dir)}"

    @property
    def name(self) -> str:
        return self._name

    def _pipeline(self) -> Any:
        if self._pipe is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from transformers import pipeline

            if self.num_threads:
                torch.set_num_threads(self.num_threads)
            try:
                self._pipe = pipeline("token-classification", model=str(self.model_dir),
                                      tokenizer=str(self.model_dir), aggregation_strategy="first", device=-1)
            except (OSError, ValueError) as e:
                raise ExtractionError(f"cannot load a token-classification model from {self.model_dir}: {e}") from e
        return self._pipe

    def _type_of(self, label: str) -> EntityType | None:
        mapped = self.label_map.get(label.lower(), label)
        return parse_type(mapped)

    def extract_batch(self, items: Sequence[TextItem]) -> list[ItemResult]:
        pieces: list[tuple[int, str, int, str]] = []  # (item index, field, offset, text)
        for i, item in enumerate(items):
            for field_name, text in item.fields.items():
                if self.fields is not None and field_name not in self.fields:
                    continue
                head = text[: self.max_field_chars] if self.max_field_chars else text
                pieces.extend((i, field_name, offset, piece) for offset, piece in chunks(head, self.chunk_chars))
        results = [ItemResult() for _ in items]
        if not pieces:
            return results
        pipe = self._pipeline()
        outputs = pipe([p[3] for p in pieces], batch_size=self.batch_size)
        self.model_calls += -(-len(pieces) // self.batch_size)
        for (i, field_name, offset, piece), spans in zip(pieces, outputs, strict=True):
            for span in spans:
                self._add(results[i], items[i].fields[field_name], field_name, offset, piece, span)
        return results

    def _add(self, result: ItemResult, text: str, field_name: str, offset: int, piece: str,
             span: Mapping[str, Any]) -> None:
        entity_type = self._type_of(str(span.get("entity_group", "")))
        if entity_type is None:
            result.note(f"model label not in the schema: {span.get('entity_group')}")
            return
        if float(span["score"]) < self.min_score:
            return
        start, end = int(span["start"]), int(span["end"])
        surface = piece[start:end]
        lead = len(surface) - len(surface.lstrip(_EDGE_JUNK))
        surface = surface.strip(_EDGE_JUNK)
        if not surface or not re.search(r"\w", surface):
            return
        begin = offset + start + lead
        result.mentions.append(Mention(entity_type, surface, field_name, begin, begin + len(surface),
                                       round(float(span["score"]), 4), self.name))
