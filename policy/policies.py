"""The CrossGuard policies: one thin wrapper per rule of analyzer.rules.catalog.

Importable without side effects (PolicyPack itself starts a server and blocks, so only __main__.py builds it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from analyzer.rules.catalog import RULES, ResourceRule, Rule, StackRule
from analyzer.rules.model import Level, Resource
from analyzer.rules.settings import PolicySettings, property_schema

PACK_NAME = "image-factory"

_LEVELS = {Level.ADVISORY: EnforcementLevel.ADVISORY, Level.MANDATORY: EnforcementLevel.MANDATORY,
           Level.DISABLED: EnforcementLevel.DISABLED}


def settings_for(rule: Rule, config: Mapping[str, Any] | None) -> PolicySettings:
    """This policy's config properties (numbers may be floats) as the typed settings the rules read."""
    own = {key: value for key, value in (config or {}).items() if key in rule.config}
    return PolicySettings.model_validate(own)


def _resource_validator(rule: ResourceRule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = Resource(args.resource_type, args.props)
        for finding in rule.check(resource, settings_for(rule, args.get_config())):
            report_violation(finding.message, None)
    return validate


def _stack_validator(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources, urns = [], {}
        for policy_resource in args.resources:
            resource = Resource(policy_resource.resource_type, policy_resource.props)
            resources.append(resource)
            urns[(resource.type, resource.name)] = policy_resource.urn
        for finding in rule.check(resources, settings_for(rule, args.get_config())):
            target = finding.resource
            report_violation(finding.message, urns.get((target.type, target.name)) if target else None)
    return validate


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    if not rule.config:
        return None
    return PolicyConfigSchema(properties={alias: property_schema(alias) for alias in rule.config})


def build_policy(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    severity = Severity.HIGH if rule.level is Level.MANDATORY else Severity.LOW
    if isinstance(rule, StackRule):
        return StackValidationPolicy(name=rule.name, description=rule.description,
                                     validate=_stack_validator(rule), enforcement_level=_LEVELS[rule.level],
                                     config_schema=_schema(rule), severity=severity)
    return ResourceValidationPolicy(name=rule.name, description=rule.description,
                                    validate=_resource_validator(rule), enforcement_level=_LEVELS[rule.level],
                                    config_schema=_schema(rule), severity=severity)


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [build_policy(rule) for rule in RULES]
