"""policy/__main__.py as the Pulumi CLI runs it: a real PolicyPack gRPC server on 127.0.0.1, queried with
the analyzer protocol the engine speaks (GetAnalyzerInfo, Configure, Analyze)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from analyzer.rules.catalog import RULES
from tests.policy.fleets import BAD_FLEET, render
from tests.policy.harness import from_manifests
from tests.support import ROOT


@pytest.fixture(scope="module")
def stub() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-u", "__main__.py"], cwd=ROOT / "policy", env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()  # PolicyPack prints its port, then serves forever
        assert port.isdigit(), (port, server.stderr.read() if server.poll() is not None else "")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_server_announces_every_policy(stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "image-factory" and info.supportsConfig
    assert [p.name for p in info.policies] == [r.name for r in RULES]
    delay = next(p for p in info.policies if p.name == "soak-delay-bounds")
    assert delay.enforcementLevel == proto.MANDATORY
    assert set(delay.configSchema.properties) == {"minimumDelayDays", "maximumDelayDays"}


def test_server_reports_violations_of_a_bad_resource(stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
    request = proto.ConfigureAnalyzerRequest()
    for rule in RULES:  # what the engine sends: every policy's level (it never omits one)
        level = proto.MANDATORY if rule.level.value == "mandatory" else proto.ADVISORY
        request.policyConfig[rule.name].CopyFrom(proto.PolicyConfig(enforcementLevel=level))
    stub.Configure(request)
    [(typ, name, props)] = [t for t in from_manifests(render(BAD_FLEET)) if t[1] == "debian-12"]
    properties = struct_pb2.Struct()
    properties.update(props)
    response = stub.Analyze(proto.AnalyzeRequest(type=typ, name=name, urn=f"urn:pulumi:prod::p::{typ}::{name}",
                                                 properties=properties))
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("digest-constraint-literal", proto.MANDATORY)]
    assert "'12.*' is not a literal tag" in response.diagnostics[0].message
