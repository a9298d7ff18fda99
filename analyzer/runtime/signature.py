"""Key-based cosign signature check of a base digest (the `sha256-<hex>.sig` signature manifest).

cosign stores signatures as an OCI manifest tagged `sha256-<hex>.sig` in the image's repository; each
layer is a "simple signing" JSON payload naming the signed manifest digest, and carries the base64
signature of that payload in the `dev.cosignproject.cosign/signature` annotation. A digest passes
when one layer's signature verifies with the configured public key *and* its payload names the digest.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from analyzer.discovery.reference import ImageRef
from analyzer.registry.client import RegistryClient
from analyzer.registry.errors import NotFound, RegistryError

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIMPLESIGNING_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_PAYLOAD_TYPE = "cosign container image signature"
ENV_KEYS_DIR = "IMAGE_FACTORY_COSIGN_KEYS"
"""Directory of PEM public keys named `<warehouse>.pub` (a mounted ConfigMap); no key = not checked."""


class SignatureKeyError(ValueError):
    """The public key file is not a usable PEM public key."""


@dataclass(frozen=True)
class SignedLayer:
    payload: bytes
    signature: str
    """base64, as cosign writes it."""


@dataclass(frozen=True)
class SignatureVerdict:
    ok: bool
    reason: str
    transient: bool = False
    """The signature could not be read (registry outage): worth a retry, not a verdict on the digest."""


def signature_tag(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}.sig"


def load_public_key(pem: bytes, source: str) -> object:
    try:
        key = load_pem_public_key(pem)
    except ValueError as exc:
        raise SignatureKeyError(f"{source}: not a PEM public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise SignatureKeyError(f"{source}: unsupported key type {type(key).__name__}")
    return key


def _verifies(key: object, signature: bytes, payload: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, payload)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _names_digest(payload: bytes, digest: str) -> bool:
    try:
        data = json.loads(payload)
        critical = data["critical"]
        return bool(critical["type"] == COSIGN_PAYLOAD_TYPE
                    and critical["image"]["docker-manifest-digest"] == digest)
    except (ValueError, KeyError, TypeError):
        return False


def judge_signatures(key: object, digest: str, layers: Sequence[SignedLayer]) -> SignatureVerdict:
    """Pure: does any layer carry a valid signature, by `key`, of a payload naming `digest`?"""
    if not layers:
        return SignatureVerdict(False, f"no signature found for {digest}")
    for layer in layers:
        try:
            raw = base64.b64decode(layer.signature, validate=True)
        except (binascii.Error, ValueError):
            continue
        if _verifies(key, raw, layer.payload) and _names_digest(layer.payload, digest):
            return SignatureVerdict(True, "cosign signature verified")
    return SignatureVerdict(False, f"no valid cosign signature for {digest} with the configured key")


def read_signatures(client: RegistryClient, ref: ImageRef, digest: str) -> list[SignedLayer]:
    """The signature manifest's layers; [] when the digest has no signature manifest."""
    sig_ref = ImageRef(ref.registry, ref.repository, signature_tag(digest), None)
    try:
        sig_digest = client.head_tag(sig_ref).digest
    except NotFound:
        return []
    manifest = client.manifest(sig_ref, sig_digest)
    layers = []
    for layer in manifest.data.get("layers") or []:
        signature = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
        if not signature or layer.get("mediaType") != SIMPLESIGNING_TYPE:
            continue
        layers.append(SignedLayer(client.blob(sig_ref, layer["digest"]), signature))
    return layers


def check_signature(client: RegistryClient, ref: ImageRef, digest: str, key_file: Path | None) -> SignatureVerdict:
    """Verify when a key is configured; otherwise pass with a note saying nothing was checked."""
    if key_file is None:
        return SignatureVerdict(True, "signature not checked (no cosign key configured for this upstream)")
    key = load_public_key(key_file.read_bytes(), str(key_file))
    try:
        layers = read_signatures(client, ref, digest)
    except RegistryError as exc:
        return SignatureVerdict(False, f"cannot read the signature of {digest}: {exc.message}",
                                transient=not isinstance(exc, NotFound))
    return judge_signatures(key, digest, layers)
