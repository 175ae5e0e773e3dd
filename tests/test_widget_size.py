"""The widget's size budget: under 20 KB after minification and gzip. Checked here on the
unminified file, an upper bound of the minified size."""

from __future__ import annotations

import gzip
from pathlib import Path

WIDGET = Path(__file__).resolve().parents[1] / "widget" / "widget.js"


def test_widget_fits_its_size_budget():
    assert len(gzip.compress(WIDGET.read_bytes(), compresslevel=9)) < 20_000


def test_widget_defines_one_global_and_never_assigns_html():
    source = WIDGET.read_text()
    assert "innerHTML" not in source
    assert "outerHTML" not in source
    assert "insertAdjacentHTML" not in source
    assert "document.write" not in source
    assert source.count("window.Parley =") == 1
