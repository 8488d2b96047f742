"""The built-in bodies: Gymnasium's v5 MuJoCo locomotion models, and the registry that plug-ins join."""

from __future__ import annotations

from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.humanoid_v5 import HumanoidEnv
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

from envs.bodies import BodySpec
from envs.mirror import BodyMirror

#: The Ant's walk: no stride term (its swing timing is for two feet); speed paid only with a foot down; support paid
#: more, in full for two feet down; force, action changes and vertical speed charged. Small random actions throw
#: this light, strong body into the air, and it must be paid to keep its feet on the floor.
_ANT_WALK = {
    "stride_weight": 0.0,
    "speed_weight": 3.0,
    "grounded_speed": True,
    "support_weight": 2.0,
    "support_feet": 2,
    "ctrl_cost_weight": 0.5,
    "smooth_weight": 0.5,
    "bounce_weight": 1.0,
}

#: The clock jump's crouch between flights, within what the body's joints allow standing still on flat feet
#: (``envs.reach.deepest_crouch``): the Walker2d reaches 0.04 m upright and 0.09 m leaning back 0.3 rad (its hips
#: only extend, its ankles turn 45 degrees), the Hopper 0.085 m upright.
_WALKER2D_CLOCK = {"crouch": 0.06}
_HOPPER_CLOCK = {"crouch": 0.08}

#: Tasks that judge falls themselves switch the base env's own health-based termination off with this.
_NO_BASE_TERMINATION = {"terminate_when_unhealthy": False}

# Fall thresholds follow Gymnasium's healthy ranges where those describe a fall (low torso, large pitch) and drop
# their upper bounds (a jump is not a fall). Planar bodies judge pitch; 3D ones judge being upside down.
BUILTIN_BODIES = (
    BodySpec(
        name="Walker2d",
        base_env=Walker2dEnv,
        torso="torso",
        feet=("foot_geom", "foot_left_geom"),
        foot_labels=("right", "left"),
        # A planar body: its legs trade places and nothing changes sign (both feet have friction 1.9 in v5).
        mirror=BodyMirror(
            joints=(
                ("thigh_joint", "thigh_left_joint"),
                ("leg_joint", "leg_left_joint"),
                ("foot_joint", "foot_left_joint"),
            ),
            feet=(("right", "left"),),
        ),
        walk_speed=1.0,
        min_torso_height=0.8,
        max_torso_pitch=1.0,
        task_kwargs={"clock": _WALKER2D_CLOCK},
        task_base_kwargs=_NO_BASE_TERMINATION,
    ),
    BodySpec(
        name="Hopper",
        base_env=HopperEnv,
        torso="torso",
        feet=("foot_geom",),
        foot_labels=("foot",),
        walk_speed=1.0,
        min_torso_height=0.7,
        max_torso_pitch=1.0,
        task_kwargs={"clock": _HOPPER_CLOCK},
        task_base_kwargs=_NO_BASE_TERMINATION,
    ),
    BodySpec(
        name="HalfCheetah",
        base_env=HalfCheetahEnv,
        torso="torso",
        feet=("bfoot", "ffoot"),
        foot_labels=("back", "front"),
        walk_speed=2.0,
        min_torso_upright=0.0,
    ),
    BodySpec(
        name="Ant",
        base_env=AntEnv,
        torso="torso",
        feet=("left_ankle_geom", "right_ankle_geom", "third_ankle_geom", "fourth_ankle_geom"),
        # Labelled by where each foot points in the initial pose (+x forward, +y left), not by the MJCF names.
        foot_labels=("front_left", "back_left", "back_right", "front_right"),
        # Half a body length per second, with a walk that keeps its feet on the floor (see _ANT_WALK); the bundled
        # ant-walk brain also runs at strength 0.3, weaker motors for the same reason.
        walk_speed=0.5,
        task_kwargs={"walk": _ANT_WALK},
        min_torso_height=0.2,
        min_torso_upright=0.0,
        # The Ant's legs start flat, outside their joint limits: let it settle onto them before measuring.
        standing_settle_time=1.0,
        # Left and right legs trade places (MJCF legs 1 and 4 in front, 2 and 3 behind); the hips turn the other way.
        mirror=BodyMirror(
            joints=(("hip_1", "hip_4"), ("ankle_1", "ankle_4"), ("hip_2", "hip_3"), ("ankle_2", "ankle_3")),
            feet=(("front_left", "front_right"), ("back_left", "back_right")),
        ),
        task_base_kwargs=_NO_BASE_TERMINATION,
    ),
    BodySpec(
        name="Humanoid",
        base_env=HumanoidEnv,
        torso="torso",
        feet=("right_foot", "left_foot"),
        foot_labels=("right", "left"),
        walk_speed=1.0,
        min_torso_height=1.0,
        # Right and left limbs trade places; the abdomen's twist and roll turn the other way.
        mirror=BodyMirror(
            joints=tuple(
                (f"right_{joint}", f"left_{joint}")
                for joint in ("hip_x", "hip_z", "hip_y", "knee", "shoulder1", "shoulder2", "elbow")
            ),
            feet=(("right", "left"),),
        ),
        task_base_kwargs=_NO_BASE_TERMINATION,
    ),
)

#: Every known body by name: the built-ins, then whatever :func:`envs.register_body` adds.
BODIES: dict[str, BodySpec] = {spec.name: spec for spec in BUILTIN_BODIES}
