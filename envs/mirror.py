"""Left-right mirrors: a body's reflection as signed permutations of its observation and its action.

A left-right symmetric body walks alike on both legs. The mirror loss (Yu, Turk and Liu 2018, "Learning symmetric and
low-energy locomotion"; Siekmann et al. 2021 train Cassie's clock gaits with it) asks a brain to act on the mirrored
state as it acts on the state, mirrored. This module says what "mirrored" means: a body names the joints and feet
that trade places (:class:`BodyMirror`), and :func:`body_maps` turns that into index maps over MuJoCo's ``qpos``,
``qvel`` and actuators; an env joins them with its task's command into one :class:`Mirror`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mujoco
import numpy as np

#: Offsets that land this close below 1 after the modulo are 0. A minibatch is unnormalised with the statistics of
#: the rollout's end while each step was normalised with its own step's, so an offset of 0 comes back off by up to
#: about 1e-3; a gait's offsets are never this close to a whole cycle.
_WRAP_TOLERANCE = 1e-2


@dataclasses.dataclass(frozen=True)
class BodyMirror:
    """A body's left-right reflection, named in its MJCF.

    Attributes:
        joints: Pairs of hinge or slide joints that trade places (each left joint with its right twin).
        negated: Hinge or slide joints whose coordinate changes sign in the mirror (a sideways slide, a roll).
        feet: Pairs of foot labels (``BodySpec.foot_labels``) that trade places.
    """

    joints: tuple[tuple[str, str], ...]
    negated: tuple[str, ...] = ()
    feet: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class SignedPermutation:
    """``y[..., i] = sign[i] * x[..., index[i]]``."""

    index: np.ndarray
    sign: np.ndarray

    @classmethod
    def identity(cls, size: int) -> SignedPermutation:
        return cls(np.arange(size), np.ones(size))

    def __add__(self, other: SignedPermutation) -> SignedPermutation:
        """The two maps side by side (``other`` over the entries after this one's)."""
        return SignedPermutation(
            np.concatenate([self.index, other.index + len(self.index)]), np.concatenate([self.sign, other.sign])
        )

    def __len__(self) -> int:
        return len(self.index)

    def check(self, what: str) -> None:
        """Raise a ``ValueError`` unless this is a signed permutation that undoes itself (a mirror's must)."""
        size = len(self.index)
        if sorted(self.index.tolist()) != list(range(size)) or not np.all(np.abs(self.sign) == 1):
            raise ValueError(f"{what}: not a signed permutation of {size} entries")
        if not (
            np.array_equal(self.index[self.index], np.arange(size)) and np.all(self.sign * self.sign[self.index] == 1)
        ):
            raise ValueError(f"{what}: mirroring twice does not give back the original")


def _signs(x: Any, sign: np.ndarray) -> Any:
    """``sign`` in ``x``'s kind and dtype: a NumPy array for NumPy, a tensor on ``x``'s device for a torch tensor."""
    return sign.astype(x.dtype) if isinstance(x, np.ndarray) else x.new_tensor(sign)


@dataclasses.dataclass(frozen=True)
class Mirror:
    """An env's mirror: :meth:`observation` and :meth:`action` reflect NumPy arrays or torch tensors of shape
    ``(..., size)``.

    ``offsets`` are observation entries holding each foot's phase offset (a gait clock's). Trading feet trades
    their offsets, which leaves the same schedule written with another foot first; those entries are rewritten so
    that foot 0 keeps its offset, as the gait the brain is trained on writes it (a walk's ``(0, 0.5)`` stays
    ``(0, 0.5)``, half a cycle on), so a mirrored observation is one the brain meets, not a new command.
    """

    obs: SignedPermutation
    act: SignedPermutation
    offsets: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def observation(self, x: Any) -> Any:
        # NumPy index arrays index torch tensors too.
        y = x[..., self.obs.index] * _signs(x, self.obs.sign)
        if len(self.offsets):
            first, offsets = int(self.offsets[0]), self.offsets
            wrapped = (y[..., offsets] - y[..., first : first + 1] + x[..., first : first + 1]) % 1.0
            y[..., offsets] = wrapped - (wrapped > 1.0 - _WRAP_TOLERANCE) * 1.0
        return y

    def action(self, a: Any) -> Any:
        return a[..., self.act.index] * _signs(a, self.act.sign)


def _joint_id(model: mujoco.MjModel, name: str) -> int:
    joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    if joint < 0:
        valid = ", ".join(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or str(j) for j in range(model.njnt))
        raise ValueError(f"mirror: no joint {name!r}; valid joints: {valid}")
    if int(model.jnt_type[joint]) not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
        raise ValueError(f"mirror: joint {name!r} is not a hinge or a slide (only those are mirrored)")
    return joint


def body_maps(model: mujoco.MjModel, mirror: BodyMirror, foot_labels: tuple[str, ...]) -> dict[str, Any]:
    """Index maps of ``mirror`` on this model: ``qpos``, ``qvel`` and ``action`` (:class:`SignedPermutation`) and
    ``feet`` (foot ``i`` of the mirror is foot ``feet[i]``).

    Raises ``ValueError`` for an unknown joint or foot, a joint paired twice, or a model with a free joint (a free
    body's reflection changes its quaternion, which is not a signed permutation of ``qpos``).
    """
    if any(int(t) == int(mujoco.mjtJoint.mjJNT_FREE) for t in model.jnt_type):
        raise ValueError("mirror: bodies with a free joint (a free root) are not mirrored")
    qpos, qvel, act = (SignedPermutation.identity(n) for n in (model.nq, model.nv, model.nu))
    actuator_of = {
        int(model.actuator_trnid[i, 0]): i
        for i in range(model.nu)
        if int(model.actuator_trntype[i]) == int(mujoco.mjtTrn.mjTRN_JOINT)
    }
    seen: set[int] = set()
    for left, right in mirror.joints:
        a, b = _joint_id(model, left), _joint_id(model, right)
        if a in seen or b in seen or a == b:
            raise ValueError(f"mirror: joint pair ({left!r}, {right!r}) names a joint twice")
        seen |= {a, b}
        for perm, address in ((qpos, model.jnt_qposadr), (qvel, model.jnt_dofadr)):
            perm.index[address[a]], perm.index[address[b]] = address[b], address[a]
        if (a in actuator_of) != (b in actuator_of):
            raise ValueError(f"mirror: only one of joints {left!r} and {right!r} has an actuator")
        if a in actuator_of:
            act.index[actuator_of[a]], act.index[actuator_of[b]] = actuator_of[b], actuator_of[a]
    for name in mirror.negated:
        joint = _joint_id(model, name)
        qpos.sign[model.jnt_qposadr[joint]] = qvel.sign[model.jnt_dofadr[joint]] = -1.0
        if joint in actuator_of:
            act.sign[actuator_of[joint]] = -1.0
    labels = list(foot_labels)
    feet = np.arange(len(labels))
    for left, right in mirror.feet:
        for label in (left, right):
            if label not in labels:
                raise ValueError(f"mirror: no foot {label!r}; valid feet: {', '.join(labels)}")
        a, b = labels.index(left), labels.index(right)
        feet[a], feet[b] = b, a
    if sorted(feet.tolist()) != list(range(len(labels))):
        raise ValueError(f"mirror: foot pairs {mirror.feet} name a foot twice")
    return {"qpos": qpos, "qvel": qvel, "action": act, "feet": feet}
