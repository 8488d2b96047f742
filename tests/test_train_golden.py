"""A short seeded training run ends with exactly the weights that the code before the speed work produced.

The digest (SHA-1 of every policy parameter's bytes) was recorded by commit b4579c6, before the env and training
speed work; the default training path must stay bit-identical to it. Float results differ between library
releases and thread counts, so the record names its versions, the run uses one torch thread, and under other
versions the test skips.
"""

import hashlib
import json
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest
import sb3_contrib
import stable_baselines3
import torch as th

from agents.brains.models import ALGORITHMS, build_model
from agents.config import resolve_config
from agents.vecenvs import build_vec_env

GOLDEN = Path(__file__).parent / "assets" / "golden_training.json"
SETTINGS = {"total_steps": 1024, "n_envs": 2, "n_steps": 128, "batch_size": 64, "n_epochs": 2, "seed": 3,
            "policy.lstm_hidden_size": 16}  # fmt: skip
VERSIONS = (
    f"mujoco {mujoco.__version__}, gymnasium {gym.__version__}, numpy {np.__version__}, torch {th.__version__}, "
    f"sb3 {stable_baselines3.__version__}, sb3-contrib {sb3_contrib.__version__}"
)


@pytest.fixture
def one_thread():
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def test_default_training_is_bit_identical_to_before_the_speed_work(one_thread):
    golden = json.loads(GOLDEN.read_text())
    if golden["versions"] != VERSIONS:
        pytest.skip(f"the golden training run was recorded under {golden['versions']}, not {VERSIONS}")
    config = resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", SETTINGS)
    env = build_vec_env(config, config.n_envs, config.seed)
    model = build_model(config, env, None, algorithm=ALGORITHMS["rppo"])
    model.learn(config.total_steps)
    env.close()
    weights = b"".join(p.detach().numpy().tobytes() for p in model.policy.parameters())
    assert hashlib.sha1(weights).hexdigest() == golden["digest"]
