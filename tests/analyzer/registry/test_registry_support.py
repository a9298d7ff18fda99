"""The shared test support itself: binary requirement, htpasswd lines, deterministic images."""

from pathlib import Path

import bcrypt
import pytest

from tests.support.registry import Image, htpasswd_line, index_manifest, require_registry_binary


def test_missing_binary_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_registry_binary()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require_registry_binary()


def test_htpasswd_line_is_bcrypt() -> None:
    user, hashed = htpasswd_line("alice", "pw").split(":", 1)
    assert user == "alice" and hashed.startswith("$2b$")
    assert bcrypt.checkpw(b"pw", hashed.encode())


def test_images_are_deterministic_and_built_on_shares_base_layers() -> None:
    assert Image.of("x").digest == Image.of("x").digest
    assert Image.of("x").digest != Image.of("y").digest
    assert Image.of("x").digest != Image.of("x", oci=True).digest
    base = Image.of("base")
    app = base.built_on(files={"app": "1"})
    assert app.layer_digests[:-1] == base.layer_digests and len(app.layers) == 2
    assert index_manifest([base, app]).digest == index_manifest([base, app]).digest
