"""The brain: sb3-contrib's LSTM actor-critic (or the same with a GRU or an RNN cell), computed without its
per-timestep Python loop.

Stock ``RecurrentActorCriticPolicy._process_sequence`` steps through time in Python whenever any sequence in a
minibatch starts an episode, which is almost always (sb3-contrib issue #113). But the recurrent rollout buffer cuts
sequences at episode starts, so an episode start can only be the first step of a sequence: zeroing those sequences'
initial states and making one LSTM call over the padded batch computes the same function. Inputs that break that
layout (an episode start later in a sequence) take the stock path, so the result never changes.

Two more costs go, neither changing the maths:

- Single steps (rollouts, ``predict``) go through ``torch.lstm_cell``: at batch sizes of a few envs the fused
  ``nn.LSTM`` kernel (oneDNN on CPU) spends ~100 us setting up a one-step sequence, the cell ~30 us. The two kernels
  round differently in the last float32 bits (3e-8 measured); ``exact_steps=True`` keeps the stock kernel and makes
  single steps bit-identical to the stock policy.
- The Gaussian action distribution is built without ``torch.distributions`` argument validation, which re-checks
  every mean and std on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.distributions import DiagGaussianDistribution, Distribution
from torch import nn
from torch.distributions import Normal

from agents.brains.cells import make_cell

#: Alias under which RecurrentPPO finds the policy: ``RecurrentPPO("FastMlpLstmPolicy", env)``.
FAST_POLICY = "FastMlpLstmPolicy"


def lstm_step(lstm: nn.LSTM, inputs: th.Tensor, states: tuple[th.Tensor, th.Tensor]) -> tuple[th.Tensor, tuple]:
    """One time step of a unidirectional ``nn.LSTM`` through ``torch.lstm_cell``, layer by layer.

    ``inputs`` is ``(batch, input_size)``; ``states`` are ``(num_layers, batch, hidden_size)``. Returns the top
    layer's output ``(batch, hidden_size)`` and the new states.
    """
    hidden, cell = [], []
    layer_input = inputs
    for layer in range(lstm.num_layers):
        biases = (getattr(lstm, f"bias_ih_l{layer}"), getattr(lstm, f"bias_hh_l{layer}")) if lstm.bias else (None, None)
        h, c = th.lstm_cell(
            layer_input,
            (states[0][layer], states[1][layer]),
            getattr(lstm, f"weight_ih_l{layer}"),
            getattr(lstm, f"weight_hh_l{layer}"),
            *biases,
        )
        hidden.append(h)
        cell.append(c)
        layer_input = h
    return layer_input, (th.stack(hidden), th.stack(cell))


def length_buckets(lengths: np.ndarray, call_cost: float = 100.0, step_cost: float = 3.0) -> list[np.ndarray]:
    """Sequence indices grouped, longest first, so that running each group padded to its own longest costs least.

    An LSTM call over ``n`` sequences of ``T`` steps is modelled as costing ``call_cost + T * (step_cost + n)``, in
    units of one sequence-step: measured fwd+bwd on a 2-core CPU at hidden sizes 128 and 256, a call's fixed cost is
    about 100 sequence-steps and each time step's about 3, so splitting pays only where many short sequences sit
    beside a long one. The grouping is the optimum over contiguous runs of the sorted lengths (a small dynamic
    programme).
    """
    order = np.argsort(-lengths, kind="stable")
    longest = lengths[order].astype(np.float64)
    n = len(order)
    best = np.zeros(n + 1)
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        costs = best[:end] + call_cost + longest[:end] * (step_cost + end - np.arange(end))
        cut[end] = int(np.argmin(costs))
        best[end] = costs[cut[end]]
    groups, end = [], n
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    return groups[::-1]


def bucketed_lstm(
    lstm: nn.LSTM,
    sequence: th.Tensor,
    states: tuple[th.Tensor, th.Tensor],
    lengths: np.ndarray,
    groups: list[np.ndarray] | None = None,
) -> tuple[th.Tensor, tuple[th.Tensor, th.Tensor]]:
    """``lstm(sequence, states)`` for padded sequences of known ``lengths``, one call per length bucket.

    Each sequence's steps depend only on its own inputs and states, so running sequences of similar length
    together computes the same outputs at every valid step while skipping most of the padding (minibatches of
    early training are mostly padding: one long sequence beside many short episodes). Padded steps' outputs are
    zeros; returned states are each group's after its own longest sequence (padded steps' outputs and final states
    are unused in training, and are not meaningful in the stock layout either). ``groups`` default to
    :func:`length_buckets` of ``lengths``.
    """
    total = sequence.shape[0]
    groups = length_buckets(lengths) if groups is None else groups
    if len(groups) == 1:
        return lstm(sequence, states)
    outputs, hidden, cell = [], [], []
    for group in groups:
        index = th.as_tensor(group, device=sequence.device)
        steps = int(lengths[group[0]])
        output, (h, c) = lstm(sequence[:steps, index], (states[0][:, index], states[1][:, index]))
        outputs.append(nn.functional.pad(output, (0, 0, 0, 0, 0, total - steps)))
        hidden.append(h)
        cell.append(c)
    # Back from bucket order to the minibatch's order.
    inverse = th.as_tensor(np.argsort(np.concatenate(groups), kind="stable"), device=sequence.device)
    return th.cat(outputs, dim=1)[:, inverse], (th.cat(hidden, dim=1)[:, inverse], th.cat(cell, dim=1)[:, inverse])


def _cell_compatible(lstm: nn.LSTM) -> bool:
    """Whether :func:`lstm_step` computes exactly what ``lstm`` does for one step."""
    dropout_active = lstm.training and lstm.dropout > 0 and lstm.num_layers > 1
    return not (lstm.bidirectional or lstm.batch_first or lstm.proj_size or dropout_active)


class FastRecurrentActorCriticPolicy(RecurrentActorCriticPolicy):
    """``MlpLstmPolicy`` with the same maths and without the per-timestep Python loop.

    Args:
        exact_steps: Compute single steps with the stock ``nn.LSTM`` kernel (bit-identical to the stock policy,
            ~2.5x slower per rollout step on CPU) instead of ``torch.lstm_cell``.
        bucket_sequences: In training, run the padded minibatch's sequences in length buckets
            (:func:`bucketed_lstm`): the same function with less padding, but rounded differently in the last float32
            bits, so a seed's run no longer repeats one trained without it step for step. Off by default.
        cell: The recurrent cell of the actor and of the critic (``lstm``, ``gru`` or ``rnn``,
            :mod:`agents.brains.cells`); the names ``lstm_*`` keep sb3-contrib's meaning for every cell.
        leak: The ``rnn`` cell's leak (1: the vanilla RNN).
        *args, **kwargs: As for :class:`sb3_contrib.common.recurrent.policies.RecurrentActorCriticPolicy`.
    """

    def __init__(
        self,
        *args: Any,
        exact_steps: bool = False,
        bucket_sequences: bool = False,
        cell: str = "lstm",
        leak: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.exact_steps = exact_steps
        self.bucket_sequences = bucket_sequences
        self.cell, self.leak = cell, float(leak)
        #: While training: returns the true lengths of the padded minibatch's sequences (``None`` when unknown).
        #: Set by :class:`~agents.brains.algorithm.FastRecurrentPPO` around its training epochs.
        self.sequence_lengths: Callable[[], np.ndarray | None] | None = None
        self._buckets: tuple[np.ndarray, list[np.ndarray]] | None = None
        super().__init__(*args, **kwargs)
        if cell != "lstm" or leak != 1.0:
            self._swap_cells(args[2] if len(args) > 2 else kwargs["lr_schedule"])

    def _swap_cells(self, lr_schedule: Callable[[float], float]) -> None:
        """Replace the LSTMs sb3-contrib built with cells of kind ``self.cell``, and the optimizer with one over
        them (sb3-contrib builds it last, over the LSTMs)."""
        for name in ("lstm_actor", "lstm_critic"):
            lstm = getattr(self, name)
            if isinstance(lstm, nn.LSTM):
                module = make_cell(self.cell, lstm.input_size, lstm.hidden_size, lstm.num_layers, leak=self.leak,
                                   bias=lstm.bias, dropout=lstm.dropout, batch_first=lstm.batch_first,
                                   proj_size=lstm.proj_size, bidirectional=lstm.bidirectional)  # fmt: skip
                setattr(self, name, module.to(self.device))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {
            **super()._get_constructor_parameters(),
            "exact_steps": self.exact_steps,
            "bucket_sequences": self.bucket_sequences,
            "cell": self.cell,
            "leak": self.leak,
        }

    def _process_sequence(
        self,
        features: th.Tensor,
        lstm_states: tuple[th.Tensor, th.Tensor],
        episode_starts: th.Tensor,
        lstm: nn.LSTM,
    ) -> tuple[th.Tensor, tuple[th.Tensor, th.Tensor]]:
        n_seq = lstm_states[0].shape[1]
        # (n_seq * length, features) -> (length, n_seq, features), as the stock policy lays sequences out.
        sequence = features.reshape((n_seq, -1, lstm.input_size)).swapaxes(0, 1)
        starts = episode_starts.reshape((n_seq, -1)).swapaxes(0, 1)
        if starts.shape[0] > 1 and bool(starts[1:].any()):
            return RecurrentActorCriticPolicy._process_sequence(features, lstm_states, episode_starts, lstm)
        keep = (1.0 - starts[0]).view(1, n_seq, 1)
        states = (keep * lstm_states[0], keep * lstm_states[1])
        if sequence.shape[0] == 1 and not self.exact_steps:
            if not isinstance(lstm, nn.LSTM):
                return lstm.step(sequence[0], states)
            if _cell_compatible(lstm):
                return lstm_step(lstm, sequence[0], states)
        lengths = self.sequence_lengths() if self.sequence_lengths is not None else None
        if lengths is not None and len(lengths) == n_seq and int(lengths.max()) == sequence.shape[0]:
            # The actor's and the critic's LSTM see the same minibatch: group its sequences once.
            if self._buckets is None or self._buckets[0] is not lengths:
                self._buckets = (lengths, length_buckets(lengths))
            output, states = bucketed_lstm(lstm, sequence, states, lengths, self._buckets[1])
        else:
            output, states = lstm(sequence, states)
        return th.flatten(output.transpose(0, 1), start_dim=0, end_dim=1), states

    def _get_action_dist_from_latent(self, latent_pi: th.Tensor) -> Distribution:
        if not isinstance(self.action_dist, DiagGaussianDistribution):
            return super()._get_action_dist_from_latent(latent_pi)
        mean = self.action_net(latent_pi)
        # Same Normal as SB3 builds, minus torch.distributions' per-call argument checks.
        self.action_dist.distribution = Normal(mean, th.ones_like(mean) * self.log_std.exp(), validate_args=False)
        return self.action_dist


RecurrentPPO.policy_aliases[FAST_POLICY] = FastRecurrentActorCriticPolicy


class _NoOptimizer:
    """Stands in for a loaded brain's optimizer when it will only act: building a torch optimizer imports torch's
    compiler (about 1.6 s), and acting needs none. It keeps the saved optimizer state as it was read, so that the
    brain saved again still loads for training."""

    def __init__(self, params: Any, **kwargs: Any) -> None:
        self._state: dict[str, Any] = {}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> None:
        self._state = state_dict

    def state_dict(self) -> dict[str, Any]:
        return self._state


class InferenceRecurrentPolicy(FastRecurrentActorCriticPolicy):
    """:class:`FastRecurrentActorCriticPolicy` without an optimizer, for brains loaded to act (evaluation, analysis,
    teachers, warm-start sources); it cannot be trained."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "optimizer_class": _NoOptimizer})
