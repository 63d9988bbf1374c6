import numpy as np
import pytest
import torch

from conftest import PUSH_SPEC, PushEnv
from dtlib.evaluate import EvalConfig, evaluate
from dtlib.specs import ENVS, get_env_spec
from dtlib.validate import ParameterError


class EchoRTG(torch.nn.Module):
    """A 'policy' whose action is the return-to-go it is conditioned on, clipped: exposes the RTG protocol."""

    context_len = 3

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.seen = []

    def act(self, batch, sample=False, generator=None):
        self.seen.append(batch["rtg"][:, -1].clone())
        return (batch["rtg"][:, -1:] / 10).clamp(-1, 1)


def test_return_to_go_is_decremented_by_rewards():
    policy = EchoRTG()
    df = evaluate(policy, PUSH_SPEC, EvalConfig(episodes=1, targets=(5.0,)), env_fn=PushEnv)
    seen = torch.stack(policy.seen)[:, 0].numpy()
    # rtg_0 = 5; action = rtg/10; reward = action: rtg_{t+1} = rtg_t * 0.9
    np.testing.assert_allclose(seen, 5 * 0.9 ** np.arange(5), rtol=1e-5)
    assert df["return"].iloc[0] == pytest.approx(5 - 5 * 0.9 ** 5, rel=1e-5)
    assert df["length"].iloc[0] == 5


def test_an_episode_cap_past_the_timestep_embedding_is_refused():
    # PushEnv's spec embeds 5 timesteps: a 6-step cap would feed the policy a timestep it has no row for
    with pytest.raises(ParameterError, match=r"max_steps=6.*max_ep_len=5"):
        evaluate(EchoRTG(), PUSH_SPEC, EvalConfig(episodes=1, max_steps=6), env_fn=PushEnv)


def test_delayed_mode_keeps_the_target():
    policy = EchoRTG()
    evaluate(policy, PUSH_SPEC, EvalConfig(episodes=1, targets=(5.0,), delayed=True), env_fn=PushEnv)
    np.testing.assert_allclose(torch.stack(policy.seen)[:, 0].numpy(), 5.0)


def test_a_return_prior_replaces_target_and_decrement():
    policy = EchoRTG()
    prior = lambda obs: 10 * obs[:, 0]  # noqa: E731  (obs[0] = t / 5: the prior depends on the state)
    evaluate(policy, PUSH_SPEC, EvalConfig(episodes=1, targets=(5.0,)), env_fn=PushEnv, return_prior=prior)
    np.testing.assert_allclose(torch.stack(policy.seen)[:, 0].numpy(), 10 * np.arange(5) / 5, rtol=1e-6)


def test_several_targets_and_episodes_in_one_call_with_seeds_and_traces():
    df, traces = evaluate(EchoRTG(), PUSH_SPEC, EvalConfig(episodes=4, targets=(-3.0, 3.0), seed=7, parallel=3),
                          env_fn=PushEnv, record=True)
    assert list(df.columns) == ["target", "episode", "seed", "return", "length", "normalized_score"]
    assert len(df) == 8 and list(df["seed"]) == [7, 8, 9, 10] * 2
    assert (df.groupby("target")["return"].mean().diff().dropna() > 0).all()
    assert len(traces) == 8 and len(traces[0]["rewards"]) == 5


def test_normalized_scores_use_d4rl_and_gamer_references():
    hopper = get_env_spec("hopper")
    assert hopper.normalize(np.array([3234.3]))[0] == pytest.approx(100)
    assert hopper.normalize(np.array([-20.272305]))[0] == pytest.approx(0)
    # the paper's Table 12 -> Table 1 mapping (Breakout DT 76.9 raw -> 267.5 normalised)
    assert ENVS["breakout"].normalize(np.array([76.9]))[0] == pytest.approx(267.5, abs=0.1)
    assert ENVS["qbert"].normalize(np.array([2215.8]))[0] == pytest.approx(15.4, abs=0.3)
    with pytest.raises(ParameterError, match="env='nosuchenv'"):
        get_env_spec("nosuchenv")


def test_hopper_rollout_with_a_real_dt_is_deterministic_and_batched():
    from dtlib.model import DecisionTransformer, ModelConfig

    torch.manual_seed(0)
    model = DecisionTransformer(ModelConfig(obs_shape=(11,), act_dim=3, n_layer=1, embed_dim=32))
    cfg = EvalConfig(episodes=3, targets=(3600.0,), max_steps=50)
    a = evaluate(model, get_env_spec("hopper"), cfg)
    b = evaluate(model, get_env_spec("hopper"), cfg)
    assert a.equals(b)
    assert (a["length"] <= 50).all() and a["return"].nunique() == 3  # differently seeded episodes


def test_bf16_evaluation_is_opt_in_close_to_fp32_and_checked():
    """The bf16 autocast path runs the same protocol; a DT's first actions agree with fp32 to bf16 precision."""
    from dtlib.model import DecisionTransformer, ModelConfig

    torch.manual_seed(0)
    model = DecisionTransformer(ModelConfig(obs_shape=(11,), act_dim=3, n_layer=1, embed_dim=32))
    spec = get_env_spec("hopper")
    fp32, tr32 = evaluate(model, spec, EvalConfig(episodes=2, targets=(3600.0,), max_steps=5), record=True)
    bf16, tr16 = evaluate(model, spec, EvalConfig(episodes=2, targets=(3600.0,), max_steps=5, precision="bf16"),
                          record=True)
    assert list(bf16.columns) == list(fp32.columns) and len(bf16) == 2
    first32 = np.stack([t["actions"][0] for t in tr32])
    first16 = np.stack([t["actions"][0] for t in tr16])
    assert first16.dtype == np.float32
    np.testing.assert_allclose(first16, first32, atol=0.05)
    assert not np.array_equal(first16, first32)  # the opt-in really changes the arithmetic
    with pytest.raises(ParameterError, match="precision"):
        EvalConfig(precision="fp16")


@pytest.mark.parametrize("encoder", ["cnn", "frozen_cnn"])
def test_cnn_embedding_cache_equals_re_encoding(encoder):
    """The rollout's per-step state-embedding cache gives the actions and returns of re-encoding every window,
    for the trained CNN and for the fixed behaviour torso."""
    import dataclasses as dc

    import gymnasium as gym
    import numpy as np
    import torch

    from dtlib.evaluate import EvalConfig, _EmbeddingCache, evaluate
    from dtlib.model import DecisionTransformer, ModelConfig
    from dtlib.specs import get_env_spec

    torch.manual_seed(0)
    weights = "behaviour/atari/pong/step_01200000.pt" if encoder == "frozen_cnn" else ""
    cfg = ModelConfig(obs_shape=(4, 84, 84), act_dim=6, discrete=True, encoder=encoder, encoder_weights=weights,
                      context_len=5, n_layer=1, n_head=1, embed_dim=16, max_ep_len=200)
    model = DecisionTransformer(cfg).eval()
    # the cache's windows equal the embeddings of the windows the uncached forward would embed
    cache = _EmbeddingCache(model, 2, 5, (4, 84, 84), np.uint8, torch.device("cpu"))
    frames = torch.randint(0, 255, (7, 2, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        for t in range(7):
            cache.push(np.arange(2), frames[t].numpy(), torch.device("cpu"))
        want = model.embed_state(frames[2:7].transpose(0, 1))  # [2, 5, d], the last 5 steps
        np.testing.assert_allclose(cache[np.arange(2)].numpy(), want.numpy(), rtol=1e-5, atol=1e-6)

    class FakeAtari(gym.Env):
        """Random frames with a reward of 1 per step for action 0: an Atari-shaped env without a ROM."""
        observation_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
        action_space = gym.spaces.Discrete(6)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return self.np_random.integers(0, 255, (4, 84, 84), dtype=np.uint8), {}

        def step(self, a):
            self.t += 1
            return (self.np_random.integers(0, 255, (4, 84, 84), dtype=np.uint8), float(a == 0), False,
                    self.t >= 40, {})

    spec = get_env_spec("pong")
    ev = EvalConfig(episodes=3, targets=(5.0, 20.0), sample_actions=True, max_steps=40, parallel=6)
    cached = evaluate(model, spec, ev, env_fn=FakeAtari)
    plain = evaluate(model, spec, dc.replace(ev, cache_embeddings=False), env_fn=FakeAtari)
    assert cached.equals(plain)
