"""`parley bench gdpr` runs end to end and prints a figure for every shape of visitor."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_gdpr_benchmark_prints_its_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "parley", "bench", "gdpr", "--runs", "1", "--archived", "40"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = {
        m[1].strip(): (float(m[2]), float(m[3]))
        for m in re.finditer(
            r"^(1 conversation|10 conversations|archived)\s+([\d.]+)\s+[\d.]+x\s+([\d.]+)",
            result.stdout,
            re.M,
        )
    }
    assert set(rows) == {"1 conversation", "10 conversations", "archived"}
    assert all(export > 0 and erasure > 0 for export, erasure in rows.values())
