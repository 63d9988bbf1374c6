from __future__ import annotations

import pytest

from dtlib import sysinfo
from dtlib.validate import ParameterError


def test_environment_params_are_checked():
    assert sysinfo.EnvironmentParams(profile="smoke", seed=0, env_steps=10).profile == "smoke"
    with pytest.raises(ParameterError, match="profile='x'.*choose one of"):
        sysinfo.EnvironmentParams(profile="x", seed=0, env_steps=10)
    with pytest.raises(ParameterError, match="env_steps=-5"):
        sysinfo.EnvironmentParams(profile="small", seed=0, env_steps=-5)
    with pytest.raises(ParameterError, match="seed=1.5"):
        sysinfo.EnvironmentParams(profile="small", seed=1.5, env_steps=10)


def test_versions_and_device():
    table = sysinfo.versions()
    assert {"python", "torch", "gymnasium", "mujoco", "ale-py", "minari"} <= set(table["package"])
    assert sysinfo.device() in ("cpu", "cuda")


def test_throughput_table_steps_both_simulators():
    table = sysinfo.throughput_table(steps=30, seed=0)
    assert list(table["env"]) == ["Hopper-v5", "ALE/Breakout-v5"]
    assert (table["steps"] == 30).all() and (table["steps_per_s"] > 0).all()
