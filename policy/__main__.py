"""Entry point of the policy pack: only builds the PolicyPack (which starts the analyzer server and blocks)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.policies import PACK_NAME, POLICIES
from policy.serving import share_message_dicts

share_message_dicts()
PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.ADVISORY)  # type: ignore[arg-type]
