"""Servers on loopback for benchmarks and tests: free ports, uvicorn in a thread."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx2
import uvicorn
from starlette.types import ASGIApp

from parley.bench.model import model_dir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_responds(url: str, *, timeout: float = 60.0, status: int | None = 200) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx2.get(url, timeout=2.0)
            if status is None or response.status_code == status:
                return
            last = response.status_code
        except httpx2.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last: {last!r})")


class ThreadServer:
    """uvicorn serving an ASGI app in a background thread on a free loopback port."""

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ParleyServer:
    """A throw-away ``parley serve`` for a benchmark, with its own admin and master key."""

    def __init__(
        self, data_dir: Path, env: Mapping[str, str], *, dashboard_port: int | None = None
    ) -> None:
        self.port = free_port()
        self.dashboard_port = dashboard_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.password = secrets.token_urlsafe(16)
        inherited = dict(os.environ)
        inherited.pop("DATABASE_URL", None)  # its own embedded server, unless env names one
        full_env = {
            **inherited,
            "PARLEY_LOG_LEVEL": "WARNING",
            "PARLEY_ADMIN_USERNAME": "bench",
            "PARLEY_ADMIN_PASSWORD": self.password,
            "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "PARLEY_MODEL_DIR": str(model_dir()),
            **env,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                *(
                    ["--dashboard-port", str(dashboard_port)]
                    if dashboard_port
                    else ["--no-dashboard"]
                ),
            ],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx2.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("parley serve exited during start-up")
            time.sleep(0.1)
        raise RuntimeError("parley serve did not become ready")

    def login(self, client: httpx2.Client) -> str:
        response = client.post(
            "/v1/admin/login", json={"username": "bench", "password": self.password}
        )
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    def demo_visitor_key(self) -> str:
        """A publishable key of the demo bot, whose rate limit is raised for benchmarks."""
        with httpx2.Client(base_url=self.url, timeout=60) as client:
            auth = {"Authorization": f"Bearer {self.login(client)}"}
            bot = client.get("/v1/admin/bots", headers=auth).json()["items"][0]
            client.patch(
                f"/v1/admin/bots/{bot['id']}", headers=auth, json={"rate_limit_per_minute": 10_000}
            ).raise_for_status()
            created = client.post(
                "/v1/admin/api-keys",
                headers=auth,
                json={"tenant_id": bot["tenant_id"], "kind": "publishable", "bot_id": bot["id"]},
            )
            created.raise_for_status()
            key: str = created.json()["key"]
            return key

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
