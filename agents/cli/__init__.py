"""Command lines: one module per command, one parser and one error-to-exit wrapper (:mod:`agents.cli.parsing`).

Nothing imports this layer. Rendering is headless unless the user chose a GL backend: MUJOCO_GL must be set before
mujoco is first imported, and every command enters through this package.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
