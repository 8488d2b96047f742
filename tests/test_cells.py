"""The GRU and RNN cells: a sequence call, and every single step, compute what a step-by-step reference loop of the
written equations computes, outputs and gradients alike; in the policy, what sb3-contrib's own step-by-step loop
computes, episode starts inside sequences included; and a brain of each cell trains, saves and loads."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.env_util import make_vec_env
from test_fast_lstm import ENV, HIDDEN, padded_batch, step_twins

from agents.brains.algorithm import FastRecurrentPPO
from agents.brains.cells import CELLS, GRU, RNN, cell_of, make_cell
from agents.brains.policies import FastRecurrentActorCriticPolicy, bucketed_lstm

T, N, IN, HID = 7, 3, 5, 6


def reference(cell: str, weights: dict[str, th.Tensor], sequence: th.Tensor, h: th.Tensor, leak: float = 1.0):
    """The written equations, one time step at a time, for a one-layer cell."""
    w_ih, w_hh, b_ih, b_hh = (weights[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    outputs = []
    for x in sequence:
        if cell == "rnn":  # h_t = (1 - a) h_{t-1} + a tanh(W_xh x_t + W_hh h_{t-1} + b_h)
            h = (1 - leak) * h + leak * th.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        else:  # GRU (PyTorch's convention: r, z, n)
            gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
            r = th.sigmoid(gi[:, :HID] + gh[:, :HID])
            z = th.sigmoid(gi[:, HID : 2 * HID] + gh[:, HID : 2 * HID])
            n = th.tanh(gi[:, 2 * HID :] + r * gh[:, 2 * HID :])
            h = (1 - z) * n + z * h
        outputs.append(h)
    return th.stack(outputs), h


@pytest.mark.parametrize(("cell", "leak"), [("gru", 1.0), ("rnn", 1.0), ("rnn", 0.2)])
def test_sequences_and_steps_match_the_equations(cell, leak):
    th.manual_seed(0)
    module = make_cell(cell, IN, HID, leak=leak)
    assert cell_of(module) == cell
    sequence = th.randn(T, N, IN)
    h0, c0 = th.randn(1, N, HID), th.zeros(1, N, HID)
    weights = dict(module.named_parameters())

    output, (h, c) = module(sequence, (h0, c0))
    expected, expected_h = reference(cell, weights, sequence, h0[0], leak)
    th.testing.assert_close(output, expected, rtol=1e-5, atol=1e-6)
    th.testing.assert_close(h[0], expected_h, rtol=1e-5, atol=1e-6)
    assert c is c0  # carried through untouched

    state, steps = (h0, c0), []
    for x in sequence:
        out, state = module.step(x, state)
        steps.append(out)
    th.testing.assert_close(th.stack(steps), expected, rtol=1e-5, atol=1e-6)

    # Gradients of the same loss through the module and through the reference agree.
    output.square().sum().backward()
    grads = {k: p.grad.clone() for k, p in module.named_parameters()}
    leaves = {k: p.detach().clone().requires_grad_() for k, p in module.named_parameters()}
    reference(cell, leaves, sequence, h0[0], leak)[0].square().sum().backward()
    for name, leaf in leaves.items():
        th.testing.assert_close(grads[name], leaf.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("cell", "leak"), [("gru", 1.0), ("rnn", 1.0), ("rnn", 0.5)])
def test_two_layers_match_the_equations_layer_upon_layer(cell, leak):
    th.manual_seed(1)
    module = make_cell(cell, IN, HID, num_layers=2, leak=leak)
    sequence, states = th.randn(T, N, IN), (th.randn(2, N, HID), th.zeros(2, N, HID))
    output, (h, _) = module(sequence, states)
    weights = dict(module.named_parameters())
    first, _ = reference(cell, weights, sequence, states[0][0], leak)
    layer1 = {k.replace("_l1", "_l0"): v for k, v in weights.items() if k.endswith("_l1")}
    expected, expected_h = reference(
        cell, {**layer1, "weight_ih_l0": layer1["weight_ih_l0"]}, first, states[0][1], leak
    )
    th.testing.assert_close(output, expected, rtol=1e-5, atol=1e-6)
    th.testing.assert_close(h[1], expected_h, rtol=1e-5, atol=1e-6)
    for x in sequence:
        out, states = module.step(x, states)
    th.testing.assert_close(out, output[-1], rtol=1e-5, atol=1e-6)
    th.testing.assert_close(states[0], h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_length_buckets_compute_what_one_padded_call_does(cell):
    th.manual_seed(2)
    module = make_cell(cell, IN, HID, leak=0.5 if cell == "rnn" else 1.0)
    lengths = np.array([12, 2, 3, 12, 1])
    sequence, states = th.randn(12, 5, IN), (th.randn(1, 5, HID), th.zeros(1, 5, HID))
    whole, _ = module(sequence, states)
    bucketed, (_, c) = bucketed_lstm(module, sequence, states, lengths)
    for i, length in enumerate(lengths):
        th.testing.assert_close(bucketed[:length, i], whole[:length, i], rtol=1e-5, atol=1e-6)
    assert not c.any()


def test_bad_cells_are_refused():
    with pytest.raises(ValueError, match="cell 'transformer' is not one of lstm, gru, rnn"):
        make_cell("transformer", IN, HID)
    with pytest.raises(ValueError, match=r"leak must be in \(0, 1\], got 0"):
        RNN(IN, HID, leak=0)
    with pytest.raises(ValueError, match="leak is a setting of the rnn cell"):
        make_cell("gru", IN, HID, leak=0.5)
    with pytest.raises(ValueError, match="a gru cell takes no dropout; only an lstm does"):
        make_cell("gru", IN, HID, num_layers=2, dropout=0.1)
    assert CELLS == ("lstm", "gru", "rnn") and isinstance(make_cell("gru", IN, HID), GRU)


CELL_KWARGS = [{"cell": "gru"}, {"cell": "rnn"}, {"cell": "rnn", "leak": 0.3},
               {"cell": "gru", "n_lstm_layers": 2}, {"cell": "rnn", "leak": 0.5, "enable_critic_lstm": False},
               {"cell": "gru", "enable_critic_lstm": False, "shared_lstm": True}]  # fmt: skip
CELL_IDS = ["gru", "rnn", "leaky_rnn", "gru_two_layers", "leaky_rnn_mlp_critic", "gru_shared"]


def twins(**kwargs):
    """Our policy with a cell, and a copy whose sequences go through sb3-contrib's step-by-step loop (the
    reference: one call per time step, states zeroed at every episode start)."""
    env = gym.make(ENV)
    args = (env.observation_space, env.action_space, lambda _: 3e-4)
    th.manual_seed(0)
    ours = FastRecurrentActorCriticPolicy(*args, lstm_hidden_size=HIDDEN, **kwargs)
    looped = FastRecurrentActorCriticPolicy(*args, lstm_hidden_size=HIDDEN, **kwargs)
    looped.load_state_dict(ours.state_dict())
    looped._process_sequence = RecurrentActorCriticPolicy._process_sequence
    return ours, looped, env


@pytest.mark.parametrize("kwargs", CELL_KWARGS, ids=CELL_IDS)
@pytest.mark.parametrize("start_inside", [False, True], ids=["starts_first", "start_inside"])
def test_training_pass_matches_the_step_loop(kwargs, start_inside):
    ours, looped, env = twins(**kwargs)
    assert cell_of(ours.lstm_actor) == kwargs["cell"]
    assert ours.lstm_critic is None or cell_of(ours.lstm_critic) == kwargs["cell"]
    layers = kwargs.get("n_lstm_layers", 1)
    obs, actions, states, starts = padded_batch(env, [7, 3, 12, 1, 9], [1, 0, 1, 1, 0], n_layers=layers)
    if start_inside:
        starts[4] = 1.0  # an episode start at the fifth step of the first sequence
    outputs, grads = [], []
    for policy in (looped, ours):
        policy.zero_grad()
        values, log_prob, entropy = policy.evaluate_actions(obs, actions, states, starts)
        (values.sum() + log_prob.sum() - entropy.sum()).backward()
        outputs.append((values, log_prob, entropy))
        grads.append({n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None})
    for a, b in zip(*outputs, strict=True):
        th.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert any("lstm_actor" in name for name in grads[0]) and grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        th.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("kwargs", CELL_KWARGS, ids=CELL_IDS)
def test_rollout_steps_match_the_step_loop(kwargs):
    ours, looped, env = twins(**kwargs)
    *steps, states = step_twins(looped, ours, env, steps=20, layers=kwargs.get("n_lstm_layers", 1))
    for out in steps:
        for a, b in zip(*out, strict=True):
            th.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert not states[1].pi[1].any()  # the unused c stays zero


@pytest.mark.parametrize("kwargs", CELL_KWARGS, ids=CELL_IDS)
def test_a_brain_of_every_cell_trains_saves_and_loads(kwargs, tmp_path):
    env = make_vec_env(ENV, n_envs=2, seed=0)
    model = FastRecurrentPPO(env=env, n_steps=32, batch_size=64, n_epochs=1, seed=0,
                             policy_kwargs={"lstm_hidden_size": 16, **kwargs})  # fmt: skip
    before = {n: p.detach().clone() for n, p in model.policy.named_parameters()}
    model.learn(64)
    assert any(not th.equal(before[n], p) for n, p in model.policy.named_parameters() if "lstm_actor" in n)
    model.save(tmp_path / "model.zip")
    loaded = RecurrentPPO.load(tmp_path / "model.zip", device="cpu")
    assert (loaded.policy.cell, loaded.policy.leak) == (kwargs["cell"], kwargs.get("leak", 1.0))
    assert cell_of(loaded.policy.lstm_actor) == kwargs["cell"]
    obs = env.reset()
    a, _ = model.predict(obs, episode_start=np.ones(2, dtype=bool), deterministic=True)
    b, _ = loaded.predict(obs, episode_start=np.ones(2, dtype=bool), deterministic=True)
    np.testing.assert_array_equal(a, b)


def test_train_py_settings_make_a_brain_of_the_cell(tmp_path):
    from conftest import TINY

    from agents.brains.store import find_brain, load_model
    from agents.config import resolve_config
    from agents.training.trainer import train

    config = resolve_config(ENV, "rppo", {**TINY, "total_steps": 128, "policy.cell": "rnn", "policy.leak": 0.5})
    train(config, tmp_path / "rnn", progress=False)
    brain = find_brain(str(tmp_path / "rnn"))
    assert brain.config.policy["cell"] == "rnn"
    model = load_model(brain)
    assert cell_of(model.policy.lstm_actor) == "rnn" and model.policy.lstm_actor.leak == 0.5
