"""Drive Debian's headless `chromium` from its command line: dump the rendered DOM, take screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio", "--virtual-time-budget=3000"]


def chromium() -> str:
    """The browser binary; skipped locally when missing, a failure in CI (CI=true), where it is installed."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is required in CI (apt-get install -y chromium)")
    pytest.skip("chromium not installed (apt-get install -y chromium)")


def _run(args: list[str], profile: Path) -> str:
    result = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dump_dom(url: str, profile: Path) -> str:
    """The DOM after the browser loaded and laid out the page, serialized."""
    return _run(["--dump-dom", url], profile)


def screenshot(url: str, out: Path, profile: Path, width: int = 1366, height: int = 900) -> Path:
    _run([f"--screenshot={out}", f"--window-size={width},{height}", url], profile)
    assert out.is_file(), f"chromium wrote no screenshot to {out}"
    return out
