"""Recipe templates by gait kind: one way to learn a walk, a jump and a switch between them, the same for every body.

A template turns a body (a :class:`~envs.bodies.BodySpec`: its gait catalogue from :func:`envs.gaits.gaits_of`, its
walk speed, its feet) into a full recipe on the body's clock task: training settings, a curriculum whose stages end
on measured signals of the training episodes (:mod:`agents.training.curriculum`), and the definition the brain is
tested against. A bundled recipe in ``recipes.yaml`` is ``{template: KIND, body: BODY}`` with at most a few
``overrides`` (settings merged over the template's), each commented with why.

| template | what it learns                                                                                 |
|----------|------------------------------------------------------------------------------------------------|
| `walk`   | the walk schedule at commanded speeds (0.6-1.2x the walk speed, changing within episodes), no flight |
| `jump`   | every foot in phase, in place, one flight each cycle                                           |
| `switch` | walk and jump commands in one brain, taught by the body's walk and jump brains (bundled names)   |

Speeds and speed errors scale with the body's walk speed, so one template serves every body. Every template's run
stops once its model meets its own tests on validation episodes at checkpoints in a row (``stop_when``,
:data:`STOP`); the step budget is the most it may take. A body with a
left-right mirror (``BodySpec.mirror``) learns every gait with the mirror loss (``mirror_weight``,
:data:`MIRROR_WEIGHT`): its gaits are symmetric, and without it a Walker2d's walk learned a limp, one foot tapping
the floor mid-swing, that penalties added later did not remove (docs/experiments/clock.md).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from typing import Any

import envs
from agents.config import ConfigError
from envs.bodies import BodySpec
from envs.gaits import gaits_of

#: Keys of a template entry in recipes.yaml.
ENTRY_KEYS = ("template", "body", "seed", "overrides")
#: Weight of the mirror loss for a body with a mirror: Yu, Turk and Liu (2018) weigh their squared distance 4; ours
#: is a mean over the action's entries (the same weight for bodies of any number of motors), so 4 is weaker by the
#: number of motors (6 on a Walker2d).
MIRROR_WEIGHT = 4.0
#: When a template's run ends early (``stop_when``, agents.training.stopping): once it passes every test of its
#: definition on 5 validation episodes each, at 2 checkpoints in a row of its last stage.
STOP = {"episodes": 5, "times": 2}
#: Range of commanded walking speeds, in multiples of the body's walk speed.
WALK_SPEEDS = (0.6, 1.2)
#: Seconds between random command changes within an episode.
SWITCH_INTERVAL = (1.5, 4.0)


def brain_name(body: str, kind: str) -> str:
    """The bundled name of a body's brain of one gait kind: ``walker2d-walk``."""
    return f"{body.lower()}-{kind}"


def _speed(value: float) -> str:
    return f"{value:.3g}"


def walk_criteria(spec: BodySpec, speed: float | None = None) -> dict[str, dict[str, Any]]:
    """What a walk must show: never falls, at ``speed`` (a multiple of the walk speed) within 20% when given, a foot
    on the floor almost always, each foot in stance at least 30% of the time, upright, labelled ``walk``; a biped's
    feet alternate and share the work."""
    v = spec.walk_speed
    criteria: dict[str, dict[str, Any]] = {"fell": {"max": 0}, "length": {"min": 1000, "of": "min"}}
    if speed is not None:
        criteria["forward_speed"] = {"min": round(0.8 * speed * v, 3), "max": round(1.2 * speed * v, 3)}
    criteria.update(ground_contact_fraction={"min": 0.95}, duty_factor={"min": 0.30})
    if len(spec.feet) == 2:
        criteria.update(duty_factor_gap={"max": 0.15}, alternation={"min": 0.80})
    criteria.update(torso_pitch={"min": -0.3, "max": 0.3}, gait={"equals": "walk"})
    return criteria


def walk(spec: BodySpec) -> dict[str, Any]:
    """The walk: the body's walk schedule at commanded speeds, tested at the walk speed and on a schedule of three
    speeds. Three stages, each ending on what the brain does (legged_gym's and Walk These Ways' rule: a command range
    widens once tracking earns 80% of its weight over 20 training episodes):

    1. the walk speed alone, unscheduled flights charged lightly (``grounded`` 0.3): the clock's walk schedule is
       timed for this speed. Charged in full from scratch, a Walker2d stood (the safe answer to a heavy flight
       charge), and widening from slow speeds it learned a half-speed limp (docs/experiments/clock.md);
    2. 0.6-1.2x the walk speed, changing within episodes, until it tracks them too;
    3. the same with unscheduled flights charged in full, so that a brain that runs learns to walk."""
    v = spec.walk_speed
    env_kwargs = {
        "gaits": ["walk"],
        "speed_range": list(WALK_SPEEDS),
        "switch_interval": list(SWITCH_INTERVAL),
        "speed_weight": 1.0,
        "speed_scale": round(2.0 / v, 4),
        "grounded_weight": 1.0,
    }
    tracking = {"signal": "reward:speed", "above": 0.8, "episodes": 20}
    curriculum = [
        {"until": tracking, "env_kwargs": {"speed_range": [1.0, 1.0], "grounded_weight": 0.3}},
        {"until": tracking, "env_kwargs": {"grounded_weight": 0.3}},
    ]
    low, high = WALK_SPEEDS
    speeds = f"walk:{_speed(low * v)}@0,walk:{_speed(high * v)}@333,walk:{_speed(0.8 * v)}@666"
    speed_criteria = walk_criteria(spec)
    speed_criteria["walk_speed_error"] = {"max": 0.2}  # a relative error: within 20% of each command
    return {
        "settings": {
            "total_steps": 2_500_000,
            "checkpoint_freq": 100_000,
            "eval_freq": 0,
            "env_kwargs": env_kwargs,
            "curriculum": curriculum,
        },
        "eval_env_kwargs": {"schedule": f"walk:{_speed(v)}@0"},
        "criteria": walk_criteria(spec, speed=1.0),
        "also": [{"eval_env_kwargs": {"schedule": speeds}, "criteria": speed_criteria}],
    }


def jump_criteria(spec: BodySpec) -> dict[str, dict[str, Any]]:
    """What a jump must show: never falls, at least 5 flights per 1000 steps rising 0.30 m (a Walker2d's scale:
    the scheduled flight's apex is g T^2 / 8), on its spot, landing on every foot, upright, labelled ``jump``."""
    criteria: dict[str, dict[str, Any]] = {
        "fell": {"max": 0},
        "length": {"min": 1000, "of": "min"},
        "flight_phases_per_1000": {"min": 5},
        "mean_apex_rise": {"min": 0.30},
        "horizontal_drift": {"max": 1.0, "of": "max"},
    }
    if len(spec.feet) > 1:
        criteria.update(two_footed_landings={"min": 0.8}, duty_factor_gap={"max": 0.1})
    criteria.update(torso_pitch={"min": -0.3, "max": 0.3}, gait={"equals": "jump"})
    return criteria


def jump(spec: BodySpec) -> dict[str, Any]:
    """The jump in place, learned in stages that each end when the symptom they fix is gone from the training
    episodes (docs/experiments/clock.md, "The jump on the clock"): from scratch with flights the schedule lacks
    forgiven (``grounded`` light, v3's rule) until it jumps (mean apex 0.18 m: a second, small hop in the flight
    drags the mean down); flights charged in full until the small ones are gone (0.25 m); then 200-step episodes
    (more starts from rest) until falls are rare; then standing starts and one flight per scheduled flight until
    rebounds are rare (``grounded`` earning 97% of its weight); last, a foot lifted in stance charged five times
    more. Not yet run as a template: its thresholds come from the hand-staged runs of that page."""
    if "jump" not in gaits_of(spec):
        raise ConfigError(f"{spec.name} has no jump gait; its gaits: {', '.join(gaits_of(spec))}")
    final = {"gaits": ["jump"], "speed_weight": 0.6, "grounded_weight": 2.0, "stand_first": True,
             "stance_contact_weight": 1.0}  # fmt: skip
    lenient = {"stand_first": False, "one_flight": False, "stance_contact_weight": 0.2}
    curriculum = [
        {"until": {"signal": "apex_rise", "above": 0.18, "episodes": 40},
         "env_kwargs": {**lenient, "grounded_weight": 0.3}, "learning_rate": 3.0e-4},
        {"until": {"signal": "apex_rise", "above": 0.25, "episodes": 40},
         "env_kwargs": {**lenient, "grounded_weight": 1.0}, "learning_rate": 3.0e-4},
        {"until": {"signal": "fell", "below": 0.05, "episodes": 100},
         "env_kwargs": {**lenient, "max_episode_steps": 200}},
        {"until": {"signal": "reward:grounded", "above": 0.97, "episodes": 60},
         "env_kwargs": {"max_episode_steps": 300, "stance_contact_weight": 0.2}},
    ]  # fmt: skip
    return {
        "settings": {
            "total_steps": 8_500_000,
            "learning_rate": 1.0e-4,
            "checkpoint_freq": 100_000,
            "eval_freq": 0,
            "gamma": 0.995,
            "env_kwargs": final,
            "curriculum": curriculum,
        },
        "criteria": jump_criteria(spec),
    }


def switch(spec: BodySpec) -> dict[str, Any]:
    """One brain for walk and jump commands: from the body's walk brain, kickstarted throughout by its walk and jump
    brains (the commanded gait's teacher), tested on a schedule with two switches each way."""
    v = spec.walk_speed
    walker, jumper = brain_name(spec.name, "walk"), brain_name(spec.name, "jump")
    env_kwargs = {
        "gaits": ["walk", "jump"],
        "speed_range": list(WALK_SPEEDS),
        "switch_interval": list(SWITCH_INTERVAL),
        "speed_weight": 1.0,
        "speed_scale": round(2.0 / v, 4),
        "one_flight": False,
        "grounded_weight": 0.3,
        "stance_contact_weight": 1.0,
    }
    schedule = f"walk:{_speed(v)}@0,jump@250,walk:{_speed(0.7 * v)}@500,jump@750"
    return {
        "settings": {
            "total_steps": 2_500_000,
            "learning_rate": 1.0e-4,
            "gamma": 0.995,
            "checkpoint_freq": 50_000,
            "eval_freq": 0,
            "init_from": walker,
            "env_kwargs": env_kwargs,
            "kickstart": {"teachers": {"walk": walker, "jump": jumper}, "weight": 1.0, "anneal_steps": 100_000_000},
        },
        "eval_env_kwargs": {"schedule": schedule},
        "criteria": {
            "fell": {"max": 0},
            "length": {"min": 1000, "of": "min"},
            "switches_followed": {"min": 0.9},
            "walk_speed_error": {"max": 0.2},  # relative, as in the walk
            "walk_flights_per_1000": {"max": 0},
            "jump_apex_rise": {"min": 0.30},
        },
    }


#: Templates by gait kind.
TEMPLATES: dict[str, Callable[[BodySpec], dict[str, Any]]] = {"walk": walk, "jump": jump, "switch": switch}


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` over ``base``, mappings merged key by key (so ``env_kwargs: {crouch: 0.1}`` changes one);
    ``stop_when: {}`` replaces, turning the early stop off."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and not (key == "stop_when" and not value) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def expand(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The full recipe of a template entry ``{template, body, seed, overrides}``: env id, algo, seed, settings,
    tests; ``template``, ``body`` and ``overrides`` are kept for the record."""
    unknown = set(entry) - set(ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"brain {name!r}: unknown key(s) {', '.join(sorted(unknown))}; valid: {', '.join(ENTRY_KEYS)}"
        )
    kind, body = entry.get("template"), entry.get("body")
    if not isinstance(kind, str) or kind not in TEMPLATES:
        raise ConfigError(f"brain {name!r}: template {kind!r} is not one of {', '.join(TEMPLATES)}")
    if not isinstance(body, str) or body not in envs.BODIES:
        raise ConfigError(f"brain {name!r}: body {body!r} is not registered; valid: {', '.join(envs.BODIES)}")
    overrides = entry.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"brain {name!r}: overrides must be a mapping of settings, got {overrides!r}")
    spec = envs.BODIES[body]
    recipe = TEMPLATES[kind](spec)
    if spec.mirror is not None:
        recipe["settings"]["mirror_weight"] = MIRROR_WEIGHT
    # The run stops on its definition, not only at its step budget.
    tests = [{"eval_env_kwargs": recipe.get("eval_env_kwargs") or {}, "criteria": recipe["criteria"]}]
    recipe["settings"]["stop_when"] = copy.deepcopy({"tests": tests + recipe.get("also", []), **STOP})
    recipe["settings"] = _merge(recipe["settings"], overrides)
    return {"env_id": envs.env_id(body, "clock"), "algo": "rppo", "seed": entry.get("seed", 0), "template": kind,
            "body": body, "overrides": overrides, **recipe}  # fmt: skip


def for_body(kind: str, body: str, seed: int = 0) -> tuple[str, dict[str, Any]]:
    """The brain name and full recipe of template ``kind`` on ``body``: a registered body's name, or
    ``module:Body`` for a body that ``module`` registers (imported first; the recipe's env id keeps the
    ``module:`` prefix, so that every later command imports it too)."""
    if kind not in TEMPLATES:
        raise ConfigError(f"template {kind!r} is not one of {', '.join(TEMPLATES)}")
    module, _, name = body.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"--body {body!r}: cannot import module {module!r} ({exc})") from None
    brain = brain_name(name, kind)
    recipe = expand(brain, {"template": kind, "body": name, "seed": seed})
    if module:
        recipe["env_id"] = f"{module}:{recipe['env_id']}"
    return brain, recipe
