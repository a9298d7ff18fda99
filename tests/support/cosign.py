"""cosign-format signatures for tests: a key pair, a simple-signing payload, a `.sig` manifest pushed."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.registry import OCI_CONFIG, OCI_MANIFEST, Blob, push_blob, push_manifest

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def key_pair(folder: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """An ECDSA P-256 key (cosign's default) and its public key written as PEM to folder/name.pub."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.pub"
    path.write_bytes(pem)
    return private, path


def payload(repository: str, digest: str) -> bytes:
    return json.dumps({"critical": {"identity": {"docker-reference": repository},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": None}, separators=(",", ":")).encode()


def push_signature(registry_url: str, repository: str, host: str, digest: str,
                   key: ec.EllipticCurvePrivateKey, signed_digest: str | None = None) -> str:
    """Sign (a payload naming `signed_digest`, default `digest`) and push it as `sha256-<hex>.sig`."""
    body = payload(f"{host}/{repository}", signed_digest or digest)
    signature = base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    layer = Blob(SIMPLESIGNING, body)
    config = Blob(OCI_CONFIG, json.dumps({"architecture": "", "os": "", "config": {},
                                          "rootfs": {"type": "layers", "diff_ids": [layer.digest]}}).encode())
    push_blob(registry_url, repository, layer)
    push_blob(registry_url, repository, config)
    manifest = Blob(OCI_MANIFEST, json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
        "layers": [{**layer.descriptor(), "annotations": {"dev.cosignproject.cosign/signature": signature}}],
    }).encode())
    return push_manifest(registry_url, repository, digest.replace(":", "-") + ".sig", manifest)
