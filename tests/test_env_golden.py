"""Every env steps exactly as recorded: observations, rewards, episode ends and info over a fixed action sequence.

The golden file was written before any speed work on the envs; a faster env must compute the same numbers. Physics
differs between MuJoCo releases (trajectories part within steps), so the record names the versions it was made
with and is checked only under those; under others the test says so and skips. To rewrite it (before speed work
under new versions, or for an intended change of behaviour, with a new env version): ``NEUROMOTOR_WRITE_GOLDEN=1
python -m pytest tests/test_env_golden.py``.
"""

import os
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from conftest import ALL_IDS

GOLDEN = Path(__file__).parent / "assets" / "golden_env_steps.npz"
STEPS = 200
#: Info keys of the base env's own step (positions, velocities, tendon readings), recorded when every env copied
#: them. Envs whose task has its own reward skip that step (``Task.uses_base_step``) and no longer carry them.
BASE_BOOKKEEPING = {
    f"info/{key}"
    for key in (
        "x_position", "y_position", "x_velocity", "y_velocity", "distance_from_origin", "z_distance_from_origin",
        "tendon_length", "tendon_velocity",
    )
}  # fmt: skip
#: The libraries whose versions decide the numbers.
VERSIONS = f"mujoco {mujoco.__version__}, gymnasium {gym.__version__}, numpy {np.__version__}"


def record(env_id: str, steps: int = STEPS) -> dict[str, np.ndarray]:
    """``steps`` steps of uniform random actions (seeded), resetting with the next seed when an episode ends."""
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    low, high = env.action_space.low, env.action_space.high
    seed = 0
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list] = {"obs": [obs], "reward": [], "terminated": [], "truncated": []}
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(rng.uniform(low, high))
        rows["obs"].append(obs)
        rows["reward"].append(reward)
        rows["terminated"].append(terminated)
        rows["truncated"].append(truncated)
        for key, value in info.items():
            if isinstance(value, (int, float, np.number, np.ndarray, bool, np.bool_)):
                rows.setdefault(f"info/{key}", []).append(np.asarray(value, dtype=np.float64))
        if terminated or truncated:
            seed += 1
            obs, _ = env.reset(seed=seed)
            rows["obs"].append(obs)
    env.close()
    return {key: np.asarray(value, dtype=np.float64) for key, value in rows.items()}


def _key(env_id: str, name: str) -> str:
    return f"{env_id}|{name}"


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    if os.environ.get("NEUROMOTOR_WRITE_GOLDEN"):
        arrays = {_key(env_id, k): v for env_id in ALL_IDS for k, v in record(env_id).items()}
        np.savez_compressed(GOLDEN, versions=np.array(VERSIONS), **arrays)
    with np.load(GOLDEN) as data:
        golden = {key: data[key] for key in data.files}
    recorded = str(golden.pop("versions"))
    if recorded != VERSIONS:
        pytest.skip(f"the golden steps were recorded under {recorded}, not {VERSIONS}")
    return golden


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_the_env_steps_as_recorded(env_id, golden):
    expected = {key.split("|", 1)[1]: v for key, v in golden.items() if key.split("|", 1)[0] == env_id}
    assert expected, f"{env_id} has no golden record: rewrite the file for a new env id"
    actual = record(env_id)
    gone = set(expected) - set(actual)
    assert set(actual) <= set(expected), f"{env_id}: new keys {sorted(set(actual) - set(expected))}"
    if env_id.split("-")[1] == "Native":
        assert not gone, f"{env_id}: lost {sorted(gone)}"
    else:
        assert gone <= BASE_BOOKKEEPING, f"{env_id}: lost {sorted(gone - BASE_BOOKKEEPING)}"
    for name, value in actual.items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-9, atol=1e-12, err_msg=f"{env_id}: {name}")


def test_mean_square_is_numpys_to_the_bit():
    from envs.rewards import mean_square

    rng = np.random.default_rng(1)
    for n in (1, 3, 6, 8, 17, 100):
        for _ in range(200):
            x = rng.standard_normal(n)
            assert mean_square(x) == float(np.mean(np.square(x)))
