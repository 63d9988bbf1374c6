from __future__ import annotations

import dataclasses

import pytest

from dtlib.profiles import available_profiles, load_profile
from dtlib.validate import ParameterError


def test_the_three_profiles_load():
    assert {"smoke", "small", "paper"} <= set(available_profiles())
    smoke = load_profile("smoke")
    assert smoke.name == "smoke" and smoke.description and smoke.budget_minutes == 10
    assert load_profile("small").budget_minutes == 150
    assert smoke.notebook_params("environment")["profile"] == "smoke"
    assert smoke.notebook_params("not-a-notebook") == {"profile": "smoke"}


def test_profile_is_frozen():
    profile = load_profile("small")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.name = "x"
    with pytest.raises(TypeError):
        profile.notebooks["environment"]["seed"] = 3


def test_unknown_profile_lists_the_allowed_ones():
    with pytest.raises(ParameterError, match=r"profile='nosuch' is not allowed; choose one of \['paper', 'small', 'smoke'"):
        load_profile("nosuch")


def test_malformed_profile_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("DTLIB_HOME", str(tmp_path))
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bad.yaml").write_text("description: x\nnotebooks: {}\n")
    with pytest.raises(ParameterError, match="budget_minutes"):
        load_profile("bad")
    (tmp_path / "profiles" / "bad.yaml").write_text(
        "description: x\nbudget_minutes: 1\nnotebooks:\n  a:\n    profile: small\n")
    with pytest.raises(ParameterError, match="must not set 'profile'"):
        load_profile("bad")
