"""``cartograph train`` and ``cartograph evaluate`` (registered by :func:`register`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gnn.config import ModelKind

console = Console(stderr=True)


def _table(title: str, rows: list[tuple[str, dict[str, float]]]) -> Table:
    from gnn.pipeline import METRIC_COLUMNS

    table = Table("model", *METRIC_COLUMNS, title=title)
    for name, m in rows:
        table.add_row(name, *(f"{m[c]:.4f}" if c in m else "-" for c in METRIC_COLUMNS))
    return table


def print_metrics(doc: dict[str, Any]) -> None:
    from gnn.pipeline import metrics_rows

    out = Console(width=max(Console().width, 140))  # the table is wide: never squeeze model names
    out.print(_table("test (leave-one-out, warm products, full ranking)", metrics_rows(doc, "test")))
    if any("cold" in m for _, m in metrics_rows(doc, "test")) or "cold" in doc["metrics"]:
        out.print(_table("cold slice (products never trained on, ranked among cold products)",
                         metrics_rows(doc, "cold")))


def register(app: typer.Typer) -> None:
    """Add the training commands to the ``cartograph`` app."""

    @app.command()
    def train(
        ctx: typer.Context,
        epochs: Annotated[int | None, typer.Option(help="override the config's epochs")] = None,
        config: Annotated[Path | None, typer.Option("--config", help="TrainConfig JSON file")] = None,
        model: Annotated[str | None, typer.Option(help="override the model kind (gnn, bpr_mf, ...)")] = None,
        baselines: Annotated[bool, typer.Option(help="also train and evaluate every baseline")] = True,
        text_model: Annotated[Path | None, typer.Option(help="transformers model dir (default MiniLM)")] = None,
    ) -> None:
        """Train on a snapshot of the graph, evaluate against the baselines, write a bundle and make it current."""
        from gnn.config import TrainConfig
        from gnn.data import snapshot_from_store
        from gnn.pipeline import BASELINES, prepare_with_text, save_result, train_all
        from gnn.text import TextEncoder
        from kg.cli import fail, settings_from
        from kg.errors import CartographError
        from kg.store import open_store

        try:
            settings = settings_from(ctx)
            cfg = TrainConfig.load(config) if config else TrainConfig()
            updates: dict[str, Any] = {}
            if epochs is not None:
                updates["epochs"] = epochs
            if model is not None:
                updates["model"] = model
            cfg = TrainConfig.model_validate({**cfg.model_dump(), **updates})
            with open_store(settings, read_only=True) as store:
                snapshot = snapshot_from_store(store)
            if snapshot.num_users == 0 or snapshot.inter_user.size == 0:
                console.print("[red]error:[/red] the graph has no interactions to train on (run `cartograph ingest`)")
                raise typer.Exit(code=1)
            console.print(f"snapshot {snapshot.snapshot_id}: {snapshot.num_users} users, "
                          f"{snapshot.num_products} products, {snapshot.inter_user.size} interactions")
            encoder = TextEncoder(text_model, cache_dir=settings.home / "cache" / "text",
                                  num_threads=cfg.num_threads)
            prepared = prepare_with_text(snapshot, cfg, encoder, log=console.print)
            console.print(f"split: {prepared.split.summary()}")
            kinds: tuple[ModelKind, ...] = BASELINES if baselines else ()
            main, others = train_all(prepared, cfg, baselines=kinds, log=console.print)
            assert settings.artifacts_dir is not None
            path = save_result(settings.artifacts_dir, prepared, main, others)
            from gnn.pipeline import metrics_document

            print_metrics(metrics_document(main, others, prepared))
            console.print(f"bundle written: {path}")
        except CartographError as e:
            raise fail(e) from e

    @app.command()
    def evaluate(
        ctx: typer.Context,
        bundle: Annotated[Path | None, typer.Option(help="bundle dir (default: the current one)")] = None,
    ) -> None:
        """Re-evaluate a bundle on the graph's current snapshot, beside the parameter-free baselines."""
        from gnn.bundle import load_bundle
        from gnn.data import snapshot_from_store
        from gnn.pipeline import prepare_with_text
        from gnn.text import TextEncoder
        from gnn.train import evaluate_embeddings, train_model
        from kg.cli import fail, settings_from
        from kg.errors import CartographError
        from kg.store import open_store

        try:
            settings = settings_from(ctx)
            assert settings.artifacts_dir is not None
            loaded = load_bundle(bundle or settings.artifacts_dir)
            with open_store(settings, read_only=True) as store:
                snapshot = snapshot_from_store(store)
            if snapshot.ids != loaded.id_maps:
                console.print(f"[red]error:[/red] the graph changed since bundle {loaded.version} was trained "
                              f"(snapshot {snapshot.snapshot_id} vs {loaded.snapshot_id}, different nodes); "
                              "run `cartograph train`")
                raise typer.Exit(code=1)
            if snapshot.snapshot_id != loaded.snapshot_id:
                console.print("[yellow]warning:[/yellow] same nodes but the graph changed since training")
            cfg = loaded.config
            encoder = TextEncoder(cache_dir=settings.home / "cache" / "text", num_threads=cfg.num_threads)
            prepared = prepare_with_text(snapshot, cfg, encoder)
            import torch

            metrics = evaluate_embeddings(prepared, torch.from_numpy(loaded.user_embeddings),
                                          torch.from_numpy(loaded.product_embeddings),
                                          which=("valid", "test", "cold"))
            doc: dict[str, Any] = {"model": f"{cfg.model} ({loaded.version})", "metrics": metrics, "baselines": {}}
            for kind in ("popularity", "text_only"):
                r = train_model(prepared, cfg.model_copy(update={"model": kind}), progress=False)
                doc["baselines"][kind] = {"metrics": r.metrics}
            for kind, entry in loaded.metrics.get("baselines", {}).items():
                if kind not in doc["baselines"]:
                    doc["baselines"][f"{kind} (at training)"] = entry
            print_metrics(doc)
        except (CartographError, FileNotFoundError, ValueError) as e:
            if isinstance(e, CartographError):
                raise fail(e) from e
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(code=1) from e
