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
