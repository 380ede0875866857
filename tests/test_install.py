"""What a new user runs first stays in step with what CI runs and what pyproject declares."""

import os
import re
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as fh:
        return fh.read()


def readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", read("README.md"), re.S)
    assert block and read("README.md").index(block.group(0)) < 200, "the README must open with its commands"
    return block.group(1).strip().splitlines()


def test_readme_opens_with_the_two_commands():
    install_and_run, install_and_test = readme_commands()
    assert "python3 -m venv .venv" in install_and_run and "calc report specs/" in install_and_run
    assert install_and_test.endswith("python3 -m pip install -e '.[test]' && python3 -m pytest")
    spec = install_and_run.split("calc report ")[1].split()[0]
    assert os.path.isfile(os.path.join(ROOT, spec))


def test_ci_runs_the_readme_test_command_in_a_fresh_venv():
    ci = read(".ci", "run")
    test_command = readme_commands()[1].split("&& ", 2)[-1]  # after venv creation and activation
    install, run = test_command.split(" && ")
    assert "-m venv" in ci and "activate" in ci
    assert "python3 -m pip install" in ci and "-e '.[test]'" in ci and install.startswith("python3 -m pip install")
    assert re.search(rf"^\s*{re.escape(run)}\s*$", ci, re.M), run


def test_lowest_constraints_are_the_declared_floors():
    project = tomllib.loads(read("pyproject.toml"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    floors = {}
    for requirement in declared:
        name, floor = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement).groups()
        floors[name.lower()] = floor
    pinned = {}
    for line in read(".ci", "constraints-lowest.txt").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pinned[name.lower()] = version
    def release(version: str) -> tuple[int, ...]:
        parts = [int(p) for p in version.split(".")]
        while parts and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    assert {k: release(v) for k, v in pinned.items()} == {k: release(v) for k, v in floors.items()}
