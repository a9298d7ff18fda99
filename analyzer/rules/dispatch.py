"""The GitHub dispatch call of a rebuild Stage stays on the workflow-dispatch endpoint.

The Stage sends the org's token with it, so its URL must be exactly
`https://api.github.com/repos/OWNER/REPO/actions/workflows/WORKFLOW/dispatches`: no dot segments, no
percent-encoded separators, no query or fragment that could move the token to another API path.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from analyzer.rules.model import STAGE, Finding, Resource, items, mapping
from analyzer.rules.settings import PolicySettings

GITHUB_API_HOST = "api.github.com"
_DISPATCH_PATH = re.compile(r"/repos/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/actions/workflows/"
                            r"(?:[A-Za-z0-9_.-]+\.ya?ml|[0-9]+)/dispatches")


def dispatch_url_problem(url: str) -> str | None:
    """Why `url` is not a plain workflow-dispatch URL of api.github.com, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if parts.hostname != GITHUB_API_HOST:
        return None  # not a GitHub API call: the webhook rules apply
    if parts.scheme != "https" or parts.query or parts.fragment or "?" in url or "#" in url:
        return "must be https with no query or fragment"
    segments = parts.path.split("/")
    if any(s in (".", "..") for s in segments) or not _DISPATCH_PATH.fullmatch(parts.path):
        return "must stay under /repos/OWNER/REPO/actions/workflows/WORKFLOW/dispatches"
    return None


def github_dispatch_url(resource: Resource, settings: PolicySettings) -> list[Finding]:
    """Every http step to api.github.com in a Stage targets the workflow-dispatch endpoint."""
    if resource.type != STAGE:
        return []
    template = mapping(mapping(resource.spec.get("promotionTemplate")).get("spec"))
    findings = []
    for index, step in enumerate(items(template.get("steps"))):
        url = mapping(mapping(step).get("config")).get("url")
        if mapping(step).get("uses") != "http" or not isinstance(url, str):
            continue
        problem = dispatch_url_problem(url)
        if problem is not None:
            findings.append(Finding(resource, f"spec.promotionTemplate.spec.steps[{index}].config.url {problem} "
                                              "(the GitHub token is sent with it)"))
    return findings
