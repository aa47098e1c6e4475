"""The price part of `make run` / `make demo`: per-provider coverage, then the billing report.

Printed after the price DAG ran: for each provider the share of active models priced by the list API, an
operator, a reference (by the rule that decided) or nothing; the coverage of the providers whose list API
prices nothing; then the billing report, whose figures are checks a gateway can bill by:

- $0 prices on models that are not free (must be 0);
- prices in a wrong unit (must be 0): a row whose unit does not fit its meter, a flat per-token column that
  disagrees with its per-token row, a per-character list price stored per token;
- alias groups whose members disagree on price or limits (must be 0);
- per source, the prices (and tiers) its entries behind stored prices have, against those stored, and the
  price fields it has that were not understood;
- unpriced active models by reason (every one has a reason);
- the chat-model coverage of the providers without list prices (goal: 90%).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..prices.resolve import CONFIDENCES
from ..sources.registry import GATEWAY_REGISTRY
from ..store.billing import (
    alias_disagreements,
    meters_per_source,
    unpriced_by_reason,
    wrong_units,
    zero_prices_not_free,
)
from ..store.price_status import price_coverage, reference_coverage, unflagged_unit_errors

HEADER = ("provider", "active", "api", "operator", "reference", "none", "priced", "chat", "retired")
WIDTHS = (22, 7, 6, 9, 10, 6, 7, 9, 8)
CHAT_GOAL = Decimal("0.90")
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
    is_free = dict(connection.execute(
        """SELECT coalesce(is_free::text, 'unknown'), count(*) FROM models WHERE is_active GROUP BY 1"""
    ).fetchall())
    wrong, rows_checked, per_character = wrong_units(connection)
    alias_problems, alias_groups = alias_disagreements(connection)
    unpriced, without_reason = unpriced_by_reason(connection)
    return {
        "coverage": coverage,
        "unlisted": reference_coverage(coverage),
        "free": len(free),
        "free_outside_explicit_variants": [f"{s}/{m}" for s, m in free if not explicit_free_variant(s, m)],
        "is_free": is_free,
        "deepinfra_output_equals_context": deepinfra[0],
        "deepinfra_active": deepinfra[1],
        "candidates": guard[1],
        "candidates_disputed": guard[0],
        "models_disputed": sum(c["disputed"] for c in coverage.values()),
        "unpriced_by_guard": sum(c["refused"] for c in coverage.values()),
        "unflagged_unit_errors": unflagged_unit_errors(connection),
        "zero_prices_not_free": zero_prices_not_free(connection),
        "wrong_units": wrong,
        "price_rows_checked": rows_checked,
        "per_character_list_prices": per_character,
        "alias_disagreements": alias_problems,
        "alias_groups": alias_groups,
        "meters_per_source": meters_per_source(connection),
        "unpriced_by_reason": unpriced,
        "unpriced_without_reason": without_reason,
    }


def print_price_report(connection) -> dict[str, Any]:
    figures = price_figures(connection)
    print("\nPrices (active models):")
    print("  ".join(h.ljust(w) for h, w in zip(HEADER, WIDTHS, strict=True)))
    for slug, c in figures["coverage"].items():
        share = "" if c["priced_share"] is None else f"{c['priced_share']:.0%}"
        chat = f"{c['chat_priced']}/{c['chat']}" if c["chat"] else ""
        cells = (slug, c["active"], c["api"], c["operator"], c["reference"], c["none"], share, chat, c["retired"])
        print("  ".join(str(v).ljust(w) for v, w in zip(cells, WIDTHS, strict=True)))
    unlisted = figures["unlisted"]
    share = "no models to price" if unlisted["share"] is None else f"{unlisted['share']:.1%}"
    rules = ", ".join(f"{unlisted[f'reference_{c}']} {c}" for c in CONFIDENCES if unlisted[f"reference_{c}"])
    print(
        f"\nProviders whose list API prices none of their models: {len(unlisted['providers'])} providers, "
        f"{unlisted['models']} active models; {unlisted['reference_priced']} priced from references ({share}): "
        f"{rules or 'none'}"
    )
    outside = figures["free_outside_explicit_variants"]
    print(f"Free flags: {figures['free']} models flagged free, {len(outside)} outside explicit free variants"
          + (f": {', '.join(outside[:10])}" if outside else "")
          + f"; is_free {', '.join(f'{k}: {v}' for k, v in sorted(figures['is_free'].items()))}")
    print(f"DeepInfra: {figures['deepinfra_output_equals_context']} of {figures['deepinfra_active']} active rows "
          "have max_output_tokens equal to the context length")
    print(f"Unit-error guard: {figures['candidates_disputed']} of {figures['candidates']} candidates 10x or more "
          f"away ({figures['models_disputed']} models disputed, {figures['unpriced_by_guard']} of them left "
          f"unpriced); {len(figures['unflagged_unit_errors'])} stored prices 10x from a candidate without the flag")
    print_billing_report(figures)
    return figures


def _examples(names: list[str]) -> str:
    return f": {', '.join(names[:5])}" + (" ..." if len(names) > 5 else "") if names else ""


def print_billing_report(figures: dict[str, Any]) -> None:
    print("\nBilling report:")
    zeros = figures["zero_prices_not_free"]
    print(f"  $0 prices on models that are not free: {len(zeros)} (must be 0){_examples(zeros)}")
    wrong = figures["wrong_units"]
    print(f"  prices in a wrong unit: {len(wrong)} (must be 0){_examples(wrong)}; {figures['price_rows_checked']} "
          f"price rows checked, {figures['per_character_list_prices']} per-character list prices stored per character")
    aliases = figures["alias_disagreements"]
    print(f"  alias groups that disagree: {len(aliases)} of {figures['alias_groups']} (must be 0){_examples(aliases)}")
    print("  prices stored, per source, against those its entries behind stored prices have (conditional: tiers, "
          "service tiers, time windows, options):")
    for source, entry in figures["meters_per_source"].items():
        unread = entry["unread"]
        conditional = (f"; conditional {entry['stored_conditional']} of {entry['has_conditional']}"
                       if source != "list_api" else "")
        print(f"    {source:<13} {entry['entries']:>4} entries: {entry['stored']} of {entry['has']} prices stored"
              f"{conditional}; {entry['not_per_token']} not per token; fields not understood: "
              + (", ".join(f"{name} ({count})" for name, count in unread.most_common()) or "none"))
    unpriced = figures["unpriced_by_reason"]
    print(f"  unpriced active models by reason ({sum(unpriced.values())}; without a reason: "
          f"{figures['unpriced_without_reason']}):")
    for reason, count in unpriced.most_common():
        print(f"    {count:>5}  {reason}")
    unlisted = figures["unlisted"]
    chat_share = unlisted["chat_share"]
    verdict = "" if chat_share is None else (" (goal 90%: met)" if Decimal(str(chat_share)) >= CHAT_GOAL
                                              else " (goal 90%: NOT met)")
    print(f"  chat models of providers without list prices: {unlisted['chat_priced']} of {unlisted['chat_models']} "
          f"priced ({'-' if chat_share is None else f'{chat_share:.1%}'}){verdict}")
