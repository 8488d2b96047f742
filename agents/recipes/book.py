"""Recipes of the bundled brains: how each is trained and what it must show, read from ``recipes.yaml``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from agents.config import ConfigError, check_rule, load_yaml
from agents.recipes.templates import expand
from agents.training import distill

RECIPES_FILE = Path(__file__).with_name("recipes.yaml")
#: A recipe's ``select`` (see :func:`agents.recipes.selection.select_checkpoint`): ``from`` and ``every`` in env
#: steps, ``screen`` and ``confirm`` in validation episodes, ``finalists`` in checkpoints.
SELECT_DEFAULTS = {"from": 0, "every": 100_000, "screen": 10, "confirm": 30, "finalists": 3}
#: Keys of a recipe's ``distill`` besides ``teachers``: the keyword arguments of
#: :func:`agents.training.distill.distill`.
DISTILL_KEYS = tuple(k for k, p in inspect.signature(distill.distill).parameters.items() if p.kind == p.KEYWORD_ONLY
                     and k != "log")  # fmt: skip


def load_recipes(path: Path = RECIPES_FILE) -> dict[str, dict[str, Any]]:
    recipes = load_yaml(Path(path).read_text()) or {}
    if not isinstance(recipes, dict):
        raise ConfigError(f"{path}: expected a mapping of brain names to recipes")
    for name, entry in list(recipes.items()):
        recipe = recipes[name] = expand(name, entry) if isinstance(entry, dict) and "template" in entry else entry
        if not isinstance(recipe, dict):
            raise ConfigError(f"{path}: brain {name!r}: expected a mapping (a template entry or a recipe)")
        missing = {"env_id", "algo", "criteria"} - set(recipe)
        if missing:
            raise ConfigError(f"{path}: brain {name!r} lacks {', '.join(sorted(missing))}")
        try:
            select_rules(recipe)
        except ConfigError as exc:
            raise ConfigError(f"{path}: brain {name!r}: {exc}") from None
        chain = recipe.get("chain")
        if "chain" in recipe and not (isinstance(chain, list) and chain and all(isinstance(c, dict) for c in chain)):
            raise ConfigError(f"{path}: brain {name!r}: chain must be a list of settings mappings, one per run")
        if chain and ("distill" in recipe or (recipe.get("settings") or {}).get("init_from")
                      or any(link.get("init_from") for link in chain[1:])):  # fmt: skip
            raise ConfigError(f"{path}: brain {name!r}: in a chain each run starts from the one before: only the "
                              "first may set init_from, and distill cannot be combined with it")  # fmt: skip
        also = recipe.get("also", [])
        if not (isinstance(also, list) and all(isinstance(t, dict) and set(t) == {"eval_env_kwargs", "criteria"}
                                               and isinstance(t["eval_env_kwargs"], dict)
                                               and isinstance(t["criteria"], dict) for t in also)):  # fmt: skip
            raise ConfigError(f"{path}: brain {name!r}: also must be a list of {{eval_env_kwargs, criteria}} tests")
        for criteria in (recipe["criteria"], *(test["criteria"] for test in also)):
            for metric, rule in (criteria if isinstance(criteria, dict) else {}).items():
                if not isinstance(rule, dict):
                    raise ConfigError(
                        f"{path}: brain {name!r}: criterion {metric}: expected a rule mapping, got {rule!r}"
                    )
                check_rule(rule, f"{path}: brain {name!r}: criterion {metric}")
        rules = recipe.get("distill")
        if "distill" in recipe and not (isinstance(rules, dict) and isinstance(rules.get("teachers"), dict)
                                        and rules["teachers"]):  # fmt: skip
            raise ConfigError(f"{path}: brain {name!r}: distill needs teachers: {{GAIT: BRAIN, ...}}")
        unknown = set(rules or {}) - {"teachers", *DISTILL_KEYS}
        if unknown:
            raise ConfigError(f"{path}: brain {name!r}: unknown distill keys {', '.join(sorted(unknown))}; valid: "
                              f"teachers, {', '.join(DISTILL_KEYS)}")  # fmt: skip
    return recipes


def select_rules(recipe: dict[str, Any], total_steps: int | None = None) -> dict[str, int]:
    """The recipe's ``select`` over :data:`SELECT_DEFAULTS`, checked (before any training)."""
    given = recipe.get("select") or {}
    if not isinstance(given, dict):
        raise ConfigError(f"select must be a mapping of {', '.join(SELECT_DEFAULTS)}, got {given!r}")
    unknown = set(given) - set(SELECT_DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown select key(s) {', '.join(sorted(unknown))}; valid: {', '.join(SELECT_DEFAULTS)}")
    rules = {**SELECT_DEFAULTS, **given}
    least = {"from": 0, "every": 1, "screen": 1, "confirm": 0, "finalists": 1}
    for key, low in least.items():
        value = rules[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"select {key} must be a whole number >= {low}, got {value!r}")
    if total_steps is not None and rules["from"] > total_steps:
        raise ConfigError(f"select from {rules['from']} is beyond the run's {total_steps} training steps")
    return rules


def recipe_tests(recipe: dict[str, Any]) -> list[tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]]:
    """Every test of a recipe as ``(eval env kwargs, criteria)``: its own, then each of ``also``."""
    tests = [(recipe.get("eval_env_kwargs"), recipe["criteria"])]
    return tests + [(test["eval_env_kwargs"], test["criteria"]) for test in recipe.get("also", [])]


def env_body_and_task(env_id: str) -> tuple[str, str]:
    """``[module:]neuromotor/<Body>-<Task>-vN`` -> ``(Body, Task)`` (``""`` for a part an id lacks)."""
    body, task, *_ = [*env_id.rpartition(":")[2].rpartition("/")[2].split("-"), "", ""]
    return body, task


def body_and_gait(recipe: dict[str, Any]) -> tuple[str, str]:
    """The body a recipe trains and the gait its brain is tested for: a template's body and kind, else read from
    its env id (``[module:]neuromotor/<Body>-<Task>-vN``) and its ``gait`` criterion (else the task; ``switch`` for a
    brain tested on following commands)."""
    if "template" in recipe:
        return recipe["body"], recipe["template"]
    body, task = env_body_and_task(recipe["env_id"])
    criteria = recipe.get("criteria") or {}
    if "switches_followed" in criteria:
        return body, "switch"
    return body, str((criteria.get("gait") or {}).get("equals", task.lower() or "other"))
