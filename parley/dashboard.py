"""Starting the Streamlit dashboard (``dashboard/app.py``) as its own process.

``parley dashboard`` runs it in the foreground; ``parley serve`` starts it as a child
beside the API and stops it with the server. Standard library only, so the dashboard's
image (Streamlit and an HTTP client, nothing of the functions) runs it as
``python -m parley.dashboard`` with the same options.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import NoReturn

from parley.ports import PortInUseError, check_port_free

DEFAULT_PORT = 8501


class DashboardError(Exception):
    pass


def installed() -> bool:
    """Streamlit comes with the ``dashboard`` extra (the function image leaves it out)."""
    return importlib.util.find_spec("streamlit") is not None


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="Parley's API (its origin)")
    parser.add_argument(
        "--public-url", help="the address browsers use for the widget in embed snippets"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--base-path", default="", help="serve under /<path> (behind a proxy), e.g. dashboard"
    )


def run(args: argparse.Namespace) -> NoReturn:
    """The dashboard in the foreground: this process becomes Streamlit, so a stop signal
    reaches it (a parent waiting on a child died of SIGTERM and left Streamlit running on
    its port, and as a container's process 1 ignored it until Docker's SIGKILL)."""
    if not installed():
        raise DashboardError("the dashboard needs Streamlit: pip install 'parley[dashboard]'")
    check_port_free(args.host, args.port)
    print(f"The dashboard is on http://{args.host}:{args.port} (API: {args.api})", file=sys.stderr)
    env = environment(args.api, args.public_url)
    proc = command(host=args.host, port=args.port, base_path=args.base_path)
    os.execve(proc[0], proc, env)  # noqa: S606 (our own command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parley.dashboard", description=__doc__)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except (DashboardError, PortInUseError) as exc:
        print(f"parley: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
