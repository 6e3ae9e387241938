"""Typed query parameters from the command line: ``--param name=value`` or ``--param name:type=value``.

Without a type, the value is read as a JSON scalar would be: ``true``/``false`` -> bool, ``null`` -> None,
``12`` -> int, ``1.5``/``1e-3`` -> float, anything else -> the string as given. A value in double quotes is
always a string (``id='"123"'``), and so is any value given with ``:str``, so that an id that looks like a number
stays an id. Types: ``str``, ``int``, ``float``, ``bool``, ``json`` (lists and maps), ``null``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kg.errors import QueryError
from kg.queries import parameters_of

_SPEC_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<type>[a-z]+))?=(?P<value>.*)$", re.DOTALL)
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+|\d+(?:\.\d*)?[eE][+-]?\d+)$")


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


def _to_null(text: str) -> None:
    if text.strip().lower() not in ("", "null", "none"):
        raise ValueError("expected null")
    return None


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _to_bool,
    "json": json.loads,
    "null": _to_null,
}


def infer(text: str) -> Any:
    """The value of an untyped ``--param``."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    return text


def parse_param(spec: str) -> tuple[str, Any]:
    """``name=value`` or ``name:type=value`` -> (name, typed value); :class:`QueryError` saying what is wrong."""
    match = _SPEC_RE.match(spec)
    if not match:
        raise QueryError(f"--param {spec!r}: write name=value or name:type=value (types: {', '.join(_CONVERTERS)})")
    name, type_name, text = match["name"], match["type"], match["value"]
    if type_name is None:
        return name, infer(text)
    if type_name not in _CONVERTERS:
        raise QueryError(f"--param {spec!r}: unknown type {type_name!r}; use one of {', '.join(_CONVERTERS)}")
    try:
        return name, _CONVERTERS[type_name](text)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise QueryError(f"--param {spec!r}: {text!r} is not a valid {type_name}: {e}") from e


def parse_params(specs: Iterable[str]) -> dict[str, Any]:
    """All ``--param`` options as a dict; a name given twice is an error (which value was meant?)."""
    params: dict[str, Any] = {}
    for spec in specs:
        name, value = parse_param(spec)
        if name in params:
            raise QueryError(f"--param {name} is given twice")
        params[name] = value
    return params


def check_against(cypher: str, params: Mapping[str, Any]) -> None:
    """Raise :class:`QueryError` unless ``params`` gives exactly the ``$parameters`` that ``cypher`` uses."""
    used = parameters_of(cypher)
    missing = sorted(used - set(params))
    extra = sorted(set(params) - used)
    if missing:
        hint = " ".join(f"--param {name}=..." for name in missing)
        raise QueryError(f"the query uses {', '.join('$' + m for m in missing)} but no value was given: add {hint}")
    if extra:
        raise QueryError(f"--param {', '.join(extra)} given but the query has no such $parameter "
                         f"(it uses: {', '.join('$' + u for u in sorted(used)) or 'none'})")
