"""Every rule with its name, scope, default level and config properties: the one list that both
`image-factory check` and the CrossGuard pack are built from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from analyzer.rules import credentials, delay, dispatch, expressions, hygiene, tags
from analyzer.rules.model import Finding, Level, Resource, Violation
from analyzer.rules.settings import PolicySettings

ResourceCheck = Callable[[Resource, PolicySettings], list[Finding]]
StackCheck = Callable[[Sequence[Resource], PolicySettings], list[Finding]]


@dataclass(frozen=True)
class _Rule:
    name: str
    description: str
    level: Level

    def level_in(self, settings: PolicySettings) -> Level:
        return settings.levels.get(self.name, self.level)


@dataclass(frozen=True)
class ResourceRule(_Rule):
    """Judges one resource at a time (a CrossGuard resource policy)."""

    check: ResourceCheck
    config: tuple[str, ...] = ()
    """Config property aliases of PolicySettings this rule reads (its CrossGuard `config_schema`)."""


@dataclass(frozen=True)
class StackRule(_Rule):
    """Judges the whole stack: relations between resources (a CrossGuard stack policy)."""

    check: StackCheck
    config: tuple[str, ...] = ()
    """Config property aliases of PolicySettings this rule reads (its CrossGuard `config_schema`)."""


Rule = ResourceRule | StackRule


M, A = Level.MANDATORY, Level.ADVISORY

RULES: tuple[Rule, ...] = (
    ResourceRule("soak-delay-bounds", "A soak Stage's delay is within the configured minimum and maximum.", M,
                 delay.soak_delay_bounds, config=("minimumDelayDays", "maximumDelayDays")),
    ResourceRule("no-direct-freight", "Only soak Stages take freight direct from a Warehouse, unless a valid, "
                 "unexpired expedite override allows it.", M, delay.no_direct_freight, config=("maximumExpediteDays",)),
    ResourceRule("required-soak-time", "requiredSoakTime is a debounce, not a delay; the soak gate is the delay.", A,
                 delay.required_soak_time),
    StackRule("rebuild-path-soaked", "Every path from a Warehouse into a rebuild Stage passes a soak Stage.", M,
              delay.rebuild_path_soaked, config=("otherStacks",)),
    StackRule("soak-delay-matches-gate", "A soak Stage's declared delay equals the delay its gate verification "
              "passes.", M, delay.soak_delay_matches_gate),
    StackRule("delay-not-below-parents", "An image's declared delay is not shorter than its parents' (it cannot be "
              "rebuilt sooner than they are).", A, delay.delay_not_below_parents),
    ResourceRule("tag-regex-re2", "Tag regexes compile under RE2 (Go regexp), which Kargo uses.", M,
                 tags.tag_regex_re2),
    ResourceRule("tag-regex-anchored", "Tag regexes are anchored (^…$).", M, tags.tag_regex_anchored),
    ResourceRule("tag-regex-too-broad", "No tag regex matches every tag.", M, tags.tag_regex_too_broad),
    ResourceRule("tag-admits-latest", "Warehouses neither admit nor follow the `latest` tag.", M,
                 tags.tag_admits_latest, config=("allowLatest",)),
    ResourceRule("digest-constraint-literal", "With the Digest strategy, constraint is one literal tag.", M,
                 tags.digest_constraint_literal),
    ResourceRule("deprecated-tag-fields", "No allowTags/ignoreTags (discovery fails on Kargo 1.11+) or "
                 "semverConstraint.", M, tags.deprecated_tag_fields),
    ResourceRule("warehouse-interval-floor", "Warehouse discovery interval is set and not below the floor.", M,
                 hygiene.warehouse_interval_floor, config=("minimumIntervalMinutes",)),
    ResourceRule("discovery-limit-bounds", "discoveryLimit is a whole number within bounds.", M,
                 hygiene.discovery_limit_bounds, config=("minimumDiscoveryLimit", "maximumDiscoveryLimit")),
    ResourceRule("no-inline-credentials", "No credentials inline: http headers use secret(), nothing looks like a "
                 "token or password.", M, credentials.no_inline_credentials),
    ResourceRule("kargo-expression-syntax", "Stage expressions survive Kargo's template scanner (an expression ends "
                 "at the first `}}`) and whole-expression verification args are quote()d.", M,
                 expressions.kargo_expressions),
    ResourceRule("github-dispatch-url", "A GitHub trigger's URL is exactly the workflow-dispatch endpoint "
                 "(/repos/OWNER/REPO/actions/workflows/WORKFLOW/dispatches), so the token it carries goes nowhere "
                 "else.", M, dispatch.github_dispatch_url),
    StackRule("no-managed-image-warehouse", "No Warehouse follows a managed image.", M,
              hygiene.no_managed_image_warehouse),
    StackRule("rebuild-graph-acyclic", "The Stage graph has no cycle.", M, hygiene.rebuild_graph_acyclic),
    StackRule("one-rebuild-stage-per-image", "Every managed image has exactly one rebuild Stage.", M,
              hygiene.one_rebuild_stage_per_image, config=("managedImages",)),
)

BY_NAME = {rule.name: rule for rule in RULES}


def to_violations(rule: Rule, level: Level, findings: list[Finding]) -> list[Violation]:
    return [Violation(rule.name, level, f.resource.type if f.resource else "",
                      f.resource.name if f.resource else "", f.message,
                      f.resource.source if f.resource else None) for f in findings]


def run_rule(rule: Rule, resources: Sequence[Resource], settings: PolicySettings) -> list[Finding]:
    """The rule's findings over all resources (a resource rule runs once per resource)."""
    if isinstance(rule, StackRule):
        return rule.check(resources, settings)
    findings: list[Finding] = []
    for resource in resources:
        findings.extend(rule.check(resource, settings))
    return findings


def evaluate(resources: Sequence[Resource], settings: PolicySettings) -> list[Violation]:
    """All violations of all enabled rules, at their configured levels, in catalog then resource order."""
    violations: list[Violation] = []
    for rule in RULES:
        level = rule.level_in(settings)
        if level is not Level.DISABLED:
            violations.extend(to_violations(rule, level, run_rule(rule, resources, settings)))
    return violations
