"""How the pack's server turns the engine's protobuf properties into dicts: once per resource, not once per policy.

pulumi-policy (1.21) runs `deserialize_properties(json_format.MessageToDict(props))` for every policy: in
`Analyze` once per resource policy (14 here) for the same resource, and in `AnalyzeStack` once per stack policy
(6 here) for every resource of the stack. MessageToDict is pure Python and was the largest single cost of the
pack (37% of its CPU time at 4,200 resources, docs/pulumi.md). `share_message_dicts` gives pulumi-policy's
module a `json_format` whose MessageToDict returns the dict already made for a message of the same bytes
(the last CACHE_SIZE messages). The dicts are only read: deserialize_properties builds new dicts and lists
from them, and the proxies the policies get are built from those, so every policy still gets its own objects
and the same values as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pulumi_policy.policy
from google.protobuf import json_format
from google.protobuf.message import Message

CACHE_SIZE = 50_000
"""Messages kept: more than one stack's resources, so that each of AnalyzeStack's passes finds them all."""


class SharedMessageDicts:
    """Stands in for `google.protobuf.json_format` in pulumi_policy.policy (every other name is the module's)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._dicts: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()  # the server answers on a thread pool

    def MessageToDict(self, message: Message, **options: Any) -> dict[str, Any]:  # the name json_format has
        if options:
            return dict(json_format.MessageToDict(message, **options))
        key = message.SerializeToString(deterministic=True)
        with self._lock:
            found = self._dicts.get(key)
            if found is not None:
                self._dicts.move_to_end(key)
                return found
        made: dict[str, Any] = dict(json_format.MessageToDict(message))
        with self._lock:
            self._dicts[key] = made
            while len(self._dicts) > self.size:
                self._dicts.popitem(last=False)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)


def share_message_dicts() -> None:
    """Install SharedMessageDicts as pulumi_policy.policy's `json_format` (once; the pack's entry point calls it)."""
    if not isinstance(getattr(pulumi_policy.policy, "json_format"), SharedMessageDicts):  # noqa: B009
        setattr(pulumi_policy.policy, "json_format", SharedMessageDicts())  # noqa: B010
