import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import PUSH_SPEC, PushEnv, push_dataset
from dtlib.data.windows import WindowSampler
from dtlib.evaluate import EvalConfig, evaluate
from dtlib.model import DecisionTransformer, ModelConfig
from dtlib.results import RunDir
from dtlib.train import SupervisedLearner, TrainConfig, TrainingDiverged, load_model, train
from dtlib.validate import ParameterError

TRAIN = TrainConfig(steps=60, batch_size=16, lr=1e-3, warmup_steps=10, log_every=10, checkpoint_every=20)


def small_model(data, seed=0, dropout_masks="bernoulli"):
    torch.manual_seed(seed)
    mean, std = data.state_stats()
    return DecisionTransformer(ModelConfig(obs_shape=(2,), act_dim=1, context_len=5, max_ep_len=5, n_layer=1,
                                           embed_dim=32, return_scale=5.0, state_mean=tuple(mean.tolist()),
                                           state_std=tuple(std.tolist()), dropout_masks=dropout_masks))


def train_once(root, cfg=TRAIN, sampler_cls=WindowSampler, name="run", evaluate_fn=None):
    data = push_dataset(100)
    model = small_model(data)
    run = RunDir(root, name, {"cfg": dataclasses.asdict(cfg)})
    train(run, SupervisedLearner(model, cfg), sampler_cls(data, 5, seed=cfg.seed), cfg, evaluate=evaluate_fn,
          progress=False)
    return run, model


def test_same_seed_gives_identical_losses_and_eval_returns(tmp_path):
    ev = lambda m: evaluate(m, PUSH_SPEC, EvalConfig(episodes=3), env_fn=PushEnv)  # noqa: E731
    r1, m1 = train_once(tmp_path / "a", evaluate_fn=ev)
    r2, m2 = train_once(tmp_path / "b", evaluate_fn=ev)
    pd.testing.assert_series_equal(r1.metrics()["train/action_loss"], r2.metrics()["train/action_loss"])
    pd.testing.assert_series_equal(r1.evals()["return"], r2.evals()["return"])
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    r3, _ = train_once(tmp_path / "c", cfg=dataclasses.replace(TRAIN, seed=1))
    assert not r1.metrics()["train/action_loss"].equals(r3.metrics()["train/action_loss"])


class Killed(Exception):
    pass


def killing_sampler(kill_at):
    class KillingSampler(WindowSampler):
        calls = 0

        def sample(self, batch_size):
            KillingSampler.calls += 1
            if KillingSampler.calls == kill_at:
                raise Killed()
            return super().sample(batch_size)

    return KillingSampler


def test_kill_and_resume_gives_identical_final_weights(tmp_path):
    _, uninterrupted = train_once(tmp_path / "full")
    with pytest.raises(Killed):  # dies at step 47: checkpoints at 20 and 40 exist
        train_once(tmp_path / "killed", sampler_cls=killing_sampler(47))
    run, resumed = train_once(tmp_path / "killed")  # resumes from step 40
    for p, q in zip(uninterrupted.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    assert list(run.metrics()["step"]) == [10, 20, 30, 40, 50, 60]  # no duplicated rows after resume
    assert run.done
    ckpt = torch.load(run.checkpoint_path, weights_only=True)
    assert ckpt["step"] == 60 and "mean" in str(ckpt["learner"]["model"].keys())  # normalisation travels along


def test_finished_run_is_not_retrained(tmp_path):
    run, _ = train_once(tmp_path)
    stamp = run.checkpoint_path.stat().st_mtime_ns
    train_once(tmp_path)
    assert run.checkpoint_path.stat().st_mtime_ns == stamp


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
    class NaNSampler(WindowSampler):
        calls = 0

        def sample(self, batch_size):
            NaNSampler.calls += 1
            b = super().sample(batch_size)
            if NaNSampler.calls >= 25:
                b["actions"] = np.full_like(b["actions"], np.nan)
            return b

    with pytest.raises(TrainingDiverged, match="loss is nan at step 25.*last good checkpoint"):
        train_once(tmp_path, sampler_cls=NaNSampler)
    run = next(tmp_path.iterdir())
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 20


def test_bad_train_parameters_are_named():
    with pytest.raises(ParameterError, match="steps=-5"):
        TrainConfig(steps=-5)
    with pytest.raises(ParameterError, match="schedule"):
        TrainConfig(schedule="linear")


@pytest.mark.parametrize("dropout_masks", ["bernoulli", "packed"])
def test_dt_learns_return_conditioning(dropout_masks):
    """On data mixing good and bad episodes, the achieved return rises with the target return."""
    data = push_dataset(300)
    model = small_model(data, dropout_masks=dropout_masks)
    cfg = TrainConfig(steps=600, batch_size=64, lr=1e-3, warmup_steps=50, log_every=100, checkpoint_every=600)
    learner = SupervisedLearner(model, cfg)
    sampler = WindowSampler(data, 5, seed=0)
    from dtlib.data.windows import to_torch

    for _ in range(cfg.steps):
        learner.update(to_torch(sampler.sample(cfg.batch_size)))
    df = evaluate(model, PUSH_SPEC, EvalConfig(episodes=10, targets=(-3.0, 0.0, 3.0)), env_fn=PushEnv)
    means = df.groupby("target")["return"].mean()
    assert means[-3.0] < means[0.0] < means[3.0]
    assert means[3.0] - means[-3.0] > 3.0  # a real spread, not noise (random actions give ~0 ± 1.3)
    assert abs(means[3.0] - 3.0) < 1.0 and abs(means[-3.0] + 3.0) < 1.0


def test_load_model_restores_trained_weights(tmp_path):
    run, model = train_once(tmp_path)
    fresh = load_model(run, small_model(push_dataset(100), seed=123))
    for p, q in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(p, q)


def test_hash_neutral_fields_at_their_default_keep_existing_run_folders(tmp_path):
    """A config field added later (EvalConfig.precision) does not rename old runs at its default; other values do."""
    from dtlib.results import config_digest

    old = {"EvalConfig": {"episodes": 10}, "TrainConfig": {"steps": 5}}
    assert config_digest({**old, "EvalConfig": {"episodes": 10, "precision": "fp32"}}) == config_digest(old)
    assert config_digest({**old, "EvalConfig": {"episodes": 10, "precision": "bf16"}}) != config_digest(old)
    assert config_digest({**old, "TrainConfig": {"steps": 6}}) != config_digest(old)
    model = {"ModelConfig": {"embed_dim": 8}}
    assert config_digest({**model, "ModelConfig": {"embed_dim": 8, "dropout_masks": "bernoulli"}}) == \
        config_digest(model) != config_digest({**model, "ModelConfig": {"embed_dim": 8, "dropout_masks": "packed"}})
    a = RunDir(tmp_path, "r", {**old, "EvalConfig": {"episodes": 10, "precision": "fp32"}})
    assert a.path == RunDir(tmp_path, "r", old).path
    assert '"precision": "fp32"' in a.config_path.read_text()


def test_bf16_training_is_opt_in_learns_like_fp32_and_keeps_fp32_weights(tmp_path):
    r32, m32 = train_once(tmp_path / "fp32")
    r16, m16 = train_once(tmp_path / "bf16", cfg=dataclasses.replace(TRAIN, precision="bf16"))
    l32, l16 = r32.metrics()["train/action_loss"], r16.metrics()["train/action_loss"]
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    assert not l16.equals(l32)  # the arithmetic really changed
    assert l16.iloc[-1] < 0.7 * l16.iloc[0]  # and it still learns
    assert abs(l16.iloc[-1] - l32.iloc[-1]) < 0.25 * l32.iloc[0]
    with pytest.raises(ParameterError, match="precision"):
        TrainConfig(precision="fp16")


def test_no_clip_skips_the_norms_and_gives_the_weights_clipping_at_that_limit_gives(monkeypatch):
    """The BC preset's grad_clip (NO_CLIP) never binds: skipping clip_grad_norm_ leaves every weight bit-identical."""
    import dtlib.train as train_mod
    from dtlib.data.windows import to_torch

    data = push_dataset(50)
    cfg = TrainConfig(steps=5, batch_size=16, lr=1e-3, warmup_steps=1, grad_clip=train_mod.NO_CLIP)
    batches = [to_torch(b) for b in (WindowSampler(data, 5, seed=0).sample(16) for _ in range(5))]

    def trained(clip_calls):
        torch.manual_seed(0)
        learner = SupervisedLearner(small_model(data), cfg)
        for b in batches:
            learner.update(b)
        return learner.model, clip_calls

    calls = []
    real_clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: calls.append(1) or real_clip(*a, **k))
    skipped, n_skipped = trained(calls)[0], len(calls)
    monkeypatch.setattr(train_mod, "NO_CLIP", float("inf"))  # now the learner clips at 1e9
    clipped = trained(calls)[0]
    assert n_skipped == 0 and len(calls) == 5
    from dtlib.config import get_preset

    assert get_preset("gym", "bc").train["grad_clip"] >= cfg.grad_clip  # the BC preset takes the skip
    for p, q in zip(skipped.parameters(), clipped.parameters()):
        assert torch.equal(p, q)


class Fault(Exception):
    pass


@pytest.mark.parametrize("fail_write", [1, 2, 3])
def test_a_fault_in_the_last_save_loses_no_final_evaluation(tmp_path, monkeypatch, fail_write):
    """Kill the run at each of the last step's three writes (checkpoint, metrics.csv, eval.csv, in any order):
    the resumed run ends with the uninterrupted run's final evaluation and metrics."""
    import dtlib.io

    ev = lambda m: evaluate(m, PUSH_SPEC, EvalConfig(episodes=2), env_fn=PushEnv)  # noqa: E731
    cfg = dataclasses.replace(TRAIN, eval_every=20)
    full, _ = train_once(tmp_path / "full", cfg=cfg, evaluate_fn=ev)
    writes, real = [], {name: getattr(dtlib.io, name) for name in ("torch_save", "write_csv")}

    def counting(name):
        def write(path, obj):
            writes.append(name)
            return real[name](path, obj)
        return write

    for name in real:
        monkeypatch.setattr(dtlib.io, name, counting(name))
    train_once(tmp_path / "count", cfg=cfg, evaluate_fn=ev)
    n_writes, writes[:] = len(writes), []
    target = n_writes - 3 + fail_write  # the last step saves three files

    def faulty(name):
        def write(path, obj):
            writes.append(name)
            if len(writes) == target:
                raise Fault(f"killed at write {target} ({name})")
            return real[name](path, obj)
        return write

    for name in real:
        monkeypatch.setattr(dtlib.io, name, faulty(name))
    with pytest.raises(Fault):
        train_once(tmp_path / "killed", cfg=cfg, evaluate_fn=ev)
    for name in real:
        monkeypatch.setattr(dtlib.io, name, real[name])
    run, _ = train_once(tmp_path / "killed", cfg=cfg, evaluate_fn=ev)
    assert run.done
    pd.testing.assert_frame_equal(run.evals(), full.evals())
    assert sorted(set(run.evals()["step"])) == [20, 40, 60]
    pd.testing.assert_frame_equal(run.metrics().drop(columns="time/wall_s"),
                                  full.metrics().drop(columns="time/wall_s"))


def test_a_finished_run_missing_its_final_evaluation_is_evaluated_on_resume(tmp_path):
    """A folder left by the old write order (summary written, eval.csv without the last step) gets its final
    evaluation from the saved weights; training is not redone."""
    ev = lambda m: evaluate(m, PUSH_SPEC, EvalConfig(episodes=2), env_fn=PushEnv)  # noqa: E731
    cfg = dataclasses.replace(TRAIN, eval_every=20)
    full, _ = train_once(tmp_path / "full", cfg=cfg, evaluate_fn=ev)
    run, _ = train_once(tmp_path / "old", cfg=cfg, evaluate_fn=ev)
    evals = run.evals()
    evals[evals["step"] < 60].to_csv(run.eval_path, index=False)
    stamp = run.checkpoint_path.stat().st_mtime_ns
    run, _ = train_once(tmp_path / "old", cfg=cfg, evaluate_fn=ev)
    assert run.checkpoint_path.stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(run.evals(), full.evals())
