#!/usr/bin/env python3
"""Known vulnerabilities in what Parley installs: its runtime dependency closure (with the
dashboard and multilingual extras a deployment may add), pinned to the installed versions,
checked by pip-audit against PyPI's advisory data. Fails when a vulnerability has a fixed
release (upgrade, or pin past it); one without a fix yet is printed, not failed on. Run by
scripts/test (the README's test command) after the install."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

EXTRAS = ("dashboard", "multilingual")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, extras: tuple[str, ...]) -> dict[str, str]:
    """Every distribution ``root[extras]`` pulls in, with its installed version."""
    found: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset(extras))]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (_key(name), wanted) in done:
            continue
        done.add((_key(name), wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a marker-excluded or optional dependency that is not installed
        found[_key(name)] = dist.version
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            ):
                continue
            todo.append((req.name, frozenset(req.extras)))
    found.pop("parley", None)
    return found


def main() -> int:
    pinned = closure("parley", EXTRAS)
    with tempfile.TemporaryDirectory() as tmp:
        locked = Path(tmp) / "locked.txt"
        locked.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pinned.items())))
        report = Path(tmp) / "report.json"
        run = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [
                sys.executable,
                "-m",
                "pip_audit",
                "-r",
                str(locked),
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "-o",
                str(report),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists():
            print(f"pip-audit could not check the dependencies:\n{run.stderr}", file=sys.stderr)
            return 1
        found = json.loads(report.read_text())
    fixable, unfixed = [], []
    for dep in found["dependencies"]:
        for vuln in dep.get("vulns", []):
            line = f"{dep['name']} {dep['version']}: {vuln['id']}"
            if vuln.get("fix_versions"):
                fixable.append(f"{line} (fixed in {', '.join(vuln['fix_versions'])})")
            else:
                unfixed.append(f"{line} (no fixed release yet)")
    for line in unfixed:
        print(f"  warning: {line}")
    for line in fixable:
        print(f"  VULNERABLE: {line}")
    print(f"  {len(pinned)} packages checked; {len(fixable)} with a fix to take")
    return 1 if fixable else 0


if __name__ == "__main__":
    sys.exit(main())
