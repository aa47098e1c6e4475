"""Rebuild the equivalent of https://models.dev/api.json from a models.dev checkout (data only).

Re-implements packages/core/src/generate.ts (generateCatalog -> providers) of anomalyco/models.dev in Python:
  * providers/<id>/provider.toml + providers/<id>/models/**/*.toml, model id = path relative to models/ minus .toml
  * `base_model = "<lab>/<model>"` inherits models/<lab>/<model>.toml minus id/benchmarks/license/links/weights,
    deep-merged (remeda mergeDeep: plain tables merge recursively, arrays/scalars are replaced by the override),
    then `base_model_omit` dot-paths are deleted (empty parent tables removed)
  * normalizeCost: when cost.tiers has exactly one context tier with size >= 200000, a legacy
    cost.context_over_200k = that tier without its `tier` key is appended
  * CostTier.tier.type defaults to "context"
  * keys ordered as zod's schema shapes emit them (Provider, Model, Cost)
Numbers are written the way JavaScript's JSON.stringify writes the double the TOML literal parses to.

Usage: python3 build_models_dev.py <checkout-dir> <out.json>
"""
from __future__ import annotations

import copy
import json
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

PROVIDER_KEYS = ["id", "env", "npm", "api", "name", "doc", "models"]
MODEL_KEYS = [
    "id", "name", "family", "attachment", "reasoning", "reasoning_options", "tool_call", "interleaved",
    "structured_output", "temperature", "knowledge", "release_date", "last_updated", "modalities", "open_weights",
    "limit", "status", "experimental", "provider", "cost",
]
COST_KEYS = ["input", "output", "reasoning", "cache_read", "cache_write", "input_audio", "output_audio",
             "context_over_200k", "tiers"]
LIMIT_KEYS = ["context", "input", "output"]
NOT_INHERITED = {"id", "benchmarks", "license", "links", "weights"}


def js_number(x: float) -> str:
    if x != x or x in (float("inf"), float("-inf")):
        return "null"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    d = Decimal(repr(abs(x)))  # shortest round-trip digits
    t = d.normalize().as_tuple()
    digits = "".join(map(str, t.digits))
    k = len(digits)
    n = t.exponent + k  # value = 0.digits * 10^n
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        es = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + es
    return sign + s


def dumps_js(v) -> str:
    """Compact JSON like JavaScript's JSON.stringify (numbers in ECMAScript form)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return js_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dumps_js(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dumps_js(x) for x in v) + "]"
    raise TypeError(type(v))


def load_toml(p: Path) -> dict:
    with p.open("rb") as f:
        return tomllib.load(f)


def merge_deep(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = merge_deep(base[k], v) if k in base else v
        return out
    return override


def apply_omit(target: dict, paths: list[str]) -> None:
    for omit in paths:
        parts = omit.split(".")
        parents = []
        cur = target
        ok = True
        for part in parts[:-1]:
            nxt = cur.get(part)
            if not isinstance(nxt, dict):
                ok = False
                break
            parents.append((cur, part))
            cur = nxt
        if not ok or parts[-1] not in cur:
            continue
        del cur[parts[-1]]
        for parent, key in reversed(parents):
            val = parent[key]
            if not isinstance(val, dict) or val:
                break
            del parent[key]


STRIPPED: dict[str, int] = {}
DANGLING: list[str] = []


def ordered(d: dict, keys: list[str], strip: str | None = None) -> dict:
    """Order keys like zod. strict schemas (strip=None) reject unknown keys; non-strict ones (zod's default
    "strip" mode, e.g. Cost) silently drop them, as the real generator does."""
    out = {k: d[k] for k in keys if k in d}
    for k in d:
        if k not in out:
            if strip is None:
                raise ValueError(f"unexpected key {k!r}")
            STRIPPED[f"{strip}.{k}"] = STRIPPED.get(f"{strip}.{k}", 0) + 1
    return out


def normalize_model(m: dict) -> dict:
    m = copy.deepcopy(m)
    if isinstance(m.get("limit"), dict):
        m["limit"] = ordered(m["limit"], LIMIT_KEYS)
    cost = m.get("cost")
    if isinstance(cost, dict):
        tiers = cost.get("tiers")
        if isinstance(tiers, list):
            new_tiers = []
            for t in tiers:
                t = dict(t)
                tier = dict(t["tier"])
                tier = {"type": tier.get("type", "context"), "size": tier["size"]}
                t.pop("tier")
                t = ordered(t, COST_KEYS[:7])
                t["tier"] = tier
                new_tiers.append(t)
            cost["tiers"] = new_tiers
        cost = ordered(cost, COST_KEYS, strip="cost")
        if isinstance(cost.get("tiers"), list) and len(cost["tiers"]) == 1:
            t = cost["tiers"][0]
            if t["tier"]["type"] == "context" and t["tier"]["size"] >= 200_000:
                legacy = {k: v for k, v in t.items() if k != "tier"}
                cost.pop("context_over_200k", None)
                cost["context_over_200k"] = legacy
        m["cost"] = cost
    return ordered(m, MODEL_KEYS)


def build(root: Path) -> dict:
    base_models = {}
    mdir = root / "models"
    for p in sorted(mdir.rglob("*.toml")):
        mid = p.relative_to(mdir).as_posix()[:-5]
        t = load_toml(p)
        t["id"] = mid
        base_models[mid] = t

    providers = {}
    pdir = root / "providers"
    for ptoml in sorted(pdir.glob("*/provider.toml")):
        pid = ptoml.parent.name
        prov = load_toml(ptoml)
        prov["id"] = pid
        models = {}
        models_dir = ptoml.parent / "models"
        for p in sorted(models_dir.rglob("*.toml")) if models_dir.exists() else []:
            if not p.exists():  # dangling symlink (target deleted upstream); skipped
                DANGLING.append(p.relative_to(pdir).as_posix())
                continue
            mid = p.relative_to(models_dir).as_posix()[:-5]
            t = load_toml(p)
            t["id"] = mid
            if "base_model" in t:
                base = base_models[t["base_model"]]
                overrides = {k: v for k, v in t.items() if k not in ("base_model", "base_model_omit")}
                inherited = {k: v for k, v in base.items() if k not in NOT_INHERITED}
                merged = copy.deepcopy(merge_deep(inherited, overrides))
                apply_omit(merged, t.get("base_model_omit", []))
                t = merged
            models[mid] = normalize_model(t)
        prov["models"] = models
        providers[pid] = ordered(prov, PROVIDER_KEYS)
    return providers


if __name__ == "__main__":
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    data = build(root)
    text = dumps_js(data)
    out.write_text(text, encoding="utf-8")
    n_models = sum(len(p["models"]) for p in data.values())
    n_cost = sum(1 for p in data.values() for m in p["models"].values() if "cost" in m)
    print("dangling symlinks skipped:", len(DANGLING), DANGLING[:5])
    print("stripped unknown keys (zod strip mode):", STRIPPED)
    print(f"providers={len(data)} models={n_models} with_cost={n_cost} bytes={len(text)}")
