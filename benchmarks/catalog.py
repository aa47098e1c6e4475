"""A synthetic catalog at real scale, cloned from the recorded real responses, each provider in its own format.

30 providers with a list API (the registry's 29 plus `hf-hub-bench`, the Hugging Face Hub API's format paged
by `Link` header, benchmark only), >= 25,000 models: DeepInfra cloned to 22,000 models in one ~50 MB response
(Featherless-sized; descriptions repeated up to ~2.3 KB a record, which is what 22,000 records in 50 MB
means), the Hub provider over 5 pages of 1,000, OpenRouter ~550, Together ~300, the rest 5 to 200.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from include.gatewayz_sync.catalog.records import dumps_json
from include.gatewayz_sync.dev.replay.catalogs import RECORDINGS_DIR, RecordedCatalog
from include.gatewayz_sync.sources.auth import Bearer
from include.gatewayz_sync.sources.paging import LinkHeader
from include.gatewayz_sync.sources.paths import read_path
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.sources.specs import FieldMap, ListApiSpec, Member, Priority, Provider

LARGEST = "deepinfra"
LARGEST_MODELS = 22_000
LARGEST_TARGET_BYTES = 50 * 1024 * 1024
LINK_PAGED = "hf-hub-bench"
SIZES = {LARGEST: LARGEST_MODELS, LINK_PAGED: 5_000, "openrouter": 550, "together": 300}
PAGE_SIZES = {LINK_PAGED: 1_000, "openrouter": 100, "anthropic": 100, "google-vertex": 100, "cohere": 100}
HUB_FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / (
    "huggingface_hub_api_models_inference_warm_page1_excerpt.json"
)

HUB_PROVIDER = Provider(
    slug=LINK_PAGED,
    name="Hugging Face Hub (benchmark)",
    color="bg-yellow-600",
    priority=Priority.SLOW,
    site_url="https://huggingface.co",
    key_env="HF_HUB_BENCH_API_KEY",
    list_api=ListApiSpec(
        base_url="https://huggingface.co/api",
        path="/models",
        params={"inference": "warm"},
        auth=Bearer(),
        records_path=None,
        paginator=LinkHeader(),
        fields=FieldMap(
            name=("modelId",),
            capabilities={"vision": Member("tags", ("image-text-to-text",))},
        ),
    ),
)


def benchmark_providers() -> dict[str, Provider]:
    providers = dict(GATEWAY_REGISTRY)
    providers[LINK_PAGED] = HUB_PROVIDER
    return providers


def _size_for(slug: str, recorded: int) -> int:
    if slug in SIZES:
        return SIZES[slug]
    return max(5, min(200, recorded * 2))


def _id_setter(spec: ListApiSpec) -> Callable[[dict, str], None]:
    path = "name" if spec.fields.id == "_id" else spec.fields.id

    def set_id(record: dict, value: str) -> None:
        if spec.fields.id == "_id":
            record["name"] = f"models/{value}"
        else:
            record[path] = value

    return set_id


def _record_id(spec: ListApiSpec, record: dict) -> str:
    if spec.fields.id == "_id":
        return str(record["name"]).removeprefix("models/")
    return str(read_path(record, spec.fields.id))


def clone_records(spec: ListApiSpec, records: list[dict], count: int, keep_ids: bool = False) -> list[dict]:
    """`count` records cycled from `records`, each with a new id; with `keep_ids` the first cycle keeps the
    recorded ids, so reference prices match the catalog as they match the real one."""
    set_id = _id_setter(spec)
    cloned = []
    for index in range(count):
        record = copy.deepcopy(records[index % len(records)])
        if not (keep_ids and index < len(records)):
            set_id(record, f"{_record_id(spec, record)}-bench{index:05d}")
        cloned.append(record)
    return cloned


def _pad_descriptions(records: list[dict], target_bytes: int) -> None:
    current = len(dumps_json(records))
    missing = max(0, target_bytes - current)
    per_record = missing // len(records)
    for record in records:
        metadata = record.get("metadata") or {}
        text = metadata.get("description") or "A model served for the benchmark. "
        metadata["description"] = (text + " ") * (per_record // (len(text) + 1)) + text
        record["metadata"] = metadata


def _write(path: Path, catalog: RecordedCatalog, records: list[dict]) -> int:
    if catalog.envelope is None:
        document: Any = records
    else:
        document = copy.deepcopy(catalog.envelope)
        document[catalog.spec.records_path] = records
    raw = dumps_json(document)
    path.write_bytes(raw)
    return len(raw)


def build(directory: Path) -> dict[str, dict[str, int]]:
    """Write one recording per provider into `directory`; returns {slug: {models, bytes}}."""
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "errors").mkdir(parents=True)
    for error in (RECORDINGS_DIR / "errors").iterdir():
        shutil.copy(error, directory / "errors" / error.name)
    summary = {}
    for slug, provider in sorted(benchmark_providers().items()):
        spec = provider.list_api
        if spec is None:
            continue
        source = HUB_FIXTURE if slug == LINK_PAGED else RECORDINGS_DIR / f"{slug}.json"
        catalog = RecordedCatalog.from_file(slug, spec, source)
        records = [r for r in catalog.records if isinstance(r, dict)]
        if slug == "google-vertex":
            records = [r for r in records if "generateContent" in r.get("supportedGenerationMethods", [])]
        count = _size_for(slug, len(records))
        cloned = clone_records(spec, records, count, keep_ids=True)
        if slug == LARGEST:
            _pad_descriptions(cloned, LARGEST_TARGET_BYTES)
        size = _write(directory / f"{slug}.json", catalog, cloned)
        summary[slug] = {"models": count, "bytes": size}
    return summary


def build_largest(directory: Path, models: int) -> dict[str, int]:
    """Only the largest provider, cloned to `models` records of the same size each as in `build()`."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = benchmark_providers()[LARGEST].list_api
    catalog = RecordedCatalog.from_file(LARGEST, spec, RECORDINGS_DIR / f"{LARGEST}.json")
    cloned = clone_records(spec, [r for r in catalog.records if isinstance(r, dict)], models)
    _pad_descriptions(cloned, LARGEST_TARGET_BYTES * models // LARGEST_MODELS)
    return {"models": models, "bytes": _write(directory / f"{LARGEST}.json", catalog, cloned)}


def _bump_first_price(spec: ListApiSpec, record: dict) -> bool:
    path = spec.fields.token_prices.get("input")
    if not path or path.startswith("_"):
        return False
    steps = path.split(".")
    node = record
    for step in steps[:-1]:
        node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return False
    value = node.get(steps[-1]) if isinstance(node, dict) else None
    if value is None or isinstance(value, bool) or str(value).strip() == "-1":
        return False
    bumped = Decimal(str(value)) * Decimal("1.1") + Decimal("0.0000001")
    node[steps[-1]] = str(bumped) if isinstance(value, str) else bumped
    return True


def churn(source: Path, target: Path, seed: int = 7) -> dict[str, dict[str, int]]:
    """5% of prices changed, 2% of models removed, 2% added, per provider; writes `target`, returns the counts."""
    rng = random.Random(seed)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    expected = {}
    for slug, provider in sorted(benchmark_providers().items()):
        spec = provider.list_api
        if spec is None:
            continue
        catalog = RecordedCatalog.from_file(slug, spec, source / f"{slug}.json")
        records = copy.deepcopy(catalog.records)
        total = len(records)
        removed = set(rng.sample(range(total), int(total * 0.02)))
        priced = [i for i in range(total) if i not in removed]
        changed = 0
        for index in rng.sample(priced, int(total * 0.05)):
            changed += _bump_first_price(spec, records[index])
        kept = [r for i, r in enumerate(records) if i not in removed]
        additions = clone_records(spec, records[: max(1, int(total * 0.02))], int(total * 0.02))
        set_id = _id_setter(spec)
        for index, record in enumerate(additions):
            set_id(record, f"{_record_id(spec, record)}-new{index:05d}")
        _write(target / f"{slug}.json", catalog, kept + additions)
        expected[slug] = {"price_changed": changed, "removed": len(removed), "added": len(additions)}
    return expected


def payload_bytes(directory: Path, slug: str) -> bytes:
    return (directory / f"{slug}.json").read_bytes()


if __name__ == "__main__":
    import sys

    print(json.dumps(build(Path(sys.argv[1])), indent=1))
