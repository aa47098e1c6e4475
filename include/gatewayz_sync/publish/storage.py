"""Where the published files live: a base URL opened through Airflow's object storage (`ObjectStoragePath`,
fsspec underneath: `file://`, `s3://`, `gs://`, ... with an Airflow connection for the remote ones).

Layout under the base:

    versions/<version>/<file>          immutable: every file of one version, and that version's manifest.json
    <file>                             the current version's files at stable names (LITELLM_MODEL_COST_MAP_URL)
    manifest.json                      the pointer: which version is current, each file's path and sha256

A reader never sees a half-written file. On an object store one PUT replaces an object whole; on a local or
mounted filesystem each file is written to a temporary name beside it and renamed into place (a rename within a
directory is atomic). The order makes every state consistent: a version's files first, then its manifest, then
the stable copies, then the pointer; a reader that follows `manifest.json` always gets one version's files.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

LOCAL_PROTOCOLS = ("file", "local")
MANIFEST = "manifest.json"
VERSIONS = "versions"
LITELLM, OPENROUTER, CATALOG, PRICE_HISTORY = "litellm", "openrouter", "catalog", "price_history"
FILES = {
    LITELLM: "model_prices_and_context_window.json",
    OPENROUTER: "models.json",
    CATALOG: "catalog.json",
    PRICE_HISTORY: "price-history.jsonl",
}


class CatalogStore:
    def __init__(self, root: Any):
        self.root = root

    @classmethod
    def open(cls, base_url: str, conn_id: str | None = None) -> CatalogStore:
        from airflow.sdk import ObjectStoragePath

        return cls(ObjectStoragePath(base_url, conn_id=conn_id) if conn_id else ObjectStoragePath(base_url))

    @property
    def is_local(self) -> bool:
        protocol = self.root.protocol
        protocols = protocol if isinstance(protocol, tuple | list) else (protocol,)
        return any(p in LOCAL_PROTOCOLS or p == "" for p in protocols)

    def path(self, relative: str):
        return self.root.joinpath(*relative.split("/"))

    def uri(self, relative: str) -> str:
        return str(self.path(relative))

    def write(self, relative: str, data: bytes) -> None:
        """Write `data` at `relative` so that a reader sees the old bytes or the new ones, never a part."""
        target = self.path(relative)
        if not self.is_local:
            target.write_bytes(data)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            temporary.write_bytes(data)
            temporary.replace(target)
        finally:
            if temporary.exists():
                temporary.unlink()

    def write_file(self, relative: str, source: Path) -> None:
        """Write the local file `source` at `relative`, as `write` does, without reading it into memory."""
        target = self.path(relative)
        if not self.is_local:
            # one PUT, or a multipart upload that the store completes only after its last part
            target.fs.put_file(str(source), target.path)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            temporary.fs.put_file(str(source), temporary.path)
            temporary.replace(target)
        finally:
            if temporary.exists():
                temporary.unlink()

    def read(self, relative: str) -> bytes | None:
        target = self.path(relative)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, relative: str) -> bool:
        return self.path(relative).exists()

    def remove_version(self, version: str) -> None:
        folder = self.path(f"{VERSIONS}/{version}")
        if folder.exists():
            folder.fs.rm(folder.path, recursive=True)
