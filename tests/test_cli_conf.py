"""The CLI's `sync` flags become exactly the run conf the model-sync DAG's Params validate."""

from __future__ import annotations

import pytest

from include.gatewayz_sync.dev.cli import _sync_conf, parse_args


def conf(*argv: str):
    return _sync_conf(parse_args(["sync", *argv]))


def test_a_plain_provider_sync_carries_no_guard_override():
    assert conf("provider", "openrouter") == {"providers": ["openrouter"], "dry_run": False}


@pytest.mark.parametrize("flag, key", [
    ("--allow-shrink", "allow_shrink"),
    ("--allow-field-loss", "allow_field_loss"),
    ("--accept-price-jumps", "accept_price_jumps"),
])
def test_each_guard_override_is_one_flag(flag, key):
    assert conf("provider", "openrouter", flag)[key] is True
    assert conf("all", flag) == {"providers": [], "dry_run": False, key: True}


def test_guard_overrides_are_refused_for_a_provider_sync(capsys):
    assert conf("providers", "--allow-shrink") is None
    assert "apply to model syncs" in capsys.readouterr().err


def test_every_override_is_a_param_of_the_model_sync_dag():
    from pathlib import Path

    from include.gatewayz_sync.dev.cli import GUARD_OVERRIDES

    dag_source = (Path(__file__).resolve().parents[1] / "dags" / "gatewayz_sync_models.py").read_text()
    assert all(f'"{key}": Param(' in dag_source for key in GUARD_OVERRIDES)
