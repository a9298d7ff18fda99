"""No credentials inline in any rendered spec: they belong in Kubernetes Secrets, read through `secret()`.

Messages name the path of the offending value, never the value itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from analyzer.rules.model import Finding, Resource, items

_SECRET_EXPRESSION = re.compile(r"\$\{\{.*\b(?:secret|sharedSecret)\(.*\}\}", re.DOTALL)
_ARGO_ARG = re.compile(r"^\{\{\s*args\.[\w-]+\s*\}\}$")
_SENSITIVE_PAIR_NAME = re.compile(
    r"(?i)(authorization|password|passwd|token|api[-_]?key|secret[-_]?key|client[-_]?secret|private[-_]?key"
    r"|access[-_]?key|cookie)")
_NOT_A_CREDENTIAL_NAME = re.compile(r"(?i)(secret|token)[-_]?(name|ref|secret)$|^content-type$")
_SENSITIVE_KEY = re.compile(r"(?i)(password|passwd|token|apikey|secretkey|clientsecret|privatekey|accesskey)$")
_TOKEN_SHAPES = {
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})"),
    "a GitLab token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"),
    "an AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a JSON Web Token": re.compile(r"\beyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}"),
    "a URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
    "a literal Bearer/Basic credential": re.compile(r"\b(?:Bearer|Basic|token)\s+[A-Za-z0-9._~+/=-]{16,}"),
}


def _walk(value: object, path: str) -> Iterator[tuple[str, object]]:
    yield path, value
    if isinstance(value, Mapping):
        for key in value:
            yield from _walk(value[key], f"{path}.{key}")
    elif not isinstance(value, str | bytes):
        for index, item in enumerate(items(value)):
            yield from _walk(item, f"{path}[{index}]")


def _literal(value: object) -> bool:
    """A non-empty value that is not a reference (Kargo `${{ … }}` expression or Argo `{{args.x}}`)."""
    if value is None or value == "":
        return False
    return not (isinstance(value, str) and ("${{" in value or _ARGO_ARG.match(value.strip())))


def _pair_problem(pair: Mapping[str, Any], path: str) -> str | None:
    name = pair.get("name")
    if not isinstance(name, str) or not _SENSITIVE_PAIR_NAME.search(name) or _NOT_A_CREDENTIAL_NAME.search(name):
        return None
    value = pair.get("value")
    if ".headers[" in path and (value is not None and value != ""):
        if isinstance(value, str) and _SECRET_EXPRESSION.search(value):
            return None
        return (f"{path} (header {name}) is not read from a Secret: write its value as a Kargo expression "
                "such as 'Bearer ${{ secret(\"ci-token\").token }}'")
    if _literal(value):
        return (f"{path} ({name}) holds a literal value: read it from a Kubernetes Secret (Kargo "
                "`${{ secret(\"name\").key }}`, or valueFrom.secretKeyRef)")
    return None


def no_inline_credentials(resource: Resource, settings: object) -> list[Finding]:
    """Credentials come from Secrets: http headers use `secret()`, and nothing in a spec looks like one."""
    if resource.type.endswith(":Secret"):
        return []
    findings = []
    reported: set[str] = set()  # paths already reported, so one value gives one finding
    label = f"{resource.type.rsplit(':', 1)[-1]} {resource.name}"
    for path, value in _walk(resource.props.get("spec"), "spec"):
        if isinstance(value, Mapping):
            if "name" in value and ("value" in value or ".headers[" in path):
                problem = _pair_problem(value, path)
                if problem:
                    findings.append(resource.finding(f"{label} {problem}"))
                    reported.add(f"{path}.value")
            for key, inner in value.items():
                if isinstance(inner, str) and _SENSITIVE_KEY.search(key.replace("-", "").replace("_", "")) \
                        and _literal(inner):
                    findings.append(resource.finding(
                        f"{label} {path}.{key} holds a literal credential: read it from a Kubernetes Secret "
                        "(Kargo `${{ secret(\"name\").key }}`, or valueFrom.secretKeyRef)"))
                    reported.add(f"{path}.{key}")
        elif isinstance(value, str) and path not in reported:
            for shape, pattern in _TOKEN_SHAPES.items():
                if pattern.search(value):
                    findings.append(resource.finding(
                        f"{label} {path} contains what looks like {shape}: remove it (and rotate it), and read "
                        "the credential from a Kubernetes Secret through Kargo `secret()`"))
                    break
    return findings
