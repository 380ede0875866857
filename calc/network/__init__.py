"""Network specs: load a YAML file into a `Network` program, evaluate it into a `Report`.

    >>> from calc.network import network_from_text
    >>> net = network_from_text('''
    ... name: tiny
    ... input: [3, 32, 32]
    ... layers:
    ...   - {type: conv, K: 3, Cout: 16, padding: 1, bias: false}
    ...   - {type: relu}
    ... ''')
    >>> net.evaluate("2mac").totals.flops == 2 * 16 * 32 * 32 * 3 * 3 * 3
    True

Every function here answers a bad argument with a one-line `CalcError`, never a Python error
from deep inside.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from calc import conventions
from calc.conventions import Convention
from calc.cost import Dtype, dtype as _dtype
from calc.errors import UsageError
from calc.network.builder import build
from calc.network.program import Network, Op
from calc.report import Report
from calc.yamlload import load_file, loads

_YAML_TEXT = re.compile(r"[\n\r]|:\s")
"""What a path to a spec (almost) never holds and YAML text does: a line break, or a mapping's
': '.  Such a str is taken for a path only if that file exists."""


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading builds many small objects that all stay alive; the cyclic collector's passes
    over them made a 100,000-layer spec load quadratically (9 s instead of 2.5 s)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _spec_path(path: Any) -> str:
    """`path` as a str, or a `UsageError` for what is not a path: an int (open() would read
    that file descriptor), bytes, YAML text, anything else."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, (bytes, bytearray)):
        raise UsageError(
            "load_network takes a path as a str or os.PathLike, got bytes",
            expected="a path such as 'specs/resnet50.yaml'; network_from_text reads YAML text or bytes",
        )
    if not isinstance(path, str):
        raise UsageError(
            f"load_network takes a path to a YAML spec, got {type(path).__name__}",
            expected="a str or os.PathLike such as 'specs/resnet50.yaml'",
        )
    if not path:
        raise UsageError("load_network takes a path, got an empty str", expected="a path to a YAML spec")
    if _YAML_TEXT.search(path) and not os.path.exists(path):
        raise UsageError(
            "load_network takes a path; use network_from_text for YAML text",
            expected="a path to a YAML spec",
        )
    return path


def load_network(path: str | os.PathLike[str]) -> Network:
    """Read, validate and flatten a spec file.

    `path`: a str or os.PathLike (pathlib.Path).  Any problem with the file or the spec is a
    one-line `CalcError` naming the file, line and column."""
    path = _spec_path(path)
    with _gc_paused():
        return build(load_file(path))


def network_from_text(text: str | bytes, file: str | os.PathLike[str] = "<string>") -> Network:
    """Validate and flatten a spec given as YAML text (a str, or bytes in UTF-8: bytes that are
    not are a `YamlError` at their line and column); `file` is the name errors give for it."""
    if isinstance(file, os.PathLike):
        file = os.fspath(file)
    if not isinstance(file, str):
        raise UsageError(
            f"network_from_text's file is a name for the text, got {type(file).__name__}",
            expected="a str such as 'net.yaml'",
        )
    if isinstance(text, os.PathLike):
        raise UsageError(
            "network_from_text takes YAML text; use load_network for a path",
            expected="a str or bytes holding a YAML spec",
        )
    if not isinstance(text, (str, bytes, bytearray)):
        raise UsageError(
            f"network_from_text takes YAML text, got {type(text).__name__}",
            expected="a str or bytes holding a YAML spec",
        )
    with _gc_paused():
        return build(loads(text, file))


def evaluate_network(
    path: str | os.PathLike[str],
    convention: Convention | str = conventions.DEFAULT,
    dtype: Dtype | str = Dtype.FP32,
    input_shape: Sequence[Any] | None = None,
    *,
    batch: int | None = None,
) -> Report:
    """Load a spec file and evaluate it: `load_network(path).evaluate(convention, dtype,
    input_shape, batch=batch)`, the convention and dtype checked before the file is read."""
    convention = conventions.resolve(convention)
    dt = _dtype(dtype)
    return load_network(path).evaluate(convention, dt, input_shape, batch=batch)


__all__ = ["Network", "Op", "evaluate_network", "load_network", "network_from_text"]
