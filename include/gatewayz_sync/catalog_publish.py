"""One publish: read the catalog, build every format, and write a new version only when the content changed.

1. Read every active model (`store/export_reads.py`) and check each against the billing checks (`publish/checks.py`): a
   model that fails is left out of the LiteLLM map and the OpenRouter-style list and named in the manifest's
   `withheld` with the reason. A model whose prices a format cannot say (a transcription model priced per hour has
   no OpenRouter field), or whose entry cannot be built, is left out of that format and named under
   `not_in_format`: one bad model never blocks a publish.
2. Build the four files in a local working folder, in one pass over the models read a chunk at a time, each file
   encoded once (orjson) and hashed as it is written (`build`). The content hash is the sha256 of what they say
   (each file's bytes, `catalog.json` without its `last_seen_at` values) and of the withheld list; equal to the
   current manifest's, nothing is written (`unchanged`).
3. Otherwise write `versions/<version>/` (every file, then the version's manifest), the stable copies, and last
   the pointer `manifest.json` (`publish/storage.py` says why a reader never sees a part), then delete the versions beyond
   the newest `GATEWAYZ_PUBLISH_KEEP_VERSIONS`.

Every attempt is a `catalog_publications` row: `published`, `unchanged`, or `failed` with the error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .publish import catalog_export, encoding, litellm_map, openrouter_list
from .publish.checks import billing_problem
from .publish.encoding import HashedFile
from .publish.storage import CATALOG, FILES, LITELLM, MANIFEST, OPENROUTER, PRICE_HISTORY, VERSIONS, CatalogStore
from .store import export_reads, publications

log = logging.getLogger(__name__)

BILLED_FORMATS = (LITELLM, OPENROUTER)
MANIFEST_FORMAT = "gatewayz-catalog-manifest"


class PublishFailed(Exception):
    """A publish that could not complete; the message names the step and the cause."""


@dataclass
class BuiltFile:
    """One format's file, built in the publish's working folder."""

    format: str
    path: Path
    sha256: str
    size: int
    content_digest: str
    counts: dict[str, int]


@dataclass
class Build:
    files: dict[str, BuiltFile]
    withheld: dict[str, dict[str, Any]]
    not_in_format: dict[str, dict[str, str]]
    unpriced: int
    unexpressed: dict[str, int]
    catalog_last_sync: datetime | None

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(f"{name} {self.files[name].content_digest}\n".encode())
        digest.update(json.dumps([self.withheld, self.not_in_format], sort_keys=True).encode())
        return digest.hexdigest()


@dataclass
class PublishOutcome:
    status: str
    version: str
    content_hash: str
    manifest: dict[str, Any]
    removed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status, "version": self.version, "content_hash": self.content_hash,
            "files": {name: {key: entry[key] for key in ("latest", "path", "sha256", "models")}
                      for name, entry in self.manifest["files"].items()},
            "withheld": len(self.manifest["withheld"]), "removed_versions": self.removed,
        }


def _providers(connection) -> list[dict[str, Any]]:
    rows = connection.execute(
        "SELECT slug, name, site_url, has_list_api FROM providers WHERE is_active ORDER BY slug").fetchall()
    return [{"slug": slug, "name": name, "site_url": site, "has_list_api": listed} for slug, name, site, listed in rows]


def _finish(format_name: str, sink: HashedFile, counts: dict[str, int]) -> BuiltFile:
    sha256, content_digest = sink.close()
    return BuiltFile(format_name, sink.path, sha256, sink.size, content_digest, counts)


def build(connection, workdir: Path) -> Build:
    """Build the four files in `workdir` in one pass over the models, read a chunk at a time: each model's
    OpenRouter entry and catalog record are encoded and written as it comes; only the LiteLLM map (LiteLLM's
    snapshot with our entries) is held whole."""
    providers = _providers(connection)
    withheld: dict[str, dict[str, Any]] = {}
    not_in_format: dict[str, dict[str, str]] = {LITELLM: {}, OPENROUTER: {}}
    litellm = litellm_map.LiteLLMMap(litellm_map.load_snapshot())
    models = openrouter_models = unpriced = 0
    with (HashedFile(workdir / FILES[OPENROUTER]) as openrouter_file, HashedFile(workdir / FILES[CATALOG]) as catalog_file,
          closing(export_reads.iter_active_models(connection)) as active):
        openrouter_file.write(openrouter_list.MODELS_HEAD)
        catalog_file.write(catalog_export.catalog_head(providers))
        for model in active:
            published_as: dict[str, str] = {}
            reason = None
            if not model.is_priced:
                unpriced += 1
            elif reason := billing_problem(model):
                withheld[model.public_id] = {"reason": reason, "left_out_of": list(BILLED_FORMATS)}
            else:
                try:
                    litellm_map.publish_entry(litellm, model)
                    published_as[LITELLM] = litellm.keys[model.public_id]
                except Exception as error:
                    not_in_format[LITELLM][model.public_id] = _reason(error)
                try:
                    entry = openrouter_list.model_entry(model)
                except Exception as error:
                    not_in_format[OPENROUTER][model.public_id] = _reason(error)
                else:
                    openrouter_file.write((openrouter_list.MODEL_SEPARATOR if openrouter_models else b"")
                                          + encoding.compact(entry))
                    openrouter_models += 1
                    published_as[OPENROUTER] = entry["id"]
            data, content = catalog_export.model_bytes(catalog_export.model_record(model, reason, published_as))
            separator = catalog_export.MODEL_SEPARATOR if models else b""
            catalog_file.write(separator + data, separator + content)
            models += 1
        openrouter_file.write(openrouter_list.MODELS_END)
        catalog_file.write(catalog_export.CATALOG_END)
    files = {OPENROUTER: _finish(OPENROUTER, openrouter_file, {"models": openrouter_models}),
             CATALOG: _finish(CATALOG, catalog_file, {"models": models})}

    with HashedFile(workdir / FILES[LITELLM]) as litellm_file:
        litellm_file.write(litellm_map.litellm_bytes(litellm.document))
    files[LITELLM] = _finish(LITELLM, litellm_file, {"models": litellm.models, "entries": len(litellm.document),
                                                     "added": litellm.added, "updated": litellm.updated})
    unexpressed = dict(Counter(litellm.unexpressed).most_common())
    del litellm

    changes = 0
    changed_models = set()
    with HashedFile(workdir / FILES[PRICE_HISTORY]) as history_file:
        for change in export_reads.price_changes(connection):
            history_file.write(catalog_export.history_line(change))
            changes += 1
            changed_models.add((change["provider"], change["model"]))
    files[PRICE_HISTORY] = _finish(PRICE_HISTORY, history_file, {"models": len(changed_models), "changes": changes})
    return Build(files, dict(sorted(withheld.items())), not_in_format, unpriced, unexpressed,
                 export_reads.catalog_last_sync(connection))


def _reason(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def version_name(generated_at: datetime, content_hash: str) -> str:
    return f"{generated_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{content_hash[:12]}"


def manifest_document(result: Build, version: str, previous: str | None, generated_at: datetime) -> dict[str, Any]:
    last_sync = _time(result.catalog_last_sync)
    return {
        "format": MANIFEST_FORMAT,
        "format_version": 1,
        "version": version,
        "previous_version": previous,
        "generated_at": generated_at.isoformat(),
        "catalog_last_sync": last_sync,
        "content_hash": f"sha256:{result.content_hash}",
        "files": {
            name: {"path": f"{VERSIONS}/{version}/{FILES[name]}", "latest": FILES[name], "sha256": built.sha256,
                   "bytes": built.size, **built.counts, "generated_at": generated_at.isoformat(),
                   "catalog_last_sync": last_sync}
            for name, built in result.files.items()
        },
        "withheld": [{"id": public_id, **entry} for public_id, entry in result.withheld.items()],
        "not_in_format": {name: [{"id": public_id, "reason": reason} for public_id, reason in sorted(models.items())]
                          for name, models in result.not_in_format.items()},
        "unpriced_models": result.unpriced,
        "litellm_prices_not_expressible": result.unexpressed,
    }


def current_manifest(store: CatalogStore) -> dict[str, Any] | None:
    data = store.read(MANIFEST)
    if data is None:
        return None
    try:
        manifest = json.loads(data)
    except ValueError:
        log.warning("The current %s is not JSON; publishing a new version", store.uri(MANIFEST))
        return None
    return manifest if isinstance(manifest, dict) else None


def _still_published(store: CatalogStore, manifest: dict[str, Any]) -> bool:
    files = manifest.get("files") or {}
    return set(files) == set(FILES) and all(
        store.exists(entry["path"]) and store.exists(entry["latest"]) for entry in files.values())


def _write_version(store: CatalogStore, result: Build, manifest: dict[str, Any]) -> None:
    version = manifest["version"]
    manifest_data = json.dumps(manifest, indent=1).encode() + b"\n"
    for name, built in result.files.items():
        store.write_file(f"{VERSIONS}/{version}/{FILES[name]}", built.path)
    store.write(f"{VERSIONS}/{version}/{MANIFEST}", manifest_data)
    for name, built in result.files.items():
        store.write_file(FILES[name], built.path)
    store.write(MANIFEST, manifest_data)


def publish_catalog(connection, store: CatalogStore, base_url: str, keep_versions: int,
                    dag_id: str | None = None, dag_run_id: str | None = None) -> PublishOutcome:
    """Publish the catalog at `store` (recorded under `base_url`); raises PublishFailed after recording why."""
    attempt = publications.start_attempt(connection, base_url, dag_id, dag_run_id)
    version = None
    step = "reading the catalog"
    try:
        with tempfile.TemporaryDirectory(prefix="gatewayz-publish-") as workdir:
            result = build(connection, Path(workdir))
            step = f"reading the current manifest at {store.uri(MANIFEST)}"
            current = current_manifest(store)
            if (current and current.get("content_hash") == f"sha256:{result.content_hash}"
                    and _still_published(store, current)):
                publications.record_unchanged(connection, attempt, current.get("version"), result.content_hash)
                log.info("Catalog unchanged (content hash %s): version %s stays current; nothing written",
                         result.content_hash[:12], current.get("version"))
                return PublishOutcome("unchanged", current["version"], result.content_hash, current)
            generated_at = datetime.now(UTC)
            version = version_name(generated_at, result.content_hash)
            manifest = manifest_document(result, version, (current or {}).get("version"), generated_at)
            step = f"writing version {version} to {store.uri(VERSIONS)}"
            _write_version(store, result, manifest)
        publications.record_published(connection, attempt, version, result.content_hash, manifest)
        step = "removing old versions"
        removed = remove_expired(connection, store, base_url, keep_versions)
    except Exception as error:
        message = f"catalog publish failed while {step}: {type(error).__name__}: {' '.join(str(error).split())}"
        log.error("%s", message)
        try:
            publications.record_failed(connection, attempt, message, version)
        except Exception as record_error:
            log.warning("Could not record the failed publish in the catalog: %s", record_error)
        raise PublishFailed(message) from error
    log.info("Published catalog version %s at %s: %s", version, base_url,
             ", ".join(f"{name} {entry['models']} models" for name, entry in manifest["files"].items()))
    if manifest["withheld"]:
        log.warning("%d model(s) left out of the LiteLLM map and the OpenRouter list (see the manifest's withheld)",
                    len(manifest["withheld"]))
    return PublishOutcome("published", version, result.content_hash, manifest, removed)


def remove_expired(connection, store: CatalogStore, base_url: str, keep_versions: int) -> list[str]:
    """Delete the version folders beyond the newest `keep_versions` published ones (and failed attempts' folders)."""
    expired = publications.expired_versions(connection, base_url, keep_versions)
    for version in expired:
        store.remove_version(version)
    publications.record_removed(connection, base_url, expired)
    if expired:
        log.info("Removed %d old version(s): %s", len(expired), ", ".join(expired))
    return expired
