"""`python -m include.gatewayz_sync.dev.replay [--host H] [--port P] [--page-size SLUG=N ...]`: serve recordings."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

from .server import ReplayServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay every provider's recorded model-list API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--page-size", action="append", default=[], metavar="SLUG=N",
                        help="cap one provider's page size (to exercise paging)")
    parser.add_argument("--no-auth-check", action="store_true", help="serve lists even without a key")
    args = parser.parse_args(argv)
    page_sizes = {}
    for item in args.page_size:
        slug, _, size = item.partition("=")
        page_sizes[slug] = int(size)
    server = ReplayServer(args.host, args.port, page_sizes=page_sizes, require_auth=not args.no_auth_check)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"replay server on {server.url}; set GATEWAYZ_BASE_URL_OVERRIDE={server.base_url_override}", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            server.serve_forever()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
