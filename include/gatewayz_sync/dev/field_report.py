"""The routing-field part of `make run` / `make demo`: how many active chat models know each field, from which
source, beside the goals, read from our own catalog.

Goals (issue 20): context length known for 95% of active chat models, max output for 80%, tool calling and vision
for 90%; no chat model of OpenAI, Alibaba, Nebius, Cerebras or DeepSeek without a context length that a
reference knows. `reference` counts the values a reference describing the host gave, `same-weights` those the
other hosts of the same open weights gave (tool calling and vision only: `prices/same_weights.py`). `agree`
counts the reference values equal to a stored value they did not decide, `differ` those that disagree with it
(kept as candidates, with the size of the difference), `superseded` those older evidence lost to newer;
`derived` the windows no source states, for which the input limit stands (`prices/field_resolve.py`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..store.field_coverage import CONTEXT_GOAL_PROVIDERS, field_figures

HEADER = ("field", "known", "share", "goal", "met", "list_api", "operator", "reference", "same-weights", "derived",
          "agree", "differ", "superseded")
WIDTHS = (27, 6, 7, 5, 4, 9, 9, 10, 12, 8, 6, 7, 10)


def _row(values) -> str:
    return "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(values, WIDTHS,
                                                                                                       strict=True)))


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_field_report(connection) -> dict[str, Any]:
    figures = field_figures(connection)
    print(f"\nRouting fields of {figures['chat']} active chat models (value known, by source):")
    print(_row(HEADER))
    for name, field in figures["fields"].items():
        met = {None: "", True: "yes", False: "NO"}[field["met"]]
        print(_row((name, field["known"], _percent(field["share"]), _percent(field["goal"]), met, field["list_api"],
                    field["operator"], field["reference"], field["same_weights"], field["derived"], field["agree"],
                    field["differ"],
                    field["superseded"])))
    unfilled = figures["context_unfilled"]
    print(f"Chat models of {', '.join(CONTEXT_GOAL_PROVIDERS)} without a context length a reference knows: "
          f"{len(unfilled)} (goal: 0){': ' + ', '.join(unfilled[:10]) if unfilled else ''}")
    return figures
