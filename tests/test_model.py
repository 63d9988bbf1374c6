import dataclasses
import math

import pytest
import torch

from dtlib.model import FRAME_ENCODERS, CausalSelfAttention, DecisionTransformer, MLPBC, ModelConfig, PackedDropout

B, K = 3, 6


def batch(cfg: ModelConfig, k: int = K, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    if cfg.encoder == "embedding":
        states = torch.stack([torch.randint(0, v, (B, k), generator=g) for v in cfg.obs_vocab], -1)
    elif cfg.encoder in FRAME_ENCODERS:
        states = torch.randint(0, 255, (B, k, *cfg.obs_shape), generator=g, dtype=torch.uint8)
    else:
        states = torch.randn(B, k, *cfg.obs_shape, generator=g)
    actions = (torch.randint(0, cfg.act_dim, (B, k), generator=g) if cfg.discrete
               else torch.rand(B, k, cfg.act_dim, generator=g) * 2 - 1)
    return {"states": states, "actions": actions, "rtg": torch.rand(B, k, generator=g) * 100,
            "timesteps": torch.arange(k).repeat(B, 1) + 3, "mask": torch.ones(B, k)}


CONFIGS = {
    "gym": ModelConfig(obs_shape=(5,), act_dim=2, context_len=K, n_layer=2, n_head=2, embed_dim=32, dropout=0.0),
    "discrete": ModelConfig(obs_shape=(2,), act_dim=4, discrete=True, encoder="embedding", obs_vocab=(3, 7),
                            context_len=K, n_layer=2, embed_dim=32, dropout=0.0, return_scale=1.0),
    "atari": ModelConfig(obs_shape=(4, 84, 84), act_dim=4, discrete=True, encoder="cnn", context_len=K,
                         n_layer=1, n_head=8, embed_dim=32, dropout=0.0, activation="gelu"),
    "no_returns": ModelConfig(obs_shape=(5,), act_dim=2, context_len=K, n_layer=2, embed_dim=32, dropout=0.0,
                              use_returns=False),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_prediction_at_step_t_ignores_everything_after_it(name):
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    model = DecisionTransformer(cfg).eval()
    a, b = batch(cfg, seed=0), batch(cfg, seed=1)
    t = 2
    mixed = {k: torch.cat([a[k][:, : t + 1], b[k][:, t + 1:]], dim=1) for k in a}
    # the action *at* step t is after the state token of step t, so it may change too
    mixed["actions"][:, t] = b["actions"][:, t]
    pa, pm = model(a)["action"], model(mixed)["action"]
    torch.testing.assert_close(pa[:, : t + 1], pm[:, : t + 1])
    assert not torch.allclose(pa[:, t + 1:], pm[:, t + 1:])  # later steps did see the change


@pytest.mark.parametrize("name", CONFIGS)
def test_left_padding_does_not_change_the_prediction(name):
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    model = DecisionTransformer(cfg).eval()
    short = batch(cfg, k=3)
    padded = {k: torch.cat([torch.zeros_like(v[:, :3]) if k != "states" else torch.full_like(v[:, :3], 1),
                            v], dim=1) for k, v in short.items()}
    padded["mask"][:, :3] = 0  # three padded steps (with junk values) on the left
    torch.testing.assert_close(model(short)["action"][:, -1], model(padded)["action"][:, -1])


@pytest.mark.parametrize("name", CONFIGS)
def test_last_only_predicts_what_the_full_forward_predicts_at_the_last_step(name):
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    model = DecisionTransformer(cfg).eval()
    x = batch(cfg)
    x["mask"][0, :2] = 0  # one left-padded window
    full, last = model(x)["action"], model(x, last_only=True)["action"]
    assert last.shape == (B, 1, full.shape[-1])
    torch.testing.assert_close(last[:, 0], full[:, -1])
    torch.testing.assert_close(model.act(x), full[:, -1] if not cfg.discrete else full[:, -1].argmax(-1))
    with pytest.raises(ValueError, match="need_weights"):
        model(x, need_weights=True, last_only=True)


@pytest.mark.parametrize("name", CONFIGS)
def test_last_block_at_state_tokens_only_predicts_what_every_token_predicts(name):
    """The training forward computes the last block at the K state tokens only; `need_weights` computes all 3K
    tokens in every block: both give the same actions (and returns), up to float rounding."""
    cfg = dataclasses.replace(CONFIGS[name], return_head=True)
    torch.manual_seed(0)
    model = DecisionTransformer(cfg).eval()
    x = batch(cfg)
    x["mask"][0, :2] = 0
    fast, full = model(x), model(x, need_weights=True)
    torch.testing.assert_close(fast["action"], full["action"])
    torch.testing.assert_close(fast["return"], full["return"])


def test_return_head_and_attention_weights():
    cfg = ModelConfig(obs_shape=(5,), act_dim=2, context_len=K, n_layer=2, n_head=2, embed_dim=32,
                      return_head=True, dropout=0.0)
    model = DecisionTransformer(cfg).eval()
    out = model(batch(cfg), need_weights=True)
    assert out["return"].shape == (B, K)
    att = out["attention"]
    assert att.shape == (B, 2, 2, 3 * K, 3 * K)
    torch.testing.assert_close(att.sum(-1), torch.ones(B, 2, 2, 3 * K))  # rows are distributions
    assert (att.triu(1) == 0).all()  # causal: no weight on future tokens
    loss, metrics = model.loss(batch(cfg))
    assert {"train/action_loss", "train/return_loss"} <= set(metrics)


def test_heads_and_losses_per_action_type():
    cont = DecisionTransformer(CONFIGS["gym"])
    pred = cont(batch(CONFIGS["gym"]))["action"]
    assert pred.shape == (B, K, 2) and pred.abs().max() <= 1  # tanh head
    disc = DecisionTransformer(CONFIGS["discrete"])
    assert disc(batch(CONFIGS["discrete"]))["action"].shape == (B, K, 4)  # logits
    assert disc.act(batch(CONFIGS["discrete"])).shape == (B,)
    g = torch.Generator().manual_seed(0)
    assert disc.act(batch(CONFIGS["discrete"]), sample=True, generator=g).dtype == torch.int64


def test_paper_atari_encoder_shape():
    model = DecisionTransformer(CONFIGS["atari"])
    conv = model.embed_state.conv
    assert [m.out_channels for m in conv if isinstance(m, torch.nn.Conv2d)] == [32, 64, 64]
    assert [m.kernel_size[0] for m in conv if isinstance(m, torch.nn.Conv2d)] == [8, 4, 3]
    assert [m.stride[0] for m in conv if isinstance(m, torch.nn.Conv2d)] == [4, 2, 1]
    assert model.embed_state.proj[0].in_features == 3136


def test_mlp_bc_uses_only_recent_states():
    cfg = ModelConfig(obs_shape=(5,), act_dim=2, context_len=K, embed_dim=16, dropout=0.0)
    bc = MLPBC(cfg).eval()
    a = batch(cfg)
    b = dict(a, actions=torch.zeros_like(a["actions"]), rtg=torch.zeros_like(a["rtg"]))
    torch.testing.assert_close(bc.act(a), bc.act(b))
    assert bc.act(a).shape == (B, 2)


def test_a_timestep_past_the_embedding_is_an_error_never_clamped():
    model = DecisionTransformer(dataclasses.replace(CONFIGS["gym"], max_ep_len=9))
    ok = batch(model.cfg)  # timesteps 3..8: the embedding's last row is 8
    model(ok)
    ok["timesteps"][:, -1] = 9  # the old model read row 8 for it: two steps with one timestep, silently
    with pytest.raises(IndexError):
        model(ok)


def test_wrong_observation_shape_is_named():
    model = DecisionTransformer(CONFIGS["gym"])
    bad = batch(CONFIGS["gym"])
    bad["states"] = bad["states"][..., :4]
    with pytest.raises(ValueError, match=r"observations have shape \(4,\).*expects \(5,\)"):
        model(bad)


def test_packed_dropout_drops_p_keeps_the_mean_is_seeded_and_backpropagates_its_mask():
    drop = PackedDropout(0.1)
    assert drop.p == 6554 / 65536  # p rounded to 16 bits
    x = torch.ones(1_000_000, requires_grad=True)
    torch.manual_seed(0)
    y = drop(x)
    kept = y > 0
    assert abs(1 - kept.float().mean().item() - 0.1) < 0.002  # about 7 standard errors
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - drop.p)))
    assert abs(y.mean().item() - 1.0) < 0.005
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # torch's global seed decides the masks
    assert not torch.equal(drop(x), y)
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(x * mask)/dx = mask
    lanes = drop(torch.ones(400_000)).view(-1, 4) > 0  # each of a word's four 16-bit lanes drops ~p
    assert ((1 - lanes.float().mean(0) - 0.1).abs() < 0.005).all()
    assert drop(torch.ones(7, 3, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert torch.equal(drop.eval()(x), x) and torch.equal(PackedDropout(0.0).train()(x), x)


def test_packed_dropout_is_a_model_option_and_bad_values_are_named():
    cfg = dataclasses.replace(CONFIGS["gym"], dropout=0.1, dropout_masks="packed")
    for model in (DecisionTransformer(cfg), MLPBC(cfg)):
        drops = [m for m in model.modules() if isinstance(m, (PackedDropout, torch.nn.Dropout))]
        assert drops and all(isinstance(m, PackedDropout) for m in drops)
    model = DecisionTransformer(cfg).eval()  # inference is unchanged: no dropout at all
    ref = DecisionTransformer(dataclasses.replace(cfg, dropout_masks="bernoulli")).eval()
    ref.load_state_dict(model.state_dict())
    assert torch.equal(model(batch(cfg))["action"], ref(batch(cfg))["action"])
    with pytest.raises(ValueError, match="dropout_masks='fast'"):
        ModelConfig(obs_shape=(5,), act_dim=2, dropout_masks="fast")
    with pytest.raises(ValueError, match="dropout must be in"):
        ModelConfig(obs_shape=(5,), act_dim=2, dropout=1.0)


@pytest.mark.parametrize("n_head", [1, 4])
def test_written_out_attention_computes_what_the_fused_kernel_computes(n_head):
    """Training with packed masks takes the written-out attention; with every drop probability set to 0 it must
    give the fused kernel's loss and gradients (eval mode: torch's kernel, no dropout), left padding included."""
    cfg = ModelConfig(obs_shape=(5,), act_dim=2, context_len=K, n_layer=2, n_head=n_head, embed_dim=32,
                      dropout=0.1, dropout_masks="packed")
    torch.manual_seed(0)
    written = DecisionTransformer(cfg).train()
    assert all(b.attn.packed is not None for b in written.blocks)
    for m in written.modules():
        if isinstance(m, PackedDropout):
            m.cut, m.p = 0, 0.0  # keep every weight: the written-out path, without its randomness
    fused = DecisionTransformer(cfg).eval()
    fused.load_state_dict(written.state_dict())
    b = batch(cfg)
    b["mask"][0, :2] = 0  # a left-padded window
    grads = {}
    for name, model in (("written", written), ("fused", fused)):
        loss = model.loss(b)[0]
        grads[name] = [loss.detach()] + list(torch.autograd.grad(loss, list(model.parameters())))
    for g_w, g_f in zip(grads["written"], grads["fused"]):
        assert torch.allclose(g_w, g_f, rtol=1e-4, atol=1e-6)


def test_written_out_attention_drops_weights_at_rate_p_and_repeats_with_the_seed():
    cfg = ModelConfig(obs_shape=(5,), act_dim=2, n_head=4, embed_dim=32, dropout=0.1, dropout_masks="packed")
    attn = CausalSelfAttention(cfg).train()
    t = 100
    q = k = torch.zeros(200, 4, t, 1)  # every query weighs the keys it may see (0 .. i) alike
    v = torch.ones(200, 4, t, 1)
    causal = torch.zeros(t, t).masked_fill_(~torch.ones(t, t, dtype=torch.bool).tril(), -math.inf).expand(200, 1, t, t)
    torch.manual_seed(0)
    y = attn._written_out(q, k, v, causal)  # (kept weights / (i + 1)) / (1 - p) at query i
    kept_last = y[:, :, -1] * (1 - attn.packed.p) * t  # the last query sees all t keys
    assert abs(1 - kept_last.mean().item() / t - 0.1) < 0.005  # the fraction dropped is p (5 standard errors)
    assert abs(y.mean().item() - 1.0) < 0.005  # and the output's expectation is unchanged
    assert torch.equal(y[:, :, 0], torch.where(y[:, :, 0] > 0, 1 / (1 - attn.packed.p), 0.0))  # query 0: key 0 only
    torch.manual_seed(0)
    assert torch.equal(attn._written_out(q, k, v, causal), y)
    bern = CausalSelfAttention(dataclasses.replace(cfg, dropout_masks="bernoulli"))
    no_drop = CausalSelfAttention(dataclasses.replace(cfg, dropout=0.0))
    assert bern.packed is None and no_drop.packed is None  # these keep torch's kernel


def test_frozen_cnn_encoder_is_the_behaviour_torso_and_never_trains():
    """encoder='frozen_cnn': the snapshot's conv torso exactly, held in buffers (no gradient, no optimizer state),
    with only the Linear on top trained; a missing snapshot fails by name."""
    from dtlib.atari_behaviour import best_snapshot, load_snapshot
    from dtlib.paths import project_root
    from dtlib.train import SupervisedLearner, TrainConfig

    weights = best_snapshot("pong").relative_to(project_root()).as_posix()
    cfg = dataclasses.replace(CONFIGS["atari"], encoder="frozen_cnn", encoder_weights=weights, act_dim=6)
    torch.manual_seed(0)
    model = DecisionTransformer(cfg)
    net = load_snapshot(project_root() / weights, 6)
    x = torch.randint(0, 255, (5, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(model.embed_state.torso(x), net.torso(x.float() / 255.0))
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.startswith("embed_state.") and "proj" not in n for n in names)
    frozen = {n: b.clone() for n, b in model.named_buffers() if n.startswith("embed_state.")}
    assert len(frozen) == 6
    learner = SupervisedLearner(model, TrainConfig(steps=3, batch_size=B, lr=1e-2, warmup_steps=1))
    proj_before = model.embed_state.proj[0].weight.detach().clone()
    for seed in range(3):
        learner.update(batch(cfg, seed=seed))
    for n, b in model.named_buffers():
        if n in frozen:
            assert torch.equal(b, frozen[n]), n
    assert not torch.equal(model.embed_state.proj[0].weight, proj_before)  # the Linear on top learns
    with pytest.raises(FileNotFoundError, match="encoder_weights='behaviour/atari/pong/nope.pt'"):
        DecisionTransformer(dataclasses.replace(cfg, encoder_weights="behaviour/atari/pong/nope.pt"))
    with pytest.raises(ValueError, match="needs encoder_weights"):
        DecisionTransformer(dataclasses.replace(cfg, encoder_weights=""))
