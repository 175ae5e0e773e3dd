"""The production proxy's configuration, checked by Caddy itself (Debian's package)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CADDYFILE = Path(__file__).resolve().parents[1] / "infra" / "Caddyfile"


def test_caddy_accepts_the_proxy_configuration(tmp_path):
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy is needed (scripts/test installs it)"
    result = subprocess.run(
        [caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env={
            **os.environ,
            "PARLEY_DOMAIN": "shop.example",
            "HOME": str(tmp_path),  # Caddy's own state stays in the test's folder
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr
