"""pyproject.toml, requirements.txt and environment.yml pin the same direct dependencies."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;#]+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str], where: str) -> dict[str, str]:
    """name -> version for `name[extra]==version` lines; anything else fails."""
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"{where}: {line!r} is not pinned as name==version"
        found[canonical(match.group(1))] = match.group(3)
    return found


def pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return pins(deps, "pyproject.toml")


def test_direct_dependencies_are_pinned_and_torch_exactly():
    deps = pyproject_pins()
    assert deps["torch"] == "2.13.0"
    for name in ("gymnasium", "ale-py", "opencv-python-headless", "minari", "h5py", "papermill", "nbconvert",
                 "jupyterlab", "ipykernel", "seaborn", "pandas", "tqdm", "pytest", "pyyaml"):
        assert name in deps, f"{name} missing from pyproject.toml"


def test_environment_yml_lists_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section, "environment.yml") == pyproject_pins()


def test_requirements_lock_agrees_with_pyproject():
    lines = [l for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    lock = pins(lines, "requirements.txt")
    assert not any("+" in version for version in lock.values()), "no local version tags (e.g. +cpu) in the lock"
    for name, version in pyproject_pins().items():
        assert lock.get(name) == version, f"{name}: pyproject.toml pins {version}, requirements.txt {lock.get(name)}"


def test_installed_versions_match_the_lock():
    """The running environment is the locked one (catches a stale .venv)."""
    from importlib import metadata

    for name, version in pyproject_pins().items():
        assert metadata.version(name).split("+")[0] == version, name
