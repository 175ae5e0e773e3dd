"""The Hetzner VM's git-push deploy, run for real against a local bare repository: the hook
cloud-init.yaml installs, which runs infra/hetzner/post-receive of the pushed revision, with
stand-ins for docker and curl that record what they were asked and can be told to fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HETZNER = ROOT / "infra" / "hetzner"

DOCKER = """#!/usr/bin/env bash
echo "$PARLEY_VERSION $COMPOSE_PROJECT_NAME docker $*" >> "$STUB_LOG"
case "$*" in
  *"run --rm migrate"*) ! grep -qx "$PARLEY_VERSION" "$STUB_STATE/migrate-fails" 2>/dev/null ;;
  *" up "*) echo "$PARLEY_VERSION" > "$STUB_STATE/running" ;;
esac
"""
CURL = """#!/usr/bin/env bash
running=$(cat "$STUB_STATE/running" 2>/dev/null || true)
echo "$running curl" >> "$STUB_LOG"
! grep -qx "$running" "$STUB_STATE/broken" 2>/dev/null
"""


def cloud_init() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((HETZNER / "cloud-init.yaml").read_text())
    return loaded


def test_cloud_init_and_the_scripts_parse():
    config = cloud_init()
    assert (HETZNER / "cloud-init.yaml").read_text().startswith("#cloud-config\n")
    assert {"docker.io", "docker-compose-v2", "git", "ufw"} <= set(config["packages"])
    rules = [c for c in config["runcmd"] if isinstance(c, str) and c.startswith("ufw allow")]
    assert rules == ["ufw allow 22/tcp", "ufw allow 80/tcp", "ufw allow 443/tcp"]
    assert "ufw --force enable" in config["runcmd"]
    assert [u["name"] for u in config["users"] if isinstance(u, dict)] == ["deploy"]
    cron = next(f for f in config["write_files"] if f["path"] == "/etc/cron.d/parley-backup")
    assert "/srv/parley/current/infra/hetzner/backup.sh" in cron["content"]
    for script in ("post-receive", "backup.sh"):
        subprocess.run(["bash", "-n", str(HETZNER / script)], check=True)
    shim = next(f for f in config["write_files"] if f["path"].endswith("hooks/post-receive"))
    subprocess.run(["bash", "-n"], input=shim["content"].encode(), check=True)


class Vm:
    """The VM's /srv (a bare repository with cloud-init's hook, the deploy root) and a
    developer's checkout that pushes to it."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "srv" / "parley"
        self.bare = tmp / "srv" / "parley.git"
        self.work = tmp / "checkout"
        self.state = tmp / "state"
        self.log = tmp / "calls.log"
        stubs = tmp / "bin"
        for folder in (self.root / "releases", self.state, stubs, self.work):
            folder.mkdir(parents=True)
        (self.root / ".env").write_text("PARLEY_MASTER_KEY=...\n")
        for name, body in (("docker", DOCKER), ("curl", CURL)):
            (stubs / name).write_text(body)
            (stubs / name).chmod(0o755)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PARLEY_"))},
            "PATH": f"{stubs}:{os.environ['PATH']}",
            "PARLEY_DEPLOY_ROOT": str(self.root),
            "PARLEY_HEALTH_TRIES": "2",
            "PARLEY_HEALTH_WAIT": "0",
            "PARLEY_KEEP_RELEASES": "2",
            "STUB_LOG": str(self.log),
            "STUB_STATE": str(self.state),
            "GIT_AUTHOR_NAME": "dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
        }
        self.git(
            self.bare.parent, "init", "--quiet", "--bare", "--initial-branch=main", "parley.git"
        )
        shim = next(f for f in cloud_init()["write_files"] if f["path"].endswith("post-receive"))
        hook = self.bare / "hooks" / "post-receive"
        hook.write_text(shim["content"])
        hook.chmod(0o755)
        self.git(self.work, "init", "--quiet", "--initial-branch=main")
        self.git(self.work, "remote", "add", "deploy", str(self.bare))
        (self.work / "infra" / "hetzner").mkdir(parents=True)
        shutil.copy(HETZNER / "post-receive", self.work / "infra" / "hetzner" / "post-receive")
        shutil.copy(ROOT / "docker-compose.yml", self.work / "docker-compose.yml")

    def git(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, check=True
        )

    def commit(self, message: str) -> str:
        (self.work / "CHANGES").write_text(message)
        self.git(self.work, "add", "-A")
        self.git(self.work, "commit", "--quiet", "-m", message)
        return self.git(self.work, "rev-parse", "HEAD").stdout.strip()

    def push(self) -> tuple[str, list[str]]:
        self.log.write_text("")
        pushed = self.git(self.work, "push", "--quiet", "deploy", "main")
        return pushed.stderr, self.log.read_text().splitlines()

    def current(self) -> str:
        return Path(os.readlink(self.root / "current")).name


@pytest.fixture
def vm(tmp_path):
    return Vm(tmp_path)


def test_a_push_builds_migrates_switches_and_checks_health(vm):
    first = vm.commit("first")
    output, calls = vm.push()
    assert calls == [
        f"{first} parley docker compose build",
        f"{first} parley docker compose run --rm migrate",
        f"{first} parley docker compose up -d --remove-orphans",
        f"{first} curl",
    ]
    assert vm.current() == first
    release = vm.root / "releases" / first
    assert (release / "docker-compose.yml").is_file()
    assert os.readlink(release / ".env") == str(vm.root / ".env")
    assert f"parley deploy: {first} is live" in output


def test_a_failing_health_check_rolls_back_to_the_previous_release(vm):
    good = vm.commit("good")
    vm.push()
    bad = vm.commit("bad")
    (vm.state / "broken").write_text(bad + "\n")
    output, calls = vm.push()
    assert calls == [
        f"{bad} parley docker compose build",
        f"{bad} parley docker compose run --rm migrate",
        f"{bad} parley docker compose up -d --remove-orphans",
        f"{bad} curl",
        f"{bad} curl",
        f"{good} parley docker compose up -d --remove-orphans",
        f"{good} curl",
    ]
    assert vm.current() == good
    assert f"rolling back to {good}" in output
    assert f"{good} is live again" in output


def test_a_failed_migration_leaves_the_running_release_alone(vm):
    good = vm.commit("good")
    vm.push()
    broken = vm.commit("needs a migration that fails")
    (vm.state / "migrate-fails").write_text(broken + "\n")
    output, calls = vm.push()
    assert calls == [
        f"{broken} parley docker compose build",
        f"{broken} parley docker compose run --rm migrate",
    ]
    assert vm.current() == good
    assert "migrate failed; the running release stays" in output


def test_old_releases_are_pruned_and_other_branches_are_not_deployed(vm):
    revisions = [vm.commit(f"release {n}") for n in range(4)]
    for revision in revisions:
        vm.git(vm.work, "push", "--quiet", "--force", "deploy", f"{revision}:refs/heads/main")
    kept = sorted(p.name for p in (vm.root / "releases").iterdir())
    assert kept == sorted(revisions[-2:])
    vm.git(vm.work, "checkout", "--quiet", "-b", "feature")
    vm.commit("not for production")
    vm.log.write_text("")
    vm.git(vm.work, "push", "--quiet", "deploy", "feature")
    assert vm.log.read_text() == ""
    assert vm.current() == revisions[-1]
