"""Prove the README's first command works from nothing (run by scripts/fresh-install).

Runs with the interpreter of a throw-away virtual environment that has Parley installed,
so it uses the standard library only. ``functions`` (after ``pip install .``, what the
function image holds) and ``full`` (after ``pip install '.[dashboard]'``) check, and print
as they go:

1. every function app imports: ``functions.<name>.app:app`` and ``:handler``;
2. functions: neither Streamlit (the dashboard's stack), pgserver nor torch is installed,
   the local model exports to ONNX as the image's build does (``parley prepare-model``), and each
   function runs as its container runs it (uvicorn), answering ``/healthz`` and ``/metrics``;
3. full: the dashboard renders its login form (Streamlit's AppTest);
4. full: ``parley serve`` starts on a free port with a temporary data dir, ``/readyz``
   answers, the demo page's widget script is served from the installed package, the demo
   bot answers one question through ``POST /v1/chat`` with the demo page's key, and the
   dashboard is up beside it.

Exit status 0 when all hold; otherwise 1 with the server's output.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

FUNCTIONS = ("chat", "ingest", "admin", "gdpr")
QUESTION = "Do you ship to Canada?"
READY_TIMEOUT = 120.0


def check_imports() -> None:
    for name in FUNCTIONS:
        module = importlib.import_module(f"functions.{name}.app")
        for attribute in ("app", "handler"):
            if not callable(getattr(module, attribute, None)):
                raise SystemExit(f"functions.{name}.app:{attribute} is missing")
        print(f"  ok  functions.{name}.app:app and :handler import")


def check_dashboard_renders() -> None:
    """The installed dashboard's script runs and shows its login form (Streamlit's AppTest)."""
    from streamlit.testing.v1 import AppTest

    from parley.dashboard import app_path

    at = AppTest.from_file(str(app_path()), default_timeout=60).run()
    labels = [field.label for field in at.text_input]
    if at.exception or labels != ["Username", "Password"]:
        raise SystemExit(f"the dashboard does not render its login form: {at.exception} {labels}")
    print("  ok  the dashboard renders its login form")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
        return response.status, response.read().decode()


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        if proc.poll() is not None:
            raise RuntimeError(f"parley serve exited with status {proc.returncode}")
        try:
            if get(url + "/readyz", timeout=2)[0] == 200:
                return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"/readyz did not answer within {READY_TIMEOUT:.0f} s")


def ask_demo_bot(url: str) -> dict[str, object]:
    _, page = get(url + "/")
    found = re.search(r'data-key="(pk_[^"]+)"', page)
    if found is None:
        raise RuntimeError("the demo page embeds no publishable key")
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url + "/v1/chat",
        data=json.dumps({"message": QUESTION}).encode(),
        headers={
            "Authorization": f"Bearer {found.group(1)}",
            "Content-Type": "application/json",
            "Origin": url,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
        body: dict[str, object] = json.loads(response.read())
    if not str(body.get("answer", "")).strip() or body.get("source") not in ("faq", "rag"):
        raise RuntimeError(f"the demo bot gave no answer: {body}")
    return body


def wait_dashboard(url: str, timeout: float = 60.0) -> float:
    """Seconds until Streamlit's own health check answers ``ok``."""
    begin = time.monotonic()
    while time.monotonic() - begin < timeout:
        try:
            status, text = get(url + "/_stcore/health")
            if status == 200 and text.strip() == "ok":
                return time.monotonic() - begin
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the dashboard at {url} did not come up within {timeout:.0f} s")


def check_image_contents() -> None:
    import importlib.util

    unwanted = (
        *("streamlit", "pandas", "pyarrow", "pgserver"),
        *("torch", "transformers", "sentence_transformers", "scipy"),
    )
    present = [m for m in unwanted if importlib.util.find_spec(m)]
    if present:
        raise SystemExit(f"the function install holds what the image leaves out: {present}")
    print(f"  ok  none of {', '.join(unwanted)} in the function install")


def check_model_prepares() -> None:
    """The image's build step: the local model exported to ONNX into PARLEY_MODEL_DIR."""
    with tempfile.TemporaryDirectory(prefix="parley-fresh-models-") as folder:
        env = {**os.environ, "PARLEY_MODEL_DIR": folder}
        command = [sys.executable, "-m", "parley", "prepare-model"]
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603 (our own command)
            command, env=env, capture_output=True, text=True, check=False
        )
        exported = list(Path(folder).glob("*.onnx"))
        if done.returncode != 0 or len(exported) != 1:
            raise SystemExit(f"parley prepare-model failed: {done.stdout}{done.stderr}")
        took = time.monotonic() - started
        size = exported[0].stat().st_size // 2**20
        print(f"  ok  parley prepare-model exported {exported[0].name} ({size} MB) in {took:.1f} s")


def check_containers_command() -> None:
    """Each function as its container starts it; /healthz needs no database."""
    for name in FUNCTIONS:
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", f"functions.{name}.app:app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        proc = subprocess.Popen(  # noqa: S603 (our own command)
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            started = time.monotonic()
            while True:
                try:
                    status, _ = get(url + "/healthz", timeout=2)
                    break
                except urllib.error.HTTPError as exc:
                    status = exc.code
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() - started > 60:
                        proc.kill()
                        output = proc.communicate()[0].decode(errors="replace")
                        raise SystemExit(f"uvicorn functions.{name}.app:app: {output}") from None
                    time.sleep(0.2)
            if status != 200:
                raise SystemExit(f"functions.{name}: /healthz answered {status}")
            _, metrics = get(url + "/metrics")
            if "parley_http_requests_total" not in metrics:
                raise SystemExit(f"functions.{name}: /metrics holds no request counts")
            print(f"  ok  uvicorn functions.{name}.app:app answers /healthz and /metrics")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def check_serve() -> None:
    port, board_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="parley-fresh-") as tmp:
        log_path = Path(tmp) / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env.pop("DATABASE_URL", None)  # the embedded defaults, as on a new machine
        command = [sys.executable, "-m", "parley", "serve", "--port", str(port)]
        command += ["--data-dir", str(Path(tmp) / "data"), "--dashboard-port", str(board_port)]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(  # noqa: S603 (our own command)
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp
            )
        try:
            took = wait_ready(url, proc)
            print(f"  ok  parley serve ready on {url} after {took:.1f} s (first start)")
            status, script = get(url + "/widget.js")
            if status != 200 or "window.Parley" not in script:
                raise RuntimeError("/widget.js is not served from the installed package")
            print(f"  ok  /widget.js served ({len(script) // 1024} KB)")
            body = ask_demo_bot(url)
            answer = str(body["answer"])
            print(f"  ok  demo bot answered {QUESTION!r} from {body['source']}: {answer[:60]!r}")
            board = f"http://127.0.0.1:{board_port}"
            took = wait_dashboard(board)
            status, page = get(board + "/")
            if status != 200 or "<title>" not in page.lower():
                raise RuntimeError(f"the dashboard at {board} served no page ({status})")
            print(f"  ok  dashboard up on {board} after another {took:.1f} s")
        except Exception as exc:
            print(f"FAILED: {exc}\n--- parley serve output ---", file=sys.stderr)
            print(log_path.read_text(errors="replace")[-6000:], file=sys.stderr)
            raise SystemExit(1) from None
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if proc.returncode not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
            print(f"FAILED: parley serve stopped with status {proc.returncode}", file=sys.stderr)
            raise SystemExit(1)
        print("  ok  parley serve stopped cleanly on SIGTERM")


if __name__ == "__main__":
    shape = sys.argv[1] if len(sys.argv) > 1 else "full"
    if shape not in ("functions", "full"):
        raise SystemExit("usage: fresh_install_check.py [functions|full]")
    check_imports()
    if shape == "functions":
        check_image_contents()
        check_model_prepares()
        check_containers_command()
    else:
        check_dashboard_renders()
        check_serve()
