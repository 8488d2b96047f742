"""RecurrentPPO with the fast policy and a rollout buffer that pads sequences with one gather per array.

The stock ``RecurrentRolloutBuffer`` pads every minibatch by building one tensor per sequence per array in Python.
:class:`FastRecurrentRolloutBuffer` produces the same tensors with NumPy fancy indexing. Models trained with
:class:`FastRecurrentPPO` save the same files as RecurrentPPO and load with plain ``sb3_contrib.RecurrentPPO.load``
(``agents`` must be importable, for the policy class; :func:`agents.brains.models.load_algorithm` also loads
models saved before the policy moved to :mod:`agents.brains.policies`).
"""

from __future__ import annotations

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RecurrentRolloutBufferSamples, RNNStates
from stable_baselines3.common.vec_env import VecNormalize

from agents.brains.policies import FAST_POLICY, FastRecurrentActorCriticPolicy


class FastRecurrentRolloutBuffer(RecurrentRolloutBuffer):
    """``RecurrentRolloutBuffer`` whose minibatches are padded by a vectorised gather (identical output).

    It also keeps the true lengths of the last minibatch's sequences in :attr:`sequence_lengths`, so that the
    policy can skip the padding (see :func:`~agents.brains.policies.bucketed_lstm`), and the buffer index of each of
    its padded slots in :attr:`gather` (``padding`` marks the slots that are padding), so subclasses can pad arrays
    of their own alike.
    """

    sequence_lengths: np.ndarray | None = None
    gather: np.ndarray | None = None
    padding: np.ndarray | None = None

    def _get_samples(
        self,
        batch_inds: np.ndarray,
        env_change: np.ndarray,
        env: VecNormalize | None = None,
    ) -> RecurrentRolloutBufferSamples:
        # A sequence starts at every episode start, every change of env, and the start of the minibatch.
        starts = np.logical_or(self.episode_starts[batch_inds], env_change[batch_inds]).flatten()
        starts[0] = True
        self.seq_start_indices = np.flatnonzero(starts)
        lengths = np.diff(np.append(self.seq_start_indices, len(batch_inds)))
        self.sequence_lengths = lengths
        steps = np.arange(lengths.max())
        valid = steps[None, :] < lengths[:, None]
        # (n_seq, max_length) buffer indices; padded slots point anywhere valid and are zeroed below.
        gather = batch_inds[np.where(valid, self.seq_start_indices[:, None] + steps[None, :], 0)]
        padding = ~valid
        self.gather, self.padding = gather, padding

        def pad(array: np.ndarray) -> th.Tensor:
            out = array[gather]
            out[padding] = 0
            return self.to_torch(out.reshape(-1, *array.shape[1:]))

        first = batch_inds[self.seq_start_indices]

        def initial(states: np.ndarray) -> th.Tensor:
            return self.to_torch(states[first].swapaxes(0, 1)).contiguous()

        return RecurrentRolloutBufferSamples(
            observations=pad(self.observations).reshape((-1, *self.obs_shape)),
            actions=pad(self.actions),
            old_values=pad(self.values).flatten(),
            old_log_prob=pad(self.log_probs).flatten(),
            advantages=pad(self.advantages).flatten(),
            returns=pad(self.returns).flatten(),
            lstm_states=RNNStates(
                (initial(self.hidden_states_pi), initial(self.cell_states_pi)),
                (initial(self.hidden_states_vf), initial(self.cell_states_vf)),
            ),
            episode_starts=pad(self.episode_starts).flatten(),
            mask=self.to_torch(valid.astype(np.float32).flatten()),
        )


class FastRecurrentPPO(RecurrentPPO):
    """``RecurrentPPO`` defaulting to :class:`~agents.brains.policies.FastRecurrentActorCriticPolicy` and the fast
    buffer.

    Same constructor, same maths, same saved files as ``RecurrentPPO``.
    """

    #: The buffer of flat observations (a subclass may keep more with each step).
    fast_buffer_class: type[FastRecurrentRolloutBuffer] = FastRecurrentRolloutBuffer

    def __init__(self, policy: str | type = FAST_POLICY, *args, **kwargs) -> None:
        super().__init__(policy, *args, **kwargs)

    def train(self) -> None:
        if not getattr(self.policy, "bucket_sequences", False):
            super().train()
            return
        # The policy reads each minibatch's sequence lengths from the buffer that just made the minibatch.
        self.policy.sequence_lengths = lambda: getattr(self.rollout_buffer, "sequence_lengths", None)
        try:
            super().train()
        finally:
            self.policy.sequence_lengths = None

    def _setup_model(self) -> None:
        super()._setup_model()
        if isinstance(self.observation_space, spaces.Dict):
            return
        buffer = self.rollout_buffer
        self.rollout_buffer = self.fast_buffer_class(
            self.n_steps,
            self.observation_space,
            self.action_space,
            buffer.hidden_state_shape,
            self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
        )


__all__ = ["FastRecurrentActorCriticPolicy", "FastRecurrentPPO", "FastRecurrentRolloutBuffer"]
