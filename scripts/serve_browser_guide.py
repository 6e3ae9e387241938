#!/usr/bin/env python3
"""Serve the Cartograph guide (cypher/guide/) to Neo4j Browser: ``:play http://localhost:8001/cartograph.html``.

    python3 scripts/serve_browser_guide.py [--port 8001]

Browser fetches a guide with a cross-origin request (a CORS preflight ``OPTIONS`` first), which
``python3 -m http.server`` refuses (501), so Browser says "No guide by that name". This server answers the
preflight and adds ``Access-Control-Allow-Origin: *``. It listens on 127.0.0.1 only and serves nothing but
the guide folder. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
from pathlib import Path
from typing import Any

GUIDE_DIR = Path(__file__).resolve().parent.parent / "cypher" / "guide"


class GuideHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


def make_server(port: int = 8001, directory: Path = GUIDE_DIR, *, quiet: bool = False) -> http.server.HTTPServer:
    """A server on 127.0.0.1:``port`` (0: any free port) for ``directory``; the caller runs ``serve_forever``."""
    handler = functools.partial(GuideHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.quiet = quiet  # type: ignore[attr-defined]
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    server = make_server(args.port)
    print(f"in Neo4j Browser: :play http://localhost:{server.server_address[1]}/cartograph.html  (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
