"""The price part of `make run` / `make demo`: per-provider coverage and the figures the reference work answers to.

Printed after the price DAG ran: for each provider the share of active models priced by the list API, an
operator, a reference (confirmed, single, disputed) or nothing; then the coverage of the providers whose list
API prices nothing, the free flags, DeepInfra's output limits and the unit-error guard.
"""

from __future__ import annotations

from typing import Any

from ..sources.registry import GATEWAY_REGISTRY
from ..store.price_status import price_coverage, reference_coverage, unflagged_unit_errors

HEADER = ("provider", "active", "api", "operator", "confirmed", "single", "disputed", "none", "priced", "retired")
WIDTHS = (22, 7, 6, 9, 10, 7, 9, 6, 7, 8)


def explicit_free_variant(slug: str, model_id: str) -> bool:
    spec = GATEWAY_REGISTRY[slug].list_api
    return spec is not None and (model_id in spec.free_ids or model_id.endswith(spec.free_id_suffixes))


def price_figures(connection) -> dict[str, Any]:
    coverage = price_coverage(connection)
    free = connection.execute(
        """SELECT p.slug, m.provider_model_id FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE m.is_active AND m.is_free"""
    ).fetchall()
    deepinfra = connection.execute(
        """SELECT count(*) FILTER (WHERE m.max_output_tokens = m.context_length), count(*)
           FROM models m JOIN providers p ON p.id = m.provider_id WHERE m.is_active AND p.slug = 'deepinfra'"""
    ).fetchone()
    guard = connection.execute(
        """SELECT count(*) FILTER (WHERE c.status = 'disputed'), count(*)
           FROM model_price_candidates c JOIN models m ON m.id = c.model_id WHERE m.is_active"""
    ).fetchone()
    return {
        "coverage": coverage,
        "unlisted": reference_coverage(coverage),
        "free": len(free),
        "free_outside_explicit_variants": [f"{s}/{m}" for s, m in free if not explicit_free_variant(s, m)],
        "deepinfra_output_equals_context": deepinfra[0],
        "deepinfra_active": deepinfra[1],
        "candidates": guard[1],
        "candidates_disputed": guard[0],
        "models_disputed": sum(c["disputed"] for c in coverage.values()),
        "unpriced_by_guard": sum(c["refused"] for c in coverage.values()),
        "unflagged_unit_errors": unflagged_unit_errors(connection),
    }


def print_price_report(connection) -> dict[str, Any]:
    figures = price_figures(connection)
    print("\nPrices (active models):")
    print("  ".join(h.ljust(w) for h, w in zip(HEADER, WIDTHS, strict=True)))
    for slug, c in figures["coverage"].items():
        share = "" if c["priced_share"] is None else f"{c['priced_share']:.0%}"
        cells = (slug, c["active"], c["api"], c["operator"], c["reference_confirmed"], c["reference_single"],
                 c["reference_disputed"], c["none"], share, c["retired"])
        print("  ".join(str(v).ljust(w) for v, w in zip(cells, WIDTHS, strict=True)))
    unlisted = figures["unlisted"]
    share = "no models to price" if unlisted["share"] is None else f"{unlisted['share']:.1%}"
    print(
        f"\nProviders whose list API prices none of their models: {len(unlisted['providers'])} providers, "
        f"{unlisted['models']} active models; {unlisted['reference_priced']} priced from references "
        f"({share}): {unlisted['reference_confirmed']} confirmed, {unlisted['reference_single']} "
        f"single, {unlisted['reference_disputed']} disputed"
    )
    outside = figures["free_outside_explicit_variants"]
    print(f"Free flags: {figures['free']} models flagged free, {len(outside)} outside explicit free variants"
          + (f": {', '.join(outside[:10])}" if outside else ""))
    print(f"DeepInfra: {figures['deepinfra_output_equals_context']} of {figures['deepinfra_active']} active rows "
          "have max_output_tokens equal to the context length")
    print(f"Unit-error guard: {figures['candidates_disputed']} of {figures['candidates']} candidates 10x or more "
          f"away ({figures['models_disputed']} models flagged disputed, {figures['unpriced_by_guard']} of them left "
          f"unpriced); {len(figures['unflagged_unit_errors'])} stored prices 10x from a candidate without the flag")
    return figures
