"""flopcalc: exact parameters, MACs, FLOPs and memory access cost of neural networks.

    >>> from calc import parse_layer, evaluate_layer
    >>> report = evaluate_layer(parse_layer({"type": "conv", "K": 3, "Cin": 64, "Cout": 128,
    ...                                      "H": 112, "W": 112, "padding": 1, "bias": False}))
    >>> report.totals.macs
    924844032

Importing `calc` is cheap: submodules (pydantic records, sympy for symbolic work) load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "parse_layer": "calc.parse",
    "evaluate_layer": "calc.report",
    "Report": "calc.report",
    "CONVENTIONS": "calc.conventions",
    "CalcError": "calc.errors",
    "load_network": "calc.network",
    "evaluate_network": "calc.network",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'calc' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = sorted(_LAZY)
