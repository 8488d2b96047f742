"""The task interface: reward, termination and command over a body's named quantities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.bodies import BodyReading, BodySpec
from envs.mirror import SignedPermutation


class Task:
    """Base class of body-agnostic tasks.

    A task sees the body only through :class:`~envs.bodies.BodyReading`. Its reward is the sum of the named terms
    returned by :meth:`reward_terms`; the env reports each one as ``info["reward_<name>"]``.
    """

    #: Registered name (``walk``) and the title used in env ids (``Walk``).
    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: The ``-v<N>`` of the task's env ids; bumped whenever the reward or the episode end changes meaning.
    version: ClassVar[int] = 0
    #: Names of the reward terms, in the order :meth:`reward_terms` returns them (empty when they vary).
    terms: ClassVar[tuple[str, ...]] = ()
    #: Names of the command's entries, in order (a warm start matches a brain's inputs by them).
    command_labels: ClassVar[tuple[str, ...]] = ()
    #: True when the task ends episodes itself, so the base env's own termination is switched off.
    judges_termination: ClassVar[bool] = True
    #: True when the task reads the base env's own step (its reward terms in ``base_info``, its termination). Other
    #: tasks get an empty ``base_info``: the env steps the physics and reads the base observation itself, skipping
    #: the base env's reward and bookkeeping.
    uses_base_step: ClassVar[bool] = False
    #: True when the task reads per-foot floor forces and speeds (``BodyReading.foot_forces``, ``foot_speeds``): they
    #: cost a contact scan and a velocity per foot, so other tasks' readings leave them out.
    reads_foot_dynamics: ClassVar[bool] = False
    #: True when the task adds entries of its own to ``info`` (:meth:`info`).
    reports_info: ClassVar[bool] = False

    def setup(self, spec: BodySpec, dt: float) -> None:
        """Bind body-specific defaults once the body is known; ``dt`` is the env step (s)."""
        self.dt = dt

    @property
    def command(self) -> np.ndarray:
        """What the brain is asked to do, appended to every observation (empty if nothing varies)."""
        return np.zeros(0)

    def command_mirror(self, feet: np.ndarray) -> tuple[SignedPermutation, np.ndarray] | None:
        """The command seen in a left-right mirror where foot ``i`` is foot ``feet[i]``: its signed permutation and
        the command entries that are per-foot phase offsets (see :class:`~envs.mirror.Mirror`); ``None`` when the
        task's command has no mirror (no mirror loss then). An empty command mirrors to itself."""
        return (SignedPermutation.identity(0), np.zeros(0, dtype=np.int64)) if self.command.size == 0 else None

    def reset(self, reading: BodyReading, np_random: np.random.Generator) -> None:
        """Start an episode from ``reading``."""

    def info(self) -> dict[str, Any]:
        """The task's own ``info`` entries after a reset or step (asked only when :attr:`reports_info`)."""
        return {}

    def episode_options(self, options: Mapping[str, Any]) -> None:
        """Take ``env.reset(options=...)`` for the episode about to start; by default there are none."""
        if options:
            raise ValueError(f"the {self.name or 'this'} task takes no reset options, got {', '.join(options)}")

    def reward_terms(self, reading: BodyReading, action: np.ndarray, base_info: Mapping[str, Any]) -> dict[str, float]:
        """Named reward terms of one step, taken after the physics step.

        ``action`` is the brain's action within the action space's bounds (before motor noise); it may be the
        caller's own array, so a task that keeps it keeps a copy.
        """
        raise NotImplementedError

    def terminated(self, reading: BodyReading, base_terminated: bool) -> bool:
        """Whether the episode ends; by default when the body has fallen."""
        return reading.fallen
