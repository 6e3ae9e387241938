"""Model versions: the bundles of an artifacts directory, which one is served, switching and rolling back.

Every move of the ``current`` pointer (a training run, a rebuild's publish, an operator's ``use`` or
``rollback``) is appended to ``<artifacts>/switches.jsonl`` by :func:`gnn.bundle.set_current_bundle`, so that
a rollback knows what was served before, even across several switches: rollbacks walk back the stack of
earlier versions (A -> B -> C, rollback: B, rollback again: A). Where there is no recorded history (bundles
older than the log), a rollback goes to the newest bundle created before the current one.

The API watches the pointer (``api/state.py``) and reloads when it moves, exactly as after a publish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gnn.bundle import SWITCHES, current_bundle_path, set_current_bundle
from kg.errors import CartographError

#: Metrics shown per bundle (test split of the main model).
SUMMARY_METRICS = ("ndcg@10", "recall@10")


class VersionError(CartographError, ValueError):
    """A version that does not exist or is ambiguous, or nothing to roll back to."""


@dataclass(frozen=True)
class BundleInfo:
    """One bundle as an operator sees it."""

    version: str
    path: Path
    created: str
    model: str
    snapshot_id: str
    num_users: int
    num_products: int
    metrics: dict[str, Any]
    """The bundle's ``metrics.json`` (empty when missing)."""
    current: bool

    def test_metrics(self) -> dict[str, float]:
        test = self.metrics.get("metrics", {}).get("test", {}) if isinstance(self.metrics, dict) else {}
        return {k: float(v) for k, v in test.items() if isinstance(v, int | float)}

    def summary(self) -> dict[str, Any]:
        """JSON-friendly fields for listings."""
        test = self.test_metrics()
        return {"version": self.version, "current": self.current, "created": self.created, "model": self.model,
                "snapshot_id": self.snapshot_id, "users": self.num_users, "products": self.num_products,
                **{f"test {name}": test.get(name) for name in SUMMARY_METRICS}}


def current_version(artifacts_dir: Path) -> str | None:
    try:
        return current_bundle_path(artifacts_dir).name
    except FileNotFoundError:
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _info(path: Path, current: str | None) -> BundleInfo:
    manifest = _read_json(path / "manifest.json")
    return BundleInfo(
        version=str(manifest.get("version", path.name)), path=path, created=str(manifest.get("created", "")),
        model=str(manifest.get("model", "?")), snapshot_id=str(manifest.get("snapshot_id", "")),
        num_users=int(manifest.get("num_users", 0)), num_products=int(manifest.get("num_products", 0)),
        metrics=_read_json(path / "metrics.json"), current=path.name == current,
    )


def list_bundles(artifacts_dir: Path) -> list[BundleInfo]:
    """Every complete bundle (a folder with a manifest), oldest first; the served one has ``current``."""
    artifacts_dir = Path(artifacts_dir)
    if not artifacts_dir.is_dir():
        return []
    current = current_version(artifacts_dir)
    paths = [p for p in artifacts_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
             and (p / "manifest.json").is_file()]
    return sorted((_info(p, current) for p in paths), key=lambda b: (b.created, b.version))


def find_bundle(artifacts_dir: Path, version: str) -> BundleInfo:
    """The bundle named ``version``, or by a unique prefix of its name (``20250301T1015``)."""
    bundles = list_bundles(artifacts_dir)
    exact = [b for b in bundles if b.path.name == version]
    matches = exact or [b for b in bundles if b.path.name.startswith(version)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(b.path.name for b in bundles[-5:]) or "none"
        raise VersionError(f"no bundle {version!r} in {artifacts_dir} (latest: {known}; see `cartograph models "
                           "list`)")
    raise VersionError(f"{version!r} names {len(matches)} bundles: {', '.join(b.path.name for b in matches)}")


def read_switches(artifacts_dir: Path) -> list[dict[str, Any]]:
    """The recorded moves of the ``current`` pointer, oldest first (bad lines skipped)."""
    path = Path(artifacts_dir) / SWITCHES
    if not path.is_file():
        return []
    switches = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            switches.append(entry)
    return switches


def use_bundle(artifacts_dir: Path, version: str) -> BundleInfo:
    """Serve ``version`` (a name or unique prefix): move the pointer and record the switch."""
    bundle = find_bundle(artifacts_dir, version)
    set_current_bundle(Path(artifacts_dir), bundle.path.name, action="use")
    return find_bundle(artifacts_dir, bundle.path.name)


def rollback_target(artifacts_dir: Path) -> str:
    """The version a rollback would serve (see the module docstring); :class:`VersionError` when none."""
    artifacts_dir = Path(artifacts_dir)
    existing = {b.path.name: b for b in list_bundles(artifacts_dir)}
    stack: list[str] = []
    for switch in read_switches(artifacts_dir):
        if switch.get("action") == "rollback":
            if stack:
                stack.pop()
        elif switch.get("from"):
            stack.append(str(switch["from"]))
    current = current_version(artifacts_dir)
    while stack:
        candidate = stack.pop()
        if candidate in existing and candidate != current:
            return candidate
    older = [b for b in existing.values() if current in existing and b.created < existing[current].created]
    if older:
        return max(older, key=lambda b: b.created).path.name
    raise VersionError(f"nothing to roll back to in {artifacts_dir}: no earlier bundle was served")


def rollback(artifacts_dir: Path) -> BundleInfo:
    """Serve the bundle served before the current one."""
    target = rollback_target(artifacts_dir)
    set_current_bundle(Path(artifacts_dir), target, action="rollback")
    return find_bundle(artifacts_dir, target)
