"""A short seeded training run on the clock task ends with exactly the weights recorded in the golden file.

The digest (SHA-1 of every policy parameter's bytes) is recorded under the versions of ``constraints.txt``, which
make and CI install, so CI checks that training is unchanged; the default training path must stay bit-identical to
it (first recorded before the speed work of issue 19, on the walk task). Float results differ between library
releases and thread counts, so the record names its versions, the run uses one torch thread, and under other
versions the test skips. To record it anew (new versions, or an intended change of training):
``NEUROMOTOR_WRITE_GOLDEN_TRAINING=1 python -m pytest tests/test_train_golden.py``.
"""

import hashlib
import json
import os
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
ENV_ID = "neuromotor/Walker2d-Clock-v4"
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


def digest() -> str:
    config = resolve_config(ENV_ID, "rppo", SETTINGS)
    env = build_vec_env(config, config.n_envs, config.seed)
    model = build_model(config, env, None, algorithm=ALGORITHMS["rppo"])
    model.learn(config.total_steps)
    env.close()
    weights = b"".join(p.detach().numpy().tobytes() for p in model.policy.parameters())
    return hashlib.sha1(weights).hexdigest()


def test_default_training_is_bit_identical_to_the_record(one_thread):
    if os.environ.get("NEUROMOTOR_WRITE_GOLDEN_TRAINING"):
        GOLDEN.write_text(json.dumps({"digest": digest(), "versions": VERSIONS, "env_id": ENV_ID}, indent=2) + "\n")
        pytest.skip(f"recorded the golden training run anew in {GOLDEN}")
    golden = json.loads(GOLDEN.read_text())
    if golden["versions"] != VERSIONS:
        pytest.skip(f"the golden training run was recorded under {golden['versions']}, not {VERSIONS}")
    assert golden["env_id"] == ENV_ID, "the record is of another env: record it anew"
    assert digest() == golden["digest"]
