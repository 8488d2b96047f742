"""RecurrentPPO with the fast policy and a rollout buffer that pads sequences with one gather per array.

The stock ``RecurrentRolloutBuffer`` pads every minibatch by building one tensor per sequence per array in Python.
:class:`FastRecurrentRolloutBuffer` produces the same tensors with NumPy fancy indexing. Models trained with
:class:`FastRecurrentPPO` save the same files as RecurrentPPO and load with plain ``sb3_contrib.RecurrentPPO.load``
(``agents`` must be importable, for the policy class; :func:`agents.brains.models.load_algorithm` also loads
models saved before the policy moved to :mod:`agents.brains.policies`).

:class:`FastRecurrentPPO` can add a mirror loss to PPO's (Yu, Turk and Liu 2018, "Learning symmetric and low-energy
locomotion", as Siekmann et al. 2021 train Cassie's clock gaits): the actor, run on each minibatch's sequences
mirrored left for right (:class:`envs.mirror.Mirror`), should give the mirror of the action means it gives on them.
Subclasses add losses of their own through :meth:`FastRecurrentPPO.auxiliary_losses`.
"""

from __future__ import annotations

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RecurrentRolloutBufferSamples, RNNStates
from stable_baselines3.common.utils import explained_variance
from stable_baselines3.common.vec_env import VecNormalize

from agents.brains.policies import FAST_POLICY, FastRecurrentActorCriticPolicy
from agents.config import MIRROR_DEFAULTS
from envs.mirror import Mirror


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

    Same constructor, same maths, same saved files as ``RecurrentPPO``; with :meth:`set_mirror` (a weight above 0)
    each minibatch's loss adds the mirror loss (see the module's docstring). Without a loss of its own the update is
    sb3-contrib's own.
    """

    #: The buffer of flat observations (a subclass may keep more with each step).
    fast_buffer_class: type[FastRecurrentRolloutBuffer] = FastRecurrentRolloutBuffer
    mirror: Mirror | None = None
    mirror_weight: float = 0.0
    mirror_burn_in: int = MIRROR_DEFAULTS["burn_in"]

    def __init__(self, policy: str | type = FAST_POLICY, *args, **kwargs) -> None:
        super().__init__(policy, *args, **kwargs)

    def set_mirror(self, mirror: Mirror | None, weight: float, burn_in: int = MIRROR_DEFAULTS["burn_in"]) -> None:
        """Add ``weight *`` the mirror loss (0: none). The first ``burn_in`` steps of a mirrored sequence that does
        not begin an episode are left out: the actor runs the mirror from a zero state, having no mirror of the
        state it carried in, and needs a few steps to fill it."""
        if weight > 0 and mirror is None:
            raise ValueError("a mirror loss needs the env's mirror")
        self.mirror, self.mirror_weight, self.mirror_burn_in = mirror, float(weight), int(burn_in)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "mirror", "mirror_weight", "mirror_burn_in"]

    def has_auxiliary_losses(self) -> bool:
        """Whether the update adds losses to PPO's (then it runs :meth:`_train_with_losses`)."""
        return self.mirror_weight > 0

    def auxiliary_losses(
        self, data: RecurrentRolloutBufferSamples, mean: th.Tensor
    ) -> dict[str, tuple[float, th.Tensor]]:
        """Losses added to a minibatch's PPO loss, by name: ``(weight, loss)``. ``mean`` is the minibatch's action
        means, from the policy's own forward pass."""
        if self.mirror_weight <= 0:
            return {}
        return {"mirror_loss": (self.mirror_weight, self.mirror_loss(data, mean))}

    def _mirrored_observations(self, observations: th.Tensor) -> th.Tensor:
        """The mirror of the minibatch's (normalised) observations, normalised alike."""
        normaliser = self.get_vec_normalize_env()
        if normaliser is None or not normaliser.norm_obs:
            return self.mirror.observation(observations)
        rms = normaliser.obs_rms
        mean = observations.new_tensor(rms.mean)
        std = observations.new_tensor(np.sqrt(rms.var + normaliser.epsilon))
        raw = self.mirror.observation(observations * std + mean)
        return th.clamp((raw - mean) / std, -normaliser.clip_obs, normaliser.clip_obs)

    def mirror_loss(self, data: RecurrentRolloutBufferSamples, mean: th.Tensor) -> th.Tensor:
        """Mean squared distance between the actor's action means on the mirrored sequences and the mirror of
        ``mean`` (held fixed), over the valid steps past each sequence's burn-in."""
        states = data.lstm_states.pi
        zeros = tuple(th.zeros_like(state) for state in states)
        with th.no_grad():
            mirrored = self._mirrored_observations(data.observations)
        distribution, _ = self.policy.get_distribution(mirrored, zeros, data.episode_starts)
        target = self.mirror.action(mean.detach())
        n_seq = states[0].shape[1]
        valid = (data.mask > 1e-8).reshape(n_seq, -1)
        begins_episode = data.episode_starts.reshape(n_seq, -1)[:, :1] > 0.5
        steps = th.arange(valid.shape[1], device=valid.device)[None, :]
        valid = (valid & (begins_episode | (steps >= self.mirror_burn_in))).flatten()
        if not bool(valid.any()):
            return mean.sum() * 0.0
        error = (distribution.distribution.mean - target) ** 2
        return error[valid].mean()

    def train(self) -> None:
        bucket = getattr(self.policy, "bucket_sequences", False)
        if bucket:
            # The policy reads each minibatch's sequence lengths from the buffer that just made the minibatch.
            self.policy.sequence_lengths = lambda: getattr(self.rollout_buffer, "sequence_lengths", None)
        try:
            if self.has_auxiliary_losses():
                self._train_with_losses()
            else:
                super().train()
        finally:
            if bucket:
                self.policy.sequence_lengths = None

    def _train_with_losses(self) -> None:
        """RecurrentPPO's update (sb3-contrib 2.x, Box actions) with :meth:`auxiliary_losses` added to each
        minibatch's loss; each is logged as ``train/<name>``."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)
        clip_range_vf = None if self.clip_range_vf is None else self.clip_range_vf(self._current_progress_remaining)
        entropy_losses, pg_losses, value_losses, clip_fractions = [], [], [], []
        extra: dict[str, list[float]] = {}
        continue_training = True
        for _ in range(self.n_epochs):
            approx_kl_divs = []
            for data in self.rollout_buffer.get(self.batch_size):
                mask = data.mask > 1e-8
                values, log_prob, entropy = self.policy.evaluate_actions(
                    data.observations, data.actions, data.lstm_states, data.episode_starts
                )
                # evaluate_actions left this minibatch's action distribution on the policy.
                mean = self.policy.action_dist.distribution.mean
                values = values.flatten()
                advantages = data.advantages
                if self.normalize_advantage:
                    advantages = (advantages - advantages[mask].mean()) / (advantages[mask].std() + 1e-8)
                ratio = th.exp(log_prob - data.old_log_prob)
                policy_loss_1 = advantages * ratio
                policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
                policy_loss = -th.mean(th.min(policy_loss_1, policy_loss_2)[mask])
                pg_losses.append(policy_loss.item())
                clip_fractions.append(th.mean((th.abs(ratio - 1) > clip_range).float()[mask]).item())
                values_pred = values
                if clip_range_vf is not None:
                    values_pred = data.old_values + th.clamp(values - data.old_values, -clip_range_vf, clip_range_vf)
                value_loss = th.mean(((data.returns - values_pred) ** 2)[mask])
                value_losses.append(value_loss.item())
                entropy_loss = -th.mean(-log_prob[mask]) if entropy is None else -th.mean(entropy[mask])
                entropy_losses.append(entropy_loss.item())
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                for name, (weight, term) in self.auxiliary_losses(data, mean).items():
                    extra.setdefault(name, []).append(term.item())
                    loss = loss + weight * term
                with th.no_grad():
                    log_ratio = log_prob - data.old_log_prob
                    approx_kl_div = th.mean(((th.exp(log_ratio) - 1) - log_ratio)[mask]).cpu().numpy()
                    approx_kl_divs.append(approx_kl_div)
                if self.target_kl is not None and approx_kl_div > 1.5 * self.target_kl:
                    continue_training = False
                    break
                self.policy.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/explained_variance", explained_var)
        for name, values_of in extra.items():
            self.logger.record(f"train/{name}", np.mean(values_of))
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

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
