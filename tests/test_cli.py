"""The ``neuromotor`` command and the console scripts that pyproject.toml installs."""

import importlib
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

from agents.cli import entry
from agents.cli.main import TOOLS, main

ROOT = Path(__file__).resolve().parents[1]


def test_every_installed_console_script_loads():
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts") if ep.dist.name == "neuromotor"}
    assert set(scripts) == {"neuromotor", "neuromotor-train", "neuromotor-evaluate"}
    for script in scripts.values():
        assert callable(script.load()), script.value


def test_the_console_scripts_enter_through_the_thin_entry_module():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"neuromotor": "agents.cli.entry:neuromotor", "neuromotor-train": "agents.cli.entry:train",
                       "neuromotor-evaluate": "agents.cli.entry:evaluate"}  # fmt: skip
    for target in scripts.values():
        module, name = target.split(":")
        assert getattr(importlib.import_module(module), name) is getattr(entry, name)


def test_neuromotor_dispatches_to_each_tool(capsys):
    assert main([]) == 0
    usage = capsys.readouterr().out
    assert all(f"  {tool} " in usage for tool in TOOLS)
    assert main(["brains", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == "Walker2d:" and any(line.split()[0] == "walker2d-walk" for line in listed[1:])
    assert main(["nope"]) == 2
    assert capsys.readouterr().err.strip() == (
        "neuromotor: error: unknown tool 'nope'; valid: train, evaluate, brains, analyse, distill, dataset, imitate, "
        "envs"
    )
