"""Entity linking for search: find the query's mentions of Brand, Category and Entity nodes, in memory.

Names (and ids) of every brand, category and entity in the catalog are normalised into one dictionary; the
query's word n-grams are looked up longest first, left to right, without overlap. Words are compared in their
singular (:func:`api.serving.text.term`), so "eyeliners" links the category "Eyeliner". A one-word name that is a
stop word never links by itself. Each mention links to every node of that name (a brand and a category can
share one).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.serving.catalog import Catalog
from api.serving.text import STOPWORDS, term, tokens

MAX_NAME_WORDS = 6


@dataclass(frozen=True)
class Mention:
    """A span of the query linked to one graph node."""

    text: str
    node_type: str
    index: int
    node_id: str
    name: str


class EntityLinker:
    """Links query text to the catalog's brand, category and entity nodes."""

    def __init__(self, catalog: Catalog) -> None:
        self._names: dict[str, list[tuple[str, int]]] = {}
        self._catalog = catalog
        for node_type, ids in catalog.node_ids.items():
            for i, node_id in enumerate(ids):
                for raw in {catalog.node_names[node_type][i], node_id}:
                    key = " ".join(term(w) for w in tokens(raw or ""))
                    if not key or key in STOPWORDS or len(key) < 2 or len(key.split()) > MAX_NAME_WORDS:
                        continue
                    targets = self._names.setdefault(key, [])
                    if (node_type, i) not in targets:
                        targets.append((node_type, i))

    @property
    def size(self) -> int:
        return len(self._names)

    def link(self, query: str) -> list[Mention]:
        raw = tokens(query)
        words = [term(w) for w in raw]
        mentions: list[Mention] = []
        start = 0
        while start < len(words):
            for n in range(min(MAX_NAME_WORDS, len(words) - start), 0, -1):
                span = " ".join(words[start:start + n])
                targets = self._names.get(span)
                if targets:
                    surface = " ".join(raw[start:start + n])
                    for node_type, i in targets:
                        mentions.append(Mention(surface, node_type, i, self._catalog.node_ids[node_type][i],
                                                self._catalog.display_name(node_type, i)))
                    start += n
                    break
            else:
                start += 1
        return mentions
