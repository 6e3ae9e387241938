"""Building the configured extractor: ``auto``, ``lexicon``, ``hybrid``, ``tokens`` or ``llm``.

``auto`` is the offline default: the hybrid extractor (patterns and lexicons, plus the brands found by the
MiniLM token classifier trained by ``cartograph extract-train``), chosen by measurement (``bench/extract.py``:
same gold-set F1 on the other types, better brand F1, and brands outside every lexicon recovered; see
:mod:`kg.extract.hybrid`); when no trained model exists yet it falls back to patterns and lexicons and says
so.
"""

from __future__ import annotations

from pathlib import Path

from kg.config import Settings
from kg.errors import ConfigError, ExtractionError
from kg.extract.base import EntityExtractor
from kg.extract.lexicon import Lexicon, LexiconExtractor
from kg.extract.link import lexicon_names
from kg.store import GraphStore

NAMES = ("auto", "lexicon", "hybrid", "tokens", "llm")


def default_model_dir(settings: Settings) -> Path:
    """Where ``cartograph extract-train`` writes the fine-tuned token classifier."""
    return settings.artifacts_dir / "extract" / "minilm-ner"


def trained_model_dir(settings: Settings) -> Path | None:
    """The token classifier to use: the configured one, else the trained default if it exists."""
    path = settings.extract_model_dir or default_model_dir(settings)
    return path if (path / "config.json").is_file() else None


def lexicon_from_store(store: GraphStore) -> Lexicon:
    brands, categories = lexicon_names(store)
    return Lexicon(brands, categories)


def build_extractor(settings: Settings, store: GraphStore, name: str) -> tuple[EntityExtractor, str | None]:
    """The extractor called ``name`` and a message for the operator (a fallback taken), or an error saying
    what is missing."""
    if name not in NAMES:
        raise ConfigError(f"unknown extractor {name!r}; choose one of {', '.join(NAMES)}")
    if name == "llm":
        from kg.extract.llm import LLMConfig, LLMExtractor

        return LLMExtractor(LLMConfig.from_settings(settings), settings.home / "cache" / "extract"), None
    if name == "tokens":
        if settings.extract_model_dir is None:
            raise ConfigError("the tokens extractor needs CARTOGRAPH_EXTRACT_MODEL_DIR: a transformers "
                              "token-classification model directory")
        from kg.extract.tokens import TokenClassifierExtractor

        return TokenClassifierExtractor(settings.extract_model_dir), None
    lexicon = LexiconExtractor(lexicon_from_store(store))
    if name == "lexicon":
        return lexicon, None
    model_dir = trained_model_dir(settings)
    if model_dir is None:
        where = settings.extract_model_dir or default_model_dir(settings)
        if name == "hybrid":
            raise ExtractionError(f"no trained token classifier at {where}; run `cartograph extract-train` first")
        return lexicon, (f"no trained entity model at {where}: using patterns + lexicons only. "
                         "Run `cartograph extract-train` to train one (a few minutes on CPU).")
    from kg.extract.hybrid import default_hybrid

    return default_hybrid(model_dir, lexicon), None
