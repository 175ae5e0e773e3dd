"""Starting the Streamlit dashboard (``dashboard/app.py``) as its own process.

``parley dashboard`` runs it in the foreground; ``parley serve`` starts it as a child
beside the API and stops it with the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

DEFAULT_PORT = 8501


def app_path() -> Path:
    return Path(str(resources.files("dashboard").joinpath("app.py")))


def command(*, host: str, port: int, base_path: str = "") -> list[str]:
    """``streamlit run`` for the dashboard; ``base_path`` serves it under ``/<base_path>``
    (behind a proxy that routes that prefix to it)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--server.baseUrlPath",
        base_path.strip("/"),
    ]


def environment(api_url: str, public_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PARLEY_API_URL": api_url}
    if public_url:
        env["PARLEY_PUBLIC_URL"] = public_url
    return env


def start(*, api_url: str, host: str, port: int) -> subprocess.Popen[bytes]:
    """The dashboard as a child process (its output goes to this process's stderr)."""
    return subprocess.Popen(  # noqa: S603 (our own command)
        command(host=host, port=port),
        env=environment(api_url),
        stdout=sys.stderr,
        stderr=sys.stderr,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
