"""A module that registers a body on import, for the ``module:EnvId`` form of the scripts."""

from pathlib import Path

import gymnasium as gym

import envs

if "PluginBiped" not in envs.BODIES:
    envs.register_body(
        "PluginBiped",
        xml_file=Path(__file__).parent / "assets" / "biped.xml",
        torso="pelvis",
        feet=["foot_r", "foot_l"],
        floor="ground",
        min_torso_height=0.4,
        mirror=envs.BodyMirror(joints=(("hip_r", "hip_l"), ("knee_r", "knee_l")), feet=(("foot_r", "foot_l"),)),
    )


class CrashAfter(gym.Wrapper):
    """The walker's walk env that raises after ``crash_after`` steps (0: never), for a sweep trial that fails."""

    def __init__(self, crash_after: int = 0) -> None:
        super().__init__(gym.make("neuromotor/Walker2d-Walk-v1"))
        self.crash_after = crash_after
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.crash_after and self.steps >= self.crash_after:
            raise RuntimeError(f"CrashAfter: crashed on purpose after {self.steps} steps")
        return self.env.step(action)


def make_crash_after(crash_after: int = 0) -> CrashAfter:
    """A function entry point: gymnasium < 1.4 rejects a Wrapper class (its metadata is a property)."""
    return CrashAfter(crash_after)


if "CrashingWalker-v0" not in gym.registry:
    gym.register("CrashingWalker-v0", entry_point=make_crash_after, max_episode_steps=1000)


class ScriptedScore(gym.Env):
    """A curriculum's scripted signal: episodes of ``length`` steps whose reward term ``score`` (weight 1) pays
    ``min(1, episode / ramp)`` every step of this env's ``episode``-th episode, and which fall (terminate) while
    ``episode < falls``. ``level`` (a stage's setting) is reported as the term ``level`` (``level / 10``)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,))
    action_space = gym.spaces.Box(-1.0, 1.0, (1,))

    def __init__(self, length: int = 8, ramp: int = 10, falls: int = 0, level: int = 0) -> None:
        import types

        self.length, self.ramp, self.falls, self.level = length, ramp, falls, level
        self.task = types.SimpleNamespace(weights={"score": 1.0, "unused": 0.0, "level": 1.0})
        self.episode, self.t = -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return self.observation_space.sample() * 0, {}

    def step(self, action):
        self.t += 1
        score = min(1.0, self.episode / self.ramp)
        info = {"reward_score": score, "reward_level": self.level / 10, "airborne": self.t % 4 == 0,
                "com_rise": 0.1 * self.t}  # fmt: skip
        terminated = self.episode < self.falls and self.t == self.length
        return self.observation_space.sample() * 0, score, terminated, False, info


if "ScriptedScore-v0" not in gym.registry:
    gym.register("ScriptedScore-v0", entry_point=ScriptedScore, max_episode_steps=8)
