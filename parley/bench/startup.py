"""``parley bench startup``: how long ``parley serve`` takes to be ready, and its memory.

Each run starts ``python -m parley serve`` on the local default (embedded PostgreSQL, warm
data dir after one untimed first start), polls ``/readyz`` until it answers 200, samples
the resident memory of the Parley process and of the PostgreSQL processes, then stops it
with SIGTERM. Two baselines run in the same session, so figures can be read as ratios on a
noisy machine: a bare interpreter start, and the embedded PostgreSQL starting alone.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import psutil

from parley.bench.servers import free_port

MB = 1024 * 1024


def _postgres_rss(pgdata: Path) -> int:
    total = 0
    for proc in psutil.process_iter(attrs=["name", "cmdline", "memory_info"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            total += proc.info["memory_info"].rss
    return total


def _one_start(data_dir: Path) -> tuple[float, int, int]:
    port = free_port()
    env = {**os.environ, "PARLEY_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    begin = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("parley serve exited before it was ready")
            time.sleep(0.01)
        elapsed = time.perf_counter() - begin
        time.sleep(0.5)  # let start-up settle before sampling memory
        rss = psutil.Process(proc.pid).memory_info().rss
        return elapsed, rss, _postgres_rss(data_dir / "pg")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def _timed(command: list[str]) -> float:
    begin = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - begin


def run(runs: int = 5) -> None:
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        data_dir = Path(tmp) / "state"
        _one_start(data_dir)  # first start: initdb, migrations, demo seed (not timed)
        starts = [_one_start(data_dir) for _ in range(runs)]
        pg_alone = [
            _timed(
                [
                    sys.executable,
                    "-c",
                    "import sys; from pathlib import Path;"
                    "from shared.db.embedded import EmbeddedPostgres;"
                    "e = EmbeddedPostgres(Path(sys.argv[1])); e.start(); e.stop()",
                    str(data_dir / "pg"),
                ]
            )
            for _ in range(runs)
        ]
        bare = [_timed([sys.executable, "-c", "pass"]) for _ in range(runs)]

    ready = statistics.median(s[0] for s in starts)
    parley_rss = statistics.median(s[1] for s in starts)
    pg_rss = statistics.median(s[2] for s in starts)
    pg_start = statistics.median(pg_alone)
    interp = statistics.median(bare)
    print(f"parley bench startup: {runs} warm starts, medians")
    print(f"  serve -> /readyz 200          {ready * 1000:8.0f} ms")
    pg_ratio = ready / pg_start
    print(f"  baseline: embedded PG alone   {pg_start * 1000:8.0f} ms   (ratio {pg_ratio:.2f}x)")
    print(
        f"  baseline: bare interpreter    {interp * 1000:8.0f} ms   (ratio {ready / interp:.1f}x)"
    )
    print(f"  RSS of the Parley process     {parley_rss / MB:8.1f} MB")
    print(f"  RSS of embedded PostgreSQL    {pg_rss / MB:8.1f} MB (all its processes)")
