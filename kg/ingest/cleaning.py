"""Cleaning of marketplace product text, and the content hash later steps use to detect changed text.

Marketplace titles and descriptions arrive as whatever the seller's tooling produced: Python/JSON list
literals (``"['para 1', 'para 2']"``, the whole amazon-office catalog), HTML tags, CSS blocks inside HTML
comments (``<!-- .headerM {...} -->``), ``<style>``/``<script>`` blocks, HTML entities (``&amp;``,
``&rdquo;``, ``&#39;``, double-encoded ``&amp;rsquo;``), cut-off tags (``Br><br``), non-breaking spaces and
control characters. The text embeddings and entity extraction downstream should see readable prose, so
cleaning turns all of that into plain text with paragraphs separated by a blank line. Nothing is dropped
from the product: the pipeline keeps the raw text beside the cleaned one whenever cleaning changed it, so
cleaning can be improved and redone later.

Long descriptions are capped (``max_chars``): a 1 MB description is a scraping accident, and it would
dominate the embedding and the extraction cost. Truncation is reported, never silent.
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import re
import unicodedata
from dataclasses import dataclass

#: Default caps, in characters, of cleaned text (see :func:`clean_product_text`).
MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 20_000
#: Caps of the raw copies kept beside cleaned text (markup makes raw text a few times longer than the prose
#: it holds): enough to redo cleaning for any real listing, not a second copy of a scraping accident.
MAX_RAW_TITLE_CHARS = 4 * MAX_TITLE_CHARS
MAX_RAW_DESCRIPTION_CHARS = 5 * MAX_DESCRIPTION_CHARS
#: Above this size a list literal is not parsed (parsing is linear, but a stray 50 MB blob is not prose).
_MAX_LITERAL_CHARS = 5_000_000
_ELLIPSIS = "…"

# Blocks whose content is never prose. An unterminated one runs to the end of the text, as in a browser.
_BLOCKS = re.compile(r"<!--.*?(?:-->|\Z)|<(style|script)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)
_BLOCK_TAGS = re.compile(r"</?(?:br|p|div|li|ul|ol|tr|table|h[1-6]|hr)\b[^<>]*>", re.I)
_TAGS = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
# Cut-off line breaks seen in real listings: "Br><br" at the end of a description.
_BROKEN_BR = re.compile(r"<br\b\s*/?|\bbr\s*/?>", re.I)
_ENTITY = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);")
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\ufeff\u00ad"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0/C1 controls except \t \n \r


@dataclass(frozen=True)
class CleanText:
    """Result of :func:`clean_text`: ``text`` is None when nothing readable is left."""

    text: str | None
    changed: bool
    """The cleaned text differs from the input (so the raw text is worth keeping)."""
    truncated: bool


@dataclass(frozen=True)
class ProductText:
    """A product's cleaned title and description, the raw ones where cleaning changed them, and the hash."""

    title: str | None
    description: str | None
    title_raw: str | None
    description_raw: str | None
    text_hash: str
    title_truncated: bool
    description_truncated: bool


def _list_literal_items(text: str) -> list[str] | None:
    """The strings of a list literal like ``"['a', 'b']"`` or ``'["a"]'``; None when it is not one."""
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")) or len(stripped) > _MAX_LITERAL_CHARS:
        return None
    for parse in (ast.literal_eval, json.loads):
        try:
            value = parse(stripped)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
    return None


def _strip_markup(text: str) -> str:
    text = _BLOCKS.sub(" ", text)
    text = _BLOCK_TAGS.sub("\n", text)
    text = _TAGS.sub("", text)
    text = _BROKEN_BR.sub("\n", text)
    for _ in range(2):  # double-encoded entities (&amp;rsquo;) need a second pass
        if not _ENTITY.search(text):
            break
        text = html.unescape(text)
    return _TAGS.sub("", text)  # tags that were entity-encoded (&lt;b&gt;) are markup too


def _normalise_space(text: str, single_line: bool) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).translate(_ZERO_WIDTH)
    text = _CONTROL.sub("", text)
    if single_line:
        return " ".join(text.split())
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _truncate(text: str, max_chars: int) -> str:
    """Cut to at most ``max_chars`` characters, at a word boundary when one is near, marked with '…'."""
    cut = text[: max_chars - len(_ELLIPSIS)]
    space = cut.rfind(" ")
    if space > len(cut) * 0.9:
        cut = cut[:space]
    return cut.rstrip() + _ELLIPSIS


def clean_text(raw: str | None, *, single_line: bool = False, max_chars: int | None = None) -> CleanText:
    """Plain, readable text from marketplace text (see the module docstring for what is removed).

    ``single_line`` folds every whitespace run to one space (titles); otherwise paragraphs (list items,
    block tags) are separated by a blank line. Empty results become None.
    """
    if raw is None or not raw.strip():
        return CleanText(None, False, False)
    items = _list_literal_items(raw)
    parts = items if items is not None else [raw]
    cleaned = [_normalise_space(_strip_markup(part), single_line) for part in parts]
    text = (" " if single_line else "\n\n").join(part for part in cleaned if part)
    truncated = max_chars is not None and len(text) > max_chars
    if truncated:
        assert max_chars is not None
        text = _truncate(text, max_chars)
    return CleanText(text or None, (text or None) != raw, truncated)


def text_hash(title: str | None, description: str | None) -> str:
    """SHA-256 (hex) of the cleaned title and description: what later steps compare to find changed text.

    Defined as ``sha256(utf8(title or "") + b"\\x00" + utf8(description or ""))``. Cleaned text never
    contains NUL (control characters are removed), so the separator makes the pair unambiguous. Changing
    this definition, or the cleaning, changes every hash and makes later steps redo all products.
    """
    payload = (title or "").encode("utf-8") + b"\x00" + (description or "").encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def clean_product_text(
    title: str | None,
    description: str | None,
    *,
    max_title_chars: int = MAX_TITLE_CHARS,
    max_description_chars: int = MAX_DESCRIPTION_CHARS,
) -> ProductText:
    """Clean a product's title and description; keep each raw text only where cleaning changed it."""
    t = clean_text(title, single_line=True, max_chars=max_title_chars)
    d = clean_text(description, max_chars=max_description_chars)
    return ProductText(
        title=t.text,
        description=d.text,
        title_raw=title if t.changed else None,
        description_raw=description if d.changed else None,
        text_hash=text_hash(t.text, d.text),
        title_truncated=t.truncated,
        description_truncated=d.truncated,
    )
