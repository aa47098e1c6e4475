"""Run by the clients' venv (scripts/ensure-client-venv): import the real LiteLLM with LITELLM_MODEL_COST_MAP_URL set
by the caller, then price what stdin asks. Prints one JSON document: where LiteLLM says its map came from, how many
entries it holds, the version, and per request LiteLLM's own (prompt cost, completion cost) from `cost_per_token`.

stdin: {"known": [key, ...], "costs": [{"key": ..., "prompt_tokens": n, "completion_tokens": n}, ...]}
"""

import json
import sys
from importlib.metadata import version

result = sys.stdout
sys.stdout = sys.stderr  # whatever LiteLLM prints stays out of the JSON answer
import litellm  # noqa: E402
from litellm.litellm_core_utils.get_model_cost_map import GetModelCostMap, get_model_cost_map_source_info  # noqa: E402

request = json.load(sys.stdin)
costs = []
backup = GetModelCostMap.load_local_model_cost_map()
for ask in request["costs"]:
    try:
        prompt, completion = litellm.cost_per_token(model=ask["key"], prompt_tokens=ask["prompt_tokens"],
                                                    completion_tokens=ask["completion_tokens"])
        costs.append({"key": ask["key"], "prompt": prompt, "completion": completion})
    except Exception as error:  # reported, not raised: the test names every model LiteLLM could not price
        costs.append({"key": ask["key"], "error": f"{type(error).__name__}: {error}"})
json.dump({
    "litellm": version("litellm"),
    "source": get_model_cost_map_source_info(),
    "entries": len(litellm.model_cost),
    "known": {key: litellm.model_cost.get(key) for key in request["known"]},
    "in_bundled_copy": {key: key in backup for key in request["known"]},
    "costs": costs,
}, result)
