"""A module that registers a body on import, for the ``module:EnvId`` form of the scripts."""

from pathlib import Path

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
