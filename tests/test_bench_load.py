"""`parley bench load` runs end to end on loopback, bounded, and prints its table."""

from __future__ import annotations

import subprocess
import sys


def test_bench_load_prints_a_row_per_level():
    result = subprocess.run(
        [sys.executable, "-m", "parley", "bench", "load", "--levels", "1,2", "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("  the model alone: one at a time") for line in lines)
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"]
    for row in rows:
        assert float(row[1]) > 0  # answers/s
        assert row[6].endswith("%")  # FAQ share
        assert int(row[8]) >= 1  # PostgreSQL connections held by the server
