"""Capabilities of open weights from the other hosts of the same weights (`prices/same_weights.py`), on the ids of
the recorded listings: which ids name the same repository, which values stand for a model, and the lowest
precedence of that evidence in the resolver."""

from __future__ import annotations

from include.gatewayz_sync.prices.field_resolve import FieldCandidate, decide_field
from include.gatewayz_sync.prices.same_weights import SAME_WEIGHTS, HostedModel, same_weights_values, weights_key


def test_the_same_repository_is_named_by_hugging_face_ids_and_openrouters_declared_repository():
    llama = "meta-llama/llama-3.3-70b-instruct"
    assert weights_key("together", "meta-llama/Llama-3.3-70B-Instruct", None) == llama
    assert weights_key("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", None) == llama, "a serving flavour"
    assert weights_key("nebius", "meta-llama/Llama-3.3-70B-Instruct-fast", None) == llama
    assert weights_key("openrouter", "meta-llama/llama-3.3-70b-instruct", "meta-llama/Llama-3.3-70B-Instruct") == llama
    assert weights_key("together", "zai-org/GLM-4.7-fp4", None) == weights_key("near", "zai-org/GLM-4.7-FP8", None) \
        == "zai-org/glm-4.7", "quantized copies"
    assert weights_key("chutes", "Qwen/Qwen3-32B-TEE", None) == "qwen/qwen3-32b"


def test_ids_that_name_no_repository_or_other_weights_are_never_the_same():
    assert weights_key("openrouter", "qwen/qwen-2.5-72b-instruct", None) is None, "an OpenRouter id is no repository"
    assert weights_key("vercel-ai-gateway", "alibaba/qwen-3-14b", None) is None, "a gateway's id is no repository"
    assert weights_key("cloudflare-workers-ai", "@cf/meta/llama-3.3-70b-instruct-fp8-fast", None) is None
    assert weights_key("together", "meta-llama/Llama-3.2-3B", None) != weights_key(
        "together", "meta-llama/Llama-3.2-3B-Instruct-Turbo", None), "a base model is not its instruct model"
    assert weights_key("together", "deepseek-ai/DeepSeek-V2-Lite", None) == "deepseek-ai/deepseek-v2-lite"
    assert weights_key("nebius", "Qwen/Qwen3-32B-Turbo", None) == "qwen/qwen3-32b-turbo", "-Turbo is Together's"


def _hosted(model_id: int, slug: str, provider_model_id: str, tools, vision, repository: str | None = None,
            source: str = "list_api") -> HostedModel:
    return HostedModel(model_id, slug, provider_model_id, repository,
                       {"supports_tools": (tools, source if tools is not None else None),
                        "supports_vision": (vision, source if vision is not None else None)})


def test_a_value_every_other_host_agrees_on_stands_for_the_weights_and_a_disagreement_gives_none():
    found = same_weights_values([
        _hosted(1, "together", "Qwen/Qwen2.5-VL-72B-Instruct", None, None),
        _hosted(2, "openrouter", "qwen/qwen2.5-vl-72b-instruct", True, True, "Qwen/Qwen2.5-VL-72B-Instruct"),
        _hosted(3, "deepinfra", "Qwen/Qwen2.5-VL-72B-Instruct", False, True),
        _hosted(4, "nebius", "Qwen/Qwen2.5-VL-72B-Instruct-fast", None, True, source=SAME_WEIGHTS),
    ])
    together = {(v.field, v.value, v.evidence) for v in found if v.model_id == 1}
    assert together == {("supports_vision", True, "deepinfra Qwen/Qwen2.5-VL-72B-Instruct, openrouter "
                                                  "qwen/qwen2.5-vl-72b-instruct")}, \
        "tools: OpenRouter and DeepInfra disagree; Nebius' value came from the same weights and is no evidence"


def test_the_same_weights_are_read_only_where_no_reference_describing_the_host_gives_a_value():
    host = FieldCandidate("models.dev", False)
    weights = FieldCandidate(SAME_WEIGHTS, True, source_model_id="openrouter x/y")
    decided = decide_field("supports_tools", [host, weights], order=("models.dev", "litellm"))
    assert (decided.value, decided.source) == (False, "models.dev")
    assert decided.statuses[SAME_WEIGHTS] == ("differs", "True against False, the stored models.dev value")
    alone = decide_field("supports_tools", [weights], order=("models.dev", "litellm"))
    assert (alone.value, alone.source, alone.confidence) == (True, SAME_WEIGHTS, "single")
    listed = decide_field("supports_tools", [weights], listed=False, order=("models.dev",))
    assert (listed.value, listed.source, listed.statuses[SAME_WEIGHTS][0]) == (False, "list_api", "differs")
