"""``cartograph serve``: the API under uvicorn; :func:`serve` is shared with ``cartograph quickstart``."""

from __future__ import annotations

from typing import Annotated

import typer

from cartograph.console import console, reports_errors, settings_from
from kg.config import Settings

HostOption = Annotated[str, typer.Option(help="interface to listen on (0.0.0.0: every interface)")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="TCP port")]


def example_requests(settings: Settings, host: str, port: int) -> list[str]:
    """curl lines for a real user and product of the current bundle (for the startup banner)."""
    from gnn.bundle import load_bundle  # torch loads only when a command needs it

    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    lines = [f"curl '{base}/health'"]
    try:
        bundle = load_bundle(settings.artifacts_dir)
        user = bundle.id_maps["user"][0]
        item = bundle.id_maps["product"][0]
        lines += [f"curl '{base}/users/{user}/recommendations?k=5'",
                  f"curl '{base}/search?q=eyeliner&user_id={user}&k=5'",
                  f"curl '{base}/products/{item}/similar?k=5'",
                  f"curl '{base}/users/{user}/explanations/{item}'"]
    except (FileNotFoundError, KeyError, IndexError, ValueError):
        pass  # no bundle yet: the API still starts (and says it is not ready)
    lines.append(f"open {base}/docs for the OpenAPI documentation")
    return lines


def serve(settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    """Run the API until interrupted (one worker: the index lives in the process's memory)."""
    import uvicorn

    from api.main import create_app

    for line in example_requests(settings, host, port):
        console.print(line, soft_wrap=True, highlight=False)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)


def serve_command(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve recommendations, search, similar items and explanations over HTTP (the current bundle)."""
    serve(settings_from(ctx), host, port, log_level)


def register(app: typer.Typer) -> None:
    app.command("serve")(reports_errors(serve_command))
