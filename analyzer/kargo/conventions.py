"""Labels, annotations and argument names shared by the renderer, the policy rules and the jobs.

Policy rules read what the renderer writes, so both import these names from here.
"""

from __future__ import annotations

from analyzer.config.model import RESERVED_TRIGGER_INPUT

DOMAIN = "image-factory.dev"

KARGO_GROUP = "kargo.akuity.io"
KARGO_VERSION = "v1alpha1"
KARGO_API_VERSION = f"{KARGO_GROUP}/{KARGO_VERSION}"
ARGO_API_VERSION = "argoproj.io/v1alpha1"
"""API groups of the rendered kinds: Kargo's, and Argo Rollouts' (AnalysisTemplate)."""

LABEL_ROLE = f"{DOMAIN}/role"
"""`warehouse` | `soak` | `rebuild` | `gate` | `verify`."""
ROLE_WAREHOUSE = "warehouse"
ROLE_SOAK = "soak"
ROLE_REBUILD = "rebuild"
ROLE_GATE = "gate"
ROLE_VERIFY = "verify"
ROLE_JOBS = "jobs"
"""The Jobs' ServiceAccount, Role and RoleBinding."""

LABEL_IMAGE = f"{DOMAIN}/image"
"""Managed image name, on its rebuild Stage."""
LABEL_WAREHOUSE = f"{DOMAIN}/warehouse"
"""Warehouse name, on the Warehouse and its soak Stages."""
LABEL_DELAY = f"{DOMAIN}/delay"
"""Delay in canonical form (`168h`): the soak delay on soak Stages, the image's declared delay on
rebuild Stages."""
LABEL_AUTO_PROMOTE = f"{DOMAIN}/auto-promote"
"""`true` on Stages the ProjectConfig's promotion policies auto-promote."""

ANNOTATION_SOURCE = f"{DOMAIN}/source"
"""`images.yaml:LINE` (or the state file) the resource was rendered from, for SARIF locations."""
ANNOTATION_REF = f"{DOMAIN}/ref"
"""The image reference (`registry/repository:tag`) a Warehouse follows or a rebuild Stage builds."""
ANNOTATION_EXPEDITE_REASON = f"{DOMAIN}/expedite-reason"
ANNOTATION_EXPEDITE_EXPIRES = f"{DOMAIN}/expedite-expires"
"""ISO date; a rebuild Stage taking freight `direct` from a Warehouse must carry both, unexpired."""
ANNOTATION_HOLD = f"{DOMAIN}/hold"

GATE_ARG_DELAY = "delay"
"""The gate AnalysisTemplate argument carrying the soak delay; must equal the soak Stage's LABEL_DELAY."""
GATE_ARG_WAREHOUSE = "warehouse"
GATE_ARG_REPOSITORY = "repository"
GATE_ARG_TAG = "tag"
GATE_ARG_DIGEST = "digest"
"""Gate AnalysisTemplate arguments (with GATE_ARG_DELAY); the gate job gets them as `--<name>=<value>`."""

VERIFY_ARG_IMAGE = "image"
VERIFY_ARG_REF = "ref"
VERIFY_ARG_BASE_DIGESTS = "base-digests"
"""Verify-rebuild AnalysisTemplate arguments; the verify job gets them as `--<name>=<value>`."""

TRIGGER_INPUT_IMAGE = "image"
TRIGGER_INPUT_BASE_DIGESTS = RESERVED_TRIGGER_INPUT
"""Inputs of the GitHub `workflow_dispatch` (and keys of the webhook JSON body) a rebuild sends.
`base-digests` is a comma-separated list of vetted `registry/repository:tag@sha256:…` references."""

JOB_EXIT_REFUSED = 3
"""Exit code of a gate/verify-rebuild job that reached a definitive verdict against the digest or build
(gate: refused or skipped; verify: timed out or built on the wrong base). Retrying cannot change it, so
the rendered `podFailurePolicy` fails the Job at once on it."""
JOB_EXIT_INVALID = 2
"""Exit code for invalid arguments or a missing required setting (e.g. no state repository): fails the
Job at once too, with the reason as the last log line, instead of retrying a pod that cannot work."""
JOB_FAIL_AT_ONCE = (JOB_EXIT_INVALID, JOB_EXIT_REFUSED)
"""Any other non-zero exit (a crash, a state-repo push that lost every race, a registry outage) is
retried by the Job up to its backoffLimit; evicted/preempted pods (`DisruptionTarget`) are not counted."""
