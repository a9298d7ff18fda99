from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analyzer.errors import InputError
from analyzer.rules.catalog import BY_NAME, evaluate
from analyzer.rules.model import Level
from analyzer.rules.policy_config import load_policy_config, settings_from_pack_config
from tests.analyzer.rules.builders import rebuild, request, settings, soak, template, warehouse


def test_defaults() -> None:
    s = settings_from_pack_config({})
    assert (s.minimum_delay_days, s.maximum_delay_days, s.minimum_interval_minutes) == (7, 30, 5)
    assert s.levels == {} and s.managed_images is None


def test_all_then_per_policy_levels_and_properties() -> None:
    s = settings_from_pack_config({"all": {"enforcementLevel": "advisory"},
                                   "soak-delay-bounds": {"enforcementLevel": "mandatory", "minimumDelayDays": 2.0},
                                   "tag-regex-re2": "remediate", "required-soak-time": "disabled",
                                   "environments": ["esc/env"]}, today=date(2026, 1, 1))
    assert s.levels["soak-delay-bounds"] is Level.MANDATORY and s.levels["tag-regex-anchored"] is Level.ADVISORY
    assert s.levels["tag-regex-re2"] is Level.MANDATORY and s.levels["required-soak-time"] is Level.DISABLED
    assert s.minimum_delay_days == 2.0 and s.today == date(2026, 1, 1)
    assert set(s.levels) == set(BY_NAME)


def test_problems_are_collected_with_the_file_name() -> None:
    with pytest.raises(InputError) as caught:
        settings_from_pack_config({"nope": "advisory", "soak-delay-bounds": {"minimumDelayDays": "x"},
                                   "tag-regex-re2": 3}, file="policy.json")
    text = str(caught.value)
    assert "policy.json: nope: no such policy" in text
    assert "tag-regex-re2: expected a level string or an object, got int" in text


def test_load_policy_config_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(InputError, match="cannot read"):
        load_policy_config(missing)
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(InputError, match="top level must be a JSON object"):
        load_policy_config(array)


def test_evaluate_applies_levels_and_skips_disabled_rules() -> None:
    resources = [warehouse(interval="1m"), soak(delay="1h", gate_delay="1h"), template(),
                 rebuild(requests=[request(requiredSoakTime="1h")])]
    found = {(v.rule, v.level) for v in evaluate(resources, settings())}
    assert found == {("warehouse-interval-floor", Level.MANDATORY), ("soak-delay-bounds", Level.MANDATORY),
                     ("required-soak-time", Level.ADVISORY)}
    relaxed = settings(levels={"warehouse-interval-floor": "disabled", "soak-delay-bounds": "advisory"})
    found = {(v.rule, v.level) for v in evaluate(resources, relaxed)}
    assert found == {("soak-delay-bounds", Level.ADVISORY), ("required-soak-time", Level.ADVISORY)}
    [violation] = [v for v in evaluate(resources, settings()) if v.rule == "warehouse-interval-floor"]
    assert violation.resource == "Warehouse/python-3-12-slim" and violation.source == "images.yaml:3"
