"""Bodies: named physical quantities of a MuJoCo locomotion model.

A :class:`BodySpec` says which simulation a body runs in (its base Gymnasium env), which MJCF names are its
torso, feet and floor, and its body-specific defaults. A :class:`Body` adapter reads the running simulation and
exposes only named quantities (centre of mass, torso height and pitch, foot contacts, ...), bundled each step into
a :class:`BodyReading` that tasks, metrics and logs consume.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import mujoco
import numpy as np

from envs.arguments import Limit, check_arguments, check_limits
from envs.mirror import BodyMirror

#: Normal force (N) above which a foot counts as touching the floor. Far below any body's weight, but above the
#: numerical dust that soft contacts leave on a foot that is lifting off.
CONTACT_FORCE_THRESHOLD = 0.1

#: Largest foot-to-floor distance (m) searched when measuring the standing height.
_MAX_FOOT_CLEARANCE = 10.0

#: What a body's numbers must be beyond their annotations. A pitch is at most pi in size and an upright value lies in
#: [-1, 1], so thresholds outside those ranges could never judge a fall.
BODY_LIMITS = {
    "walk_speed": Limit("a finite number > 0 (m/s)", lambda v: v > 0),
    "min_torso_height": Limit("a finite number >= 0 (m)", lambda v: v >= 0),
    "max_torso_pitch": Limit("a number in (0, pi] (rad) or None", lambda v: 0 < v <= math.pi),
    "min_torso_upright": Limit("a number in [-1, 1] or None", lambda v: -1 <= v <= 1),
    "standing_settle_time": Limit("a finite number >= 0 (s)", lambda v: v >= 0),
    "contact_force_threshold": Limit("a finite number >= 0 (N)", lambda v: v >= 0),
}


def check_feet(feet: Any, foot_labels: Any = (), prefix: str = "") -> None:
    """Raise a ``ValueError`` unless ``feet`` is a list or tuple of geom names, each named once, and ``foot_labels``
    is empty or one distinct label per foot; the message starts with ``prefix``."""
    for field, names, what in (("feet", feet, "geom names"), ("foot_labels", foot_labels, "labels, one per foot")):
        if isinstance(names, str):
            raise ValueError(f"{prefix}{field} must be a list of {what}, got a string {names!r}")
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{prefix}{field} must be a list of {what}, got {names!r}")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"{prefix}{field} must name each foot once, got {', '.join(map(repr, twice))} "
                f"more than once in {tuple(names)!r}"
            )
    if foot_labels and len(foot_labels) != len(feet):
        raise ValueError(
            f"{prefix}foot_labels must give one label per foot, {len(feet)} in all, got {len(foot_labels)}: "
            f"{tuple(foot_labels)!r}"
        )


@dataclasses.dataclass(frozen=True)
class BodySpec:
    """Everything needed to build one body and judge when it has fallen.

    Attributes:
        name: Public name, used in env ids (``neuromotor/<name>-Walk-v1``).
        base_env: Factory of the MuJoCo env that simulates the body and supplies the Gymnasium observation and the
            native reward (a Gymnasium v5 class for the built-in bodies).
        torso: MJCF body whose height and orientation describe the posture; the centre of mass is that of its
            kinematic tree.
        feet: MJCF geoms that count as feet.
        foot_labels: Human-readable names of the feet, in the same order (defaults to the geom names).
        floor: MJCF geom of the floor.
        walk_speed: Default commanded walking speed (m/s).
        min_torso_height: The body has fallen when the torso is lower than this (m).
        max_torso_pitch: The body has fallen when ``|pitch|`` exceeds this (rad); ``None`` ignores pitch.
        min_torso_upright: The body has fallen when the torso's up-axis z component drops below this; ``None``
            ignores it (0 means "upside down").
        standing_settle_time: Seconds of passive settling before measuring the standing height (0: lower the
            initial pose onto the floor instead).
        base_kwargs: Keyword arguments always given to ``base_env``.
        task_base_kwargs: Keyword arguments given to ``base_env`` by tasks that judge termination themselves (to
            switch off the base env's own termination).
        mirror: The body's left-right reflection (:class:`~envs.mirror.BodyMirror`), for the mirror loss; ``None``
            for a body that is not left-right symmetric.
        task_kwargs: This body's defaults for tasks' keyword arguments, by task name (``{"walk": {...}}``); what a
            user passes to ``gym.make`` overrides them.
    """

    name: str
    base_env: Callable[..., Any]
    torso: str
    feet: tuple[str, ...]
    foot_labels: tuple[str, ...] = ()
    floor: str = "floor"
    walk_speed: float = 1.0
    min_torso_height: float = 0.0
    max_torso_pitch: float | None = None
    min_torso_upright: float | None = None
    standing_settle_time: float = 0.0
    base_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    task_base_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    task_kwargs: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    mirror: BodyMirror | None = None

    def __post_init__(self) -> None:
        where = f"body {self.name!r}: "
        check_feet(self.feet, self.foot_labels, prefix=where)
        if not self.feet:
            raise ValueError(f"body {self.name!r} needs at least one foot geom")
        if not self.foot_labels:
            object.__setattr__(self, "foot_labels", tuple(self.feet))
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        check_arguments(BodySpec, values, prefix=where)
        check_limits(values, BODY_LIMITS, prefix=where)


class BodyReading(NamedTuple):
    """One step's named quantities of a body; the only view of the physics that tasks get.

    A named tuple, not a dataclass: one is built every env step, and a tuple is the cheapest immutable record.
    """

    time: float
    com_position: np.ndarray
    com_velocity: np.ndarray
    torso_height: float
    torso_pitch: float
    torso_upright: float
    foot_contacts: np.ndarray
    standing_com_height: float
    fallen: bool
    #: Per foot, floor normal force in body weights and foot speed (m/s); read only for tasks that ask
    #: (:attr:`envs.tasks.base.Task.reads_foot_dynamics`), ``None`` otherwise.
    foot_forces: tuple[float, ...] | None = None
    foot_speeds: tuple[float, ...] | None = None
    #: Per foot, its distance from the floor (m; 0 touching), read with the foot dynamics for a task that asks.
    foot_clearances: tuple[float, ...] | None = None

    @property
    def com_height(self) -> float:
        return float(self.com_position[2])

    @property
    def com_rise(self) -> float:
        """Height of the centre of mass above its standing height (m)."""
        return self.com_height - self.standing_com_height

    @property
    def forward_velocity(self) -> float:
        return float(self.com_velocity[0])

    @property
    def airborne(self) -> bool:
        return np.count_nonzero(self.foot_contacts) == 0

    def signals(self) -> dict[str, Any]:
        """Gait signals for ``info``: scalars for logging plus the per-foot contact and velocity arrays.

        The arrays are the reading's own: :meth:`Body.read` makes new ones every step, and tasks copy what they keep.
        """
        x, y, z = self.com_position.tolist()
        return {
            "com_height": z,
            "com_rise": z - self.standing_com_height,
            "com_x": x,
            "com_y": y,
            "forward_velocity": float(self.com_velocity[0]),
            "torso_height": self.torso_height,
            "torso_pitch": self.torso_pitch,
            "airborne": 0.0 if np.count_nonzero(self.foot_contacts) else 1.0,
            "foot_contacts": self.foot_contacts,
            "com_velocity": self.com_velocity,
            "fallen": 1.0 if self.fallen else 0.0,
        }


def _names(model: mujoco.MjModel, obj: mujoco.mjtObj, count: int) -> list[str]:
    return [n for n in (mujoco.mj_id2name(model, obj, i) for i in range(count)) if n]


def _lookup(model: mujoco.MjModel, obj: mujoco.mjtObj, count: int, name: str, role: str) -> int:
    idx = mujoco.mj_name2id(model, obj, name)
    if idx < 0:
        kind = "body" if obj == mujoco.mjtObj.mjOBJ_BODY else "geom"
        valid = ", ".join(_names(model, obj, count))
        raise ValueError(f"{role} {kind} {name!r} is not in the model; valid {kind} names: {valid}")
    return idx


class Body:
    """Adapter from a MuJoCo model and data to the named quantities of one body.

    Args:
        model: The compiled model.
        data: The live simulation data (read, never written).
        torso: MJCF body of the torso.
        feet: MJCF geoms of the feet.
        floor: MJCF geom of the floor.
        min_torso_height: Fallen below this torso height (m).
        max_torso_pitch: Fallen beyond this ``|pitch|`` (rad); ``None`` ignores pitch.
        min_torso_upright: Fallen when the torso up-axis z component is below this; ``None`` ignores it.
        standing_com_height: Centre-of-mass height when standing (m); ``None`` measures it (see
            :meth:`measure_standing_com_height`).
        standing_settle_time: Seconds of passive settling before measuring the standing height.
        contact_force_threshold: Normal force (N) above which a foot touches the floor.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        *,
        torso: str,
        feet: tuple[str, ...],
        floor: str = "floor",
        min_torso_height: float = 0.0,
        max_torso_pitch: float | None = None,
        min_torso_upright: float | None = None,
        standing_com_height: float | None = None,
        standing_settle_time: float = 0.0,
        contact_force_threshold: float = CONTACT_FORCE_THRESHOLD,
    ) -> None:
        settings = locals()
        check_arguments(Body.__init__, settings)
        check_limits(settings, BODY_LIMITS)
        if not feet:
            valid = ", ".join(_names(model, mujoco.mjtObj.mjOBJ_GEOM, model.ngeom))
            raise ValueError(f"feet must name at least one foot geom; valid geom names: {valid}")
        self.model = model
        self.data = data
        self.torso_id = _lookup(model, mujoco.mjtObj.mjOBJ_BODY, model.nbody, torso, "torso")
        self.root_id = int(model.body_rootid[self.torso_id])
        self.foot_ids = np.array(
            [_lookup(model, mujoco.mjtObj.mjOBJ_GEOM, model.ngeom, f, "foot") for f in feet], dtype=np.int64
        )
        self.floor_id = _lookup(model, mujoco.mjtObj.mjOBJ_GEOM, model.ngeom, floor, "floor")
        self.min_torso_height = min_torso_height
        self.max_torso_pitch = max_torso_pitch
        self.min_torso_upright = min_torso_upright
        self.contact_force_threshold = contact_force_threshold
        self.standing_com_height = (
            self.measure_standing_com_height(standing_settle_time)
            if standing_com_height is None
            else float(standing_com_height)
        )
        self._force = np.zeros(6)
        self._velocity = np.zeros(6)
        #: The body's weight (N): every body's total mass under the model's gravity.
        self.weight = float(model.body_mass.sum() * np.linalg.norm(model.opt.gravity))
        # Foot index of each foot geom, for the contact scan (a dict lookup per contact, not an array search).
        self._foot_of_geom = {int(geom): i for i, geom in enumerate(self.foot_ids)}
        self.n_root_xy = self._count_root_xy()

    def _count_root_xy(self) -> int:
        """Leading qpos entries that are the root's horizontal position (skipped by Gymnasium's observations)."""
        jnt = self.model.body_jntadr[self.root_id]
        if jnt < 0:
            return 0
        if self.model.jnt_type[jnt] == mujoco.mjtJoint.mjJNT_FREE:
            return 2
        return 1 if self.model.jnt_type[jnt] == mujoco.mjtJoint.mjJNT_SLIDE else 0

    @property
    def n_feet(self) -> int:
        return len(self.foot_ids)

    def measure_standing_com_height(self, settle_time: float = 0.0) -> float:
        """Centre-of-mass height when standing, measured on a scratch copy of the simulation.

        With ``settle_time == 0``: the initial pose, lowered until its lowest foot touches the floor. Otherwise: the
        height after settling passively for ``settle_time`` seconds under zero control, for bodies whose initial
        pose is not a standing one (the Ant's legs start flat, outside their joint limits).
        """
        model = self.model
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        if settle_time > 0:
            while data.time < settle_time:
                mujoco.mj_step(model, data)
            mujoco.mj_forward(model, data)
            return float(data.subtree_com[self.root_id, 2])
        clearance = min(
            mujoco.mj_geomDistance(model, data, int(foot), self.floor_id, _MAX_FOOT_CLEARANCE, None)
            for foot in self.foot_ids
        )
        return float(data.subtree_com[self.root_id, 2] - clearance)

    def com_position(self) -> np.ndarray:
        """Whole-body centre of mass (m), world frame."""
        return self.data.subtree_com[self.root_id].copy()

    def com_velocity(self) -> np.ndarray:
        """Whole-body centre-of-mass velocity (m/s), world frame."""
        mujoco.mj_subtreeVel(self.model, self.data)
        return self.data.subtree_linvel[self.root_id].copy()

    def torso_height(self) -> float:
        return float(self.data.xpos[self.torso_id, 2])

    def torso_up_axis(self) -> np.ndarray:
        """The torso's local z axis in world coordinates."""
        return self.data.xmat[self.torso_id].reshape(3, 3)[:, 2]

    def torso_pitch(self) -> float:
        """Lean of the torso's up axis in the sagittal (x-z) plane (rad); positive leans forward (+x)."""
        up = self.torso_up_axis()
        return float(math.atan2(up[0], up[2]))

    def torso_upright(self) -> float:
        """Cosine of the angle between the torso's up axis and the world vertical: 1 upright, -1 upside down."""
        return float(self.torso_up_axis()[2])

    def _floor_contacts(self) -> list[tuple[int, int]]:
        """``(contact index, foot index)`` of every contact between a foot and the floor."""
        ncon = self.data.ncon
        if not ncon:
            return []
        floor, feet, found = self.floor_id, self._foot_of_geom, []
        for i, (g1, g2) in enumerate(self.data.contact.geom[:ncon].tolist()):
            foot = feet.get(g2) if g1 == floor else feet.get(g1) if g2 == floor else None
            if foot is not None:
                found.append((i, foot))
        return found

    def foot_contacts(self) -> np.ndarray:
        """Per foot, whether it presses on the floor with more than ``contact_force_threshold``."""
        touching = [False] * len(self.foot_ids)
        for i, foot in self._floor_contacts():
            if not touching[foot]:
                mujoco.mj_contactForce(self.model, self.data, i, self._force)
                touching[foot] = self._force[0] > self.contact_force_threshold
        return np.array(touching)

    def foot_forces(self) -> np.ndarray:
        """Per foot, the normal force of its floor contacts in units of the body's weight (1.0: carrying it all)."""
        return np.array(self._contacts_and_forces()[1])

    def foot_speeds(self) -> np.ndarray:
        """Per foot, the speed (m/s) of its geom's centre in the world frame."""
        return np.array(self._foot_speeds())

    def _foot_speeds(self) -> list[float]:
        speeds = []
        for geom in self.foot_ids.tolist():
            mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_GEOM, geom, self._velocity, 0)
            vx, vy, vz = self._velocity[3:].tolist()
            speeds.append(math.sqrt(vx * vx + vy * vy + vz * vz))
        return speeds

    def _foot_clearances(self) -> list[float]:
        """Per foot, the distance (m) between its geom and the floor, 0 when touching."""
        model, data, floor = self.model, self.data, self.floor_id
        return [max(0.0, mujoco.mj_geomDistance(model, data, geom, floor, _MAX_FOOT_CLEARANCE, None))
                for geom in self.foot_ids.tolist()]  # fmt: skip

    def _contacts_and_forces(self) -> tuple[list[bool], list[float]]:
        """One contact scan: per foot, whether it touches the floor and its normal force in body weights."""
        forces = [0.0] * len(self.foot_ids)
        touching = [False] * len(self.foot_ids)
        threshold, force = self.contact_force_threshold, self._force
        for i, foot in self._floor_contacts():
            mujoco.mj_contactForce(self.model, self.data, i, force)
            normal = float(force[0])
            forces[foot] += normal
            touching[foot] = touching[foot] or normal > threshold
        weight = self.weight
        return touching, [f / weight for f in forces]

    def has_fallen(self) -> bool:
        return self._fallen(self.torso_height(), self.torso_pitch(), self.torso_upright())

    def _fallen(self, height: float, pitch: float, upright: float) -> bool:
        if height < self.min_torso_height:
            return True
        if self.max_torso_pitch is not None and abs(pitch) > self.max_torso_pitch:
            return True
        return self.min_torso_upright is not None and upright < self.min_torso_upright

    def read(self, foot_dynamics: bool = False, foot_clearances: bool = False) -> BodyReading:
        """The named quantities now; ``foot_dynamics`` adds per-foot floor forces and speeds (a contact scan and a
        velocity per foot, so only for tasks that use them), and with ``foot_clearances`` each foot's distance from
        the floor (a distance query per foot)."""
        data = self.data
        up = data.xmat[self.torso_id, 2::3].tolist()
        height = float(data.xpos[self.torso_id, 2])
        pitch = math.atan2(up[0], up[2])
        mujoco.mj_subtreeVel(self.model, data)
        forces = speeds = clearances = None
        if foot_dynamics:
            touching, forces_list = self._contacts_and_forces()
            contacts = np.array(touching)
            forces, speeds = tuple(forces_list), tuple(self._foot_speeds())
            clearances = tuple(self._foot_clearances()) if foot_clearances else None
        else:
            contacts = self.foot_contacts()
        return BodyReading(
            float(data.time),
            data.subtree_com[self.root_id].copy(),
            data.subtree_linvel[self.root_id].copy(),
            height,
            pitch,
            up[2],
            contacts,
            self.standing_com_height,
            self._fallen(height, pitch, up[2]),
            forces,
            speeds,
            clearances,
        )


#: Keyword arguments of :class:`Body` that users may set through ``gym.make``.
BODY_KWARGS = (
    "min_torso_height",
    "max_torso_pitch",
    "min_torso_upright",
    "standing_com_height",
    "standing_settle_time",
    "contact_force_threshold",
)
