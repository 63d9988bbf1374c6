"""Profiles are data: one YAML per profile in `profiles/`, giving each notebook's parameter values.

Layout of `profiles/<name>.yaml`:

    description: one line
    budget_minutes: 10          # wall-time budget of the whole pipeline on a 2-core CPU (null: none)
    workers: 2                  # optional: runs trained at once by every study's grid (dtlib.sweep); 1: in-process,
                                # 0: one per core; $DTLIB_WORKERS overrides it, $DTLIB_SCHEDULER sends runs to a cluster
    notebooks:
      environment:              # notebook key: file name without the `NN_` prefix and `.ipynb`
        steps: 200              # parameter values papermill passes

The pipeline always also passes `profile`. Each notebook's `parameters` cell holds the `small`
profile's values, so a notebook stepped through by hand in JupyterLab agrees with `make reproduce`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from dtlib.paths import project_root
from dtlib.validate import ParameterError, check_choice

PROFILE_KEYS = {"description", "budget_minutes", "notebooks"}
OPTIONAL_KEYS = {"workers": 1}  # key -> default when a profile leaves it out


def profiles_dir() -> Path:
    """The folder of profile YAML files."""
    return project_root() / "profiles"


def available_profiles() -> list[str]:
    """Names of the profiles that exist, sorted."""
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def params_class(spec: str) -> type | None:
    """The parameters dataclass named by a notebook's metadata `dtlib.params` ("module:Class"); None for ''."""
    import importlib

    if not spec:
        return None
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


def check_notebook_params(spec: str, notebook_key: str, values: Mapping[str, Any]) -> Any:
    """The notebook's parameters dataclass (`spec`, from its metadata) built from `values` (its whole parameters
    cell, overrides applied), so a profile's bad value fails before any notebook runs; ParameterError names the
    notebook and the value. A notebook without a dataclass (spec '') is not checked here."""
    cls = params_class(spec)
    if cls is None:
        return None
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ParameterError(f"{notebook_key}: parameters {unknown} are not fields of {cls.__name__}; its fields "
                             f"are {names}")
    try:
        return cls(**values)
    except TypeError as e:  # a field without a default that no one set
        raise ParameterError(f"{notebook_key}: {e}") from None
    except ParameterError as e:
        raise ParameterError(f"{notebook_key}: {e}") from None


def check_profile(name: Any) -> str:
    """`name` must name a profile in `profiles/` (ParameterError listing them): every notebook's `profile`."""
    return check_choice("profile", name, available_profiles())


@dataclass(frozen=True)
class Profile:
    """One profile: how big every notebook's run is."""

    name: str  # file stem: smoke | small | paper
    description: str  # one line, shown in the README and the report index
    budget_minutes: float | None  # wall-time budget of the whole pipeline on a 2-core CPU; None: no budget
    notebooks: Mapping[str, Mapping[str, Any]] = field(repr=False)  # notebook key -> parameter values
    workers: int = 1  # run slots of every grid's local cluster (dtlib.sweep); 1: in-process; 0: one per core

    def notebook_params(self, notebook_key: str) -> dict[str, Any]:
        """The parameters papermill passes to one notebook (always including `profile`)."""
        return {**dict(self.notebooks.get(notebook_key, {})), "profile": self.name}


def load_profile(name: str) -> Profile:
    """Read `profiles/<name>.yaml`; an unknown name raises ParameterError listing the allowed ones."""
    check_choice("profile", name, available_profiles())
    path = profiles_dir() / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict) or not PROFILE_KEYS <= set(raw) <= PROFILE_KEYS | set(OPTIONAL_KEYS):
        raise ParameterError(f"{path}: top-level keys must be {sorted(PROFILE_KEYS)} and optionally "
                             f"{sorted(OPTIONAL_KEYS)}, got {sorted(raw)}")
    notebooks = raw["notebooks"] or {}
    for key, params in notebooks.items():
        if not isinstance(params, dict):
            raise ParameterError(f"{path}: notebooks.{key} must be a mapping of parameter values")
        if "profile" in params:
            raise ParameterError(f"{path}: notebooks.{key} must not set 'profile' (the pipeline passes it)")
    budget = raw["budget_minutes"]
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0):
        raise ParameterError(f"{path}: budget_minutes={budget!r} must be a positive number or null")
    workers = raw.get("workers", OPTIONAL_KEYS["workers"])
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ParameterError(f"{path}: workers={workers!r} must be an integer >= 0 (1: in-process, 0: one per core)")
    frozen = MappingProxyType({k: MappingProxyType(dict(v)) for k, v in notebooks.items()})
    return Profile(name=name, description=str(raw["description"]), budget_minutes=budget, notebooks=frozen,
                   workers=workers)
