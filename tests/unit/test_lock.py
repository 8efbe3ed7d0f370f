"""The lock files cover every dependency pyproject.toml names, and agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(name: str) -> dict[str, str]:
    """Each package a lock file pins, by canonical name, with its version."""
    found = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (ROOT / name).read_text(), re.MULTILINE)
    return {canonicalize_name(n): v for n, v in found}


def names(requirements: list[str]) -> set[str]:
    """The canonical names of requirement strings."""
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_every_runtime_dependency_is_pinned_with_hashes_in_requirements_lock():
    runtime = pins("requirements.lock")
    assert names(PROJECT["dependencies"]) <= set(runtime)
    assert "grpcio-tools" not in runtime  # generated at build time only
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in b for b in blocks if "==" in b)


def test_the_dev_lock_adds_the_dev_tools_and_pins_runtime_packages_alike():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert names(PROJECT["optional-dependencies"]["dev"]) <= set(dev)
    assert {n: dev[n] for n in runtime} == runtime  # make and the image run the same versions


def test_pinned_requirements_match_the_lock():
    runtime = pins("requirements.lock")
    for text in PROJECT["dependencies"]:
        requirement = Requirement(text)
        version = runtime[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), (text, version)
