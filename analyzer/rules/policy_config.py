"""Read a `--policy-pack-config` JSON file into PolicySettings, reconciled the way the Pulumi engine does:
each rule's own level and defaults, then `all`, then per-rule entries (a level string, or an object with
`enforcementLevel` and the rule's properties). One file thus configures both `check` and the pack."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from analyzer.errors import InputError, Problem
from analyzer.rules.catalog import BY_NAME
from analyzer.rules.model import Level
from analyzer.rules.settings import PolicySettings

_LEVEL_NAMES = {"advisory": Level.ADVISORY, "mandatory": Level.MANDATORY, "remediate": Level.MANDATORY,
                "disabled": Level.DISABLED}


def _level(value: object, where: str, problems: list[str]) -> Level | None:
    if isinstance(value, str) and value in _LEVEL_NAMES:
        return _LEVEL_NAMES[value]
    problems.append(f"{where}: enforcement level {value!r} is not one of {', '.join(_LEVEL_NAMES)}")
    return None


def settings_from_pack_config(data: Mapping[str, Any], today: date | None = None,
                              file: str = "<policy config>") -> PolicySettings:
    """PolicySettings from a parsed policy-pack config object; InputError naming the key on any problem."""
    problems: list[str] = []
    levels: dict[str, Level] = {}
    properties: dict[str, Any] = {}
    for key, value in data.items():
        if key == "environments":  # ESC references, stripped by newer CLIs
            continue
        if key == "all":
            level = _level(value.get("enforcementLevel") if isinstance(value, Mapping) else value, key, problems)
            if level is not None:
                levels.update(dict.fromkeys(BY_NAME, level))
            continue
        rule = BY_NAME.get(key)
        if rule is None:
            problems.append(f"{key}: no such policy (known: {', '.join(BY_NAME)})")
            continue
        if isinstance(value, str):
            level = _level(value, key, problems)
        elif isinstance(value, Mapping):
            level = _level(value["enforcementLevel"], f"{key}.enforcementLevel", problems) \
                if "enforcementLevel" in value else None
            for name, setting in value.items():
                if name == "enforcementLevel":
                    continue
                if name not in rule.config:
                    known = ", ".join(rule.config) or "none"
                    problems.append(f"{key}.{name}: not a property of this policy (properties: {known})")
                else:
                    properties[name] = setting
        else:
            problems.append(f"{key}: expected a level string or an object, got {type(value).__name__}")
            continue
        if level is not None:
            levels[key] = level
    extra = {"today": today} if today is not None else {}
    try:
        settings = PolicySettings.model_validate({**properties, **extra, "levels": levels})
    except ValidationError as exc:
        problems.extend(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())
        settings = None
    if problems or settings is None:
        raise InputError([Problem(file, None, None, p) for p in problems])
    return settings


def load_policy_config(path: str | Path, today: date | None = None) -> PolicySettings:
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError.single(file, f"cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError.single(file, f"invalid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError.single(file, "top level must be a JSON object keyed by policy name")
    return settings_from_pack_config(data, today, str(file))
