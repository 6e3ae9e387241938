"""The token-classification extractor through the real transformers pipeline, on a small BERT whose head is
set by hand (so its output is known), and (slow) the fine-tuning command end to end on the sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.config import Settings
from kg.extract.base import TextItem
from kg.extract.schema import EntityType
from kg.extract.tokens import TokenClassifierExtractor, chunks


def tiny_model(path: Path, winner: str) -> Path:
    """A 1-layer BERT with the MiniLM tokenizer whose classifier always predicts ``winner``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from kg.text import default_model_dir

    labels = ["O", "B-brand", "I-brand", "B-PER", "I-PER"]
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_dir()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([10.0 if label == winner else 0.0 for label in labels]))
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def test_spans_map_back_to_the_text_across_chunks(tmp_path: Path) -> None:
    extractor = TokenClassifierExtractor(tiny_model(tmp_path / "m", "B-brand"), chunk_chars=40, num_threads=1)
    description = "Made in Japan, refillable. " * 5
    item = TextItem("p", {"title": "Pilot Juice Gel Pen", "description": description})
    result = extractor.extract(item)
    assert result.error is None and extractor.model_calls >= 1
    assert {m.type for m in result.mentions} == {EntityType.BRAND}
    for m in result.mentions:
        assert item.fields[m.field][m.start:m.end] == m.text and m.extractor == extractor.name
    title_words = [m.text for m in result.mentions if m.field == "title"]
    assert title_words == ["Pilot", "Juice", "Gel", "Pen"]
    late = [m for m in result.mentions if m.field == "description" and m.start > 100]
    assert late, "mentions after the first chunk keep their offsets in the field"


def test_labels_outside_the_schema_are_dropped_and_counted(tmp_path: Path) -> None:
    extractor = TokenClassifierExtractor(tiny_model(tmp_path / "m", "B-PER"), num_threads=1)
    result = extractor.extract(TextItem("p", {"title": "Ada Lovelace notebook"}))
    assert result.mentions == [] and result.notes == {"model label not in the schema: PER": 3}
    mapped = TokenClassifierExtractor(tmp_path / "m", label_map={"PER": "brand"}, num_threads=1)
    assert [m.type for m in mapped.extract(TextItem("p", {"title": "Ada Lovelace"})).mentions] == [
        EntityType.BRAND, EntityType.BRAND]


def test_chunks_cover_the_text_at_whitespace() -> None:
    text = "word " * 50
    pieces = chunks(text, 42)
    assert "".join(piece for _, piece in pieces).strip() == text.strip()
    assert all(len(piece) <= 42 and text[offset:offset + len(piece)] == piece for offset, piece in pieces)


@pytest.mark.slow
def test_extract_train_on_the_sample_gives_a_model_the_default_extractor_uses(tmp_path: Path) -> None:
    from kg.extract.factory import build_extractor, default_model_dir
    from kg.extract.train import TrainOptions, products_from_sources, train
    from kg.store import open_store

    settings = Settings(store_backend="embedded", home=tmp_path / "home", neo4j_uri=None)
    products, brands, categories = products_from_sources([settings.sample_dir])
    info = train(products, brands, categories, default_model_dir(settings),
                 TrainOptions(epochs=1, max_examples=300), held_out_ids={products[0].id})
    assert info["examples"] == 300 and info["held_out_gold_products"] == 1
    with open_store(settings) as store:
        store.init_schema()
        extractor, message = build_extractor(settings, store, "auto")
    assert message is None and extractor.name.startswith("hybrid:tokens:minilm-ner#")
    assert "[brand]" in extractor.name
    result = extractor.extract(TextItem("p", {"title": "Paper Mate InkJoy Gel Pens, Black, 12 Count"}))
    assert result.error is None and result.mentions
