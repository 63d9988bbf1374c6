"""Every notebook's parameters: one frozen dataclass built by keyword, strict types, bad values refused up front."""
from __future__ import annotations

import ast
import dataclasses
import shutil
import typing

import nbformat
import pytest

from dtlib import gym_study, pipeline, profiles
from dtlib.profiles import check_notebook_params, load_profile, params_class
from dtlib.validate import ParameterError

NOTEBOOKS = pipeline.discover()
REGISTERED = [nb for nb in NOTEBOOKS if nb.params]
BY_KEY = {nb.key: nb for nb in NOTEBOOKS}
PROFILES = profiles.available_profiles()


def cell_values(nb) -> dict:
    return pipeline.parameters_cell(nbformat.read(nb.path, as_version=4))


def build_cell(nb) -> str:
    """The code cell right after the parameters cell: the one that builds the dataclass."""
    cells = nbformat.read(nb.path, as_version=4).cells
    i = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    return next(c.source for c in cells[i + 1:] if c.cell_type == "code")


def test_every_pipeline_notebook_has_a_parameters_dataclass():
    missing = [nb.name for nb in NOTEBOOKS if params_class(nb.params) is None]
    assert not missing, f"{missing}: give each a frozen parameters dataclass, named in its metadata dtlib.params"


@pytest.mark.parametrize("nb", REGISTERED, ids=lambda nb: nb.key)
def test_each_notebook_builds_its_one_parameters_dataclass_by_keyword(nb):
    cls = params_class(nb.params)
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    values = cell_values(nb)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(values) <= set(fields), f"parameters without a field: {sorted(set(values) - set(fields))}"
    required = {n for n, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}
    assert required <= set(values), f"fields the notebook does not set: {sorted(required - set(values))}"
    # the next cell calls the class once, every parameter passed by keyword under its own name
    calls = [n for n in ast.walk(ast.parse(build_cell(nb))) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", getattr(n.func, "id", None)) == cls.__name__]
    assert len(calls) == 1 and not calls[0].args, f"{nb.name}: build {cls.__name__}(name=name, ...) once"
    passed = {k.arg: k.value.id for k in calls[0].keywords if isinstance(k.value, ast.Name)}
    assert passed == {name: name for name in values}
    built = cls(**values)
    assert built == dataclasses.replace(built)  # rebuilt from its own (converted) fields, it checks again and agrees
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.profile = "paper"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("nb", REGISTERED, ids=lambda nb: nb.key)
def test_every_profile_builds_every_notebooks_parameters(nb, profile):
    values = {**cell_values(nb), **load_profile(profile).notebook_params(nb.key)}
    assert check_notebook_params(nb.params, nb.key, values).profile == profile


def wrong_values(tp) -> list:
    """Values of the wrong type for an annotation: a float or bool for an int, a string for a list, ..."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        return wrong_values([a for a in args if a is not type(None)][0])
    if tp is int:
        return [1.5, 2.0, True, "3"]
    if tp is float:
        return [True, "0.5", [0.5]]
    if tp is bool:
        return [1, 0, "True", None]
    if tp is str:
        return [1, None, ["a"]]
    if origin is tuple:
        inner = {int: [[1.5], [True]], float: [[True], ["0.5"]], str: [[1]]}[args[0]]
        return ["abc", 1, None, *inner]
    if origin is dict:
        return [[("a", 1)], "a", 1]
    raise AssertionError(f"no wrong values for {tp}")


CASES = [(nb.key, name, bad) for nb in REGISTERED for name, tp in typing.get_type_hints(params_class(nb.params)).items()
         for bad in wrong_values(tp)]


@pytest.mark.parametrize("key,name,bad", CASES, ids=[f"{k}.{n}={b!r}" for k, n, b in CASES])
def test_a_value_of_the_wrong_type_is_refused_in_one_line_naming_it(key, name, bad):
    nb = BY_KEY[key]
    with pytest.raises(ParameterError) as e:
        params_class(nb.params)(**{**cell_values(nb), name: bad})
    message = str(e.value)
    assert message.startswith(f"{name}={bad!r}") and "\n" not in message, message
    assert "must be" in message or "not allowed" in message or "choose one of" in message, message


@pytest.mark.parametrize("bad,match", [
    ({"seeds": [1.5]}, r"seeds=\[1.5\]: 1.5 is not allowed; seeds must be a list of integers"),  # was seed 1
    ({"eval_every": 0.5}, r"eval_every=0.5 must be an integer >= 0"),  # was: evaluate every step
    ({"delayed_datasets": "medium"}, r"delayed_datasets='medium' must be a list drawn from"),  # was: letters
    ({"context_ablation": 1}, r"context_ablation=1 must be a list of integers"),  # was: TypeError
    ({"dataset_template": "~/d4rl/{env}.hdf5"}, r"fields \{env\} and \{dataset\}"),  # was: accepted
    ({"dataset_template": "{env}_{dataset}_{version}.hdf5"}, "no other"),
    ({"delayed": 1}, "delayed=1 must be True or False"), ({"pcts": [True]}, r"pcts=\[True\]"),
])
def test_the_gym_notebooks_bad_values_of_issue_16(bad, match):
    values = cell_values(BY_KEY["gym"])
    with pytest.raises(ParameterError, match=match):
        gym_study.GymStudy(**{**values, **bad})


def test_the_allowed_profiles_are_the_files_in_profiles(tmp_path, monkeypatch):
    for path in profiles.profiles_dir().glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(tmp_path / "smoke.yaml", tmp_path / "tiny.yaml")
    monkeypatch.setattr(profiles, "profiles_dir", lambda: tmp_path)
    graph = params_class(BY_KEY["graph"].params)
    values = cell_values(BY_KEY["graph"])
    assert graph(**{**values, "profile": "tiny"}).profile == "tiny"
    (tmp_path / "paper.yaml").unlink()
    with pytest.raises(ParameterError, match=r"profile='paper' is not allowed; choose one of \['small', 'smoke', "
                                             r"'tiny'\]"):
        graph(**{**values, "profile": "paper"})


def test_a_bad_value_in_a_profile_fails_before_any_notebook_runs(monkeypatch):
    real = load_profile("smoke")
    bad = dataclasses.replace(real, notebooks={**real.notebooks, "keydoor": {**real.notebooks["keydoor"],
                                                                              "seeds": [0, 1.5]}})
    monkeypatch.setattr(pipeline, "load_profile", lambda name: bad)
    monkeypatch.setattr(pipeline, "pipeline_kernel", lambda: pytest.fail("started a kernel before the check"))
    with pytest.raises(ParameterError, match=r"keydoor: seeds=\[0, 1.5\]: 1.5 is not allowed"):
        pipeline.run("smoke", echo=lambda *a, **k: None)
    gym = BY_KEY["gym"]
    with pytest.raises(ParameterError, match=r"gym: parameters \['bogus'\] are not fields of GymStudy"):
        check_notebook_params(gym.params, "gym", {**cell_values(gym), "bogus": 1})


def test_method_label_is_the_one_display_name():
    from dtlib.config import method_label
    from dtlib.validate import ParameterError
    assert [method_label(m) for m in ("dt", "bc", "pct_bc", "cql", "random")] == ["DT", "BC", "%BC", "CQL", "Random"]
    assert method_label("pct_bc", 0.1) == "10%BC" and method_label("pct_bc", 0.025) == "2.5%BC"
    assert method_label("dt", 0.1) == "DT"  # only %BC carries its fraction
    with pytest.raises(ParameterError, match="method"):
        method_label("ppo")
