"""Entity-extraction benchmark: gold-set quality per type, brand recovery, throughput.

    .venv/bin/python bench/extract.py --data-dir ../shared/data [--model DIR] [--throughput-sample 500]
        [--out extract] [--quality-only]

- Quality: every extractor that can run here (patterns + lexicons; the fine-tuned MiniLM token classifier
  alone and in the hybrid, when a model exists; the LLM extractor when CARTOGRAPH_LLM_URL and
  CARTOGRAPH_LLM_MODEL are set) on the hand-labelled gold set ``bench/gold/extract_gold.jsonl`` (210 product
  titles, amazon-office and amazon-beauty; labelling guide ``bench/gold/GUIDE.md``): precision, recall, F1 per
  entity type, strict and lenient (see :mod:`kg.extract.evaluate`), on the whole set and on its dev / test
  halves (the extractor was tuned looking at dev only).
- Brand recovery over all of amazon-office: does the extractor find, in the title, the brand the catalog's
  brand field names? (a) lexicon built from every catalog brand (what a run on an ingested graph has);
  (b) products of the held-out brand fold, with those brands removed from the lexicon, and the model trained
  without them (``kg.extract.train.held_out_brand``): brands never seen.
- Throughput (products/s, title + description as ``cartograph extract`` sees them) on amazon-office, and
  ``extract_into`` end to end into a fresh embedded graph (writes included) for the lexicon extractor.

Writes ``bench/results/<out>.json`` and ``bench/results/<out>.md`` (``--out``, default ``extract``) and prints the
tables; ``--quality-only`` measures the gold set alone (a minute instead of several).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.config import PROJECT_ROOT, Settings  # noqa: E402
from kg.extract.base import EntityExtractor, TextItem  # noqa: E402
from kg.extract.evaluate import keys_of, load_gold, report_dict, score  # noqa: E402
from kg.extract.lexicon import Lexicon, LexiconExtractor  # noqa: E402
from kg.extract.normalise import canonical_key  # noqa: E402
from kg.extract.pipeline import MAX_EXTRACT_CHARS, extract_into  # noqa: E402
from kg.extract.schema import EntityType  # noqa: E402
from kg.extract.train import Product, held_out_brand, products_from_sources  # noqa: E402

GOLD = ROOT / "bench" / "gold" / "extract_gold.jsonl"
MERGE_PAIRS = ROOT / "bench" / "gold" / "merge_pairs.jsonl"
RESULTS = ROOT / "bench" / "results"
#: The gold set's sources, each scored on its own.
SOURCES = ("amazon-office", "amazon-beauty", "industrial-constructed", "industrial-heldout")
#: Stand-in for an industrial catalog's brand field (none is available here; Cartograph takes brands from the
#: catalog's Brand nodes): well-known makers of tools, fasteners, electrical, lab and safety supplies, written
#: from general knowledge, not from the gold titles' labels alone.
INDUSTRIAL_BRANDS = (
    "3M", "Bosch", "Brady", "Corning", "Craftsman", "DeWalt", "Eaton", "Eppendorf", "Everbilt", "Fluke", "Gorilla",
    "Greenlee", "Hillman", "Honeywell", "Hubbell", "Irwin", "Kimberly-Clark", "Klein Tools", "Kreg", "Leviton",
    "Loctite", "Makita", "Milwaukee", "Millipore", "Mitutoyo", "Neiko", "Panduit", "Parker", "Pyrex", "Ryobi",
    "Southwire", "Stanley", "Starrett", "Swagelok", "Thermo Fisher", "Uline", "WD-40", "Whatman", "Wiha", "Wera",
    "Tekton", "Gearwrench", "Knipex", "Channellock", "Vise-Grip", "Ansell", "MSA", "Dräger", "Kobalt", "Husky",
)


def extractors(lexicon: Lexicon, model_dir: Path | None) -> dict[str, EntityExtractor]:
    out: dict[str, EntityExtractor] = {"lexicon": LexiconExtractor(lexicon)}
    if model_dir is not None:
        from kg.extract.hybrid import default_hybrid
        from kg.extract.tokens import TokenClassifierExtractor

        out["tokens"] = TokenClassifierExtractor(model_dir)  # alone: every type, title and description head
        out["hybrid"] = default_hybrid(model_dir, LexiconExtractor(lexicon))
    if os.environ.get("CARTOGRAPH_LLM_URL") and os.environ.get("CARTOGRAPH_LLM_MODEL"):
        from kg.config import load_settings
        from kg.extract.llm import LLMConfig, LLMExtractor

        settings = load_settings()
        out["llm"] = LLMExtractor(LLMConfig.from_settings(settings), settings.home / "cache" / "extract")
    return out


def quality(extractor: EntityExtractor, gold: list[Any]) -> dict[str, Any]:
    items = [TextItem(g.id, {"title": g.text}) for g in gold]
    results = extractor.extract_batch(items)
    predicted = {g.id: keys_of(r.mentions) for g, r in zip(gold, results, strict=True)}
    out: dict[str, Any] = {"errors": sum(1 for r in results if r.error)}
    for name, subset in (("all", gold), ("dev", [g for g in gold if g.split == "dev"]),
                         ("test", [g for g in gold if g.split == "test"]),
                         *((src, [g for g in gold if g.source == src]) for src in SOURCES)):
        out[name] = {"strict": report_dict(score(subset, predicted)),
                     "lenient": report_dict(score(subset, predicted, lenient=True))}
    return out


def _same_brand(found: str, target: str) -> bool:
    """Equal without spaces, or one is the other plus more words ("fisher space pen" / "fisher")."""
    a, b = found.split(), target.split()
    return "".join(a) == "".join(b) or a[: len(b)] == b or b[: len(a)] == a


def brand_recovery(extractor: EntityExtractor, products: list[Product]) -> dict[str, Any]:
    """Share of products whose title yields the catalog brand (canonical keys, aliases resolved)."""
    with_brand = [p for p in products if p.brand and p.title]
    results = extractor.extract_batch([TextItem(p.id, {"title": p.title or ""}) for p in with_brand])
    outcome: Counter[str] = Counter()
    for p, r in zip(with_brand, results, strict=True):
        found = {canonical_key(EntityType.BRAND, m.text) for m in r.mentions if m.type is EntityType.BRAND}
        target = canonical_key(EntityType.BRAND, p.brand or "")
        if target in found or any(_same_brand(k, target) for k in found):
            outcome["recovered"] += 1
        elif found:
            outcome["other brand only"] += 1
        else:
            outcome["no brand found"] += 1
    in_title = sum(1 for p in with_brand if (p.brand or "").lower() in (p.title or "").lower())
    n = len(with_brand)
    return {"products": n, **outcome, "recovery": round(outcome["recovered"] / n, 4) if n else 0.0,
            "brand_name_literally_in_title": in_title}


def throughput(extractor: EntityExtractor, products: list[Product], limit: int | None) -> dict[str, Any]:
    chosen = products[:limit] if limit else products
    items = [TextItem(p.id, {k: v for k, v in (("title", p.title or ""),
                                               ("description", (p.description or "")[:MAX_EXTRACT_CHARS])) if v})
             for p in chosen]
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(0, len(items), 256):
        extractor.extract_batch(items[i:i + 256])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # The development machine is shared: wall time includes waiting for a core, CPU time does not (with 2
    # torch threads CPU seconds can exceed wall seconds); both are reported.
    return {"products": len(items), "seconds": round(seconds, 2), "products_per_s": round(len(items) / seconds, 1),
            "cpu_seconds": round(cpu, 2), "products_per_cpu_s": round(len(items) / cpu, 1)}


def end_to_end(data_dir: Path, lexicon_extractor: LexiconExtractor) -> dict[str, Any]:
    """Ingest amazon-office into a fresh embedded graph, then time ``extract_into`` (writes included) twice."""
    from kg.ingest.pipeline import ingest
    from kg.ingest.readers import open_reader
    from kg.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store_backend="embedded", home=Path(tmp), neo4j_uri=None)
        with open_store(settings) as store:
            store.init_schema()
            ingest(open_reader(data_dir / "amazon-office"), store, quarantine_path=Path(tmp) / "q.jsonl",
                   report_path=Path(tmp) / "r.json", progress=False)
            first = extract_into(store, lexicon_extractor)
            again = extract_into(store, lexicon_extractor)
            counts = store.count_nodes()
    return {"products": first.products_processed, "seconds": first.seconds,
            "products_per_s": round(first.products_per_s, 1), "entities": counts["Entity"],
            "mentions": first.mentions, "rerun_seconds": again.seconds, "rerun_products_extracted":
            again.products_processed, "rerun_model_calls": again.model_calls}


def merge_sweep() -> dict[str, Any]:
    """Near-duplicate merging on hand-labelled candidate pairs: precision/recall of "merge" per thresholds
    (difflib ratio of the canonical keys, MiniLM cosine), the resolver's rule being ratio >= s and cos >= e."""
    import difflib

    from kg.extract.normalise import EMBEDDING_THRESHOLD, STRING_THRESHOLD
    from kg.text import TextEncoder

    pairs = [json.loads(line) for line in MERGE_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    vectors = TextEncoder(num_threads=2).encode(texts)
    index = {t: i for i, t in enumerate(texts)}
    for p in pairs:
        p["ratio"] = difflib.SequenceMatcher(None, p["a"], p["b"]).ratio()
        p["cosine"] = float(vectors[index[p["a"]]] @ vectors[index[p["b"]]])
    grid = []
    for s in (0.80, 0.85, 0.90, 0.95):
        for e in (None, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9):
            merged = [p for p in pairs if p["ratio"] >= s and (e is None or p["cosine"] >= e)]
            tp = sum(p["same"] for p in merged)
            positives = sum(p["same"] for p in pairs)
            precision = tp / len(merged) if merged else 1.0
            recall = tp / positives if positives else 0.0
            grid.append({"string": s, "embedding": e, "merged": len(merged), "precision": round(precision, 3),
                         "recall": round(recall, 3)})
    chosen = next(g for g in grid if g["string"] == STRING_THRESHOLD and g["embedding"] == EMBEDDING_THRESHOLD)
    return {"pairs": len(pairs), "same": sum(p["same"] for p in pairs), "grid": grid, "chosen": chosen}


def markdown(doc: dict[str, Any]) -> str:
    lines = [f"### Gold set ({doc['gold']['items']} titles; strict F1 / lenient F1 per type)", ""]
    names = list(doc["quality"])
    lines.append("| type | " + " | ".join(names) + " |")
    lines.append("|---|" + "---:|" * len(names))
    for t in [*(e.value for e in EntityType), "overall"]:
        cells = []
        for name in names:
            q = doc["quality"][name]["all"]
            s = q["strict"]["overall"] if t == "overall" else q["strict"]["per_type"].get(t)
            lenient = q["lenient"]["overall"] if t == "overall" else q["lenient"]["per_type"].get(t)
            cells.append("-" if s is None or lenient is None else f"{s['f1']:.2f} / {lenient['f1']:.2f}")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    sources = SOURCES
    lines += ["", "Strict F1 per type and source (constructed industrial titles: units, standards, ratings and the "
              "industrial vocabulary; `industrial-heldout` was written after the industrial lexicons and not tuned "
              "on; see bench/gold/GUIDE.md):", "",
              "| type | " + " | ".join(f"{n} {src}" for n in names for src in sources) + " |",
              "|---|" + "---:|" * (len(names) * len(sources))]
    for t in [*(e.value for e in EntityType), "overall"]:
        cells = []
        for name in names:
            for src in sources:
                q = doc["quality"][name][src]["strict"]
                s = q["overall"] if t == "overall" else q["per_type"].get(t)
                cells.append("-" if s is None else f"{s['f1']:.2f}")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", "| extractor | strict P | strict R | strict F1 | lenient F1 | dev F1 | test F1 | office F1 | "
              "beauty F1 |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        q = doc["quality"][name]
        o = q["all"]["strict"]["overall"]
        lines.append(f"| {name} | {o['precision']:.2f} | {o['recall']:.2f} | {o['f1']:.2f} | "
                     f"{q['all']['lenient']['overall']['f1']:.2f} | {q['dev']['strict']['overall']['f1']:.2f} | "
                     f"{q['test']['strict']['overall']['f1']:.2f} | "
                     f"{q['amazon-office']['strict']['overall']['f1']:.2f} | "
                     f"{q['amazon-beauty']['strict']['overall']['f1']:.2f} |")
    if doc["brand_recovery"]:
        lines += ["", "### Brand recovery from titles, all of amazon-office (catalog brand field as truth)", "",
                  "| extractor | setting | products | recovered | other brand only | none | recovery |",
                  "|---|---|---:|---:|---:|---:|---:|"]
    for setting, rows in doc["brand_recovery"].items():
        for name, r in rows.items():
            lines.append(f"| {name} | {setting} | {r['products']} | {r.get('recovered', 0)} | "
                         f"{r.get('other brand only', 0)} | {r.get('no brand found', 0)} | {r['recovery']:.3f} |")
    if doc["throughput"]:
        lines += ["", "### Throughput on amazon-office (title + description, 2 CPU threads)", "",
                  "| extractor | products | wall s | products/s (wall) | CPU s | products per CPU-second |",
                  "|---|---:|---:|---:|---:|---:|"]
    for name, r in doc["throughput"].items():
        lines.append(f"| {name} | {r['products']} | {r['seconds']} | {r['products_per_s']} | {r['cpu_seconds']} | "
                     f"{r['products_per_cpu_s']} |")
    sweep = doc.get("merge_sweep")
    if sweep:
        lines += ["", f"### Near-duplicate merging: {sweep['pairs']} hand-labelled candidate pairs "
                  f"({sweep['same']} same entity), merge if string ratio >= s and MiniLM cosine >= e", "",
                  "| s | e | merged | precision | recall |", "|---:|---:|---:|---:|---:|"]
        for g in sweep["grid"]:
            mark = " (chosen)" if g is sweep["chosen"] or g == sweep["chosen"] else ""
            lines.append(f"| {g['string']} | {g['embedding'] or 'none'} | {g['merged']} | {g['precision']} | "
                         f"{g['recall']}{mark} |")
    e2e = doc.get("end_to_end")
    if e2e:
        lines += ["", f"End to end (`extract_into`, lexicon, fresh embedded graph, writes included): "
                  f"{e2e['products']} products in {e2e['seconds']} s ({e2e['products_per_s']} products/s), "
                  f"{e2e['entities']} entities, {e2e['mentions']} MENTIONS; re-run on unchanged text: "
                  f"{e2e['rerun_products_extracted']} products extracted, {e2e['rerun_model_calls']} model calls, "
                  f"{e2e['rerun_seconds']} s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--model", type=Path, default=None, help="trained token classifier (extract-train)")
    parser.add_argument("--throughput-sample", type=int, default=500,
                        help="products timed for model-based extractors (the lexicon runs on all)")
    parser.add_argument("--out", default="extract", help="results file stem under bench/results")
    parser.add_argument("--quality-only", action="store_true",
                        help="the gold-set quality only (no brand recovery, throughput, merge sweep, end to end)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    office, office_brands, _ = products_from_sources([args.data_dir / "amazon-office"])
    _, beauty_brands, beauty_categories = products_from_sources([args.data_dir / "amazon-beauty"])
    brands, categories = sorted(set(office_brands) | set(beauty_brands)), beauty_categories
    gold = load_gold(GOLD)
    model_dir = args.model if args.model and (args.model / "config.json").is_file() else None
    doc: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                           "gold": {"file": str(GOLD.relative_to(ROOT)), "items": len(gold),
                                    "entities": sum(len(g.entities) for g in gold)},
                           "model": str(model_dir) if model_dir else None, "quality": {}, "brand_recovery": {},
                           "throughput": {}}
    # The gold set spans three catalogs: the lexicon knows the brands each would bring (INDUSTRIAL_BRANDS stands
    # in for the industrial one's brand field).
    for name, extractor in extractors(Lexicon(sorted({*brands, *INDUSTRIAL_BRANDS}), categories), model_dir).items():
        doc["quality"][name] = quality(extractor, gold)
        print(f"{name}: strict F1 {doc['quality'][name]['all']['strict']['overall']['f1']}", flush=True)
    if not args.quality_only:
        measure_corpus(doc, args, office, brands, categories, model_dir)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    table = markdown(doc)
    (RESULTS / f"{args.out}.md").write_text(table, encoding="utf-8")
    print(table)


def measure_corpus(doc: dict[str, Any], args: argparse.Namespace, office: list[Product], brands: list[str],
                   categories: list[str], model_dir: Path | None) -> None:
    """Brand recovery, throughput, the merge sweep and the end-to-end run on amazon-office, into ``doc``."""
    full = extractors(Lexicon(brands, categories), model_dir)
    doc["brand_recovery"]["all catalog brands in the lexicon"] = {
        name: brand_recovery(e, office) for name, e in full.items() if name != "llm"}
    unseen = [p for p in office if held_out_brand(p.brand)]
    blind = extractors(Lexicon([b for b in brands if not held_out_brand(b)], categories), model_dir)
    doc["brand_recovery"]["held-out brand fold (not in lexicon or training)"] = {
        name: brand_recovery(e, unseen) for name, e in blind.items() if name != "llm"}
    for name, extractor in full.items():
        if name == "llm":
            continue
        sample = None if name in ("lexicon", "hybrid") else args.throughput_sample
        doc["throughput"][name] = throughput(extractor, office, sample)
    doc["merge_sweep"] = merge_sweep()
    doc["end_to_end"] = end_to_end(args.data_dir, LexiconExtractor(Lexicon(brands, categories)))


if __name__ == "__main__":
    main()
