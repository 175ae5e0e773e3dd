"""Real servers for tests: free loopback ports, readiness polling, clean teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import psutil

from parley.bench.servers import ThreadServer, free_port, wait_until_responds

__all__ = [
    "ParleyProcess",
    "ThreadServer",
    "free_port",
    "postgres_processes",
    "wait_until_responds",
]


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """Running PostgreSQL servers whose data directory is ``pgdata``."""
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(proc)
    return found


class ParleyProcess:
    """``python -m parley serve`` as a child process, the way a user starts it."""

    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str],
        port: int | None = None,
        *,
        dashboard_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        # The dashboard only where a test asks for it (each would want port 8501).
        self.dashboard_port = dashboard_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {**os.environ, **env}
        if "DATABASE_URL" not in env:
            self.env.pop("DATABASE_URL", None)  # the child uses its own embedded server
        self.log_path = data_dir.parent / f"parley-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> ParleyProcess:
        command = [sys.executable, "-m", "parley", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir)]
        if self.dashboard_port is None:
            command += ["--no-dashboard"]
        else:
            command += ["--dashboard-port", str(self.dashboard_port)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        if wait:
            wait_until_responds(self.url + "/readyz", timeout=90)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = 15, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: the embedded PostgreSQL stays up (see close)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        """Stop the server and anything it left running, whatever state it is in."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(signal.SIGTERM, timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        leftovers = postgres_processes(self.data_dir / "pg")
        for proc in leftovers:
            proc.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
        _gone, alive = psutil.wait_procs(leftovers, timeout=15)
        for proc in alive:
            proc.kill()
