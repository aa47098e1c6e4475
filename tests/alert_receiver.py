"""A webhook receiver on loopback for Apprise `json://` URLs: records every POST; a path containing `fail`
answers 500, one containing `hang` answers nothing until `close()` (at most `HANG_SECONDS`)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG_SECONDS = 120


@dataclass(frozen=True)
class Received:
    path: str
    title: str
    message: str
    type: str
    at: float


class AlertReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with receiver._lock:
                    receiver.received.append(Received(self.path, body.get("title", ""), body.get("message", ""),
                                                      body.get("type", ""), time.time()))
                if "hang" in self.path:
                    receiver._closing.wait(HANG_SECONDS)
                    return
                status = 500 if "fail" in self.path else 200
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format, *args):
                """Silent: requests are kept in `received`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> AlertReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def connection_json(self, *paths: str) -> str:
        """An `AIRFLOW_CONN_GATEWAYZ_ALERTS` value: one Apprise `json://` URL per path, no tags."""
        config = [{"path": f"json://127.0.0.1:{self.port}{path}"} for path in paths]
        return json.dumps({"conn_type": "apprise", "extra": {"config": config}})

    def messages(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path.split("?")[0] == path]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def wait_for(self, predicate, timeout: float) -> list[Received]:
        """The messages matching `predicate`, as soon as there is one (empty after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.messages() if predicate(r)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)
