"""Where the project keeps data, runs and reports. Override the root with DTLIB_HOME."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The project folder: $DTLIB_HOME, else the checkout that holds this package."""
    return Path(os.environ.get("DTLIB_HOME", PACKAGE_DIR.parent)).resolve()


def data_dir() -> Path:
    """Generated and downloaded datasets ($DTLIB_DATA, default `<root>/data`); shared by all profiles."""
    return Path(os.environ.get("DTLIB_DATA", project_root() / "data")).resolve()


def runs_dir(profile: str) -> Path:
    """Run folders (config, metrics, checkpoints) of one profile."""
    return Path(os.environ.get("DTLIB_RUNS", project_root() / "runs")).resolve() / profile


def reports_dir(profile: str) -> Path:
    """Executed notebooks, HTML and CSV tables of one profile."""
    return project_root() / "reports" / profile


def git_commit() -> str:
    """The current git commit of the checkout (with '+dirty' if it has changes), or 'unknown'."""
    root = project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
