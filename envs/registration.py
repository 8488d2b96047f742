"""Env ids: ``neuromotor/<Body>-<Task>-v<N>`` for every body and task, and the plug-in entry point."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import mujoco

from envs.arguments import check_arguments, check_limits, parameters
from envs.bodies import BODY_LIMITS, Body, BodySpec, check_feet
from envs.catalog import BODIES
from envs.generic import GenericBodyEnv
from envs.locomotion import BASE_LIMITS, LocomotionEnv, base_settings, check_base_kwargs
from envs.mirror import BodyMirror, body_maps
from envs.tasks import TASKS

NAMESPACE = "neuromotor"
#: Episode length in env steps, as for Gymnasium's MuJoCo locomotion envs.
MAX_EPISODE_STEPS = 1000


def env_id(body: str, task: str) -> str:
    """``env_id("Walker2d", "walk") == "neuromotor/Walker2d-Walk-v1"``; ``N`` is the task's version."""
    return f"{NAMESPACE}/{body}-{TASKS[task].title}-v{TASKS[task].version}"


def env_ids() -> list[str]:
    """Every registered neuromotor id."""
    return [env_id(body, task) for body in BODIES for task in TASKS]


@dataclasses.dataclass(frozen=True)
class LocomotionId:
    """The entry point of a registered id: a :class:`~envs.locomotion.LocomotionEnv` of the id's body and task.

    The spec's kwargs carry ``body`` and ``task`` as well, so that ``gym.spec(id).kwargs`` says them and
    ``gym.make(env.spec)`` makes the same env; a ``body`` or ``task`` other than the id's is refused, since an id
    names what it runs.
    """

    body: str
    task: str
    #: Read by ``gym.make`` for the render modes.
    metadata: ClassVar[dict[str, Any]] = LocomotionEnv.metadata

    def __call__(self, **kwargs: Any) -> LocomotionEnv:
        for key, own in (("body", self.body), ("task", self.task)):
            given = kwargs.setdefault(key, own)
            if not (isinstance(given, str) and given == own):
                raise ValueError(f"{env_id(self.body, self.task)} names its body and task; {self._refusal(key, given)}")
        return LocomotionEnv(**kwargs)

    def _refusal(self, key: str, given: Any) -> str:
        body, task = (given, self.task) if key == "body" else (self.body, given)
        said = f"{key}={given!r} is not a setting of it"
        if isinstance(given, str) and body in BODIES and task in TASKS:
            return f"{said}; make {env_id(body, task)} instead"
        return said


def _register(spec: BodySpec) -> None:
    for task in TASKS:
        # Each id's entry point is a module attribute named by a string, so that the spec stays plain data
        # (``EnvSpec.to_json``, which dataset tools such as Minari store) and pickles by name.
        creator = f"_{spec.name}_{task}"
        globals()[creator] = LocomotionId(spec.name, task)
        gym.register(
            id=env_id(spec.name, task),
            entry_point=f"{__name__}:{creator}",
            max_episode_steps=MAX_EPISODE_STEPS,
            kwargs={"body": spec.name, "task": task},
        )


def register_body(
    name: str,
    xml_file: str | Path,
    torso: str,
    feet: list[str] | tuple[str, ...],
    *,
    foot_labels: list[str] | tuple[str, ...] = (),
    floor: str = "floor",
    walk_speed: float = 1.0,
    min_torso_height: float = 0.0,
    max_torso_pitch: float | None = None,
    min_torso_upright: float | None = None,
    standing_settle_time: float = 0.0,
    task_kwargs: dict[str, dict[str, Any]] | None = None,
    mirror: BodyMirror | None = None,
    frame_skip: int = 4,
    **base_kwargs: Any,
) -> list[str]:
    """Add a body from an MJCF file and register an env id for every task (walk, jump, native, gait, clock).

    The MJCF needs a floor geom, a torso body and foot geoms; names are checked now, with an error that lists the
    valid ones. Fall thresholds and ``task_kwargs`` (this body's task defaults, by task name) are as in
    :class:`~envs.bodies.BodySpec`; ``frame_skip`` and ``base_kwargs`` go to
    :class:`~envs.generic.GenericBodyEnv`. Returns the new ids.

    Raises ``ValueError``, before reading the file, for a bad name, feet or foot labels that are not a list of
    names, named twice or not one label per foot, numbers that are not finite or outside their range (see
    :data:`~envs.bodies.BODY_LIMITS`, :data:`~envs.locomotion.BASE_LIMITS`), unknown ``base_kwargs``, and
    ``task_kwargs`` for unknown tasks or with values that do not fit the task's arguments; then for a file that is
    not an MJCF model or lacks the named torso, feet or floor, or a ``mirror`` (:class:`~envs.mirror.BodyMirror`)
    naming joints or feet it lacks.
    """
    # Every parameter is still a local here: check the numeric ones (walk_speed, thresholds, frame_skip).
    settings = locals()
    check_arguments(register_body, settings)
    check_limits(settings, BODY_LIMITS)
    check_limits(settings, BASE_LIMITS)
    _check_base_kwargs(base_kwargs)
    for task, defaults in (task_kwargs or {}).items():
        if task not in TASKS:
            raise ValueError(f"task_kwargs names an unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
        check_arguments(TASKS[task].__init__, defaults, prefix=f"task_kwargs[{task!r}].")
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"body name must be letters, digits and underscores, got {name!r}")
    if name in BODIES:
        raise ValueError(f"body {name!r} is already registered; registered bodies: {', '.join(BODIES)}")
    check_feet(feet, foot_labels, prefix=f"body {name!r}: ")
    if not isinstance(xml_file, (str, Path)):
        raise ValueError(f"xml_file must be the path of an MJCF file, got {xml_file!r}")
    path = Path(xml_file).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"xml_file {str(xml_file)!r} does not exist")
    try:
        model = mujoco.MjModel.from_xml_path(str(path))
    except ValueError as exc:
        raise ValueError(f"xml_file {str(xml_file)!r} is not a valid MJCF model: {exc}") from None
    Body(model, mujoco.MjData(model), torso=torso, feet=tuple(feet), floor=floor)
    if mirror is not None:
        if not isinstance(mirror, BodyMirror):
            raise ValueError(f"mirror must be an envs.BodyMirror, got {mirror!r}")
        body_maps(model, mirror, tuple(foot_labels) or tuple(feet))
    spec = BodySpec(
        name=name,
        base_env=GenericBodyEnv,
        torso=torso,
        feet=tuple(feet),
        foot_labels=tuple(foot_labels),
        floor=floor,
        walk_speed=walk_speed,
        min_torso_height=min_torso_height,
        max_torso_pitch=max_torso_pitch,
        min_torso_upright=min_torso_upright,
        standing_settle_time=standing_settle_time,
        base_kwargs={
            "xml_file": str(path),
            "torso": torso,
            "frame_skip": frame_skip,
            "min_torso_height": min_torso_height,
            **base_kwargs,
        },
        task_base_kwargs={"terminate_when_unhealthy": False},
        task_kwargs=task_kwargs or {},
        mirror=mirror,
    )
    BODIES[name] = spec
    _register(spec)
    return [env_id(name, task) for task in TASKS]


def _check_base_kwargs(base_kwargs: dict[str, Any]) -> None:
    """``register_body``'s extra keyword arguments must be settings of the plug-in's base env, and fit them."""
    # register_body's own parameters are set by name; the tasks that judge falls set terminate_when_unhealthy.
    valid = base_settings(GenericBodyEnv) - parameters(register_body) - {"terminate_when_unhealthy"}
    unknown = sorted(set(base_kwargs) - valid)
    if unknown:
        raise ValueError(
            f"unknown keyword argument(s) {', '.join(map(repr, unknown))} for register_body; valid: "
            f"{', '.join(sorted(parameters(register_body) | valid))}"
        )
    check_base_kwargs(GenericBodyEnv, base_kwargs)


def resolve_env_id(env: str) -> str:
    """Check that ``env`` names a registered id, importing ``module`` first for ``module:EnvId``.

    Raises a ``ValueError`` naming the closest registered ids when it does not.
    """
    if ":" in env:
        module, env = env.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"cannot import module {module!r} for env {env!r}: {exc}") from None
    if env in gym.registry:
        return env
    close = difflib.get_close_matches(env, list(gym.registry), n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else f"; neuromotor ids: {', '.join(env_ids())}"
    raise ValueError(f"unknown env id {env!r}{hint}")


for _spec in BODIES.values():
    _register(_spec)
