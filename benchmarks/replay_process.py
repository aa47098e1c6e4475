"""The replay server in a process of its own (the benchmark's catalogs are large; it must not share the GIL
with the sync it serves). A fixed port lets a deployment keep one base URL while the catalog is swapped."""

from __future__ import annotations

import multiprocessing
from pathlib import Path


def _serve(directory: str, port: int, port_queue) -> None:
    from benchmarks.catalog import PAGE_SIZES, benchmark_providers
    from include.gatewayz_sync.dev.replay.server import ReplayServer

    server = ReplayServer(port=port, recordings_dir=Path(directory), page_sizes=PAGE_SIZES,
                          providers=benchmark_providers().values())
    port_queue.put(server.port)
    server.serve_forever()


class ReplayProcess:
    def __init__(self, directory: Path, port: int = 0):
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        self.process = context.Process(target=_serve, args=(str(directory), port, queue), daemon=True)
        self.process.start()
        self.port = queue.get(timeout=300)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=10)

    def swap(self, directory: Path) -> ReplayProcess:
        """Stop this server and serve `directory` on the same port."""
        self.stop()
        return ReplayProcess(directory, self.port)
