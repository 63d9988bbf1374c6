"""Rollout clips (dtlib.render): the evaluation's frame hook, H.264 encoding, drawing, the no-GL note."""
from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from html import unescape

import numpy as np
import pytest
import torch

from dtlib import render
from dtlib.envs import graph, keydoor
from dtlib.evaluate import EvalConfig, evaluate, make_env
from dtlib.model import DecisionTransformer, ModelConfig
from dtlib.specs import get_env_spec
from dtlib.validate import ParameterError


def tiny_keydoor_dt(seed: int = 0) -> DecisionTransformer:
    torch.manual_seed(seed)
    return DecisionTransformer(ModelConfig(obs_shape=(6,), act_dim=4, discrete=True, encoder="embedding",
                                           obs_vocab=tuple(int(v) for v in keydoor.obs_nvec()), n_layer=1,
                                           n_head=1, embed_dim=16, context_len=40, max_ep_len=40,
                                           return_scale=1.0)).eval()


def decode(mp4: bytes, tmp_path) -> list[np.ndarray]:
    import imageio_ffmpeg

    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]


def test_observe_hook_sees_every_step_and_changes_nothing():
    model, spec = tiny_keydoor_dt(), get_env_spec("keydoor")
    cfg = EvalConfig(episodes=3, seed=5, parallel=2)  # two chunks: rows are numbered across them
    calls: dict[int, int] = {}
    plain = evaluate(model, spec, cfg)
    hooked = evaluate(model, spec, cfg, observe=lambda row, env: calls.__setitem__(row, calls.get(row, 0) + 1))
    assert plain.equals(hooked)
    assert sorted(calls) == [0, 1, 2]
    assert [calls[i] for i in range(3)] == (hooked["length"] + 1).tolist()  # the reset, then one per step


def test_frame_recorder_keeps_every_nth_frame_up_to_the_cap():
    class Env:
        n = 0

        def render(self):
            Env.n += 1
            return np.full((2, 2, 3), Env.n, dtype=np.uint8)

    rec = render.FrameRecorder(every=3, max_frames=2)
    env = Env()
    for _ in range(10):  # steps 0..9: frames at 0 and 3, then the cap
        rec(0, env)
    assert [int(f[0, 0, 0]) for f in rec.frames[0]] == [1, 2]


def test_encode_mp4_is_h264_decodable_and_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (50, 70, 3), dtype=np.uint8) for _ in range(5)]  # odd sizes get padded
    a, b = render.encode_mp4(frames, fps=5), render.encode_mp4(frames, fps=5)
    assert a == b and a[4:8] == b"ftyp"
    back = decode(a, tmp_path)
    assert len(back) == 5 and back[0].shape == (64, 80, 3)
    with pytest.raises(ParameterError, match="frames is empty"):
        render.encode_mp4([])
    with pytest.raises(ParameterError, match="same size"):
        render.encode_mp4([frames[0], frames[0][:20]])


def test_video_config_and_budget_reject_bad_values():
    with pytest.raises(ParameterError, match="every"):
        render.VideoConfig(every=0)
    with pytest.raises(ParameterError, match="crf"):
        render.VideoConfig(crf=60)
    with pytest.raises(ParameterError, match="profile"):
        render.video_config("huge")
    render.check_budget(["x" * 10], limit=10)
    with pytest.raises(ParameterError, match="11 bytes"):
        render.check_budget(["x" * 6, "y" * 5], limit=10)


def test_keydoor_frames_draw_the_key_until_picked_up():
    params = keydoor.check_params()
    layout = {"start1": 0, "key": 1, "start2": 0, "apples": [], "start3": 0, "door": 24}
    env = keydoor.KeyToDoorEnv()
    obs, _ = env.reset(options={"layout": layout})
    trace = {"observations": [], "actions": [], "rewards": []}
    for a in [3] + [1] * 39:  # right onto the key, then down
        trace["observations"].append(obs)
        trace["actions"].append(a)
        obs, r, term, trunc, _ = env.step(a)
        trace["rewards"].append(r)
        if term or trunc:
            break
    frames = render.keydoor_frames(trace, params)
    assert len(frames) == len(trace["actions"]) + 1
    key = np.array(render.KEY_COLOR, dtype=np.uint8)
    has_key = [bool((f == key).all(axis=-1).any()) for f in frames]
    assert has_key[0]  # on the floor at t=0
    assert has_key[1]  # then drawn as held, beside the room's name
    first, held = frames[0], frames[1]
    assert (first == key).all(axis=-1).sum() > (held == key).all(axis=-1).sum()  # the big key square is gone


def test_graph_paths_match_bfs():
    adj = graph.adjacency_of(**graph.check_params())
    dist = graph.shortest_path_lengths(adj, 0)
    for start in range(1, len(adj)):
        path = render.shortest_path(adj, start, 0)
        assert len(path) - 1 == dist[start] and path[-1] == 0
        assert all(adj[a, b] for a, b in zip(path[:-1], path[1:]))
    trace = {"observations": [np.array([5])], "actions": [5, *render.shortest_path(adj, 5, 0)[1:]]}
    assert render.dt_path(trace, adj, 0) == [5, 5, *render.shortest_path(adj, 5, 0)[1:]]
    frames = render.graph_frames(adj, 0, [("DT", [5, 0]), ("BFS", [5, 3, 0])], size=120)
    assert len(frames) == 3 and frames[0].shape[1] > 2 * 120


def test_keydoor_clips_show_a_success_and_a_failure_or_say_why(tmp_path):
    html, found = render.keydoor_clips(tiny_keydoor_dt(), get_env_spec("keydoor"), {}, episodes=4)
    assert found["episodes"] == 4
    n_videos = html.count("<video")
    assert n_videos + html.count("Clip skipped") == 2
    for src in re.findall(r'src="data:video/mp4;base64,([^"]+)"', html):
        assert len(decode(base64.b64decode(src), tmp_path)) > 1


def test_target_slider_has_one_clip_per_position():
    mp4 = render.encode_mp4([np.zeros((16, 16, 3), np.uint8)])
    html = render.target_slider([("a", mp4), ("b", mp4), ("c", mp4)], b"\x89PNG", "t")
    assert 'max="2"' in html and html.count("<video") == 3 and "<script>" in html and "http" not in html
    with pytest.raises(ParameterError, match="clips is empty"):
        render.target_slider([])


@pytest.mark.skipif(render.gl_problem() is not None, reason=f"no GL here: {render.gl_problem()}")
def test_mujoco_clips_side_by_side_with_returns(tmp_path):
    torch.manual_seed(0)
    model = DecisionTransformer(ModelConfig(obs_shape=(11,), act_dim=3, n_layer=1, embed_dim=16, context_len=4))
    cfg = render.VideoConfig(width=96, height=64, every=20, max_frames=3, fps=5)
    html = render.gym_clips(model, get_env_spec("hopper"), [10.0, 3600.0], ["low", "paper"], cfg, title="hopper")
    assert html.count("<video") == 1 and "low target 10" in html and "paper target 3,600" in html
    frames = decode(base64.b64decode(re.search(r'base64,([^"]+)"', html).group(1)), tmp_path)
    assert 1 <= len(frames) <= 3 and frames[0].shape[1] >= 2 * 96  # two panels
    rows, _ = render.mujoco_episodes(model, get_env_spec("hopper"), [10.0], cfg)
    plain = evaluate(model, get_env_spec("hopper"), EvalConfig(episodes=1, targets=(10.0,), seed=cfg.seed))
    assert rows["return"].tolist() == plain["return"].tolist()  # rendering leaves the episode unchanged


def test_no_gl_gives_a_note_not_an_error():
    code = ("from dtlib import render; import torch; from dtlib.model import DecisionTransformer, ModelConfig;"
            "from dtlib.specs import get_env_spec;"
            "m = DecisionTransformer(ModelConfig(obs_shape=(11,), act_dim=3, n_layer=1, embed_dim=16, context_len=4));"
            "print(render.gym_clips(m, get_env_spec('hopper'), [1.0], ['x'], render.video_config('smoke')))")
    env = {**os.environ, "MUJOCO_GL": "nosuchbackend"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Clip skipped" in out.stdout and "no OpenGL context" in out.stdout and "<video" not in out.stdout


def tiny_pong_dt(seed: int = 0) -> DecisionTransformer:
    torch.manual_seed(seed)
    return DecisionTransformer(ModelConfig(obs_shape=(4, 84, 84), act_dim=6, discrete=True, encoder="cnn", n_layer=1,
                                           n_head=1, embed_dim=16, context_len=4, max_ep_len=27000,
                                           return_scale=1.0, activation="gelu")).eval()


def test_atari_clip_shows_the_screens_side_by_side_with_returns(tmp_path):
    model, spec = tiny_pong_dt(), get_env_spec("pong")
    cfg = render.VideoConfig(fps=5, atari_every=4, atari_max_frames=3, atari_scale=2)
    html = render.atari_clip(model, spec, [-21.0, 20.0], ["low", "paper"], cfg, title="pong", max_steps=10)
    assert html.count("<video") == 1 and "low target -21" in html and "paper target 20" in html
    assert "(10 steps, capped)" in html and "seed 20000" in html
    frames = decode(base64.b64decode(re.search(r'base64,([^"]+)"', html).group(1)), tmp_path)
    assert len(frames) == 3  # steps 0, 4 and 8 of the 10
    assert frames[0].shape[1] >= 2 * 2 * 160 and frames[0].shape[0] >= 2 * 210  # two panels of the 2x screen
    ev = EvalConfig(episodes=1, targets=(-21.0, 20.0), seed=cfg.seed, sample_actions=True, max_steps=10, parallel=2)
    calls = []
    drawn = evaluate(model, spec, ev, env_fn=lambda: make_env(spec, render_mode="rgb_array"),
                     observe=lambda row, env: calls.append(env.render().shape))
    assert evaluate(model, spec, ev).equals(drawn)  # rendering leaves the episodes unchanged
    assert set(calls) == {(210, 160, 3)}  # the wrappers pass render() through to the emulator's RGB screen
    with pytest.raises(ParameterError, match="one label per target"):
        render.atari_clip(model, spec, [1.0, 2.0], ["only one"], cfg)
    with pytest.raises(ParameterError, match="atari_scale"):
        render.VideoConfig(atari_scale=0)


def test_atari_targets_low_best_paper_without_repeats():
    from test_atari_study import frames_dataset

    targets, labels = render.atari_targets(get_env_spec("pong"), frames_dataset(returns=(-21.0, -20.0, -17.0)))
    assert targets == [-20.0, -17.0, 20.0] and labels == ["data's median", "data's best", "paper"]
    targets, labels = render.atari_targets(get_env_spec("pong"), frames_dataset(returns=(-21.0, -21.0)))
    assert targets == [-21.0, 20.0] and labels == ["data's median = data's best", "paper"]


def test_atari_report_clips_the_first_dt_or_says_there_is_none(tmp_path):
    from test_atari_study import PARAMS, frames_dataset

    from dtlib import atari_study
    from dtlib.experiment import run

    study = atari_study.AtariStudy(**{**PARAMS, "seeds": [0], "max_eval_steps": 8, "figure4_targets": {}})
    data = {"pong": frames_dataset()}
    html = render.atari_report(study, tmp_path, data, "smoke")
    assert "Clip skipped" in html and "no finished DT run for pong" in html and "<video" not in html
    rc = next(c for c in study.run_configs() if c.method == "dt" and c.context_len == study.k("pong"))
    run(rc, data["pong"], tmp_path, study.eval_config(rc), progress=False, model_overrides=study.model_overrides(rc),
        **study.train_overrides(rc, data["pong"].n_steps))
    html = unescape(render.atari_report(study, tmp_path, data, "smoke"))
    assert html.count("<video") == 1 and "Clip skipped" not in html
    assert "data's median target -20" in html and "data's best target -19" in html and "paper target 20" in html
    assert "stops at 8 agent steps" in html  # the study's evaluation cap
