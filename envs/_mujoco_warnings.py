"""Route MuJoCo's C-level warnings into Python's ``warnings`` instead of bare lines on stderr."""

from __future__ import annotations

import warnings

import mujoco


class MujocoWarning(UserWarning):
    """A warning raised by the MuJoCo library (model compiler or simulation)."""


def _warn(message: str) -> None:
    warnings.warn(f"MuJoCo: {message}", MujocoWarning, stacklevel=2)


def install() -> None:
    """Take over MuJoCo's warning printer unless the user installed one already."""
    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(_warn)
    # Gymnasium's half_cheetah.xml uses an attribute MuJoCo 4 deprecates; nothing a user can act on.
    warnings.filterwarnings("ignore", message="MuJoCo: compiler attribute 'settotalmass'", category=MujocoWarning)
