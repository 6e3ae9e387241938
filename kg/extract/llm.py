"""LLM extractor for any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp server, hosted).

- Prompt: versioned (:data:`PROMPT_VERSION`), it states the type schema and asks for JSON only. Several
  products go in one request (``batch_size``), each with its index.
- Reply: parsed strictly. The message content must be one JSON object (a Markdown code fence around it is
  tolerated, nothing else); ``{"items": [{"i": 0, "entities": [{"type": ..., "text": ...}]}]}``. Per item:
  an entity of an unknown type, or whose text does not occur in the product's text (a hallucination), is
  dropped and counted; a reply that is not such an object, or that misses an item, is retried, and after
  the last retry the item gets an error (counted by the run; the product is kept and retried next run).
- Transport: stdlib ``urllib`` (no extra dependency), a timeout per request, retries with exponential
  backoff and jitter on timeouts, connection errors, HTTP 429 and 5xx; other HTTP errors fail the batch at
  once with the server's message. At most ``concurrency`` requests in flight.
- Cache: SQLite, keyed by ``sha256(text) + model + prompt version``; a cached product costs no request.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.errors import ConfigError
from kg.extract.base import EntityExtractor, ItemResult, Mention, TextItem, locate
from kg.extract.schema import SCHEMA_VERSION, parse_type, schema_text

PROMPT_VERSION = f"extract-v1.s{SCHEMA_VERSION}"
MAX_TEXT_CHARS = 2_000
"""Characters of each field sent to the model (the head of a description says what the product is)."""

SYSTEM_PROMPT = f"""You extract product entities from e-commerce product text.
Entity types (use exactly these names):
{schema_text()}

Rules: copy each entity's text exactly as it appears in the product text (same words, no paraphrase);
one entry per distinct entity; skip anything that fits no type; never invent entities.
Reply with one JSON object and nothing else:
{{"items": [{{"i": <product index>, "entities": [{{"type": "<type>", "text": "<exact text>"}}]}}]}}
with one entry in "items" for every product index you were given."""

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.S)


@dataclass(frozen=True)
class LLMConfig:
    url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 0.5
    batch_size: int = 8
    concurrency: int = 4
    temperature: float = 0.0
    json_mode: bool = True
    """Send ``response_format: {"type": "json_object"}`` (OpenAI, vLLM, Ollama and llama.cpp accept it)."""

    @classmethod
    def from_settings(cls, settings: Any) -> LLMConfig:
        if not settings.llm_url or not settings.llm_model:
            raise ConfigError(
                "the LLM extractor needs an OpenAI-compatible endpoint: set CARTOGRAPH_LLM_URL (e.g. "
                "http://localhost:11434/v1 for Ollama) and CARTOGRAPH_LLM_MODEL (e.g. llama3.1:8b); "
                "CARTOGRAPH_LLM_API_KEY if the server wants one. Without one, use --extractor auto (offline)."
            )
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(url=settings.llm_url, model=settings.llm_model, api_key=key, timeout_s=settings.llm_timeout_s,
                   batch_size=settings.llm_batch_size, concurrency=settings.llm_concurrency)

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


class ReplyError(ValueError):
    """The reply cannot be used (not JSON, wrong shape); retried."""


class _Cache:
    """(text hash, model, prompt version) -> validated entities, in SQLite (thread-safe, one connection)."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False)
            self._conn.execute("CREATE TABLE IF NOT EXISTS llm (key TEXT PRIMARY KEY, entities TEXT NOT NULL)")

    def get(self, key: str) -> list[dict[str, str]] | None:
        if self._conn is None:
            return None
        with self._lock:
            row = self._conn.execute("SELECT entities FROM llm WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, entities: list[dict[str, str]]) -> None:
        if self._conn is None:
            return
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO llm VALUES (?, ?)", (key, json.dumps(entities)))
            self._conn.commit()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _payload_text(item: TextItem) -> dict[str, str]:
    return {name: text[:MAX_TEXT_CHARS] for name, text in item.fields.items()}


def parse_reply(content: str, n_items: int) -> dict[int, list[Any]]:
    """Item index -> raw entity list, from a reply's message content; :class:`ReplyError` if unusable."""
    fenced = _FENCE.match(content)
    text = fenced.group(1) if fenced else content
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReplyError(f"reply is not JSON ({e.msg} at {e.pos}): {content[:120]!r}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ReplyError(f"reply JSON has no 'items' list: {text[:120]!r}")
    out: dict[int, list[Any]] = {}
    for entry in doc["items"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("i"), int) or not isinstance(
                entry.get("entities"), list):
            raise ReplyError(f"reply item is not {{'i': int, 'entities': list}}: {str(entry)[:120]!r}")
        if 0 <= entry["i"] < n_items:
            out[entry["i"]] = entry["entities"]
    missing = sorted(set(range(n_items)) - set(out))
    if missing:
        raise ReplyError(f"reply misses product index(es) {missing}")
    return out


def validate_entities(raw: list[Any], item: TextItem, result: ItemResult) -> list[dict[str, str]]:
    """Entities of a known type whose text occurs in the item's text; the rest dropped and counted."""
    haystack = " ".join(item.fields.values()).lower()
    valid: list[dict[str, str]] = []
    for entity in raw:
        if not isinstance(entity, dict) or not isinstance(entity.get("type"), str) or not isinstance(
                entity.get("text"), str):
            result.note("malformed entity in LLM reply")
            continue
        entity_type = parse_type(entity["type"])
        text = entity["text"].strip()
        if entity_type is None:
            result.note("unknown entity type in LLM reply")
            continue
        if not text or text.lower() not in haystack:
            result.note("LLM entity text not in the product text")
            continue
        valid.append({"type": entity_type.value, "text": text})
    return valid


class LLMExtractor(EntityExtractor):
    """Entities from a chat-completions endpoint (see the module docstring).

    Args:
        config: endpoint, model, key and limits.
        cache_dir: where the SQLite cache lives (None: no cache).
    """

    kind = "llm"

    def __init__(self, config: LLMConfig, cache_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config
        self._cache = _Cache(cache_dir / "llm.sqlite" if cache_dir is not None else None)
        self._calls_lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"llm:{self.config.model}@{PROMPT_VERSION}"

    def cache_key(self, item: TextItem) -> str:
        text = json.dumps(_payload_text(item), sort_keys=True, ensure_ascii=False)
        text_hash = hashlib.sha256(text.encode()).hexdigest()
        return hashlib.sha256(f"{text_hash}\x00{self.config.model}\x00{PROMPT_VERSION}".encode()).hexdigest()

    def extract_batch(self, items: Sequence[TextItem]) -> list[ItemResult]:
        results = [ItemResult() for _ in items]
        pending: list[int] = []
        for i, item in enumerate(items):
            cached = self._cache.get(self.cache_key(item))
            if cached is None:
                pending.append(i)
            else:
                results[i].mentions = self._mentions(cached, item)
        groups = [pending[k:k + self.config.batch_size] for k in range(0, len(pending), self.config.batch_size)]
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            for group, outcome in zip(groups, pool.map(lambda g: self._request([items[i] for i in g]), groups),
                                      strict=True):
                for i, entities_or_error in zip(group, outcome, strict=True):
                    if isinstance(entities_or_error, str):
                        results[i].error = entities_or_error
                        continue
                    valid = validate_entities(entities_or_error, items[i], results[i])
                    self._cache.put(self.cache_key(items[i]), valid)
                    results[i].mentions = self._mentions(valid, items[i])
        return results

    def _mentions(self, entities: list[dict[str, str]], item: TextItem) -> list[Mention]:
        out = []
        for entity in entities:
            entity_type = parse_type(entity["type"])
            if entity_type is None:
                continue
            for field_name, text in item.fields.items():
                start, end = locate(text, entity["text"])
                if start >= 0:
                    out.append(Mention(entity_type, text[start:end], field_name, start, end, 0.8, self.name))
                    break
        return out

    def _request(self, group: list[TextItem]) -> list[list[Any] | str]:
        """Raw entity lists per item, or an error string per item when every attempt failed."""
        products = [{"i": i, **_payload_text(item)} for i, item in enumerate(group)]
        body: dict[str, Any] = {
            "model": self.config.model,
            "temperature": self.config.temperature,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps({"products": products}, ensure_ascii=False)},
            ],
        }
        if self.config.json_mode:
            body["response_format"] = {"type": "json_object"}
        last_error = "no attempt made"
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                time.sleep(self.config.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            try:
                content = self._post(body)
                parsed = parse_reply(content, len(group))
                return [parsed[i] for i in range(len(group))]
            except ReplyError as e:
                last_error = f"bad LLM reply: {e}"
            except _Retryable as e:
                last_error = f"LLM endpoint error: {e}"
            except _Fatal as e:
                return [f"LLM endpoint refused the request: {e}"] * len(group)
        return [f"{last_error} (after {self.config.max_retries + 1} attempts)"] * len(group)

    def _post(self, body: dict[str, Any]) -> str:
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.config.endpoint, data=json.dumps(body).encode(), headers=headers,
                                         method="POST")
        with self._calls_lock:
            self.model_calls += 1
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace")
            if e.code == 429 or e.code >= 500:
                raise _Retryable(f"HTTP {e.code}: {detail}") from e
            raise _Fatal(f"HTTP {e.code}: {detail}") from e
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            raise _Retryable(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from e
        try:
            doc = json.loads(raw)
            content = doc["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as e:
            raise ReplyError(f"not a chat-completions response: {raw[:120]!r}") from e
        if not isinstance(content, str):
            raise ReplyError("message content is not a string")
        return content

    def close(self) -> None:
        self._cache.close()


class _Retryable(Exception):
    pass


class _Fatal(Exception):
    pass
