"""What a new user runs first stays in step with what CI runs and what pyproject declares."""

import os
import re
import subprocess
import sys
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
    """`.ci/run` runs the README's test command word for word (its first environment), and the
    same install and test steps in the other fresh environments it makes."""
    ci = read(".ci", "run")
    readme_test = readme_commands()[1]
    assert re.search(rf"^\s*{re.escape(readme_test)}\s*$", ci, re.M), readme_test
    install, run = readme_test.split("&& ", 2)[-1].split(" && ")  # after venv creation and activation
    assert "-m venv" in ci and "activate" in ci
    assert "python3 -m pip install" in ci and "-e '.[test]'" in ci and install.startswith("python3 -m pip install")
    assert re.search(rf"^\s*{re.escape(run)}(\s|$)", ci, re.M), run  # run as is (with the env's test files)


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


def setuptools_config() -> dict:
    return tomllib.loads(read("pyproject.toml"))["tool"]["setuptools"]


def test_every_package_and_the_model_library_are_in_the_distribution():
    """A regular install holds what a checkout holds: every calc package (listed by hand in
    pyproject.toml, so a new one must be added there) and specs/ as the package `calc.specs`."""
    config = setuptools_config()
    in_checkout = {os.path.relpath(folder, ROOT).replace(os.sep, ".")
                   for folder, _, files in os.walk(os.path.join(ROOT, "calc")) if "__init__.py" in files}
    library = {os.path.normpath(os.path.join("calc", os.path.relpath(folder, ROOT))).replace(os.sep, ".")
               for folder, _, files in os.walk(os.path.join(ROOT, "specs")) if any(f.endswith(".yaml") for f in files)}
    assert library == {"calc.specs", "calc.specs.claims"}  # specs/*.yaml and specs/claims/*.yaml
    assert sorted(config["packages"]) == sorted(in_checkout | library)
    assert config["package-dir"] == {"calc.specs": "specs"}
    for package in library:
        assert config["package-data"][package] == ["*.yaml"], package


def test_license_is_the_mit_license_pyproject_declares():
    project = tomllib.loads(read("pyproject.toml"))["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = read("LICENSE")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the flopcalc authors\n")
    assert "Permission is hereby granted, free of charge" in text


def test_changelog_has_the_released_version_and_an_unreleased_section():
    from calc import __version__

    project = tomllib.loads(read("pyproject.toml"))["project"]
    headings = re.findall(r"^## \[([^\]]+)\]", read("CHANGELOG.md"), re.M)
    assert headings[0] == "Unreleased" and project["version"] == __version__ in headings[1:]


def readme_block_after(heading_words: str) -> list[str]:
    text = read("README.md")
    block = re.search(r"```sh\n(.*?)```", text[text.index(heading_words):], re.S)
    return [line.split("#")[0].strip() for line in block.group(1).strip().splitlines()]


def test_readme_quick_start_of_an_installed_package_works_from_any_directory(tmp_path, monkeypatch, capsys):
    """No specs/ folder where the user stands: the library spec is found by its name."""
    from calc.cli import main

    assert readme_block_after("Installed rather than cloned") == ["calc list", "calc report resnet50"]
    assert main(["report", os.path.join(ROOT, "specs", "resnet50.yaml")]) == 0
    from_the_clone = capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    names = sorted(n[:-5] for n in os.listdir(os.path.join(ROOT, "specs")) if n.endswith(".yaml"))
    assert [line.split()[0] for line in listed] == names and "resnet50" in names
    assert main(["report", "resnet50"]) == 0
    assert capsys.readouterr().out == from_the_clone


def test_readme_states_what_calc_does():
    """The small errors issue 16 lists: a doubled period, the exit status of a bad layer, the
    Inception v3 parameter count without its auxiliary classifier, the seed documents."""
    from calc.cli import main

    text = read("README.md")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    assert not re.search(r"[^.]\.\.(?!\.)", prose.replace("../", "")), "a doubled period"
    assert main(["layer", "conv", "--K", "0", "--Cin", "3", "--Cout", "1", "--H", "8", "--W", "8"]) == 2
    assert "exit 1 for a bad spec, 2 for bad usage (a bad layer given to `calc layer` is bad flags" in text
    assert "bad spec or layer" not in text
    # 27,161,264 (model card, with AuxLogits) - 3,326,696 (AuxLogits) = 23,834,568 (the spec)
    assert 27_161_264 - 3_326_696 == 23_834_568
    row = next(line for line in text.splitlines() if line.startswith("| `inception_v3` |"))
    assert "23,834,568 [^aux]" in row
    note = text[text.index("[^aux]: "):].split("\n\n")[0]
    assert "auxiliary classifier" in note and "27,161,264" in note and "3,326,696" in note
    assert "shared/" not in text and "not distributed with this repository" in text


def test_pytest_deprecations_are_errors(pytestconfig):
    """pytest 10 removes what pytest 9 deprecates: fail now, in every pytest pyproject allows."""
    assert "error::pytest.PytestDeprecationWarning" in pytestconfig.getini("filterwarnings")


def test_sympy_at_its_floor_imports_and_computes_without_deprecation_warnings():
    """sympy 1.12 accepts mpmath 1.4, whose deprecations fire on import and in integer roots
    (the lowest-versions CI run showed 142 of them); the floor is 1.13, which pins mpmath < 1.4."""
    code = "import sympy; x = sympy.Symbol('x'); sympy.factor(x**2 - 1); sympy.integer_nthroot(10**40, 3)"
    out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr.strip().splitlines()[-1:]
