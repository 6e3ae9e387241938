"""Fine-tuning a MiniLM token classifier on weak labels: the offline default's learned half.

No labelled NER data and no pretrained NER weights can be had offline, so the labels are derived: the
pattern-and-lexicon extractor tags product titles and description heads, its lexicon built from the
catalog's own structured fields (brand names, category names) plus the built-in word lists. A BERT model
(all-MiniLM-L6-v2, from the offline package) with a token-classification head learns those tags, and with
them the contexts entities appear in, so that it also finds entities no lexicon lists.

Held out from training, so that measurements stay honest:
- every product of the gold set (``bench/gold/*.jsonl``);
- one brand fold: brands whose id hashes to fold 0 of :data:`BRAND_FOLDS` are removed from the training
  lexicon and their products from the training texts; ``bench/extract.py`` measures brand recovery on them
  as brands the model has never been told about.

The model is written atomically (temp dir + rename) under the artifacts directory, never into the repo,
with ``train_info.json`` (data, options, held-out brands, loss per epoch, time).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kg.config import PROJECT_ROOT, Settings
from kg.errors import ExtractionError
from kg.extract.lexicon import Lexicon, LexiconExtractor
from kg.extract.schema import EntityType
from kg.ingest.cleaning import clean_product_text
from kg.ingest.records import slug

BRAND_FOLDS = 5
LABELS: tuple[str, ...] = ("O", *(f"{p}-{t.value}" for t in EntityType for p in ("B", "I")))
DESCRIPTION_HEAD = 300
"""Characters of a description used as a second training text (its head names what the product is)."""


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 5e-5
    max_length: int = 96
    max_examples: int | None = None
    threads: int = 2
    seed: int = 0


@dataclass(frozen=True)
class Product:
    id: str
    title: str | None
    description: str | None
    brand: str | None


def held_out_brand(brand: str | None) -> bool:
    """Brand fold 0 (by a stable hash of its id): kept out of training."""
    if not brand:
        return False
    return int(hashlib.sha256(slug(brand).encode()).hexdigest(), 16) % BRAND_FOLDS == 0


def gold_ids(files: Iterable[Path] | None = None) -> set[str]:
    """Product ids of the gold set (default: every ``bench/gold/*.jsonl`` of the checkout)."""
    paths = list(files) if files is not None else sorted((PROJECT_ROOT / "bench" / "gold").glob("*.jsonl"))
    ids = set()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                ids.add(json.loads(line)["id"])
    return ids


def products_from_sources(sources: Sequence[Path]) -> tuple[list[Product], list[str], list[str]]:
    """(products with cleaned text and brand name, brand names, category names) of dataset folders/files."""
    from kg.ingest.readers import open_reader
    from kg.ingest.records import RecordKind

    products: list[Product] = []
    brands: dict[str, str] = {}
    categories: list[str] = []
    for source in sources:
        raw_products = []
        for record in open_reader(source, None).read():
            if record.error:
                continue
            if record.kind is RecordKind.BRAND:
                brands[record.data["id"]] = record.data["name"]
            elif record.kind is RecordKind.CATEGORY:
                categories.append(record.data["name"])
            elif record.kind is RecordKind.PRODUCT:
                raw_products.append(record.data)
        for data in raw_products:
            text = clean_product_text(data.get("title"), data.get("description"))
            products.append(Product(data["id"], text.title, text.description, brands.get(data.get("brand_id") or "")))
    return products, sorted(set(brands.values())), sorted(set(categories))


def products_from_graph(settings: Settings) -> tuple[list[Product], list[str], list[str]]:
    from kg.extract.link import lexicon_names
    from kg.store import open_store

    with open_store(settings, read_only=True) as store:
        brands, categories = lexicon_names(store)
        rows = store.query("MATCH (p:Product) OPTIONAL MATCH (p)-[:MADE_BY]->(b:Brand) "
                           "RETURN p.id AS id, p.title AS title, p.description AS description, b.name AS brand")
    return [Product(r["id"], r["title"], r["description"], r["brand"]) for r in rows], brands, categories


def weak_examples(products: Sequence[Product], lexicon: Lexicon) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """(text, [(start, end, type)]) for each title and description head, tagged by patterns + lexicons."""
    tagger = LexiconExtractor(lexicon)
    out = []
    for p in products:
        for text, is_title in ((p.title, True), ((p.description or "")[:DESCRIPTION_HEAD], False)):
            if text and text.strip():
                spans = [(s, e, t.value) for t, s, e, _, _ in tagger.spans(text, is_title=is_title)]
                out.append((text, spans))
    return out


def encode(tokenizer: Any, examples: Sequence[tuple[str, list[tuple[int, int, str]]]], max_length: int) -> list[
        dict[str, list[int]]]:
    """Token ids and BIO label ids (-100 on special tokens) per example."""
    label_id = {label: i for i, label in enumerate(LABELS)}
    encoded = []
    for text, spans in examples:
        enc = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
        labels = []
        for start, end in enc["offset_mapping"]:
            if start == end:
                labels.append(-100)
                continue
            tag = "O"
            for s, e, entity_type in spans:
                if s <= start < e:
                    tag = f"{'B' if start == s or not text[s:start].strip() else 'I'}-{entity_type}"
                    break
            labels.append(label_id[tag])
        encoded.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels})
    return encoded


def _batches(data: list[dict[str, list[int]]], size: int, pad_id: int, rng: random.Random) -> Iterable[
        dict[str, Any]]:
    """Shuffled batches of similar lengths (sorted within windows of 50 batches): titles are short and
    description heads long, and padding every batch to its longest text would double the work on CPU."""
    import torch

    order = list(range(len(data)))
    rng.shuffle(order)
    window = size * 50
    chunks = []
    for w in range(0, len(order), window):
        part = sorted(order[w:w + window], key=lambda i: len(data[i]["input_ids"]))
        chunks += [part[i:i + size] for i in range(0, len(part), size)]
    rng.shuffle(chunks)
    for idx in chunks:
        chunk = [data[i] for i in idx]
        width = max(len(d["input_ids"]) for d in chunk)
        yield {
            "input_ids": torch.tensor([d["input_ids"] + [pad_id] * (width - len(d["input_ids"])) for d in chunk]),
            "attention_mask": torch.tensor([d["attention_mask"] + [0] * (width - len(d["attention_mask"]))
                                            for d in chunk]),
            "labels": torch.tensor([d["labels"] + [-100] * (width - len(d["labels"])) for d in chunk]),
        }


def train(products: Sequence[Product], brands: Sequence[str], categories: Sequence[str], out: Path,
          options: TrainOptions, *, base_model: Path | None = None, held_out_ids: set[str] | None = None,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train on ``products`` (minus ``held_out_ids`` and the held-out brand fold) and write the model to
    ``out``; returns what ``train_info.json`` holds."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from kg.text import default_model_dir

    started = time.perf_counter()
    torch.manual_seed(options.seed)
    torch.set_num_threads(options.threads)
    held_out_ids = held_out_ids or set()
    train_brands = [b for b in brands if not held_out_brand(b)]
    kept = [p for p in products if p.id not in held_out_ids and not held_out_brand(p.brand)]
    examples = weak_examples(kept, Lexicon(train_brands, categories))
    random.Random(options.seed).shuffle(examples)
    if options.max_examples:
        examples = examples[: options.max_examples]
    if not examples:
        raise ExtractionError("no product text to train on (is the graph empty? pass --source)")
    base = base_model or default_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForTokenClassification.from_pretrained(
        str(base), num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)})
    data = encode(tokenizer, examples, options.max_length)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    steps = options.epochs * -(-len(data) // options.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / max(1, steps)))
    log(f"training on {len(data)} weakly labelled texts from {len(kept)} products "
        f"({len(products) - len(kept)} held out), {options.epochs} epochs, {steps} steps")
    losses = []
    model.train()
    for epoch in range(options.epochs):
        total, n = 0.0, 0
        rng = random.Random(options.seed + epoch)
        for batch in _batches(data, options.batch_size, tokenizer.pad_token_id or 0, rng):
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total, n = total + loss.item(), n + 1
            if n % 25 == 0:
                log(f"epoch {epoch + 1} step {n}: loss {total / n:.4f}")
        losses.append(round(total / max(n, 1), 5))
        log(f"epoch {epoch + 1}: mean loss {losses[-1]}")
    info = {
        "base_model": str(base), "labels": list(LABELS), "options": asdict(options),
        "products": len(products), "products_trained_on": len(kept), "examples": len(data),
        "held_out_gold_products": len(held_out_ids & {p.id for p in products}),
        "held_out_brands": sorted(b for b in brands if held_out_brand(b)),
        "loss_per_epoch": losses, "seconds": round(time.perf_counter() - started, 1),
    }
    _save(model, tokenizer, info, out)
    info["model_dir"] = str(out)
    return info


def _save(model: Any, tokenizer: Any, info: dict[str, Any], out: Path) -> None:
    """Write to a temp dir beside ``out``, then swap it in (an interrupted save never leaves half a model)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / "train_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def train_from(settings: Settings, *, sources: Sequence[Path], gold_files: Sequence[Path] | None, out: Path,
               options: TrainOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """``cartograph extract-train``: products from ``sources`` (or the graph), gold set held out."""
    if sources:
        products, brands, categories = products_from_sources(sources)
    else:
        products, brands, categories = products_from_graph(settings)
    return train(products, brands, categories, out, options, held_out_ids=gold_ids(gold_files), log=log)
