"""Left-right mirrors: a body's reflection as signed permutations of its observation and its action.

A left-right symmetric body walks alike on both legs. The mirror loss (Yu, Turk and Liu 2018, "Learning symmetric and
low-energy locomotion"; Siekmann et al. 2021 train Cassie's clock gaits with it) asks a brain to act on the mirrored
state as it acts on the state, mirrored. This module says what "mirrored" means: a body names the joints and feet
that trade places (:class:`BodyMirror`); :func:`body_maps` reflects the model in its sagittal plane (y -> -y), finds
each joint's sign from its axis and checks the model is symmetric; an env joins the maps over MuJoCo's ``qpos``,
``qvel``, per-body rows and actuators with its task's command into one :class:`Mirror`.
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

    Each joint's sign in the mirror is found from the model (see :func:`body_maps`): only the twins are named.

    Attributes:
        joints: Pairs of hinge or slide joints that trade places (each left joint with its right twin); joints
            named in no pair are their own twins (a waist, a neck).
        feet: Pairs of foot labels (``BodySpec.foot_labels``) that trade places.
    """

    joints: tuple[tuple[str, str], ...]
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


_HINGE, _SLIDE, _FREE = (
    int(t) for t in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE, mujoco.mjtJoint.mjJNT_FREE)
)
#: The reflection y -> -y (the body's sagittal plane is its initial x-z plane). Vectors map by ``REFLECT``, axial
#: vectors (rotation axes, angular velocities, torques) by ``-REFLECT``.
REFLECT = np.array([1.0, -1.0, 1.0])
#: A free root's position and orientation quaternion (w, x, y, z) in the mirror, and its velocity (linear, then
#: angular in the body's frame, an axial vector).
_FREE_QPOS = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0])
_FREE_QVEL = np.concatenate([REFLECT, -REFLECT])
#: Per-body rows that Gymnasium's v5 envs may observe (``data.<name>[1:]``), each row's entries in the mirror:
#: ``cinert`` (inertia xx yy zz xy xz yz, mass times the centre-of-mass offset, mass), ``cvel`` (angular, linear),
#: ``cfrc_ext`` (torque, force).
BODY_ROWS = {
    "cinert": np.array([1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0]),
    "cvel": np.concatenate([-REFLECT, REFLECT]),
    "cfrc_ext": np.concatenate([-REFLECT, REFLECT]),
}
#: Tolerance (m, or unit-axis components) of the geometric checks at the initial pose.
_TOLERANCE = 1e-6


def _name(model: mujoco.MjModel, obj: mujoco.mjtObj, index: int) -> str:
    return mujoco.mj_id2name(model, obj, index) or f"#{index}"


def _joint_id(model: mujoco.MjModel, name: str) -> int:
    joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    if joint < 0:
        valid = ", ".join(_name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(model.njnt))
        raise ValueError(f"mirror: no joint {name!r}; valid joints: {valid}")
    if int(model.jnt_type[joint]) not in (_HINGE, _SLIDE):
        raise ValueError(f"mirror: joint {name!r} is not a hinge or a slide (only those are paired)")
    return joint


def _joint_twins(model: mujoco.MjModel, mirror: BodyMirror) -> np.ndarray:
    """Each joint's twin in the mirror (itself when unpaired)."""
    twin = np.arange(model.njnt)
    for left, right in mirror.joints:
        a, b = _joint_id(model, left), _joint_id(model, right)
        if twin[a] != a or twin[b] != b or a == b:
            raise ValueError(f"mirror: joint pair ({left!r}, {right!r}) names a joint twice")
        twin[a], twin[b] = b, a
    return twin


def _body_twins(model: mujoco.MjModel, joints: np.ndarray, xpos: np.ndarray) -> np.ndarray:
    """Each body's twin (itself when unpaired): the bodies of twin joints, their parents up the tree, and children
    without joints down it, a child twinned with the one child of its parent's twin at its mirror image."""
    twin = np.arange(model.nbody)

    def pair(a: int, b: int, why: str) -> bool:
        if twin[a] == b:
            return False
        if twin[a] != a or twin[b] != b:
            names = (_name(model, mujoco.mjtObj.mjOBJ_BODY, i) for i in (a, b))
            raise ValueError("mirror: bodies {!r} and {!r} cannot be twins ({}), one has a twin already".format(
                *names, why))  # fmt: skip
        twin[a], twin[b] = b, a
        return True

    for j, k in enumerate(joints):
        if j != k:
            names = (_name(model, mujoco.mjtObj.mjOBJ_JOINT, i) for i in (j, k))
            pair(int(model.jnt_bodyid[j]), int(model.jnt_bodyid[k]), "joints {!r} and {!r} pair".format(*names))
    changed = True
    while changed:
        changed = False
        for a in range(model.nbody):
            b = int(twin[a])
            parents = int(model.body_parentid[a]), int(model.body_parentid[b])
            if a != b and parents[0] != parents[1]:
                changed |= pair(*parents, "their children are twins")
            unpaired = twin == np.arange(model.nbody)
            for c in np.flatnonzero((model.body_parentid == a) & unpaired):
                images = np.flatnonzero((model.body_parentid == b) & unpaired)
                match = [d for d in images if np.allclose(REFLECT * xpos[c], xpos[d], atol=_TOLERANCE)]
                if len(match) == 1 and match[0] != c:
                    changed |= pair(int(c), int(match[0]), "at mirrored places on twins")
                    unpaired = twin == np.arange(model.nbody)
    return twin


def body_maps(model: mujoco.MjModel, mirror: BodyMirror, foot_labels: tuple[str, ...]) -> dict[str, Any]:
    """Index maps of ``mirror`` on this model: ``qpos``, ``qvel``, ``action`` and ``bodies`` (body ``i`` of the
    mirror is body ``bodies[i]``) and ``feet`` (likewise for feet).

    Each joint's sign in the mirror comes from the initial pose: a hinge's axis reflects as an axial vector, a
    slide's as a vector, and each must land on its twin's axis (sign 1) or its opposite (sign -1); an unpaired joint
    is its own twin. A free root reflects its position's y, its orientation and its velocity. Twin bodies must sit at
    reflected places, twin joints have matching ranges and twin motors matching gears and control ranges.

    Raises ``ValueError`` for an unknown joint or foot, a joint or foot paired twice, a ball joint, a free joint that
    is not the root, or a model that is not symmetric under the mirror.
    """
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    joints = _joint_twins(model, mirror)
    qpos, qvel, act = (SignedPermutation.identity(n) for n in (model.nq, model.nv, model.nu))
    joint_sign = np.ones(model.njnt)
    for j in range(model.njnt):
        name, kind, k = _name(model, mujoco.mjtObj.mjOBJ_JOINT, j), int(model.jnt_type[j]), int(joints[j])
        if kind == _FREE:
            if model.body_parentid[model.jnt_bodyid[j]] != 0 or k != j:
                raise ValueError(f"mirror: free joint {name!r} is not the root (only a free root is mirrored)")
            q, v = model.jnt_qposadr[j], model.jnt_dofadr[j]
            qpos.sign[q : q + 7], qvel.sign[v : v + 6] = _FREE_QPOS, _FREE_QVEL
            continue
        if kind not in (_HINGE, _SLIDE):
            raise ValueError(f"mirror: joint {name!r} is a ball joint (not mirrored)")
        image = (-REFLECT if kind == _HINGE else REFLECT) * data.xaxis[j]
        if np.allclose(image, data.xaxis[k], atol=_TOLERANCE):
            joint_sign[j] = 1.0
        elif np.allclose(image, -data.xaxis[k], atol=_TOLERANCE):
            joint_sign[j] = -1.0
        else:
            twin = _name(model, mujoco.mjtObj.mjOBJ_JOINT, k)
            raise ValueError(
                f"mirror: joint {name!r} pairs with joint {twin!r}, but its mirror image is not along that axis"
            )
        if model.jnt_limited[j]:
            low, high = sorted(joint_sign[j] * model.jnt_range[j])
            if not np.allclose([low, high], model.jnt_range[k], atol=_TOLERANCE):
                twin = _name(model, mujoco.mjtObj.mjOBJ_JOINT, k)
                raise ValueError(f"mirror: the range of joint {name!r} does not mirror that of joint {twin!r}")
        if not np.isclose(joint_sign[j] * model.qpos0[model.jnt_qposadr[j]], model.qpos0[model.jnt_qposadr[k]]):
            twin = _name(model, mujoco.mjtObj.mjOBJ_JOINT, k)
            raise ValueError(f"mirror: the reference position of joint {name!r} does not mirror that of joint {twin!r}")
        qpos.index[model.jnt_qposadr[j]], qpos.sign[model.jnt_qposadr[j]] = model.jnt_qposadr[k], joint_sign[j]
        qvel.index[model.jnt_dofadr[j]], qvel.sign[model.jnt_dofadr[j]] = model.jnt_dofadr[k], joint_sign[j]
    actuator_of = {
        int(model.actuator_trnid[i, 0]): i
        for i in range(model.nu)
        if int(model.actuator_trntype[i]) == int(mujoco.mjtTrn.mjTRN_JOINT)
    }
    for j, i in actuator_of.items():
        k = int(joints[j])
        name = _name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i)
        if k not in actuator_of:
            twin = _name(model, mujoco.mjtObj.mjOBJ_JOINT, k)
            raise ValueError(f"mirror: actuator {name!r} drives a joint whose twin {twin!r} has no actuator")
        other = actuator_of[k]
        ctrl = sorted(joint_sign[j] * model.actuator_ctrlrange[i]) if model.actuator_ctrllimited[i] else None
        twin_ctrl = model.actuator_ctrlrange[other] if model.actuator_ctrllimited[other] else None
        if (
            not np.allclose(model.actuator_gear[i], model.actuator_gear[other])
            or (ctrl is None) != (twin_ctrl is None)
            or (ctrl is not None and not np.allclose(ctrl, twin_ctrl))
        ):
            twin = _name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, other)
            raise ValueError(f"mirror: actuator {name!r} has not the gear and control range of its twin {twin!r}")
        act.index[i], act.sign[i] = other, joint_sign[j]
    bodies = _body_twins(model, joints, data.xpos)
    cinert = BODY_ROWS["cinert"]
    # Twins first: a lopsided twin also moves the centre of mass that every body's inertia is taken about.
    for b in sorted(range(model.nbody), key=lambda b: bool(bodies[b] == b)):
        other = int(bodies[b])
        where = np.allclose(REFLECT * data.xpos[b], data.xpos[other], atol=_TOLERANCE)
        # Mass, centre of mass and inertia about the root's centre of mass: a heavier or slanted twin differs here.
        inertia = np.allclose(
            cinert * data.cinert[b], data.cinert[other], atol=_TOLERANCE * (1 + np.abs(data.cinert[b]).max())
        )
        if where and inertia:
            continue
        name = _name(model, mujoco.mjtObj.mjOBJ_BODY, b)
        if other == b and not where:
            raise ValueError(
                f"mirror: body {name!r} has no twin (no paired joint moves it, and no body sits at its mirror image) "
                "but is not on the mirror plane"
            )
        if other == b:
            raise ValueError(f"mirror: body {name!r} lies on the mirror plane but its mass or inertia is lopsided")
        what = "sit at the mirror image of" if not where else "mirror the mass and inertia of"
        raise ValueError(
            f"mirror: body {name!r} does not {what} its twin {_name(model, mujoco.mjtObj.mjOBJ_BODY, other)!r}"
        )
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
    return {"qpos": qpos, "qvel": qvel, "action": act, "bodies": bodies, "feet": feet}


def body_rows(name: str, bodies: np.ndarray) -> SignedPermutation:
    """The mirror of ``data.<name>[1:]`` flattened (``name`` one of :data:`BODY_ROWS`), for body twins ``bodies``."""
    signs = BODY_ROWS[name]
    width, rows = len(signs), bodies[1:] - 1
    index = (rows[:, None] * width + np.arange(width)[None, :]).ravel()
    return SignedPermutation(index, np.tile(signs, len(rows)))
