"""Network specs: load a YAML file into a `Network` program, evaluate it into a `Report`."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from calc import conventions
from calc.cost import Dtype
from calc.network.builder import build
from calc.network.program import Network, Op
from calc.report import Report
from calc.yamlload import load_file, loads


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


def load_network(path: str) -> Network:
    """Read, validate and flatten a spec file."""
    with _gc_paused():
        return build(load_file(path))


def network_from_text(text: str, file: str = "<string>") -> Network:
    with _gc_paused():
        return build(loads(text, file))


def evaluate_network(path: str, convention: str = conventions.DEFAULT, dtype: str = "fp32") -> Report:
    return load_network(path).evaluate(conventions.get(convention), Dtype(dtype))


__all__ = ["Network", "Op", "evaluate_network", "load_network", "network_from_text"]
