"""Query understanding: what the user typed, read against the catalog before anything is retrieved.

In order: price phrases (:mod:`api.serving.price`) and negations (:mod:`api.serving.negation`) are read and
taken out of the text; words the catalog does not know are spelling-corrected against the catalog's own
vocabulary (:mod:`api.serving.spelling`); the corrected text is linked to brand / category / entity nodes
(:mod:`api.serving.linking`) and typed with the extraction's own extractor (patterns and lexicons of
:mod:`kg.extract.lexicon`, built with the catalog's brand and category names, so a query is read with the
schema the products were read with: product type, colour, size, quantity, audience, material, feature...).

The result lists **constraints**: each typed span of the query, with the products that keep it (linked to a
node of that name, or whose text has all its words). Brand and the typed attributes are *rank* constraints:
a product that breaks one never ranks above a product that keeps more (:mod:`api.serving.search`). Price
(where the catalog has prices) and negation are *filters*. A price phrase in a catalog without prices is
recognised and said back as not applied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from api.serving.bm25 import BM25Index
from api.serving.catalog import Catalog
from api.serving.glossary import Glossary
from api.serving.linking import EntityLinker, Mention
from api.serving.negation import Negation, NegationIndex, parse_negations
from api.serving.price import PriceRange, parse_price
from api.serving.spelling import Correction, SpellCorrector, english_words, names_only_inside, vocabulary
from api.serving.text import STOPWORDS, WORD, normalize, term, terms, tokens
from api.serving.translate import QueryTranslator, Translation
from kg.extract.lexicon import Lexicon, LexiconExtractor
from kg.extract.normalise import canonical_key
from kg.extract.schema import EntityType

#: Typed spans that are not constraints: too vague to rank by ("set", "kit" as product types).
_VAGUE = frozenset({"set", "kit", "pack", "refill", "case", "card", "tab", "pad", "tray", "stand", "box", "gel"})
#: Words that open a post-modifier: a type after one modifies the type before it ("brush for eyeliner" is a brush).
_POST_MODIFIER = frozenset({"for", "with", "of", "in", "on", "to", "from", "by", "at"})
CHEAP_QUANTILE = 0.25
_NONE = np.zeros(0, dtype=np.int64)


def _inverted(docs: list[frozenset[str]]) -> dict[str, np.ndarray]:
    """Term -> sorted indexes of the documents (term sets) that have it."""
    postings: dict[str, list[int]] = {}
    for i, words in enumerate(docs):
        for w in words:
            postings.setdefault(w, []).append(i)
    return {w: np.array(ids, dtype=np.int64) for w, ids in postings.items()}


@dataclass
class Constraint:
    """One thing the query asks for, and how the search used it.

    Attributes:
        kind: brand, product_type, color, size, quantity, audience, material, feature, ingredient, model_number,
            compatible_with, price or negation.
        value: the canonical value ("Maybelline", "red", "<= 10", "fragrance").
        text: the query's words that said it.
        how: ``rank`` (products keeping it rank above those breaking it), ``filter`` (products breaking it are
            left out) or ``not_applied`` (with ``note`` saying why).
        keep: per catalog product, whether it keeps the constraint (None for price: see the filter mask).
        held: for a product type, per product, whether the product *is* of that type: the type's words are in
            its title, or it is in a category of that name (``keep`` also counts a description that only
            mentions the type: an office product whose description says "lipstick" keeps ``lipstick`` but is
            no lipstick). None for other kinds.
        head: for a product type, whether it is the query's head type, the noun the rest modifies: the type
            ending last before any post-modifier ("lamp" in "gel nail polish uv lamp", "brush" in "brush for
            eyeliner"). A product of that type is of the kind the query asks for.
    """

    kind: str
    value: str
    text: str
    how: str
    note: str = ""
    keep: np.ndarray | None = field(default=None, repr=False)
    held: np.ndarray | None = field(default=None, repr=False)
    head: bool = False


@dataclass
class Understanding:
    original: str
    corrected: str
    corrections: list[Correction]
    search_text: str
    """What retrieval sees: the corrected query without price and negation phrases."""
    mentions: list[Mention]
    constraints: list[Constraint]
    price: PriceRange | None
    negations: list[Negation]
    unknown_words: list[str]
    known_terms: int
    """How many of the search text's terms the catalog's texts or names use (0: nothing can match)."""
    translations: list[Translation] = field(default_factory=list)
    """Foreign words read through a bilingual dictionary (:mod:`api.serving.translate`), before spelling."""

    def of(self, how: str) -> list[Constraint]:
        return [c for c in self.constraints if c.how == how]

    @property
    def filter_mask(self) -> np.ndarray | None:
        masks = [c.keep for c in self.of("filter") if c.keep is not None]
        return np.logical_and.reduce(masks) if masks else None


def _apply(text: str, corrections: list[Correction]) -> str:
    """``text`` with each corrected word replaced (whole words, any case)."""
    for c in corrections:
        text = re.sub(rf"(?i)(?<![^\W_]){re.escape(c.original)}(?![^\W_])", c.corrected, text)
    return text


def _translated(text: str, translations: list[Translation]) -> str:
    """``text`` with each translated span replaced by its English gloss."""
    for t in translations:
        text = text.replace(t.original, t.english, 1)
    return text


def head_span(text: str, spans: list[tuple[int, int, Constraint]]) -> Constraint:
    """The head of the query's noun phrase among its typed ``spans`` (start, end, constraint) of ``text``.

    In an English compound the last noun is the head and the nouns before it modify it ("nail polish" in
    "gel nail polish uv lamp" says which lamp); a phrase opened by a preposition after the head modifies it too
    ("for eyeliner" in "brush for eyeliner"). So the head is the type ending last before the first
    post-modifying word that follows a type, or the last type when none follows one."""
    first_start = min(start for start, _, _ in spans)
    cut = next((m.start() for m in WORD.finditer(text)
                if m.start() > first_start and normalize(m.group()) in _POST_MODIFIER), len(text))
    before = [s for s in spans if s[1] <= cut] or spans
    return max(before, key=lambda s: s[1])[2]


def title_head(extractor: LexiconExtractor, title: str) -> str:
    """The product type a ``title`` is about, as the extraction reads it, canonical and without spaces ("" when
    the title names none): the first type the title names, or the last noun of a compound starting there
    ("Pencil" "Sharpener" -> "sharpener"). A title states its product before what it fits or comes with, so
    "Fellowes Shredder Bags for 125 Series Shredders" is about bags, "Whiteboard Eraser" about an eraser."""
    spans = sorted((start, end) for kind, start, end, _, _ in extractor.spans(title, is_title=True)
                   if kind is EntityType.PRODUCT_TYPE)
    if not spans:
        return ""
    head = spans[0]
    for start, end in spans[1:]:
        if start < head[1] or title[head[1]:start].strip():
            break
        head = (start, end)
    span = title[head[0]:head[1]]
    return "".join(terms(canonical_key(EntityType.PRODUCT_TYPE, span) or span))


class QueryParser:
    """Everything understanding needs from one catalog, built once per serving index."""

    def __init__(self, catalog: Catalog, bm25: BM25Index, linker: EntityLinker,
                 glossaries: Sequence[Glossary] = ()) -> None:
        """``glossaries``: bilingual dictionaries for queries in other languages (none: no translation)."""
        self.catalog = catalog
        self.bm25 = bm25
        self.linker = linker
        named = [(t, [term(w) for w in tokens(catalog.display_name(t, i))], len(catalog.members[t].row(i)))
                 for t in catalog.node_ids for i in range(len(catalog.node_ids[t]))]
        text_words = bm25.document_frequencies()
        words_used = vocabulary(text_words, [(words, size) for _, words, size in named])
        self.speller = SpellCorrector(
            words_used,
            not_targets=names_only_inside((words for _, words, _ in named), bm25.docs_with),
            real_words=english_words(),
            brand_names={words[0] for t, words, _ in named if t == "brand" and len(words) == 1})
        self.translator = QueryTranslator(glossaries, frequency=lambda t: words_used.get(t, 0),
                                          english=english_words().__contains__)
        self.extractor = LexiconExtractor(Lexicon(catalog.node_names["brand"], catalog.node_names["category"]))
        self.negation = NegationIndex(catalog.texts)
        self.title_terms = [frozenset(terms(t)) for t in catalog.titles]
        self.title_heads = [title_head(self.extractor, t) for t in catalog.titles]
        self._title_docs = _inverted(self.title_terms)
        prices = catalog.price[np.isfinite(catalog.price)]
        self.has_prices = bool(len(prices))
        self.cheap_max = float(np.quantile(prices, CHEAP_QUANTILE)) if len(prices) else None

    def parse(self, query: str) -> Understanding:
        price, rest = parse_price(query, self.cheap_max)
        negations, rest = parse_negations(rest)
        rest, translations = self.translator.translate(rest)
        corrected, corrections, unknown = self._correct(rest, respell=not translations)
        mentions = self.linker.link(corrected)
        search_terms = terms(corrected)
        known = sum(1 for t in search_terms if self.speller.known(t))
        typed = self._typed(corrected)
        # A brand that is also a typed word here ("clear" in "clear nail polish") is read as the word.
        typed_words = {w for c in typed for w in tokens(c.text)}
        brands = [m for m in mentions if not set(tokens(m.text)) <= typed_words]
        constraints = self._brands(brands) + typed
        constraints += self._negation_constraints(negations)
        if price is not None:
            constraints.append(self._price(price))
        return Understanding(query, _apply(_translated(query, translations), corrections), corrections, corrected,
                             mentions, constraints, price, negations, unknown, known, translations)

    # -- spelling ---------------------------------------------------------------------------------------
    def _correct(self, text: str, *, respell: bool = True) -> tuple[str, list[Correction], list[str]]:
        """(``text`` with its unknown words corrected, the corrections, the words left unknown). ``respell``
        False (a query read in another language): unknown words are left as they are, since one there is
        likelier a word the dictionary lacks than a misspelled English one ("impresora" is not "impresa")."""
        corrections: list[Correction] = []
        unknown: list[str] = []

        def fix(m: re.Match[str]) -> str:
            word = normalize(m.group())
            if not word or word in STOPWORDS or word.isdigit() or self._known(word):
                return m.group()
            better = self.speller.correct(word) if respell else None
            if better is None:
                unknown.append(word)
                return m.group()
            corrections.append(Correction(word, better))
            return better

        return WORD.sub(fix, text), corrections, unknown

    def _known(self, word: str) -> bool:
        parts = tokens(word)
        return all(self.speller.known(term(p)) or self.speller.known(p) for p in parts)

    def suggestions(self, u: Understanding, n: int = 5) -> list[str]:
        """Queries to try when ``u`` matches nothing: its unknown words respelled, else popular categories."""
        out: list[str] = []
        for word in u.unknown_words:
            for alt in self.speller.suggest(word):
                out.append(u.search_text.replace(word, alt) if word in u.search_text else alt)
        if u.of("filter") and u.search_text.strip():
            out.append(u.search_text)  # the same words without the price limit / negation ("0$" has none)
        if not out:
            sizes = self.catalog.members["category"].sizes()
            common = sizes <= 0.3 * max(self.catalog.num_products, 1)  # not a whole department
            for i in np.argsort(-np.where(common, sizes, 0), kind="stable")[:n]:
                if sizes[i]:
                    out.append(self.catalog.display_name("category", int(i)))
        return list(dict.fromkeys(s for s in out if s.strip()))[:n]

    # -- constraints ----------------------------------------------------------------------------------
    def _members(self, node_type: str, indexes: list[int]) -> np.ndarray:
        keep = np.zeros(self.catalog.num_products, dtype=bool)
        for i in indexes:
            keep[self.catalog.members[node_type].row(i)] = True
        return keep

    def _brands(self, mentions: list[Mention]) -> list[Constraint]:
        by_text: dict[str, list[Mention]] = {}
        for m in mentions:
            if m.node_type == "brand":
                by_text.setdefault(m.text, []).append(m)
        out = []
        for text, ms in by_text.items():
            keep = self._members("brand", [m.index for m in ms])
            # A product without a brand field keeps it when its text names the brand.
            no_brand = self.catalog.attributes["brand"].sizes() == 0
            keep |= no_brand & self._has_words(text)
            out.append(Constraint("brand", ms[0].name, text, "rank", keep=keep))
        return out

    def _has_words(self, text: str) -> np.ndarray:
        keep = np.zeros(self.catalog.num_products, dtype=bool)
        words = terms(text)
        if not words:
            return keep
        docs = self.bm25.docs_with(words[0])
        for w in words[1:]:
            docs = np.intersect1d(docs, self.bm25.docs_with(w), assume_unique=True)
        keep[docs] = True
        return keep

    def _title_has_words(self, text: str) -> np.ndarray:
        """Per product, whether its title has every word of ``text``."""
        keep = np.zeros(self.catalog.num_products, dtype=bool)
        words = terms(text)
        if words:
            docs = self._title_docs.get(words[0], _NONE)
            for w in words[1:]:
                docs = np.intersect1d(docs, self._title_docs.get(w, _NONE), assume_unique=True)
            keep[docs] = True
        return keep

    def _typed(self, text: str) -> list[Constraint]:
        out, type_spans = [], []
        for entity_type, start, end, _, _ in self.extractor.spans(text, is_title=False):
            span = text[start:end]
            if entity_type is EntityType.BRAND or normalize(span) in _VAGUE:
                continue
            # The extraction's canonical form: "lip colour" is "lip color", "eyeliners" is "eyeliner".
            value = canonical_key(entity_type, span) or normalize(span)
            keep = self._has_words(value)
            is_type = entity_type is EntityType.PRODUCT_TYPE
            held = self._title_has_words(value) if is_type else None
            for name in dict.fromkeys((span, value)):
                for m in self.linker.link(name):
                    if m.text == normalize(name) and m.node_type != "brand":
                        members = self._members(m.node_type, [m.index])
                        keep |= members
                        if held is not None and m.node_type == "category":
                            held |= members
            out.append(Constraint(entity_type.value, value, span, "rank", keep=keep, held=held))
            if is_type:
                type_spans.append((start, end, out[-1]))
        if type_spans:
            head_span(text, type_spans).head = True
        return out

    def _negation_constraints(self, negations: list[Negation]) -> list[Constraint]:
        out = []
        n = self.catalog.num_products
        for neg in negations:
            says_free = np.zeros(n, dtype=bool)
            says_free[self.negation.negating(neg.word)] = True
            mentions = np.zeros(n, dtype=bool)
            mentions[self.bm25.docs_with(neg.word)] = True
            out.append(Constraint("negation", neg.word, neg.phrase, "filter", keep=~mentions | says_free))
            out.append(Constraint("feature", f"{neg.word} free", neg.phrase, "rank", keep=says_free))
        return out

    def _price(self, price: PriceRange) -> Constraint:
        if not self.has_prices:
            return Constraint("price", price.describe() if price.max or price.min else "cheap", price.phrase,
                              "not_applied", note="this catalog has no prices")
        p = self.catalog.price
        keep = np.isfinite(p)
        if price.min is not None:
            keep &= p >= price.min
        if price.max is not None:
            keep &= p <= price.max
        note = f"cheap: at most the catalog's lower-quartile price {price.max:g}" if price.cheap and price.max \
            else ""
        return Constraint("price", price.describe(), price.phrase, "filter", note=note, keep=keep)
