"""What a planar body's joints allow: how deep it can crouch while standing still on flat feet.

A jump's schedule asks for a dip of the centre of mass before each take-off (``crouch`` in
:func:`~envs.clock.rise_reference`). A body's joint ranges bound that dip: the Walker2d's hips only extend and its
ankles turn 45 degrees, so it cannot bend its knees far without its centre of mass leaving its feet or its torso
leaning back. :func:`deepest_crouch` measures the bound by sampling poses within the joint ranges.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from envs.bodies import Body


@dataclasses.dataclass(frozen=True)
class Crouch:
    """The deepest static crouch found within a torso pitch limit.

    Attributes:
        depth: How far the centre of mass sits below its standing height (m).
        pitch: The torso's pitch in that pose (rad; positive leans forward).
        joints: The pose's joint angles (rad), by joint name (the root's excepted).
    """

    depth: float
    pitch: float
    joints: dict[str, float]


def _planar_root(model: mujoco.MjModel, root_body: int) -> tuple[int, int]:
    """``(qpos index of the root's height, qpos index of its pitch hinge)`` of a slide-x, slide-z, hinge-y root."""
    first, count = int(model.body_jntadr[root_body]), int(model.body_jntnum[root_body])
    kinds = [int(model.jnt_type[first + i]) for i in range(count)]
    slide, hinge = int(mujoco.mjtJoint.mjJNT_SLIDE), int(mujoco.mjtJoint.mjJNT_HINGE)
    if kinds != [slide, slide, hinge]:
        raise ValueError("deepest_crouch needs a planar body (a root of slide x, slide z and hinge y joints)")
    return int(model.jnt_qposadr[first + 1]), int(model.jnt_qposadr[first + 2])


def _sole_points(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> list[np.ndarray]:
    """The lowest points of a geom's ends: a capsule's two, a sphere's one."""
    radius = float(model.geom_size[geom, 0])
    centre = data.geom_xpos[geom]
    if model.geom_type[geom] == mujoco.mjtGeom.mjGEOM_SPHERE:
        ends = [centre]
    elif model.geom_type[geom] == mujoco.mjtGeom.mjGEOM_CAPSULE:
        axis = data.geom_xmat[geom].reshape(3, 3)[:, 2] * float(model.geom_size[geom, 1])
        ends = [centre + axis, centre - axis]
    else:
        raise ValueError("deepest_crouch needs a body of capsules and spheres")
    return [end - np.array([0.0, 0.0, radius]) for end in ends]


def deepest_crouch(
    body: Body,
    *,
    max_pitch: float = 0.3,
    samples: int = 50_000,
    flat_tolerance: float = 0.01,
    margin: float = 0.02,
    seed: int = 0,
) -> Crouch:
    """The deepest pose, of ``samples`` searched, in which a planar body could stand still on flat feet.

    The legs move together, as in a jump: the non-root joints must split into one run per foot with the same
    ranges (the Walker2d's two legs, the Hopper's one), and each sample draws one leg's angles uniformly within
    their ranges, copies them to every leg, draws the torso pitch within ``max_pitch`` (rad), and sets the body on
    the floor by its lowest foot point. It counts as standing still when every foot
    touches the floor flat along its length (its ends within ``flat_tolerance`` m of the floor: a foot on its toes
    has no width to balance on), no other part of the body is lower than the feet, and the centre of mass lies over
    the feet's span, ``margin`` m inside its ends.
    Half the samples are drawn at random, half refine the deepest so far. A search gives a lower bound on the true
    deepest crouch, close to it in the few dimensions of a planar body's legs.
    """
    if not 0 <= max_pitch <= np.pi / 2:
        raise ValueError(f"max_pitch must be in [0, pi/2] rad, got {max_pitch!r}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples!r}")
    model = body.model
    data = mujoco.MjData(model)
    root = body.root_id
    z_index, pitch_index = _planar_root(model, root)
    root_first = int(model.body_jntadr[root])
    joints = [j for j in range(model.njnt) if not root_first <= j < root_first + 3]
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in joints]
    addresses = np.array([model.jnt_qposadr[j] for j in joints], dtype=np.int64)
    low = np.array([model.jnt_range[j, 0] if model.jnt_limited[j] else -np.pi for j in joints])
    high = np.array([model.jnt_range[j, 1] if model.jnt_limited[j] else np.pi for j in joints])
    feet = body.n_feet
    per_leg = len(joints) // feet
    if (
        per_leg == 0
        or per_leg * feet != len(joints)
        or not all(
            np.array_equal(low[:per_leg], low[i * per_leg : (i + 1) * per_leg])
            and np.array_equal(high[:per_leg], high[i * per_leg : (i + 1) * per_leg])
            for i in range(feet)
        )
    ):
        raise ValueError(f"deepest_crouch needs one run of joints with the same ranges per foot ({feet} feet)")
    low, high = low[:per_leg], high[:per_leg]
    feet_geoms = body.foot_ids.tolist()
    others = [g for g in range(model.ngeom) if int(model.geom_bodyid[g]) != 0 and g not in feet_geoms]
    rng = np.random.default_rng(seed)

    def measure(leg: np.ndarray, pitch: float) -> float | None:
        """The crouch depth of a pose, or None if the body could not stand still in it."""
        data.qpos[:] = model.qpos0
        data.qpos[addresses] = np.tile(leg, feet)
        data.qpos[pitch_index] = pitch
        data.qpos[z_index] = 0.0
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        points = [p for geom in feet_geoms for p in _sole_points(model, data, geom)]
        floor = min(float(p[2]) for p in points)
        if any(float(p[2]) - floor > flat_tolerance for p in points):
            return None
        if any(float(p[2]) < floor for geom in others for p in _sole_points(model, data, geom)):
            return None  # some other part of the body would be under the floor
        xs = [float(p[0]) for p in points]
        com = data.subtree_com[root]
        if not min(xs) + margin <= float(com[0]) <= max(xs) - margin:
            return None
        return body.standing_com_height - (float(com[2]) - floor)

    # The refinement is a random walk from the deepest pose, its steps shrinking to 0.5% of each range.
    best_depth, best_leg, best_pitch = -np.inf, (low + high) / 2.0, 0.0
    for i in range(samples):
        if i < samples // 2 or not np.isfinite(best_depth):
            leg, pitch = rng.uniform(low, high), float(rng.uniform(-max_pitch, max_pitch))
        else:
            scale = 0.1 * (1.0 - (i - samples // 2) / max(1, samples - samples // 2)) + 0.005
            leg = np.clip(best_leg + rng.normal(0.0, scale, per_leg) * (high - low), low, high)
            pitch = float(np.clip(best_pitch + rng.normal(0.0, scale) * max_pitch, -max_pitch, max_pitch))
        depth = measure(leg, pitch)
        if depth is not None and depth > best_depth:
            best_depth, best_leg, best_pitch = depth, leg, pitch
    if not np.isfinite(best_depth):
        raise ValueError(f"no pose of {samples} samples stands still; try more samples or a larger flat_tolerance")
    measure(best_leg, best_pitch)
    up = data.xmat[body.torso_id].reshape(3, 3)[:, 2]
    angles = dict(zip(names, np.tile(best_leg, feet).tolist(), strict=True))
    return Crouch(best_depth, float(np.arctan2(up[0], up[2])), angles)
