"""The model library: the specs of real networks that ship with calc (`specs/*.yaml`).

An install maps the package `calc.specs` onto the repository's top-level `specs/` folder
(pyproject.toml, `[tool.setuptools.package-dir]`), so a wheel or a regular install has the YAML
files as package data in calc/specs/, found with importlib.resources.  Run from a checkout
(editable install, or none), the checkout's own `specs/` folder next to `calc/` is the library.

    >>> from calc.library import library_names, library_path
    >>> "resnet50" in library_names()
    True
    >>> library_path("resnet50").endswith("resnet50.yaml")
    True

Importing this module is cheap (no YAML, pydantic or sympy); `describe` reads one spec with
calc.yamlload.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from importlib.resources.abc import Traversable

SUFFIX = ".yaml"


def _folder() -> Traversable | None:
    """Where the library's specs are: the installed package's calc/specs/ (package data), else,
    for calc run from a checkout (editable install or none), the checkout's specs/ next to calc/.

    (An editable install maps `calc.specs` onto specs/ too, but setuptools' editable finder does
    not import a namespace package nested in a regular one, so the folder is looked up, not
    imported.)"""
    installed = resources.files("calc").joinpath("specs")
    if installed.is_dir():
        return installed
    from pathlib import Path

    checkout = Path(__file__).resolve().parent.parent / "specs"
    return checkout if checkout.is_dir() else None


def _specs() -> dict[str, Traversable]:
    """Spec name (the file's stem) -> file, for the YAML files directly in the library folder
    (claims files live in specs/claims/ and are not specs)."""
    folder = _folder()
    if folder is None:
        return {}
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(SUFFIX) and entry.is_file():
            found[entry.name[: -len(SUFFIX)]] = entry
    return found


def library_names() -> list[str]:
    """The library's spec names, sorted (e.g. 'resnet50'): the stems of the shipped YAML files."""
    return sorted(_specs())


def library_path(name: str) -> str | None:
    """The file-system path of the library spec `name`, or None when there is no such spec.

    Only a plain library name is looked up (no path separators, no suffix, nothing that is not
    a str): anything else is None."""
    if not isinstance(name, str) or not name or os.sep in name or "/" in name or (os.altsep and os.altsep in name):
        return None
    entry = _specs().get(name)
    if entry is None:
        return None
    return os.fspath(entry)  # pip unpacks packages, so a library file is a real file


def describe(name: str) -> str:
    """One line about the library spec `name`: the first sentence of its `description`, else its
    `source`, else its `name` key, else the name itself.  An unknown name is a UsageError."""
    path = library_path(name)
    if path is None:
        from calc.errors import UsageError

        shown = name if isinstance(name, str) else type(name).__name__
        raise UsageError(f"no spec named {shown!r} in the library",
                         expected="one of " + ", ".join(library_names()))
    from calc.yamlload import load_file

    data = load_file(path).data
    if isinstance(data, dict):
        for key in ("description", "source", "name"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return _first_sentence(value) if key == "description" else " ".join(value.split())
    return name


_SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)\.\s")
"""A full stop and a space, except after "et al", "e.g" and "i.e"."""


def _first_sentence(text: str) -> str:
    """`text` up to its first sentence end, on one line."""
    line = " ".join(text.split())
    end = _SENTENCE_END.search(line)
    return line if end is None else line[: end.start() + 1]
