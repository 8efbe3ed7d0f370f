"""The wheel, built and installed by the Dockerfile's own steps, serves from any directory.

No Docker engine runs here, so the test plays the Dockerfile's build stage itself: it copies what
the COPY lines name into a scratch source directory and runs the RUN lines verbatim with ``sh``,
``$SRC``, ``$WHEELS`` and ``$VENV`` pointing into a temporary directory outside the checkout.
The venv it makes is as fresh as the image's: the locked dependencies and the wheel, nothing else.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    GRPCURL,
    ROOT,
    RunningServer,
    call,
    free_port,
    wait_until_serving,
)

pytestmark = pytest.mark.e2e
DOCKERFILE = ROOT / "Dockerfile"
INSTALL_TIMEOUT_S = 600


@dataclass
class BuildStage:
    """The first stage of the Dockerfile: its files to copy and its commands to run, in order."""

    copies: list[tuple[list[str], str]] = field(default_factory=list)  # sources, destination
    runs: list[str] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (keyword, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def build_stage(text: str) -> BuildStage:
    """The COPY and RUN instructions of the first stage (up to the second FROM)."""
    stage = BuildStage()
    froms = 0
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            froms += 1
            if froms > 1:
                break
        elif keyword == "COPY":
            *sources, destination = shlex.split(rest)
            stage.copies.append((sources, destination))
        elif keyword == "RUN":
            stage.runs.append(rest)
    return stage


def dockerignored(patterns: list[str]) -> Callable[[str, list[str]], set[str]]:
    """A copytree filter leaving out what .dockerignore keeps out of the build context."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(ROOT)
        return {
            name
            for name in names
            for pattern in patterns
            if fnmatch.fnmatch(str(relative / name), pattern.removeprefix("**/"))
            or (pattern.startswith("**/") and fnmatch.fnmatch(name, pattern[3:]))
        }

    return ignore


def replay(stage: BuildStage, *, src: Path, env: dict[str, str]) -> None:
    """Copies the stage's files from the checkout into ``src`` and runs its commands there."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignore = dockerignored([x.strip() for x in lines if x.strip() and not x.startswith("#")])
    for sources, destination in stage.copies:
        target = src / destination
        for name in sources:
            origin = ROOT / name
            into = target / origin.name if destination.endswith("/") else target
            if origin.is_dir():
                shutil.copytree(origin, into, ignore=ignore)
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)
    for command in stage.runs:
        done = subprocess.run(
            ["sh", "-c", command],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"RUN {command} failed:\n{done.stdout}\n{done.stderr}"


def run(venv: Path, *args: str, cwd: Path) -> str:
    """A command of the installed venv, run from ``cwd``; its stdout."""
    done = subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything pointing into the checkout or its venv."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


def test_the_dockerfile_build_stage_makes_a_venv_that_serves_the_bundled_sample(tmp_path):
    src, wheels, venv, elsewhere = (tmp_path / n for n in ("src", "wheels", "venv", "elsewhere"))
    elsewhere.mkdir()
    stage = build_stage(DOCKERFILE.read_text())
    assert any("install.sh wheel" in r for r in stage.runs), stage.runs
    assert any("install.sh venv" in r for r in stage.runs), stage.runs
    env = clean_env(SRC=str(src), WHEELS=str(wheels), VENV=str(venv), PYTHON=sys.executable)
    replay(stage, src=src, env=env)

    installed = run(venv, "python", "-m", "pip", "list", "--format=json", cwd=elsewhere)
    names = {p["name"].lower() for p in json.loads(installed)}
    assert "matcher" in names
    assert "grpcio-tools" not in names  # a build requirement only
    assert run(venv, "matcher-server", "--version", cwd=elsewhere).startswith("matcher-server 0.")
    assert run(venv, "matcher-feed", "--version", cwd=elsewhere).startswith("matcher-feed 0.")

    address = f"127.0.0.1:{free_port()}"
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(venv / "bin" / "matcher-server"), "--address", address],
            cwd=elsewhere,
            env=clean_env(PYTHONUNBUFFERED="1"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    server = RunningServer(
        address=address, process=process, feed=Path("bundled"), log=log, journal=tmp_path / "j"
    )
    try:
        wait_until_serving(server)
        found = call(address, "Match", {"location": {"point": {"lat": 51.5074, "lng": -0.1278}}})
        assert found["matches"], found
    finally:
        code = server.stop()
    output = server.stderr_text()
    assert code == 0, output
    assert "SAMPLE FEED" in output  # no --feed: the bundled sample, said loudly
    assert GRPCURL.is_file()
