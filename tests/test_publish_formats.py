"""The publish's pure parts: the setting, LiteLLM's field for each of our prices, price slugs read back, ETags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from include.gatewayz_sync.catalog.meters import PriceKey
from include.gatewayz_sync.catalog.price_slugs import key_of_slug
from include.gatewayz_sync.config import PublishSettings, SettingError
from include.gatewayz_sync.publish.litellm_map import litellm_amount, litellm_key, threshold_label
from include.gatewayz_sync.web.exports import _etag_matches


def test_the_publish_url_setting():
    assert PublishSettings.from_env({}).configured is False
    assert PublishSettings.from_env({"GATEWAYZ_PUBLISH_URL": "/srv/catalog/"}).base_url == "file:///srv/catalog"
    settings = PublishSettings.from_env({"GATEWAYZ_PUBLISH_URL": "s3://bucket/catalog", "GATEWAYZ_PUBLISH_CONN_ID": "aws",
                                         "GATEWAYZ_PUBLISH_KEEP_VERSIONS": "3"})
    assert (settings.base_url, settings.conn_id, settings.keep_versions) == ("s3://bucket/catalog", "aws", 3)
    for bad in ("bucket/catalog", "s3://", "file:///"):
        with pytest.raises(SettingError, match="GATEWAYZ_PUBLISH_URL"):
            PublishSettings.from_env({"GATEWAYZ_PUBLISH_URL": bad})
    with pytest.raises(SettingError, match="GATEWAYZ_PUBLISH_KEEP_VERSIONS"):
        PublishSettings.from_env({"GATEWAYZ_PUBLISH_URL": "/x", "GATEWAYZ_PUBLISH_KEEP_VERSIONS": "0"})


@pytest.mark.parametrize(("key", "kind", "field"), [
    (PriceKey("input"), "chat", "input_cost_per_token"),
    (PriceKey("cache_write_1h"), "chat", "cache_creation_input_token_cost_above_1hr"),
    (PriceKey("input", above_input_tokens=200_000), "chat", "input_cost_per_token_above_200k_tokens"),
    (PriceKey("cache_read", above_input_tokens=131_072), "chat", "cache_read_input_token_cost_above_131072_tokens"),
    (PriceKey("output", service_tier="batch"), "chat", "output_cost_per_token_batches"),
    (PriceKey("cache_read", service_tier="flex"), "chat", "cache_read_input_token_cost_flex"),
    (PriceKey("input", "character"), "tts", "input_cost_per_character"),
    (PriceKey("input_audio", "minute"), "stt", "input_cost_per_second"),
    (PriceKey("input_document", "page"), "ocr", "ocr_cost_per_page"),
    (PriceKey("input", time_window="16:30-00:30"), "chat", None),
    (PriceKey("web_search", "request", option="search_context=high"), "chat", None),
    (PriceKey("input", above_input_tokens=200_000, service_tier="batch"), "chat", None),
    (PriceKey("input_audio", "minute"), "chat", None),
])
def test_each_price_has_its_litellm_field_or_none(key, kind, field):
    assert litellm_key(key, kind) == field


def test_litellm_amounts_are_per_token_or_per_unit():
    assert litellm_amount(PriceKey("input"), Decimal("2.5")) == 2.5e-06
    assert litellm_amount(PriceKey("input_image", "image"), Decimal("0.04")) == 0.04
    assert litellm_amount(PriceKey("input_audio", "minute"), Decimal("0.006"), "input_cost_per_second") == 0.0001
    assert threshold_label(200_000) == "200k" and threshold_label(131_072) == "131072"


@pytest.mark.parametrize("key", [
    PriceKey("input", "character"), PriceKey("input", above_input_tokens=256_000), PriceKey("output", service_tier="batch"),
    PriceKey("input", time_window="01:00-04:00"), PriceKey("web_search", "request", option="search_context=high"),
    PriceKey("cache_write_1h", above_input_tokens=200_000, service_tier="priority"),
])
def test_a_price_slug_reads_back_as_its_key(key):
    assert key_of_slug(key.slug()) == key


def test_etags_match_as_http_says():
    assert _etag_matches('"abc"', '"abc"') and _etag_matches('W/"abc", "x"', '"abc"') and _etag_matches("*", '"abc"')
    assert not _etag_matches(None, '"abc"') and not _etag_matches('"abd"', '"abc"')
