"""Training settings: one dataclass, YAML presets keyed by env id, and validated ``key=value`` overrides."""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import inspect
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

PRESETS_FILE = Path(__file__).with_name("presets.yaml")

#: Algorithms by name: ``rppo`` is our LSTM brain (RecurrentPPO with the fast policy), ``ppo`` the MLP baseline.
ALGOS = ("rppo", "ppo")
VEC_ENVS = ("dummy", "subproc")
DEVICES = ("cpu", "auto")
ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu")
#: Most env steps a run may ask for: ten billion, weeks on any machine (a typo such as 1e23 is refused).
MAX_TOTAL_STEPS = 10**10
#: Settings that no longer exist, with the value every saved config holds for them (dropped when read; any other
#: value is refused as unknown).
RETIRED_SETTINGS: dict[str, Any] = {"lead_in": {}}
#: Settings of a kickstart (``TrainConfig.kickstart``, see :mod:`agents.training.kickstart`) and their defaults;
#: ``teachers`` (gait -> brain) has none.
KICKSTART_DEFAULTS: dict[str, Any] = {"weight": 1.0, "anneal_steps": 1_000_000, "switch_grace": 125, "fresh": False}
#: Defaults of the mirror loss's settings (``TrainConfig.mirror_*``, see :mod:`agents.brains.algorithm`).
MIRROR_DEFAULTS: dict[str, Any] = {"weight": 0.0, "burn_in": 16}
#: Defaults of a stop rule (``TrainConfig.stop_when``, see :mod:`agents.training.stopping`); ``tests`` has none.
STOP_DEFAULTS: dict[str, Any] = {"episodes": 5, "times": 2}
#: Which statistic over the episodes a criterion judges (``of:``, agents.evaluation.criteria); the mean by default.
CRITERION_STATISTICS = ("mean", "min", "max")
#: What a criterion's rule may say.
CRITERION_KEYS = ("min", "max", "equals", "of")
#: What a curriculum stage may set.
STAGE_KEYS = {"until", "env_kwargs", "learning_rate"}

#: Policy keyword arguments each algorithm accepts, with their types.
POLICY_KEYS: dict[str, dict[str, Any]] = {
    "ppo": {"net_arch": (list, dict), "activation_fn": str, "log_std_init": float, "ortho_init": bool},
}
POLICY_KEYS["rppo"] = {
    **POLICY_KEYS["ppo"],
    "lstm_hidden_size": int,
    "n_lstm_layers": int,
    "enable_critic_lstm": bool,
    "shared_lstm": bool,
    "exact_steps": bool,
    "bucket_sequences": bool,
    "cell": str,
    "leak": float,
}
#: The brain's recurrent cells (``policy.cell``; :mod:`agents.brains.cells`).
CELLS = ("lstm", "gru", "rnn")


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, also reading ``1e-4`` as a float (YAML 1.1 wants ``1.0e-4``), and refusing a key given
    twice in one mapping (PyYAML keeps the last, so two teachers for one gait would pass as one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        twice = sorted({str(k) for k in keys if keys.count(k) > 1})
        if twice:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {twice[0]!r} is given twice in one mapping", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)
# ``nan`` and ``inf`` as Python spells them are numbers too, so that a setting that must be finite says so.
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:nan|inf)$"), list("-+in"))


def _float(loader: _Loader, node: yaml.ScalarNode) -> float:
    return float(node.value) if node.value.lstrip("+-") in ("nan", "inf") else loader.construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _float)


def load_yaml(text: str) -> Any:
    """Parse YAML data (never code), with ``1e-4`` read as a float."""
    return yaml.load(text, Loader=_Loader)


#: Signals a curriculum stage may advance on (agents.training.curriculum), with what they measure per episode.
SIGNALS = {
    "fell": "1 if the episode ended in a fall, else 0",
    "length": "episode length (steps)",
    "flights_per_1000": "flights (every foot off the floor) per 1000 steps",
    "apex_rise": "highest centre-of-mass rise above standing in each flight (m), averaged over flights",
    "reward:TERM": "a reward term's mean per step as a fraction of its weight",
    "speed_error": "relative error of the mean forward speed per walking command, from 1 s into it (walk_speed_error)",
}
#: Keys of a condition and the default window.
CONDITION_KEYS = ("signal", "above", "below", "episodes")
DEFAULT_EPISODES = 20


def check_condition(condition: Any, where: str) -> str | None:
    """The problem with a stage's ``until`` condition, or ``None`` when it is well formed."""
    if not isinstance(condition, dict):
        return f"{where} must be a step count or a mapping {{signal: NAME, above|below: X}}, got {condition!r}"
    unknown = set(condition) - set(CONDITION_KEYS)
    if unknown:
        return f"{where} has unknown key(s) {', '.join(sorted(map(str, unknown)))}; valid: {', '.join(CONDITION_KEYS)}"
    signal = condition.get("signal")
    if not isinstance(signal, str) or not (signal in SIGNALS or (signal.startswith("reward:") and signal[7:])):
        return f"{where}.signal must be one of {', '.join(SIGNALS)}, got {signal!r}"
    sides = [side for side in ("above", "below") if side in condition]
    if len(sides) != 1:
        return f"{where} needs exactly one of above or below, got {', '.join(sides) or 'neither'}"
    value = condition[sides[0]]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"{where}.{sides[0]} must be a finite number, got {value!r}"
    episodes = condition.get("episodes", DEFAULT_EPISODES)
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        return f"{where}.episodes must be a whole number >= 1, got {episodes!r}"
    return None


class ConfigError(ValueError):
    """A setting that is unknown or has a bad value; the message names it and what is valid."""


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as ``config.yaml`` in the run directory."""

    env_id: str = ""
    """Gymnasium id of the env (ours, any installed one, or ``module:EnvId``)."""
    algo: str = "rppo"
    """``rppo`` (LSTM brain, RecurrentPPO with the fast policy) or ``ppo`` (MLP baseline)."""
    seed: int = 0
    """Seed of the envs, the network initialisation and the sampling."""
    total_steps: int = 1_000_000
    """Env steps to train for, summed over the parallel envs."""
    n_envs: int = 8
    """Parallel envs."""
    vec_env: str = "dummy"
    """``dummy`` (envs in this process) or ``subproc`` (one process per env)."""
    n_steps: int = 256
    """Steps per env per rollout; for ``rppo`` also the longest backpropagation-through-time window."""
    batch_size: int = 1024
    """Minibatch size, in env steps."""
    n_epochs: int = 10
    """Passes over each rollout."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clipping of the probability ratio."""
    ent_coef: float = 0.0
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    target_kl: float | None = None
    """Stop an update early past this KL divergence (``null``: never)."""
    normalize: bool = True
    """Normalise observations with running statistics (VecNormalize)."""
    norm_reward: bool = True
    """Also scale rewards by a running estimate of the return's std (only with ``normalize``)."""
    clip_obs: float = 10.0
    """Clip normalised observations to this magnitude."""
    eval_freq: int = 100_000
    """Evaluate every this many env steps (0: never)."""
    eval_episodes: int = 5
    """Deterministic episodes per evaluation."""
    checkpoint_freq: int = 50_000
    """Save a checkpoint every this many env steps (0: only on Ctrl-C)."""
    device: str = "cpu"
    """Torch device: ``cpu`` or ``auto`` (a GPU if there is one)."""
    threads: int = 0
    """Torch threads; ``0`` (auto): for each phase (env steps, an update) the cores other processes left free (a run
    then depends on the machine's load; a fixed count reproduces a seed bit for bit)."""
    policy: dict = dataclasses.field(default_factory=dict)
    """Policy keyword arguments (``lstm_hidden_size``, ``net_arch``, ...), validated per algo."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    """Keyword arguments of ``gym.make`` (``obs``, ``speed``, ...), validated by the env."""
    init_from: str | None = None
    """Start from this brain's weights (bundled name, run directory or model .zip); new inputs start at zero weight."""
    init_min_log_std: float | None = None
    """With ``init_from``: raise the brain's action log std to at least this, to explore the new task."""
    init_critic_steps: int = 0
    """With ``init_from``: for this many env steps train only the value function (the policy's weights frozen)."""
    kickstart: dict = dataclasses.field(default_factory=dict)
    """Teach by gait teachers while learning: ``{teachers: {GAIT: BRAIN}, weight: W, anneal_steps: N, switch_grace:
    STEPS, fresh: BOOL}`` adds ``W * (1 - steps / N)`` times the squared error of the action means against the
    active teacher's action to PPO's loss (see agents.training.kickstart; rppo on gait or clock envs)."""
    mirror_weight: float = MIRROR_DEFAULTS["weight"]
    """Weight of the mirror loss (agents.brains.algorithm): the actor run on each minibatch mirrored left for right
    should act as the mirror of itself (Yu et al. 2018). rppo, on an env whose body and task have a mirror
    (``env.unwrapped.mirror``, envs.mirror); 0: off."""
    mirror_burn_in: int = MIRROR_DEFAULTS["burn_in"]
    """Steps at the start of a mirrored sequence (not an episode's start) left out of the mirror loss: the actor
    runs the mirror from a zero state."""
    stop_when: dict = dataclasses.field(default_factory=dict)
    """End the run early once its model meets ``tests`` (``[{eval_env_kwargs, criteria}]``: a recipe's tests) on
    ``episodes`` validation episodes each at ``times`` checkpoints in a row of the curriculum's last stage
    (agents.training.stopping); empty: train to ``total_steps``."""
    curriculum: list = dataclasses.field(default_factory=list)
    """Earlier stages: ``[{until: STEPS or {signal: NAME, above|below: X}, env_kwargs: {...}, learning_rate: RATE},
    ...]``; each's keys replace ``env_kwargs``' until then, and its ``learning_rate`` (optional) the run's. A
    condition ends the stage once a signal of its training episodes crosses the threshold
    (agents.training.curriculum)."""

    def validate(self) -> TrainConfig:
        """Check every value; raise :class:`ConfigError` naming the first bad one."""
        choices = {"algo": ALGOS, "vec_env": VEC_ENVS, "device": DEVICES}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not valid; choose from: {', '.join(valid)}")
        for name, kind in _FIELD_TYPES.items():
            value = getattr(self, name)
            if float in _kinds(kind) and isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value}")
        for name in ("total_steps", "n_envs", "n_steps", "batch_size", "n_epochs", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_freq", "checkpoint_freq", "ent_coef", "vf_coef", "threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("learning_rate", "clip_range", "max_grad_norm", "clip_obs"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("gamma", "gae_lambda"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.total_steps > MAX_TOTAL_STEPS:
            raise ConfigError(f"total_steps must be at most {MAX_TOTAL_STEPS:.0e}, got {self.total_steps}")
        rollout = self.n_steps * self.n_envs
        if self.batch_size > rollout:
            raise ConfigError(
                f"batch_size {self.batch_size} is larger than a rollout (n_steps x n_envs = {rollout}); "
                f"choose at most {rollout}"
            )
        self._validate_curriculum()
        if self.kickstart:
            check_kickstart(self.kickstart)
            if self.algo != "rppo":
                raise ConfigError(f"kickstart trains rppo brains, not {self.algo}")
        if self.mirror_weight < 0 or self.mirror_burn_in < 0:
            name = "mirror_weight" if self.mirror_weight < 0 else "mirror_burn_in"
            raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.mirror_weight > 0 and self.algo != "rppo":
            raise ConfigError(f"mirror_weight trains rppo brains, not {self.algo}")
        if self.stop_when:
            check_stop_when(self.stop_when)
            if not self.checkpoint_freq:
                raise ConfigError(
                    "stop_when is judged at checkpoints: set checkpoint_freq above 0 (or, for a new run, stop_when={})"
                )
        if self.target_kl is not None and self.target_kl <= 0:
            raise ConfigError(f"target_kl must be > 0 (or null: never stop early), got {self.target_kl}")
        if self.init_min_log_std is not None and not self.init_from:
            raise ConfigError("init_min_log_std applies to a warm start: set init_from too")
        if self.init_critic_steps < 0:
            raise ConfigError(f"init_critic_steps must be >= 0, got {self.init_critic_steps}")
        if self.init_critic_steps and not self.init_from:
            raise ConfigError("init_critic_steps applies to a warm start: set init_from too")
        if self.algo == "rppo" and self.batch_size < 2:
            raise ConfigError("batch_size must be >= 2 for rppo")
        valid_policy = POLICY_KEYS[self.algo]
        for key, value in self.policy.items():
            if key not in valid_policy:
                raise ConfigError(
                    f"unknown policy setting {key!r} for algo {self.algo!r}; valid: {', '.join(sorted(valid_policy))}"
                )
            expected = valid_policy[key]
            if not _matches(value, expected):
                names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
                raise ConfigError(f"policy.{key} must be {names}, got {value!r}")
        _validate_policy(self.policy)
        return self

    def _validate_curriculum(self) -> None:
        last = 0
        for i, stage in enumerate(self.curriculum):
            where = f"curriculum[{i}]"
            if not isinstance(stage, dict) or not {"until", "env_kwargs"} <= set(stage) <= STAGE_KEYS:
                raise ConfigError(
                    f"{where} must be a mapping with until and env_kwargs (and optionally learning_rate), got {stage!r}"
                )
            rate = stage.get("learning_rate", self.learning_rate)
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < math.inf:
                raise ConfigError(f"{where}.learning_rate must be a number > 0, got {rate!r}")
            until, kwargs = stage["until"], stage["env_kwargs"]
            if isinstance(until, dict):
                problem = check_condition(until, f"{where}.until")
                if problem:
                    raise ConfigError(problem)
            elif isinstance(until, bool) or not isinstance(until, int) or not last < until < self.total_steps:
                raise ConfigError(
                    f"{where}.until must be a whole number of steps above the stage before ({last}) and below "
                    f"total_steps ({self.total_steps}), or a condition {{signal: NAME, above|below: X}}; got {until!r}"
                )
            else:
                last = until
            if not isinstance(kwargs, dict):
                raise ConfigError(f"{where}.env_kwargs must be a mapping, got {kwargs!r}")
        # A stage ends at the end of a rollout, up to a rollout past its `until`: a shorter stage would not run.
        rollout = self.n_steps * self.n_envs
        ends = [s["until"] for s in self.curriculum if not isinstance(s["until"], dict)] + [self.total_steps]
        for before, after in zip([0, *ends], ends, strict=False):
            if self.curriculum and after - before < rollout:
                raise ConfigError(
                    f"curriculum: the stage ending at {after} steps is shorter than a rollout "
                    f"(n_steps x n_envs = {rollout} steps)"
                )

    def stage_plan(self) -> list[dict[str, Any]]:
        """Every stage of training in order, the run's own settings last: ``{"until": STEPS or a condition,
        "env_kwargs": the stage's (over the run's), "learning_rate": RATE}``; the last stage's ``until`` is
        ``total_steps``."""
        plan = [
            {
                "until": stage["until"],
                "env_kwargs": {**self.env_kwargs, **stage["env_kwargs"]},
                "learning_rate": float(stage.get("learning_rate", self.learning_rate)),
            }
            for stage in self.curriculum
        ]
        plan.append(
            {"until": self.total_steps, "env_kwargs": dict(self.env_kwargs), "learning_rate": self.learning_rate}
        )
        return plan

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a mapping (such as a saved ``config.yaml``), rejecting unknown keys."""
        config = cls()
        for key, value in data.items():
            if key in RETIRED_SETTINGS and value == RETIRED_SETTINGS[key]:
                continue
            _set_field(config, key, value, source)
        return config.validate()


def _validate_policy(policy: dict[str, Any]) -> None:
    """Ranges of the policy settings whose types :meth:`TrainConfig.validate` has checked."""
    for key in ("lstm_hidden_size", "n_lstm_layers"):
        if key in policy and policy[key] < 1:
            raise ConfigError(f"policy.{key} must be >= 1, got {policy[key]}")
    if policy.get("cell", "lstm") not in CELLS:
        raise ConfigError(f"policy.cell={policy['cell']!r} is not valid; choose from: {', '.join(CELLS)}")
    if "leak" in policy:
        if policy.get("cell", "lstm") != "rnn":
            raise ConfigError(f"policy.leak is a setting of policy.cell=rnn, not of {policy.get('cell', 'lstm')}")
        if not 0 < policy["leak"] <= 1:
            raise ConfigError(f"policy.leak must be in (0, 1], got {policy['leak']}")
    if "log_std_init" in policy and not math.isfinite(policy["log_std_init"]):
        raise ConfigError(f"policy.log_std_init must be a finite number, got {policy['log_std_init']}")
    if policy.get("activation_fn", "tanh") not in ACTIVATIONS:
        raise ConfigError(
            f"policy.activation_fn={policy['activation_fn']!r} is not valid; choose from: " + ", ".join(ACTIVATIONS)
        )
    arch = policy.get("net_arch")
    layers = arch.items() if isinstance(arch, dict) else [("", arch)] if arch is not None else []
    for part, sizes in layers:
        name = f"policy.net_arch.{part}" if part else "policy.net_arch"
        if part not in ("", "pi", "vf"):
            raise ConfigError(f"policy.net_arch takes the keys pi and vf, got {part!r}")
        if not isinstance(sizes, list) or not all(type(n) is int and n >= 1 for n in sizes):
            raise ConfigError(f"{name} must be a list of layer sizes >= 1, such as [64, 64], got {sizes!r}")


def _kinds(expected: Any) -> tuple[Any, ...]:
    """The types a field annotation allows (``float | None`` -> ``(float, NoneType)``)."""
    return typing.get_args(expected) if isinstance(expected, types.UnionType) else (expected,)


def _matches(value: Any, expected: Any) -> bool:
    types_ = expected if isinstance(expected, tuple) else (expected,)
    if bool in types_:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if float in types_ and isinstance(value, int):
        return True
    return isinstance(value, types_)


_FIELD_TYPES = typing.get_type_hints(TrainConfig)
FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def field_help() -> dict[str, str]:
    """Each field's docstring, for ``--help`` and error messages."""
    source = inspect.getsource(TrainConfig)
    tree = ast.parse(source).body[0]
    docs: dict[str, str] = {}
    for node, following in zip(tree.body, tree.body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(following, ast.Expr):
            docs[node.target.id] = str(following.value.value)
    return docs


def _coerce(name: str, value: Any) -> Any:
    allowed = _kinds(_FIELD_TYPES[name])
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        if kind is type(None):
            continue
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind in (str, dict, list) and isinstance(value, kind):
            return value
    names = " or ".join("null" if k is type(None) else k.__name__ for k in allowed)
    raise ConfigError(f"{name} must be {names}, got {value!r}")


def _set_field(config: TrainConfig, key: str, value: Any, source: str) -> None:
    head, _, rest = key.partition(".")
    if head not in FIELDS:
        raise ConfigError(f"unknown setting {key!r} in {source}; valid: {', '.join(FIELDS)}")
    if rest:
        if head not in ("policy", "env_kwargs"):
            raise ConfigError(f"{head!r} has no sub-settings; only policy.<key> and env_kwargs.<key> do")
        getattr(config, head)[rest] = value
    elif head in ("policy", "env_kwargs"):
        getattr(config, head).update(_coerce(head, value))
    else:
        setattr(config, head, _coerce(head, value))


def load_presets(path: Path = PRESETS_FILE) -> dict[str, dict[str, Any]]:
    presets = load_yaml(Path(path).read_text()) or {}
    if not isinstance(presets, dict):
        raise ConfigError(f"{path}: expected a mapping of env patterns to settings")
    return presets


def preset_settings(env_id: str, algo: str, presets: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The flattened preset settings that apply to ``env_id`` and ``algo``, later patterns winning."""
    presets = load_presets() if presets is None else presets
    settings: dict[str, Any] = {}
    for pattern, entry in presets.items():
        if not fnmatch.fnmatchcase(env_id, pattern):
            continue
        for key, value in (entry or {}).items():
            if key in ALGOS:
                if key == algo:
                    settings.update(_flatten(value or {}))
            else:
                settings.update(_flatten({key: value}))
    return settings


def _flatten(entry: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("policy", "env_kwargs") and isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def parse_override(text: str) -> tuple[str, Any]:
    """``"policy.lstm_hidden_size=64"`` -> ``("policy.lstm_hidden_size", 64)``; values are YAML scalars or lists."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        value = load_yaml(raw) if raw else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "YAML scalars, lists or mappings"
        raise ConfigError(f"--set {key}: cannot parse value {raw!r} ({problem})") from None
    return key.strip(), value


def resolve_config(
    env_id: str, algo: str, overrides: dict[str, Any] | None = None, presets: dict | None = None
) -> TrainConfig:
    """Defaults, then matching presets, then ``overrides`` (dotted keys allowed), validated."""
    config = TrainConfig(env_id=env_id, algo=algo)
    for key, value in preset_settings(env_id, algo, presets).items():
        _set_field(config, key, value, "presets")
    for key, value in (overrides or {}).items():
        _set_field(config, key, value, "--set")
    return config.validate()


def _check_keys(name: str, value: Any, keys: tuple[str, ...]) -> None:
    """Refuse a mapping setting ``name`` that is not a mapping or has keys other than ``keys``."""
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a mapping with keys {', '.join(keys)}, got {value!r}")
    unknown = set(value) - set(keys)
    if unknown:
        raise ConfigError(f"unknown {name} key(s) {', '.join(sorted(map(str, unknown)))}; valid: {', '.join(keys)}")


def check_stop_when(value: Any) -> None:
    """Raise :class:`ConfigError` naming what is wrong with a ``stop_when`` setting (its metric names and eval env
    settings are checked against the env before training: agents.training.stopping.check_tests)."""
    _check_keys("stop_when", value, ("tests", *STOP_DEFAULTS))
    tests = value.get("tests")
    shaped = isinstance(tests, list) and all(
        isinstance(t, dict) and set(t) == {"eval_env_kwargs", "criteria"} and isinstance(t["eval_env_kwargs"], dict)
        and isinstance(t["criteria"], dict) and t["criteria"]
        and all(isinstance(rule, dict) for rule in t["criteria"].values())
        for t in tests
    )  # fmt: skip
    if not shaped or not tests:
        raise ConfigError(
            "stop_when.tests must be a list of {eval_env_kwargs: {...}, criteria: {METRIC: {min|max|equals: X}}}, "
            f"got {tests!r}"
        )
    for i, test in enumerate(tests):
        for metric, rule in test["criteria"].items():
            check_rule(rule, f"stop_when.tests[{i}].criteria.{metric}")
    for key in STOP_DEFAULTS:
        number = value.get(key, STOP_DEFAULTS[key])
        if type(number) is not int or number < 1:
            raise ConfigError(f"stop_when.{key} must be a whole number >= 1, got {number!r}")


def check_rule(rule: dict[str, Any], where: str) -> None:
    """Raise :class:`ConfigError` naming what is wrong with one criterion's rule (``{min: X, max: Y, equals: Z, of:
    mean|min|max}``): a rule that says nothing would pass every brain."""
    unknown = set(rule) - set(CRITERION_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; valid: "
                          f"{', '.join(CRITERION_KEYS)}")  # fmt: skip
    if not set(rule) & {"min", "max", "equals"}:
        raise ConfigError(f"{where}: a rule needs min, max or equals; got {rule!r}")
    for bound in ("min", "max"):
        if bound in rule and (isinstance(rule[bound], bool) or not isinstance(rule[bound], int | float)):
            raise ConfigError(f"{where}: {bound} must be a number, got {rule[bound]!r}")
    if rule.get("of", "mean") not in CRITERION_STATISTICS:
        raise ConfigError(f"{where}: of={rule['of']!r} is not valid; choose from: {', '.join(CRITERION_STATISTICS)}")


def check_kickstart(value: Any) -> None:
    """Raise :class:`ConfigError` naming what is wrong with a ``kickstart`` setting (brains are not loaded)."""
    _check_keys("kickstart", value, ("teachers", *KICKSTART_DEFAULTS))
    teachers = value.get("teachers")
    named = isinstance(teachers, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in teachers.items())
    if not named or not teachers:
        raise ConfigError(f"kickstart.teachers must map gaits to brains, e.g. {{walk: runs/walk}}; got {teachers!r}")
    weight = value.get("weight", KICKSTART_DEFAULTS["weight"])
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < math.inf:
        raise ConfigError(f"kickstart.weight must be a finite number >= 0, got {weight!r}")
    anneal = value.get("anneal_steps", KICKSTART_DEFAULTS["anneal_steps"])
    if type(anneal) is not int or anneal < 1:
        raise ConfigError(f"kickstart.anneal_steps must be a whole number of env steps >= 1, got {anneal!r}")
    grace = value.get("switch_grace", KICKSTART_DEFAULTS["switch_grace"])
    if type(grace) is not int or grace < 0:
        raise ConfigError(f"kickstart.switch_grace must be a whole number of steps >= 0, got {grace!r}")
    if not isinstance(value.get("fresh", False), bool):
        raise ConfigError(f"kickstart.fresh must be true or false, got {value['fresh']!r}")
