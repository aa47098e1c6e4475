"""Small HTTP servers on 127.0.0.1 for the tests: a folder, or one document at one path."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@contextlib.contextmanager
def serving(handler) -> Iterator[str]:
    """`handler` on a free loopback port, in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        """Silent."""


def serve_directory(directory: Path):
    return serving(functools.partial(_QuietFiles, directory=str(directory)))


def serve_document(read: Callable[[], bytes], content_type: str, path: str | None = None):
    """`read()`'s bytes at `path` (at every path when None; 404 elsewhere), read again for each request."""

    class Document(BaseHTTPRequestHandler):
        def do_GET(self):
            if path is not None and self.path.split("?")[0] != path:
                self.send_error(404)
                return
            body = read()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            """Silent."""

    return serving(Document)
