"""What `calc report` imports on its way (issue 17), read from `python -X importtime` of the
real command in a fresh interpreter, with the cache off (the full, uncached path):

- no pydantic plugin discovery: pydantic's plugin loader imports importlib.metadata (and email,
  zipfile, csv) at module level even when PYDANTIC_DISABLE_PLUGINS turns every plugin off;
  calc puts `calc.cli._NoPluginLoader` in its place, which answers `get_plugins()` as the real
  one does with that setting, and loads the real one for anything else;
- no shutil (argparse imports it for the terminal width of every formatter it makes);
- no module of another command: derive, check (claims), symbolic, closed forms, sympy, json.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from calc import cli

ROOT = Path(__file__).resolve().parents[1]
NOT_IMPORTED = ("importlib.metadata", "email", "shutil", "zipfile", "json", "calc.derive", "calc.claims", "calc.hardware", "calc.importers", "calc.memory", "calc.roofline",
                "calc.symbolic", "calc.closed_form", "calc.compare", "sympy")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYDANTIC_DISABLE_PLUGINS", "PYTHONPATH")}
    return env | {"PYTHONPATH": str(ROOT), "FLOPCALC_NO_CACHE": "1"} | extra


def importtime(argv: list[str], **extra: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=ROOT, env=_env(**extra),
                          capture_output=True, text=True, timeout=120)
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.M)
    return proc, names


def _interpreter_imports() -> set[str]:
    """What the interpreter imports by itself here (a site .pth may import certifi, zipfile,
    shutil): not calc's doing."""
    return set(importtime(["-c", "pass"])[1])


def test_report_imports_only_what_it_needs():
    proc, names = importtime(["-m", "calc", "report", "specs/resnet50.yaml"])
    assert proc.returncode == 0 and "total" in proc.stdout, proc.stderr[-2000:]
    assert "pydantic" in names and "yaml" in names and "calc.layers" in names  # the test sees imports
    names = [n for n in names if n not in _interpreter_imports()]
    found = sorted(n for n in names if any(n == m or n.startswith(m + ".") for m in NOT_IMPORTED))
    assert found == []


def test_report_json_still_imports_json_when_it_needs_it():
    proc, names = importtime(["-m", "calc", "report", "specs/resnet18.yaml", "--format", "json"])
    assert proc.returncode == 0 and proc.stdout.startswith("{") and "json" in names


def test_a_users_plugin_setting_keeps_the_real_loader():
    """PYDANTIC_DISABLE_PLUGINS naming some plugins: the real loader, which honours the list."""
    proc, names = importtime(["-m", "calc", "report", "specs/resnet18.yaml"], PYDANTIC_DISABLE_PLUGINS="someplugin")
    assert proc.returncode == 0 and "pydantic.plugin._loader" in names and "importlib.metadata" in names


def test_the_stand_in_answers_as_the_real_loader():
    """With every plugin off, the real loader's get_plugins() is () (pydantic/plugin/_loader.py:
    `elif disabled_plugins in ('__all__', '1', 'true'): return ()`), so is the stand-in's; and a
    name the stand-in does not have comes from the real module."""
    code = """
import os, sys
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
from calc import cli
cli._skip_plugin_loader()
stand_in = sys.modules[cli.PLUGIN_LOADER]
assert isinstance(stand_in, cli._NoPluginLoader)
from pydantic import BaseModel
class R(BaseModel):
    x: int
assert R.model_validate({"x": 1}).x == 1 and "importlib.metadata" not in sys.modules
assert tuple(stand_in.get_plugins()) == ()
assert stand_in.PYDANTIC_ENTRY_POINT_GROUP == "pydantic"  # the real module's, loaded on demand
real = sys.modules[cli.PLUGIN_LOADER]
assert real is not stand_in and tuple(real.get_plugins()) == ()
for value in cli.PLUGINS_OFF:
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = value
    assert tuple(real.get_plugins()) == ()
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr[-2000:]


def test_no_stand_in_once_pydantic_is_loaded(monkeypatch):
    import pydantic  # noqa: F401  (loaded in this process: its loader must stay as it is)

    before = sys.modules.get(cli.PLUGIN_LOADER)
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "__all__")
    cli._skip_plugin_loader()
    assert sys.modules.get(cli.PLUGIN_LOADER) is before


@pytest.mark.parametrize("columns", [None, "", "0", "-3", "abc", "57", "200"])
def test_terminal_columns_as_shutil_finds_them(monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert cli.terminal_columns() == shutil.get_terminal_size().columns


@pytest.mark.parametrize("columns", ["60", "100"])
def test_help_is_what_argparse_writes(capsys, monkeypatch, columns):
    """The help of every command is argparse's own, to the same width."""
    import argparse

    monkeypatch.setenv("COLUMNS", columns)
    ours = {}
    for command in ("report", "layer", "compare", "derive"):
        assert cli.main([command, "--help"]) == 0
        ours[command] = capsys.readouterr().out
    monkeypatch.setattr(cli._Formatter, "__init__", argparse.HelpFormatter.__init__)
    for command, text in ours.items():
        assert cli.main([command, "--help"]) == 0
        assert capsys.readouterr().out == text


def test_other_commands_do_not_load_the_extensions():
    code = ("import sys; from calc.cli import build_parser; p = build_parser(False, command='report'); "
            "assert not any(m.startswith(('calc.derive', 'calc.claims')) for m in sys.modules); "
            "p.parse_args(['report', 'x.yaml'])")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=_env(), timeout=60)


def test_top_level_help_lists_every_command(capsys):
    from calc.claims.cli import HELP as CHECK_HELP
    from calc.derive.cli import HELP as DERIVE_HELP

    assert cli.main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for name in (*cli.COMMANDS, *cli.EXTENSIONS):
        assert re.search(rf"\b{name}\b", out)
    assert " ".join(DERIVE_HELP.split()) in out and " ".join(CHECK_HELP.split()) in out
