"""notebooks/50_explore.ipynb and dtlib.explore: runs found, rollouts cached, the notebook runs headless."""
from __future__ import annotations

import numpy as np
import pytest

from dtlib import explore, render
from dtlib.data.episodes import EpisodeDataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig, run
from dtlib.paths import project_root
from dtlib.validate import ParameterError

NO_GL = render.gl_problem()


def tiny_hopper_data(n_episodes: int = 4, length: int = 30) -> EpisodeDataset:
    rng = np.random.default_rng(0)
    return EpisodeDataset.from_episodes([{"observations": rng.normal(size=(length, 11)).astype(np.float32),
                                          "actions": rng.uniform(-1, 1, size=(length, 3)).astype(np.float32),
                                          "rewards": rng.uniform(0, 3, size=length).astype(np.float32)}
                                         for _ in range(n_episodes)])


@pytest.fixture()
def runs_home(tmp_path, monkeypatch):
    """A finished tiny hopper DT at runs/smoke (DTLIB_RUNS = tmp), trained for 2 steps."""
    monkeypatch.setenv("DTLIB_RUNS", str(tmp_path / "runs"))
    rc = RunConfig("hopper", "medium-replay", "dt", seed=0)
    run(rc, tiny_hopper_data(), tmp_path / "runs" / "smoke", EvalConfig(episodes=1, max_steps=5), progress=False,
        model_overrides={"n_layer": 1, "embed_dim": 16}, steps=2, batch_size=4, warmup_steps=1, log_every=1,
        checkpoint_every=2)
    return tmp_path


def test_runs_are_found_and_bad_choices_named(runs_home):
    runs = explore.trained_runs("smoke")
    assert list(runs[["env", "dataset", "seed"]].iloc[0]) == ["hopper", "medium-replay", 0] and len(runs) == 1
    assert explore.pick_run(runs, "hopper", "medium-replay", 0) == runs["run"].iloc[0]
    with pytest.raises(ParameterError, match="dataset='medium'"):
        explore.pick_run(runs, "hopper", "medium", 0)
    with pytest.raises(ParameterError, match="seed=3"):
        explore.pick_run(runs, "hopper", "medium-replay", 3)
    with pytest.raises(ParameterError, match="make reproduce ONLY=gym"):
        explore.pick_run(runs.iloc[:0], "hopper", "medium-replay", 0)


@pytest.mark.skipif(NO_GL is not None, reason=f"no GL here: {NO_GL}")
def test_rollouts_are_cached_per_run_target_and_seed(runs_home, monkeypatch):
    run_name = explore.trained_runs("smoke")["run"].iloc[0]
    first = explore.rollout("smoke", run_name, 500.0, 0)
    assert first["length"] == len(first["rewards"]) and first["mp4"][4:8] == b"ftyp"
    assert first["return_to_go"][0] == 500.0
    np.testing.assert_allclose(first["return_to_go"][1:], 500.0 - np.cumsum(first["rewards"])[:-1])

    def no_render(*_, **__):
        raise AssertionError("a cached rollout was rendered again")

    monkeypatch.setattr(render, "mujoco_episodes", no_render)
    again = explore.rollout("smoke", run_name, 500.0, 0)
    assert again["mp4"] == first["mp4"] and np.array_equal(again["rewards"], first["rewards"])
    with pytest.raises(AssertionError, match="rendered again"):
        explore.rollout("smoke", run_name, 500.0, 1)  # another episode is another rollout
    with pytest.raises(ParameterError, match="seed=-1"):
        explore.rollout("smoke", run_name, 500.0, -1)


@pytest.mark.skipif(NO_GL is not None, reason=f"no GL here: {NO_GL}")
def test_notebook_runs_top_to_bottom_headless(runs_home):
    """50_explore with its defaults but the smoke profile's tiny clips (and the tiny run above)."""
    import nbformat
    import papermill

    out = runs_home / "explore.ipynb"
    papermill.execute_notebook(str(project_root() / "notebooks" / "50_explore.ipynb"), str(out),
                               parameters={"profile": "smoke"}, kernel_name="python3", progress_bar=False,
                               cwd=str(project_root() / "notebooks"))
    nb = nbformat.read(out, as_version=4)
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert html.count("<video") >= 1 + render.video_config("smoke").slider_targets  # the episode and the slider
    assert "dtlib-slider" in html
    widget_views = [o for c in nb.cells for o in c.get("outputs", [])
                    if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget_views, "the widgets cell displayed no widget"


def test_find_run_and_load_run_model(runs_home):
    import torch

    root = runs_home / "runs" / "smoke"
    folder = render.find_run(root, "hopper-medium-replay-dt-dense-s0")
    assert folder is not None and folder.name == explore.trained_runs("smoke")["run"].iloc[0]
    (root / "hopper-medium-replay-dt-dense-s0-deadbeef").mkdir()  # unfinished: no summary, no checkpoint
    assert render.find_run(root, "hopper-medium-replay-dt-dense-s0") == folder
    assert render.find_run(root, "hopper-medium-dt-dense-s0") is None
    model = render.load_run_model(folder)
    saved = torch.load(folder / "checkpoint.pt", weights_only=True)["learner"]["model"]
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items()) and not model.training


def test_without_gl_the_episode_and_curve_still_run(runs_home, monkeypatch):
    monkeypatch.setattr(render, "gl_problem", lambda: "no OpenGL context for MuJoCo (test)")
    run_name = explore.trained_runs("smoke")["run"].iloc[0]
    r = explore.rollout("smoke", run_name, 300.0, 0)
    assert r["mp4"] == b"" and r["length"] >= 1 and r["return_to_go"][0] == 300.0
    assert "Clip skipped" in explore.show(r).data and "no OpenGL context" in explore.slider("smoke", run_name).data
    explore.fig_rollout(r)


def test_report_pages_load_no_widget_script_from_a_cdn(tmp_path):
    """A notebook that displayed ipywidgets still renders to an offline page (the widget manager is left out)."""
    import nbformat

    from dtlib import pipeline

    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                             "version_minor": 0}}
    cell = nbformat.v4.new_code_cell("explore.widgets(profile, runs)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "VBox()", "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                                             "version_minor": 0}})]
    nb.cells = [cell]
    src, page = tmp_path / "w.ipynb", tmp_path / "w.html"
    nbformat.write(nb, src)
    pipeline.render_html(src, page)
    html = page.read_text()
    assert "<script src=\"http" not in html and "jsdelivr" not in html and "unpkg" not in html


@pytest.mark.skipif(NO_GL is not None, reason=f"no GL here: {NO_GL}")
def test_widgets_drive_a_rollout(runs_home):
    runs = explore.trained_runs("smoke")
    ui = explore.widgets("smoke", runs)
    env, dataset = ui.children[0].children
    run, (target, episode, button) = ui.children[1], ui.children[2].children
    assert (env.value, dataset.value, run.value) == ("hopper", "medium-replay", runs["run"].iloc[0])
    target.value, episode.value = 700.0, 2
    cached = list((runs_home / "runs" / "smoke" / run.value).glob("rollouts/700-s2-*.npz"))
    assert not cached
    button.click()  # what pressing "run" does: one rollout at (run, 700, episode 2), cached in the run folder
    assert len(list((runs_home / "runs" / "smoke" / run.value).glob("rollouts/700-s2-*.npz"))) == 1
