"""Routing-field coverage of the active chat models, read from the catalog: how many know each field, from which
source, and how many reference values disagree with the stored one (`dev/field_report.py` prints it)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..catalog.routing import ROUTING_FIELDS
from ..prices.same_weights import SAME_WEIGHTS

GOALS = {"context_length": Decimal("0.95"), "max_output_tokens": Decimal("0.80"), "supports_tools": Decimal("0.90"),
         "supports_vision": Decimal("0.90")}
CONTEXT_GOAL_PROVIDERS = ("openai", "alibaba", "nebius", "cerebras", "deepseek")


def field_figures(connection) -> dict[str, Any]:
    known = ", ".join(f"count(*) FILTER (WHERE m.{name} IS NOT NULL)" for name in ROUTING_FIELDS)
    by_source = ", ".join(
        f"count(*) FILTER (WHERE m.{name} IS NOT NULL AND coalesce(m.field_sources -> '{name}' ->> 'source', "
        f"'list_api') = %(s{i})s)" for name in ROUTING_FIELDS for i in range(3))
    derived = ", ".join(f"count(*) FILTER (WHERE m.field_sources -> '{name}' ? 'derived_from')" for name in ROUTING_FIELDS)
    row = connection.execute(
        f"SELECT count(*), {known}, {by_source}, {derived} FROM models m WHERE m.is_active AND m.kind = 'chat'",
        {"s0": "list_api", "s1": "operator", "s2": SAME_WEIGHTS},
    ).fetchone()
    chat = row[0]
    standing = {(name, status): count for name, status, count in connection.execute(
        """SELECT c.field, c.status, count(*) FROM model_field_candidates c JOIN models m ON m.id = c.model_id
           WHERE m.is_active AND m.kind = 'chat' GROUP BY 1, 2""").fetchall()}
    fields = {}
    for index, name in enumerate(ROUTING_FIELDS):
        count = row[1 + index]
        listed, operator, weights = row[1 + len(ROUTING_FIELDS) + 3 * index: 4 + len(ROUTING_FIELDS) + 3 * index]
        share = Decimal(count) / chat if chat else None
        goal = GOALS.get(name)
        fields[name] = {"known": count, "share": share, "goal": goal,
                        "met": None if goal is None or share is None else share >= goal,
                        "list_api": listed, "operator": operator,
                        "reference": count - listed - operator - weights, "same_weights": weights,
                        "derived": row[1 + 4 * len(ROUTING_FIELDS) + index],
                        "agree": standing.get((name, "agrees"), 0),
                        "differ": standing.get((name, "differs"), 0),
                        "superseded": standing.get((name, "superseded"), 0)}
    missing = connection.execute(
        """SELECT p.slug, m.provider_model_id FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE m.is_active AND m.kind = 'chat' AND m.context_length IS NULL AND p.slug = ANY(%s)
             AND EXISTS (SELECT 1 FROM model_field_candidates c WHERE c.model_id = m.id
                         AND c.field IN ('context_length', 'max_input_tokens'))
           ORDER BY 1, 2""",
        (list(CONTEXT_GOAL_PROVIDERS),),
    ).fetchall()
    return {"chat": chat, "fields": fields, "context_unfilled": [f"{slug}/{model}" for slug, model in missing]}
