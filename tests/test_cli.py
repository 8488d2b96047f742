"""The ``neuromotor`` command and the console scripts that pyproject.toml installs."""

from importlib.metadata import entry_points

from agents.cli.main import TOOLS, main


def test_every_installed_console_script_loads():
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts") if ep.dist.name == "neuromotor"}
    assert set(scripts) == {"neuromotor", "neuromotor-train", "neuromotor-evaluate"}
    for script in scripts.values():
        assert callable(script.load()), script.value


def test_neuromotor_dispatches_to_each_tool(capsys):
    assert main([]) == 0
    usage = capsys.readouterr().out
    assert all(f"  {tool} " in usage for tool in TOOLS)
    assert main(["brains", "list"]) == 0
    assert "walker2d-walk\tneuromotor/Walker2d-Walk-v1\tbundled" in capsys.readouterr().out
    assert main(["nope"]) == 2
    assert capsys.readouterr().err.strip() == (
        "neuromotor: error: unknown tool 'nope'; valid: train, evaluate, brains, analyse, distill, envs"
    )
