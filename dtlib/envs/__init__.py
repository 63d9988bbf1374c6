"""Environments: Key-to-Door and the shortest-path graph, registered with Gymnasium on `import dtlib.envs`.

    import dtlib.envs
    env = dtlib.envs.make("dtlib/KeyToDoor-v0", seed=0)          # or gymnasium.make(...) with default parameters

The registered `max_episode_steps` is that of the default parameters. `make` sets it from the parameters
actually passed; with plain `gymnasium.make` and other phase lengths / walk limits, pass
`max_episode_steps=` yourself (the envs also truncate on their own at their `max_episode_steps`).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import register, registry

from dtlib.envs import graph, keydoor
from dtlib.validate import check_choice

_MAX_STEPS = {  # env id -> function of the env parameters giving the episode length limit
    keydoor.ENV_ID: keydoor.episode_steps,
    graph.ENV_ID: lambda **params: graph.check_params(**params)["max_steps"],
}

if keydoor.ENV_ID not in registry:
    register(id=keydoor.ENV_ID, entry_point="dtlib.envs.keydoor:KeyToDoorEnv",
             max_episode_steps=keydoor.episode_steps())
if graph.ENV_ID not in registry:
    register(id=graph.ENV_ID, entry_point="dtlib.envs.graph:GraphShortestPathEnv",
             max_episode_steps=graph.DEFAULTS["max_steps"])


def make(env_id: str, **params: Any) -> gym.Env:
    """`gymnasium.make(env_id, **params)` with the time limit that matches `params`."""
    check_choice("env_id", env_id, sorted(_MAX_STEPS))
    return gym.make(env_id, max_episode_steps=_MAX_STEPS[env_id](**params), **params)
