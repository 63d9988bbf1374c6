"""Steer a trained Decision Transformer by its target return (notebooks/50_explore.ipynb).

    runs = explore.trained_runs(profile)                    # finished Gym DT runs of a profile, one row each
    run = explore.pick_run(runs, "hopper", "medium-replay", seed=0)
    r = explore.rollout(profile, run, target=1800.0, seed=0)  # one seeded episode, cached per (run, target, seed)
    explore.show(r); explore.fig_rollout(r)                 # the clip, and return-to-go against time
    explore.slider(profile, run)                            # pre-rendered clips at ~8 targets behind a range slider
    explore.widgets(profile, runs)                          # JupyterLab: pick env, dataset, run, target; press run

Episodes come from the one evaluation (`dtlib.evaluate`, through `dtlib.render.mujoco_episodes`); a rollout
is cached in its run folder as `rollouts/<target>-s<seed>-<clip size>.npz` (rewards and the mp4), written
atomically, so a second request for the same (run, target, seed) renders nothing. Without GL the episode and
its return-to-go curve still run; the clips are replaced by a note saying why.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dtlib import io, render
from dtlib.paths import runs_dir
from dtlib.profiles import check_profile
from dtlib.validate import ParameterError, check_choice, check_fields, check_int, check_range

RUN_COLUMNS = ["env", "dataset", "seed", "context_len", "reward_mode", "run"]
GYM_ENVS = ("hopper", "halfcheetah", "walker2d")  # as dtlib.gym_study (not imported: it pulls in the training stack)
GYM_DATASETS = ("medium", "medium-replay", "medium-expert")


@dataclass(frozen=True)
class ExploreParams:
    """The explore notebook's parameters, built by keyword and checked before any work (`__post_init__`); whether
    a finished run matches them is `pick_run`'s check, which lists the runs that exist."""

    profile: str  # a profile in profiles/: smoke | small | paper
    env: str  # a Gym env with finished DT runs: hopper, halfcheetah, walker2d
    dataset: str  # the dataset the DT was trained on
    seed: int  # the run's training seed
    target: float  # the target return the DT is conditioned on
    episode: int  # which seeded evaluation episode

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_choice("env", self.env, GYM_ENVS)
        check_choice("dataset", self.dataset, GYM_DATASETS)
        check_int("seed", self.seed, 0, 2**31 - 1)
        check_range("target", self.target, -1e6, 1e6)
        check_int("episode", self.episode, 0)
        check_fields(self)


def trained_runs(profile: str) -> pd.DataFrame:
    """Finished Gym DT runs of a profile (folders with config, summary and checkpoint); one row each."""
    rows = []
    for path in sorted(runs_dir(profile).glob("*/config.json")):
        folder = path.parent
        if not ((folder / "summary.json").exists() and (folder / "checkpoint.pt").exists()):
            continue
        config = io.read_json(path)
        rc = config.get("RunConfig", {})
        if rc.get("method") != "dt" or config.get("model_class") != "DecisionTransformer" \
                or rc.get("env") not in ("hopper", "halfcheetah", "walker2d"):
            continue
        rows.append({"env": rc["env"], "dataset": rc["dataset"], "seed": int(rc["seed"]),
                     "context_len": int(rc.get("context_len", 0)), "reward_mode": rc.get("reward_mode", "dense"),
                     "run": folder.name})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def pick_run(runs: pd.DataFrame, env: str, dataset: str, seed: int = 0) -> str:
    """The folder of the dense, default-K DT run for (env, dataset, seed); ParameterError lists what exists."""
    if not len(runs):
        raise ParameterError("no finished Gym DT run for this profile: run `make reproduce ONLY=gym` first")
    check_choice("env", env, sorted(set(runs["env"])))
    check_choice("dataset", dataset, sorted(set(runs.loc[runs["env"] == env, "dataset"])))
    hit = runs[(runs["env"] == env) & (runs["dataset"] == dataset) & (runs["context_len"] == 0)
               & (runs["reward_mode"] == "dense")]
    check_choice("seed", seed, sorted(int(s) for s in hit["seed"]))
    return str(hit[hit["seed"] == seed]["run"].iloc[-1])


def _cache_path(profile: str, run: str, target: float, seed: int, cfg: render.VideoConfig, scale: float) -> Path:
    size = f"{int(cfg.width * scale)}x{int(cfg.height * scale)}e{cfg.every}m{cfg.max_frames}c{cfg.crf}f{cfg.fps}"
    return runs_dir(profile) / run / "rollouts" / f"{target:g}-s{seed}-{size}.npz"


def rollout(profile: str, run: str, target: float, seed: int = 0, scale: float = 1.0) -> dict[str, Any]:
    """One seeded episode of `run` conditioned on `target`: rewards, return-to-go, return, length, clip (mp4 bytes).

    Cached per (run, target, seed, clip size) in the run folder; `seed` is the episode's index (it resets
    with `VideoConfig.seed + seed`).
    """
    from dtlib.specs import get_env_spec

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    cfg = render.video_config(profile)
    path = _cache_path(profile, run, float(target), seed, cfg, scale)
    problem = render.gl_problem()
    if problem:  # no GL: the episode and its curve without a clip, cached apart (a later call with GL draws it)
        path = path.with_name(path.stem + "-noclip.npz")
    if not path.exists():
        folder = runs_dir(profile) / run
        env = io.read_json(folder / "config.json")["RunConfig"]["env"]
        model = render.load_run_model(folder)
        episode_cfg = dataclasses.replace(cfg, seed=cfg.seed + seed)
        rows, frames = render.mujoco_episodes(model, get_env_spec(env), [float(target)], episode_cfg, scale=scale,
                                              rewards=True, frames=problem is None)
        r = rows.iloc[0]
        lines = [f"target {float(target):,.0f}", f"achieved {r['return']:,.0f} in {int(r['length'])} steps"]
        mp4 = render.encode_mp4([render.annotate(f, lines) for f in frames[0]], cfg.fps, cfg.crf) if frames[0] else b""
        io.np_savez(path, rewards=np.asarray(r["rewards"], dtype=np.float64), mp4=np.frombuffer(mp4, np.uint8),
                    target=np.float64(target), every=np.int64(cfg.every))
    with np.load(path) as z:
        rewards = z["rewards"]
        out = {"run": run, "target": float(z["target"]), "seed": seed, "rewards": rewards,
               "return": float(rewards.sum()), "length": len(rewards), "mp4": z["mp4"].tobytes(),
               "every": int(z["every"])}
    out["return_to_go"] = out["target"] - np.concatenate([[0.0], np.cumsum(rewards)])[:-1]  # [T] before each step
    return out


def show(r: dict[str, Any]) -> Any:
    """The rollout's clip as HTML (plays in JupyterLab and in the static report)."""
    from IPython.display import HTML

    if not r["mp4"]:
        return HTML(render.note(render.gl_problem() or "this rollout was cached without a clip"))
    return HTML(render.video_tag(r["mp4"], f"{r['run']}: target {r['target']:,.0f} → return {r['return']:,.1f} "
                                           f"in {r['length']} steps (episode {r['seed']}; one frame per {r['every']} steps)"))


def fig_rollout(r: dict[str, Any]) -> Any:
    """Return-to-go (what the DT was asked for at each step) and the return collected so far, against time."""
    import matplotlib.pyplot as plt

    from dtlib import plots

    plots.set_theme()
    t = np.arange(r["length"])
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(t, r["return_to_go"], label="return-to-go fed to the DT (target − reward so far)")
    ax.plot(t, np.cumsum(r["rewards"]), label="return collected so far")
    ax.axhline(r["target"], color="gray", ls=":", lw=1, label=f"target {r['target']:,.0f}")
    ax.set_xlabel("timestep")
    ax.set_ylabel("return")
    ax.set_title(f"target {r['target']:,.0f} → achieved {r['return']:,.0f}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def slider_targets(profile: str, run: str, n: int) -> list[float]:
    """`n` targets from 5% to 120% of the env's paper target (Figure 4's span around the data's best)."""
    from dtlib.specs import get_env_spec

    spec = get_env_spec(io.read_json(runs_dir(profile) / run / "config.json")["RunConfig"]["env"])
    top = getattr(spec, "paper_target", None) or spec.targets[0]
    return [float(round(x, -1)) for x in np.linspace(0.05 * top, 1.2 * top, n)]


def slider(profile: str, run: str, seed: int = 0) -> Any:
    """Pre-rendered clips at the profile's `slider_targets` targets behind a range slider, beside achieved vs target."""
    from IPython.display import HTML

    problem = render.gl_problem()
    if problem:
        return HTML(render.note(problem))
    cfg = render.video_config(profile)
    rs = [rollout(profile, run, t, seed, scale=cfg.slider_scale) for t in slider_targets(profile, run, cfg.slider_targets)]
    clips = [(f"{k + 1}: target {r['target']:,.0f} → achieved {r['return']:,.0f} ({r['length']} steps)", r["mp4"])
             for k, r in enumerate(rs)]
    table = pd.DataFrame({"target": [r["target"] for r in rs], "return": [r["return"] for r in rs]})
    return HTML(render.target_slider(clips, render.slider_figure(table, title=f"{run}: episode {seed}"),
                                     "Move the slider to change the target return"))


def widgets(profile: str, runs: pd.DataFrame) -> Any:
    """JupyterLab controls: env, dataset, run, target and episode; "run" rolls out (cached) and shows clip and curve."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not len(runs):
        raise ParameterError("no finished Gym DT run for this profile: run `make reproduce ONLY=gym` first")
    env = w.Dropdown(options=sorted(set(runs["env"])), description="env")
    dataset = w.Dropdown(description="dataset")
    run = w.Dropdown(description="run", layout=w.Layout(width="60%"))
    target = w.FloatSlider(value=1800.0, min=0.0, max=7200.0, step=100.0, description="target",
                           continuous_update=False)
    episode = w.BoundedIntText(value=0, min=0, max=999, description="episode")
    button = w.Button(description="run", button_style="primary")
    out = w.Output()

    def on_env(*_: Any) -> None:
        dataset.options = sorted(set(runs.loc[runs["env"] == env.value, "dataset"]))
        dataset.value = dataset.options[0] if dataset.options else None  # a new list selects nothing by itself

    def on_dataset(*_: Any) -> None:
        part = runs[(runs["env"] == env.value) & (runs["dataset"] == dataset.value)]
        run.options = list(part["run"])
        run.value = run.options[0] if run.options else None
        if len(part):
            target.max = 1.5 * float(slider_targets(profile, part["run"].iloc[0], 2)[-1])

    def on_run(*_: Any) -> None:
        out.clear_output()
        with out:
            r = rollout(profile, run.value, float(target.value), int(episode.value))
            display(show(r))
            plt.show(fig_rollout(r))

    env.observe(on_env, "value")
    dataset.observe(on_dataset, "value")
    button.on_click(on_run)
    on_env()
    on_dataset()
    return w.VBox([w.HBox([env, dataset]), run, w.HBox([target, episode, button]), out])
