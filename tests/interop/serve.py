"""Loopback-only static HTTP server for a repository directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static file handler: HTTP/1.1 keep-alive, no access log on stderr.

    HTTP/1.1: Node's fetch (undici, Node 20 and 22) can crash with ``assert(!this.paused)``
    when an HTTP/1.0 server closes the connection after a large body.
    """

    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds an idle keep-alive connection is kept

    def log_message(self, format: str, *args: Any) -> None:
        """Drop the access log line."""


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) while the block runs.

    Yields the base URL, ending in ``/`` (e.g. ``http://127.0.0.1:41234/``).
    """
    handler = partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="interop-http", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
