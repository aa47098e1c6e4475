"""GATEWAY_REGISTRY: every provider the gateway routes to, with its model-list API declared as data.

Display fields (name, color, priority, site_url, icon, aliases) come from the gateway's provider table.
API facts come from each provider's API reference and from recorded real responses (see
`dev/replay/recordings/_manifest.json` for sources and capture dates). Adding a provider means adding an entry
here; only a truly odd API needs a named quirk in `quirks.py`.
"""

from __future__ import annotations

from .auth import Bearer, Header, Scheme
from .paging import BodyNextLink, HasMoreCursor, OffsetLimit, PageNumber, PageToken
from .specs import (
    AliasGroup,
    FieldMap,
    Flag,
    ListApiSpec,
    Member,
    PriceUnit,
    Priority,
    Provider,
    UnitPrice,
    Value,
    validate_registry,
)

FAST, SLOW = Priority.FAST, Priority.SLOW

OPENROUTER_STYLE_FIELDS = FieldMap(
    context_length=("context_length", "top_provider.context_length"),
    max_output_tokens=("top_provider.max_completion_tokens",),
    input_modalities=("architecture.input_modalities",),
    output_modalities=("architecture.output_modalities",),
    shutdown_date=("expiration_date",),
    token_prices={
        "input": "pricing.prompt",
        "output": "pricing.completion",
        "cache_read": "pricing.input_cache_read",
        "cache_write": "pricing.input_cache_write",
        "reasoning": "pricing.internal_reasoning",
    },
    # OpenRouter's `image` is the price per input image; `web_search` per search.
    unit_prices_usd={"request": "pricing.request", "input_image": "pricing.image", "web_search": "pricing.web_search"},
    capabilities={
        "tools": Member("supported_parameters", ("tools",)),
        "vision": Member("architecture.input_modalities", ("image",)),
        "reasoning": Member("supported_parameters", ("reasoning", "include_reasoning")),
        "structured_output": Member("supported_parameters", ("structured_outputs",)),
    },
)

_PROVIDERS = (
    Provider(
        slug="openai", name="OpenAI", color="bg-emerald-600", priority=FAST, site_url="https://openai.com",
        docs_url="https://platform.openai.com/docs/api-reference/models/list",
        list_api=ListApiSpec(
            base_url="https://api.openai.com/v1", path="/models", auth=Bearer(), records_path="data",
            fields=FieldMap(shutdown_date=("shutdown_date",)),
        ),
    ),
    Provider(
        slug="anthropic", name="Anthropic", color="bg-amber-700", priority=FAST, site_url="https://anthropic.com",
        docs_url="https://docs.anthropic.com/en/api/models-list",
        list_api=ListApiSpec(
            base_url="https://api.anthropic.com/v1", path="/models", params={"limit": "1000"},
            auth=Header("x-api-key"), headers={"anthropic-version": "2023-06-01"},
            records_path="data", paginator=HasMoreCursor(cursor_param="after_id", cursor_path="last_id"),
            fields=FieldMap(
                name=("display_name",),
                # Anthropic's window is its input limit (the output counts against `max_tokens` apart)
                context_length=("max_input_tokens",),
                max_input_tokens=("max_input_tokens",),
                max_output_tokens=("max_tokens",),
                capabilities={
                    "vision": Flag("capabilities.image_input.supported"),
                    "reasoning": Flag("capabilities.thinking.supported"),
                    "structured_output": Flag("capabilities.structured_outputs.supported"),
                },
            ),
        ),
    ),
    Provider(
        slug="openrouter", name="OpenRouter", color="bg-blue-500", priority=FAST, site_url="https://openrouter.ai",
        docs_url="https://openrouter.ai/docs/api-reference/list-available-models",
        list_api=ListApiSpec(
            base_url="https://openrouter.ai/api/v1", path="/models", auth=Bearer(), key_required=False,
            records_path="data", paginator=BodyNextLink("links.next"), price_unit=PriceUnit.USD_PER_TOKEN,
            variable_price_sentinel="-1", fields=OPENROUTER_STYLE_FIELDS,
            # Zero prices alone do not make a model free (Lyria lists 0/0 and is priced per song): only the
            # explicit free variants, and the Free Models Router, which routes to them.
            free_id_suffixes=(":free",), free_ids=("openrouter/free",),
        ),
    ),
    Provider(
        slug="groq", name="Groq", color="bg-orange-500", priority=FAST, site_url="https://groq.com", icon="zap",
        docs_url="https://console.groq.com/docs/api-reference#models-list",
        list_api=ListApiSpec(
            base_url="https://api.groq.com/openai/v1", path="/models", auth=Bearer(), records_path="data",
            price_unit=PriceUnit.USD_PER_TOKEN,
            fields=FieldMap(
                context_length=("context_window", "context_length"),
                max_output_tokens=("max_completion_tokens",),
                input_modalities=("input_modalities",),
                output_modalities=("output_modalities",),
                token_prices={"input": "pricing.prompt", "output": "pricing.completion", "cache_read": "pricing.input_cache_read"},
                unit_prices_usd={"request": "pricing.request", "input_image": "pricing.image"},
                # Orpheus text-to-speech is priced per character ($22 and $40 per 1M characters on Groq's pricing
                # page) and listed in the same `prompt` field as the per-token prices.
                per_character=Member("output_modalities", ("speech",)),
                capabilities={
                    "tools": Member("supported_features", ("tools",)),
                    "vision": Member("input_modalities", ("image",)),
                    "reasoning": Member("supported_features", ("reasoning",)),
                    "structured_output": Member("supported_features", ("structured_outputs",)),
                },
            ),
        ),
    ),
    Provider(
        slug="together", name="Together", color="bg-indigo-500", priority=FAST, site_url="https://together.ai",
        docs_url="https://docs.together.ai/reference/models-1",
        list_api=ListApiSpec(
            base_url="https://api.together.xyz/v1", path="/models", auth=Bearer(), records_path=None,
            price_unit=PriceUnit.USD_PER_1M_TOKENS,
            # 0/0 here means "not on serverless" (dedicated endpoints only) or "priced per image/second",
            # never free; Together names its free endpoints with a -Free suffix (Llama-3.3-70B-Instruct-Turbo-Free).
            free_id_suffixes=("-Free", "-free"),
            zero_price_means=("Together lists 0/0 for models served only on dedicated endpoints and for models "
                              "priced per image, second or video"),
            fields=FieldMap(
                name=("display_name",),
                # the output limit, given for a few models only (9 of 155 chat models in the recorded listing)
                max_output_tokens=("config.max_output_length",),
                token_prices={"input": "pricing.input", "output": "pricing.output", "cache_read": "pricing.cached_input"},
                # Text-to-speech (`type: audio`: Cartesia Sonic, Kokoro, Orpheus) is priced per 1M characters.
                per_character=Value("type", ("audio",)),
                unit_prices_usd={
                    "input_audio": UnitPrice("pricing.transcribe.price_per_minute", "minute"),
                    "output_image": UnitPrice("pricing.image_pixel.price_per_megapixel", "megapixel"),
                },
                example_prices={"output_image": "pricing.image", "output_video": "pricing.video"},
                kind=(
                    (Value("type", ("chat", "language", "code")), "chat"),
                    (Value("type", ("image",)), "image"),
                    (Value("type", ("video",)), "video"),
                    (Value("type", ("audio",)), "tts"),
                    (Value("type", ("transcribe",)), "stt"),
                    (Value("type", ("embedding",)), "embedding"),
                    (Value("type", ("rerank",)), "rerank"),
                    (Value("type", ("moderation",)), "moderation"),
                ),
            ),
        ),
    ),
    Provider(
        slug="fireworks", name="Fireworks", color="bg-red-500", priority=FAST, site_url="https://fireworks.ai",
        docs_url="https://docs.fireworks.ai/api-reference/list-models",
        list_api=ListApiSpec(
            base_url="https://api.fireworks.ai/inference/v1", path="/models", auth=Bearer(), records_path="data",
            fields=FieldMap(
                capabilities={"tools": Flag("supports_tools"), "vision": Flag("supports_image_input")},
            ),
        ),
    ),
    Provider(
        slug="vercel-ai-gateway", name="Vercel AI", color="bg-slate-900", priority=FAST, site_url="https://vercel.com/ai",
        docs_url="https://vercel.com/docs/ai-gateway/models-and-providers",
        list_api=ListApiSpec(
            base_url="https://ai-gateway.vercel.sh/v1", path="/models", auth=Bearer(), key_required=False,
            records_path="data", price_unit=PriceUnit.USD_PER_TOKEN,
            fields=FieldMap(
                context_length=("context_window",),
                max_output_tokens=("max_tokens",),
                input_modalities=("modalities.input",),
                output_modalities=("modalities.output",),
                deprecation_date=("deprecated_at",),
                token_prices={
                    "input": "pricing.input",
                    "output": "pricing.output",
                    "cache_read": "pricing.input_cache_read",
                    "cache_write": "pricing.input_cache_write",
                },
                capabilities={
                    "tools": Member("tags", ("tool-use",)),
                    "vision": Member("tags", ("vision",)),
                    "reasoning": Member("tags", ("reasoning",)),
                },
            ),
        ),
    ),
    Provider(
        slug="featherless", name="Featherless", color="bg-green-500", priority=SLOW, site_url="https://featherless.ai",
        docs_url="https://featherless.ai/docs/api-reference-models",
        list_api=ListApiSpec(
            base_url="https://api.featherless.ai/v1", path="/models", auth=Bearer(), key_required=False,
            records_path="data",
            paginator=PageNumber(
                page_param="page", size_param="per_page", page_size=1000, total_pages_path="pagination.total_pages"
            ),
            price_unit=PriceUnit.USD_PER_1M_TOKENS,
            fields=FieldMap(
                max_output_tokens=("max_completion_tokens",),
                token_prices={"input": "pricing.input", "output": "pricing.output"},
                capabilities={"tools": Flag("tool_use")},
            ),
        ),
    ),
    Provider(
        slug="chutes", name="Chutes", color="bg-yellow-500", priority=SLOW, site_url="https://chutes.ai",
        docs_url="https://chutes.ai/docs",
        list_api=ListApiSpec(
            base_url="https://llm.chutes.ai/v1", path="/models", auth=Bearer(), key_required=False,
            records_path="data", price_unit=PriceUnit.USD_PER_1M_TOKENS,
            fields=FieldMap(
                context_length=("context_length", "max_model_len"),
                max_output_tokens=("max_output_length",),
                input_modalities=("input_modalities",),
                output_modalities=("output_modalities",),
                token_prices={"input": "pricing.prompt", "output": "pricing.completion", "cache_read": "pricing.input_cache_read"},
                capabilities={
                    "tools": Member("supported_features", ("tools",)),
                    "vision": Member("input_modalities", ("image",)),
                    "reasoning": Member("supported_features", ("reasoning",)),
                    "structured_output": Member("supported_features", ("structured_outputs", "json_mode")),
                },
            ),
        ),
    ),
    Provider(
        slug="deepinfra", name="DeepInfra", color="bg-cyan-500", priority=SLOW, site_url="https://deepinfra.com",
        docs_url="https://deepinfra.com/docs/openai_api",
        list_api=ListApiSpec(
            base_url="https://api.deepinfra.com/v1/openai", path="/models", auth=Bearer(), records_path="data",
            price_unit=PriceUnit.USD_PER_1M_TOKENS,
            fields=FieldMap(
                description=("metadata.description",),
                context_length=("metadata.context_length",),
                # No output limit: metadata.max_tokens is the total context (equal to context_length on every
                # priced model of the recorded listing), not what one answer may hold.
                token_prices={
                    "input": "metadata.pricing.input_tokens",
                    "output": "metadata.pricing.output_tokens",
                    "cache_read": "metadata.pricing.cache_read_tokens",
                },
                capabilities={
                    "vision": Member("metadata.tags", ("vision",)),
                    "reasoning": Member("metadata.tags", ("reasoning", "reasoning_effort")),
                },
            ),
        ),
    ),
    Provider(
        slug="google-vertex", name="Google", color="bg-blue-600", priority=SLOW,
        site_url="https://cloud.google.com/vertex-ai", aliases=("google",),
        docs_url="https://ai.google.dev/api/models#method:-models.list",
        list_api=ListApiSpec(
            base_url="https://generativelanguage.googleapis.com/v1beta", path="/models", params={"pageSize": "1000"},
            auth=Header("x-goog-api-key"), records_path="models",
            paginator=PageToken(token_path="nextPageToken", token_param="pageToken"),
            quirk="gemini_model", record_filter="gemini_generates_content",
            auth_error_markers=("API_KEY_INVALID",),
            fields=FieldMap(
                id="_id",
                name=("displayName",),
                context_length=("inputTokenLimit",),
                max_output_tokens=("outputTokenLimit",),
                capabilities={"reasoning": Flag("thinking")},
            ),
        ),
    ),
    Provider(
        slug="cerebras", name="Cerebras", color="bg-amber-600", priority=SLOW, site_url="https://cerebras.ai",
        docs_url="https://inference-docs.cerebras.ai/api-reference/models",
        list_api=ListApiSpec(base_url="https://api.cerebras.ai/v1", path="/models", auth=Bearer(), records_path="data"),
    ),
    Provider(
        slug="nebius", name="Nebius", color="bg-slate-600", priority=SLOW, site_url="https://nebius.ai",
        docs_url="https://docs.nebius.com/studio/inference/api",
        list_api=ListApiSpec(
            base_url="https://api.studio.nebius.com/v1", path="/models", auth=Bearer(), records_path="data",
            volatile_fields=("created",),
        ),
    ),
    Provider(
        slug="xai", name="xAI", color="bg-black", priority=SLOW, site_url="https://x.ai",
        docs_url="https://docs.x.ai/docs/api-reference#list-language-models",
        list_api=ListApiSpec(
            base_url="https://api.x.ai/v1", path="/language-models", auth=Bearer(), records_path="models",
            price_unit=PriceUnit.US_CENTS_PER_100M_TOKENS,
            fields=FieldMap(
                input_modalities=("input_modalities",),
                output_modalities=("output_modalities",),
                token_prices={
                    "input": "prompt_text_token_price",
                    "output": "completion_text_token_price",
                    "cache_read": "cached_prompt_text_token_price",
                },
                capabilities={"vision": Member("input_modalities", ("image",))},
            ),
        ),
    ),
    Provider(
        slug="novita", name="Novita", color="bg-violet-600", priority=SLOW, site_url="https://novita.ai",
        docs_url="https://novita.ai/docs/api-reference/model-apis-llm-list-models",
        list_api=ListApiSpec(
            base_url="https://api.novita.ai/openai/v1", path="/models", auth=Bearer(), records_path="data",
            price_unit=PriceUnit.USD_0_0001_PER_1M_TOKENS,
            fields=FieldMap(
                name=("display_name", "title"),
                context_length=("context_size",),
                max_output_tokens=("max_output_tokens",),
                token_prices={"input": "input_token_price_per_m", "output": "output_token_price_per_m"},
            ),
        ),
    ),
    Provider(
        slug="huggingface", name="Hugging Face", color="bg-yellow-600", priority=SLOW, site_url="https://huggingface.co",
        aliases=("hug",), key_env="HUGGINGFACE_API_KEY",
        docs_url="https://huggingface.co/docs/inference-providers/hub-api",
        list_api=ListApiSpec(
            base_url="https://router.huggingface.co/v1", path="/models", auth=Bearer(), records_path="data",
            price_unit=PriceUnit.USD_PER_1M_TOKENS, quirk="huggingface_cheapest_live_provider",
            fields=FieldMap(
                context_length=("_offer.context_length",),
                input_modalities=("architecture.input_modalities",),
                output_modalities=("architecture.output_modalities",),
                token_prices={"input": "_offer.pricing.input", "output": "_offer.pricing.output"},
                capabilities={
                    "tools": Flag("_offer.supports_tools"),
                    "vision": Member("architecture.input_modalities", ("image",)),
                    "structured_output": Flag("_offer.supports_structured_output"),
                },
            ),
        ),
    ),
    Provider(
        slug="aimo", name="AiMo", color="bg-pink-600", priority=SLOW, site_url="https://aimo.network",
        docs_url="https://docs.aimo.network",
        list_api=ListApiSpec(
            base_url="https://beta.aimo.network/api/v1", path="/models", auth=Bearer(), records_path="data",
            # The list's price unit is undocumented (USD per token or USDC micro-units); prices stay raw-only
            # until a capture settles it, rather than guessing a unit and billing 10^6 off.
            prices_unread_reason=("AiMo lists a price per serving provider (providers[].pricing.prompt/completion) in "
                                  "an undocumented unit (USD per token or USDC micro-units): not read until a "
                                  "capture settles the unit"),
            fields=FieldMap(
                id="name",
                name=("display_name", "name"),
                input_modalities=("architecture.input_modalities",),
                output_modalities=("architecture.output_modalities",),
            ),
        ),
    ),
    Provider(
        slug="near", name="NEAR", color="bg-teal-600", priority=SLOW, site_url="https://near.ai",
        docs_url="https://docs.near.ai/cloud",
        list_api=ListApiSpec(
            base_url="https://cloud-api.near.ai/v1", path="/model/list", auth=Bearer(), key_required=False,
            records_path="models", paginator=OffsetLimit(page_size=100, total_path="total"),
            price_unit=PriceUnit.USD_SCALED_AMOUNT_PER_TOKEN,
            fields=FieldMap(
                id="modelId",
                name=("metadata.modelDisplayName",),
                description=("metadata.modelDescription",),
                context_length=("metadata.contextLength",),
                max_output_tokens=("metadata.maxOutputLength",),
                input_modalities=("metadata.architecture.inputModalities",),
                output_modalities=("metadata.architecture.outputModalities",),
                deprecation_date=("metadata.deprecationDate",),
                token_prices={
                    "input": "inputCostPerToken",
                    "output": "outputCostPerToken",
                    "cache_read": "cacheReadCostPerToken",
                },
                capabilities={
                    "tools": Member("metadata.supportedFeatures", ("tools",)),
                    "reasoning": Member("metadata.supportedFeatures", ("reasoning",)),
                    "structured_output": Member("metadata.supportedFeatures", ("structured_outputs",)),
                    "vision": Member("metadata.architecture.inputModalities", ("image",)),
                },
            ),
        ),
    ),
    Provider(
        slug="fal", name="Fal", color="bg-emerald-600", priority=SLOW, site_url="https://fal.ai",
        supports_streaming=False, docs_url="https://docs.fal.ai/platform-apis/v1/models",
        list_api=ListApiSpec(
            base_url="https://api.fal.ai/v1", path="/models", params={"limit": "100"},
            auth=Scheme("Key"), key_required=False, records_path="models",
            paginator=PageToken(token_path="next_cursor", token_param="cursor"),
            fields=FieldMap(
                id="endpoint_id",
                name=("metadata.display_name", "endpoint_id"),
                description=("metadata.description",),
            ),
        ),
    ),
    Provider(
        slug="helicone", name="Helicone", color="bg-indigo-600", priority=SLOW, site_url="https://helicone.ai",
        docs_url="https://docs.helicone.ai/gateway/overview",
        list_api=ListApiSpec(
            base_url="https://ai-gateway.helicone.ai/v1", path="/models", auth=Bearer(), key_required=False,
            records_path="data",
        ),
    ),
    Provider(
        slug="alpaca", name="Alpaca Network", color="bg-green-700", priority=SLOW, site_url="https://alpaca.network",
        list_api=None, no_list_reason="no public model list API",
    ),
    Provider(
        slug="alibaba", name="Alibaba", color="bg-orange-700", priority=SLOW, site_url="https://dashscope.aliyun.com",
        docs_url="https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope",
        list_api=ListApiSpec(
            base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1", path="/models", auth=Bearer(),
            records_path="data", paginator=HasMoreCursor(cursor_param="after", cursor_path="last_id"),
        ),
    ),
    Provider(
        slug="clarifai", name="Clarifai", color="bg-purple-600", priority=SLOW, site_url="https://clarifai.com",
        docs_url="https://docs.clarifai.com/compute/inference/open-ai",
        list_api=ListApiSpec(
            base_url="https://api.clarifai.com/v2/ext/openai/v1", path="/models", auth=Scheme("Key"),
            records_path="data",
            fields=FieldMap(context_length=("context_length", "context_window")),
        ),
    ),
    Provider(
        slug="onerouter", name="OneRouter", color="bg-emerald-500", priority=SLOW, site_url="https://onerouter.pro",
        docs_url="https://docs.onerouter.pro",
        list_api=ListApiSpec(
            base_url="https://api.onerouter.pro/v1", path="/models", auth=Bearer(), records_path="data",
            price_unit=PriceUnit.USD_PER_1M_TOKENS,
            free_id_suffixes=(":free",),
            fields=FieldMap(
                name=("display_name",),
                max_output_tokens=("max_output_tokens",),
                input_modalities=("input_modalities",),
                output_modalities=("output_modalities",),
                token_prices={"input": "min_prompt_price", "output": "min_completion_price"},
                capabilities={"vision": Member("input_modalities", ("image",))},
            ),
        ),
    ),
    Provider(
        slug="simplismart", name="SimpliSmart", color="bg-sky-500", priority=SLOW, site_url="https://simplismart.ai",
        list_api=None, no_list_reason="no public model list API",
    ),
    Provider(
        slug="aihubmix", name="AiHubMix", color="bg-rose-500", priority=SLOW, site_url="https://aihubmix.com",
        docs_url="https://docs.aihubmix.com",
        list_api=ListApiSpec(
            base_url="https://aihubmix.com/api/v1", path="/models", auth=None, key_required=False,
            records_path="data", quirk="aihubmix_comma_lists",
            # The docs' field table says "per 1K tokens", but the same page's example (gpt-5: 1.25 / 10) is
            # OpenAI's per-1M list price, and AiHubMix's own tooling reads it per 1M (checked 2026-11-26).
            price_unit=PriceUnit.USD_PER_1M_TOKENS,
            fields=FieldMap(
                id="model_id",
                name=("model_name", "model_id"),
                description=("desc",),
                max_output_tokens=("max_output",),
                input_modalities=("_input_modalities",),
                token_prices={
                    "input": "pricing.input",
                    "output": "pricing.output",
                    "cache_read": "pricing.cache_read",
                    "cache_write": "pricing.cache_write",
                },
                capabilities={
                    "tools": Member("_features", ("tools", "function_calling")),
                    "reasoning": Member("_features", ("thinking",)),
                    "structured_output": Member("_features", ("structured_outputs",)),
                    "vision": Member("_input_modalities", ("image",)),
                },
            ),
        ),
    ),
    Provider(
        slug="anannas", name="Anannas", color="bg-lime-600", priority=SLOW, site_url="https://anannas.ai",
        docs_url="https://docs.anannas.ai",
        list_api=ListApiSpec(
            base_url="https://api.anannas.ai/v1", path="/models", auth=Bearer(), records_path="data",
            price_unit=PriceUnit.USD_PER_TOKEN,
            fields=FieldMap(
                context_length=("context_length", "context_window"),
                max_output_tokens=("max_output",),
                token_prices={"input": "pricing.prompt", "output": "pricing.completion"},
                unit_prices_usd={"request": "pricing.request"},
                capabilities={
                    "tools": Member("capabilities", ("tool_calling",)),
                    "reasoning": Member("capabilities", ("reasoning",)),
                    "structured_output": Member("capabilities", ("json_mode",)),
                },
            ),
        ),
    ),
    Provider(
        slug="cloudflare-workers-ai", name="Cloudflare Workers AI", color="bg-orange-500", priority=SLOW,
        site_url="https://developers.cloudflare.com/workers-ai", key_env="CLOUDFLARE_API_TOKEN",
        docs_url="https://developers.cloudflare.com/api/resources/ai/subresources/models/methods/list/",
        list_api=ListApiSpec(
            base_url="https://api.cloudflare.com/client/v4", path="/accounts/{account_id}/ai/models/search",
            path_params={"account_id": "CLOUDFLARE_ACCOUNT_ID"}, params={"hide_experimental": "false"},
            auth=Bearer(), records_path="result",
            paginator=PageNumber(page_param="page", size_param="per_page", page_size=100),
            quirk="cloudflare_properties", price_unit=PriceUnit.USD_PER_1M_TOKENS,
            auth_error_markers=("Unable to authenticate",),
            fields=FieldMap(
                id="name",
                name=("name",),
                context_length=("_context_window",),
                token_prices={"input": "_prices.input", "output": "_prices.output", "cache_read": "_prices.cache_read"},
                capabilities={
                    "tools": Flag("_flags.function_calling"),
                    "vision": Flag("_flags.vision"),
                    "reasoning": Flag("_flags.reasoning"),
                },
            ),
        ),
    ),
    Provider(
        slug="mistral", name="Mistral", color="bg-orange-600", priority=SLOW, site_url="https://mistral.ai",
        docs_url="https://docs.mistral.ai/api/#tag/models/operation/list_models_v1_models_get",
        list_api=ListApiSpec(
            base_url="https://api.mistral.ai/v1", path="/models", auth=Bearer(), records_path="data",
            fields=FieldMap(
                context_length=("max_context_length",),
                deprecation_date=("deprecation",),
                replacement_model=("deprecation_replacement_model",),
                capabilities={
                    "tools": Flag("capabilities.function_calling"),
                    "vision": Flag("capabilities.vision"),
                    "reasoning": Flag("capabilities.reasoning"),
                },
                # Each record lists the other ids of its group in `aliases` and the id they stand for in `name`
                # (codestral-latest: name codestral-2508): one model, one price, one set of limits.
                aliases=AliasGroup(members="aliases", canonical="name"),
                kind=(
                    (Flag("capabilities.ocr"), "ocr"),
                    (Flag("capabilities.audio_speech"), "tts"),
                    (Flag("capabilities.audio_transcription"), "stt"),
                    (Flag("capabilities.audio_transcription_realtime"), "stt"),
                    (Flag("capabilities.moderation"), "moderation"),
                    (Flag("capabilities.completion_chat"), "chat"),
                ),
            ),
        ),
    ),
    Provider(
        slug="cohere", name="Cohere", color="bg-purple-500", priority=SLOW, site_url="https://cohere.com",
        docs_url="https://docs.cohere.com/reference/list-models",
        list_api=ListApiSpec(
            base_url="https://api.cohere.com/v1", path="/models", params={"page_size": "1000"}, auth=Bearer(),
            records_path="models", paginator=PageToken(token_path="next_page_token", token_param="page_token"),
            fields=FieldMap(
                id="name",
                kind=(
                    (Member("endpoints", ("chat", "generate")), "chat"),
                    (Member("endpoints", ("embed", "embed_image")), "embedding"),
                    (Member("endpoints", ("rerank",)), "rerank"),
                    (Member("endpoints", ("transcriptions",)), "stt"),
                ),
                capabilities={
                    "tools": Member("features", ("tools",)),
                    "vision": Member("features", ("vision",)),
                    "reasoning": Member("features", ("reasoning",)),
                    "structured_output": Member("features", ("json_schema",)),
                },
            ),
        ),
    ),
    Provider(
        slug="deepseek", name="DeepSeek", color="bg-blue-700", priority=SLOW, site_url="https://deepseek.com",
        docs_url="https://api-docs.deepseek.com/api/list-models",
        list_api=ListApiSpec(base_url="https://api.deepseek.com", path="/models", auth=Bearer(), records_path="data"),
    ),
)

GATEWAY_REGISTRY = validate_registry(_PROVIDERS)


def get_provider(slug: str) -> Provider:
    try:
        return GATEWAY_REGISTRY[slug]
    except KeyError:
        raise KeyError(f"unknown provider {slug!r}; known: {', '.join(sorted(GATEWAY_REGISTRY))}") from None


def provider_names() -> dict[str, str]:
    """slug -> display name, in the order of the names (how the model DAG's trigger form lists the providers)."""
    return dict(sorted(((p.slug, p.name) for p in GATEWAY_REGISTRY.values()), key=lambda item: item[1].casefold()))
