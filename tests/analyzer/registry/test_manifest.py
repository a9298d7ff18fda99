import json

import pytest

from analyzer.registry.errors import BadResponse
from analyzer.registry.manifest import (
    DOCKER_LIST,
    OCI_MANIFEST,
    image_config,
    index_platforms,
    media_type_of,
    normalize_platform,
    parse_json,
    pick_platform,
)


def test_index_platforms_keys_by_os_arch_variant_and_skips_attestations() -> None:
    data = {"manifests": [
        {"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:" + "b" * 64,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": "sha256:" + "c" * 64, "platform": {"os": "unknown", "architecture": "unknown"}},
    ]}
    assert index_platforms(data) == {"linux/amd64": "sha256:" + "a" * 64,
                                     "linux/arm64/v8": "sha256:" + "b" * 64}


def test_pick_platform_matches_default_variants() -> None:
    platforms = {"linux/amd64": "sha256:a", "linux/arm64/v8": "sha256:b"}
    assert pick_platform(platforms, "linux/arm64") == "sha256:b"
    assert pick_platform(platforms, "linux/amd64") == "sha256:a"
    assert pick_platform(platforms, "linux/s390x") is None
    assert normalize_platform("linux/arm") == "linux/arm/v7"


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"schemaVersion": 2, "layers": [',
                                  b"\xff\xfe", b"[]"])
def test_bad_bodies_are_bad_response_errors(body: bytes) -> None:
    with pytest.raises(BadResponse, match="manifest"):
        parse_json(body, "library/python:3 manifest")


def test_index_without_manifests_is_bad_response() -> None:
    with pytest.raises(BadResponse):
        index_platforms({"schemaVersion": 2})


def test_media_type_prefers_body_then_header() -> None:
    assert media_type_of({"mediaType": DOCKER_LIST}, OCI_MANIFEST) == DOCKER_LIST
    assert media_type_of({}, OCI_MANIFEST + "; charset=utf-8") == OCI_MANIFEST


def test_image_config_reads_labels() -> None:
    config = image_config(json.loads(
        '{"os": "linux", "architecture": "arm64", "variant": "v8",'
        ' "config": {"Labels": {"org.opencontainers.image.base.digest": "sha256:x"}}}'))
    assert (config.os, config.architecture, config.variant) == ("linux", "arm64", "v8")
    assert config.labels == {"org.opencontainers.image.base.digest": "sha256:x"}
