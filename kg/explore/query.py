"""``cartograph query``'s work: ad-hoc Cypher or a named query, checked and run read-only."""

from __future__ import annotations

from collections.abc import Sequence

from kg.config import Settings
from kg.errors import QueryError
from kg.explore.params import check_against, parse_params
from kg.explore.readonly import check_read_only, run_read_only
from kg.store import open_store
from kg.store.base import Record


def run_query(settings: Settings, cypher: str | None, name: str | None, param_specs: Sequence[str]) -> list[Record]:
    """Run ad-hoc Cypher or a named query read-only against the configured store."""
    if (cypher is None) == (name is None):
        raise QueryError("give either a Cypher statement or --name <query> (not both)")
    params = parse_params(param_specs)
    if cypher is not None:
        check_read_only(cypher)  # before opening anything
        check_against(cypher, params)
    with open_store(settings, read_only=True) as store:
        if name is not None:
            query = store.named_query(name)
            query.check_parameters(params)
            return run_read_only(store, query.text, params)
        assert cypher is not None
        return run_read_only(store, cypher, params)
