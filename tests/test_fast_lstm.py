"""Our fast LSTM policy and buffer compute exactly what sb3-contrib's stock ones compute."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.env_util import make_vec_env

import envs  # noqa: F401
from agents.brains.algorithm import FastRecurrentPPO, FastRecurrentRolloutBuffer
from agents.brains.policies import FastRecurrentActorCriticPolicy

ENV = "neuromotor/Walker2d-Walk-v1"
HIDDEN = 32


def twin_policies(exact_steps=False, **policy_kwargs):
    env = gym.make(ENV)
    args = (env.observation_space, env.action_space, lambda _: 3e-4)
    kwargs = {"lstm_hidden_size": HIDDEN, **policy_kwargs}
    th.manual_seed(0)
    stock = RecurrentActorCriticPolicy(*args, **kwargs)
    ours = FastRecurrentActorCriticPolicy(*args, exact_steps=exact_steps, **kwargs)
    ours.load_state_dict(stock.state_dict())
    return stock, ours, env


def padded_batch(env, lengths, episode_start_first, n_layers=1, seed=0):
    """A minibatch laid out as the recurrent buffer lays it out: padded sequences, starts only at position 0."""
    rng = np.random.default_rng(seed)
    n_seq, max_len = len(lengths), max(lengths)
    obs = th.tensor(rng.normal(size=(n_seq, max_len, env.observation_space.shape[0])), dtype=th.float32)
    actions = th.tensor(rng.uniform(-1, 1, size=(n_seq, max_len, env.action_space.shape[0])), dtype=th.float32)
    starts = th.zeros(n_seq, max_len)
    starts[:, 0] = th.tensor(episode_start_first, dtype=th.float32)
    for i, length in enumerate(lengths):
        obs[i, length:] = 0.0
        actions[i, length:] = 0.0
    states = [th.tensor(rng.normal(size=(n_layers, n_seq, HIDDEN)), dtype=th.float32) for _ in range(4)]
    return (
        obs.reshape(n_seq * max_len, -1),
        actions.reshape(n_seq * max_len, -1),
        RNNStates((states[0], states[1]), (states[2], states[3])),
        starts.reshape(-1),
    )


@pytest.mark.parametrize(
    "policy_kwargs",
    [{}, {"n_lstm_layers": 2}, {"enable_critic_lstm": False, "shared_lstm": True}],
    ids=["default", "two_layers", "shared_lstm"],
)
def test_training_pass_matches_stock(policy_kwargs):
    stock, ours, env = twin_policies(**policy_kwargs)
    layers = policy_kwargs.get("n_lstm_layers", 1)
    batch = padded_batch(env, lengths=[7, 3, 12, 1, 9], episode_start_first=[1, 0, 1, 1, 0], n_layers=layers)
    outputs, grads = [], []
    for policy in (stock, ours):
        policy.zero_grad()
        values, log_prob, entropy = policy.evaluate_actions(*batch)
        (values.sum() + log_prob.sum() - entropy.sum()).backward()
        outputs.append((values, log_prob, entropy))
        grads.append({n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None})
    for a, b in zip(*outputs, strict=True):
        th.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert grads[0].keys() == grads[1].keys()
    assert any("lstm_actor" in name for name in grads[0])
    for name in grads[0]:
        th.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-5, msg=name)


def test_episode_start_inside_a_sequence_still_matches():
    stock, ours, env = twin_policies()
    obs, actions, states, starts = padded_batch(env, lengths=[10, 10], episode_start_first=[0, 1])
    starts[4] = 1.0  # an episode start mid-sequence: the fused call would be wrong, so ours must not use it
    expected = stock.evaluate_actions(obs, actions, states, starts)
    for a, b in zip(expected, ours.evaluate_actions(obs, actions, states, starts), strict=True):
        th.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def step_twins(reference, ours, env, *, steps=30, n_envs=4, layers=1, seed=1):
    """Step two policies side by side over random observations and episode starts (the first step starts every
    env); yields each step's outputs of both (actions, values, log-probabilities and every state), and finally the
    last states of both."""
    rng = np.random.default_rng(seed)
    zeros = tuple(th.zeros(layers, n_envs, HIDDEN) for _ in "hc")
    states = [RNNStates(zeros, zeros)] * 2
    for step in range(steps):
        obs = th.tensor(rng.normal(size=(n_envs, env.observation_space.shape[0])), dtype=th.float32)
        starts = th.tensor(rng.random(n_envs) < 0.2, dtype=th.float32) if step else th.ones(n_envs)
        out = []
        for i, policy in enumerate((reference, ours)):
            with th.no_grad():
                th.manual_seed(step)
                actions, values, log_prob, states[i] = policy(obs, states[i], starts)
            out.append((actions, values, log_prob, *states[i].pi, *states[i].vf))
        yield out
    yield states


@pytest.mark.parametrize("exact_steps", [True, False])
def test_rollout_steps_match_stock(exact_steps):
    stock, ours, env = twin_policies(exact_steps=exact_steps)
    *steps, _ = step_twins(stock, ours, env)
    for out in steps:
        for a, b in zip(*out, strict=True):
            if exact_steps:
                assert th.equal(a, b)
            else:
                th.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    rng, n_envs = np.random.default_rng(1), 4
    # predict() with numpy states, as evaluation uses it
    observation = rng.normal(size=(n_envs, env.observation_space.shape[0])).astype(np.float32)
    a, sa = stock.predict(observation, episode_start=np.ones(n_envs, dtype=bool), deterministic=True)
    b, sb = ours.predict(observation, episode_start=np.ones(n_envs, dtype=bool), deterministic=True)
    np.testing.assert_allclose(a, b, atol=0 if exact_steps else 1e-6)
    np.testing.assert_allclose(sa[0], sb[0], atol=0 if exact_steps else 1e-6)


def fill(buffer, rng):
    for _ in range(buffer.buffer_size):
        n = buffer.n_envs
        states = RNNStates(*[tuple(th.tensor(rng.normal(size=(1, n, HIDDEN)), dtype=th.float32) for _ in "hc")] * 2)
        buffer.add(
            rng.normal(size=(n, *buffer.obs_shape)).astype(np.float32),
            rng.uniform(-1, 1, size=(n, buffer.action_dim)).astype(np.float32),
            rng.normal(size=n),
            rng.random(n) < 0.1,
            th.tensor(rng.normal(size=(n, 1))),
            th.tensor(rng.normal(size=n)),
            lstm_states=states,
        )
    buffer.compute_returns_and_advantage(last_values=th.zeros(buffer.n_envs, 1), dones=np.zeros(buffer.n_envs))


@pytest.mark.parametrize("batch_size", [64, 200, 256])
def test_fast_buffer_pads_like_stock(batch_size):
    env = gym.make(ENV)
    args = (64, env.observation_space, env.action_space, (64, 1, 4, HIDDEN))
    stock, fast = RecurrentRolloutBuffer(*args, n_envs=4), FastRecurrentRolloutBuffer(*args, n_envs=4)
    for buffer in (stock, fast):
        fill(buffer, np.random.default_rng(0))
    np.random.seed(3)
    stock_batches = list(stock.get(batch_size))
    np.random.seed(3)
    fast_batches = list(fast.get(batch_size))
    assert len(stock_batches) == len(fast_batches) > 0
    for a, b in zip(stock_batches, fast_batches, strict=True):
        for field in a._fields:
            x, y = getattr(a, field), getattr(b, field)
            if field == "lstm_states":
                for s, t in zip((*x.pi, *x.vf), (*y.pi, *y.vf), strict=True):
                    assert th.equal(s, t)
            else:
                assert x.dtype == y.dtype and th.equal(x, y), field


def test_fast_model_loads_with_plain_recurrent_ppo(tmp_path):
    env = make_vec_env(ENV, n_envs=2, seed=0)
    model = FastRecurrentPPO(
        env=env, n_steps=32, batch_size=64, n_epochs=1, seed=0, policy_kwargs={"lstm_hidden_size": 16}
    )
    model.learn(64)
    model.save(tmp_path / "model.zip")
    loaded = RecurrentPPO.load(tmp_path / "model.zip", device="cpu")
    assert isinstance(loaded.policy, FastRecurrentActorCriticPolicy)
    obs = env.reset()
    a, _ = model.predict(obs, episode_start=np.ones(2, dtype=bool), deterministic=True)
    b, _ = loaded.predict(obs, episode_start=np.ones(2, dtype=bool), deterministic=True)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lengths", [[40, 3, 2, 2, 1, 38, 2, 1, 1, 1, 2, 3, 1, 1, 2, 1], [7, 3, 12, 1, 9]])
def test_length_buckets_skip_padding_and_match_stock(lengths):
    from agents.brains.policies import length_buckets

    stock, ours, env = twin_policies()
    n = len(lengths)
    batch = padded_batch(env, lengths=lengths, episode_start_first=[i % 2 for i in range(n)])
    known = np.array(lengths)
    groups = length_buckets(known)
    assert sorted(np.concatenate(groups).tolist()) == list(range(n))
    ours.sequence_lengths = lambda: known
    mask = (th.arange(max(lengths))[None, :] < th.tensor(lengths)[:, None]).flatten()
    outputs, grads = [], []
    for policy in (stock, ours):
        policy.zero_grad()
        values, log_prob, _ = policy.evaluate_actions(*batch)
        # Padded steps are masked out of the loss, as RecurrentPPO masks them.
        (values.flatten()[mask].sum() + log_prob[mask].sum()).backward()
        outputs.append((values.flatten()[mask], log_prob[mask]))
        grads.append({name: p.grad.clone() for name, p in policy.named_parameters() if p.grad is not None})
    for a, b in zip(*outputs, strict=True):
        th.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for name in grads[0]:
        th.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-5, msg=name)


def test_length_buckets_split_only_where_padding_costs_more_than_a_call():
    from agents.brains.policies import length_buckets

    assert len(length_buckets(np.array([128, 120, 126]))) == 1  # nearly equal: one call
    many_short = np.array([200] + [5] * 60)
    groups = length_buckets(many_short)
    assert [len(g) for g in groups] == [1, 60]


def test_fast_recurrent_ppo_tells_the_policy_the_lengths_only_while_training_with_buckets_on():
    env = make_vec_env(ENV, n_envs=2, seed=0)
    kwargs = {"lstm_hidden_size": HIDDEN, "bucket_sequences": True}
    model = FastRecurrentPPO(env=env, n_steps=32, batch_size=32, n_epochs=1, policy_kwargs=kwargs, seed=0)
    seen = []
    original = model.policy._process_sequence

    def spy(features, states, starts, lstm):
        if model.policy.sequence_lengths is not None:
            seen.append(model.policy.sequence_lengths())
        return original(features, states, starts, lstm)

    model.policy._process_sequence = spy
    model.learn(64)
    assert seen and all(lengths is not None and lengths.sum() == 32 for lengths in seen)
    assert model.policy.sequence_lengths is None


def test_buckets_are_off_by_default():
    """Without ``bucket_sequences`` training computes exactly what it did before buckets existed."""
    env = make_vec_env(ENV, n_envs=2, seed=0)
    model = FastRecurrentPPO(env=env, n_steps=32, batch_size=32, n_epochs=1, policy_kwargs={"lstm_hidden_size": 8})
    assert model.policy.bucket_sequences is False
    seen = []
    original = model.policy._process_sequence

    def spy(features, states, starts, lstm):
        seen.append(model.policy.sequence_lengths)
        return original(features, states, starts, lstm)

    model.policy._process_sequence = spy
    model.learn(64)
    assert seen and all(lengths is None for lengths in seen)
