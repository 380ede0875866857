"""flopcalc: exact parameters, MACs, FLOPs and memory access cost of neural networks.

    >>> from calc import parse_layer, evaluate_layer
    >>> report = evaluate_layer(parse_layer({"type": "conv", "K": 3, "Cin": 64, "Cout": 128,
    ...                                      "H": 112, "W": 112, "padding": 1, "bias": False}))
    >>> report.totals.macs
    924844032

A whole network from a spec file (or YAML text), at its own input or another one:

    >>> from calc import load_network                       # doctest: +SKIP
    >>> from calc.render import render                      # doctest: +SKIP
    >>> net = load_network("specs/resnet50.yaml")           # doctest: +SKIP
    >>> report = net.evaluate("2mac", "fp16", batch=8)      # doctest: +SKIP
    >>> print(render(report, "md"))                         # doctest: +SKIP

Conventions and dtypes are given as objects or by name ("exact", "2mac", "fvcore", ...;
"fp32", "fp16", ...).  Every bad argument is a one-line `CalcError`.

Importing `calc` is cheap: submodules (pydantic records, sympy for symbolic work) load on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (10 ms) on every command
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "parse_layer": "calc.parse",
    "evaluate_layer": "calc.report",
    "Report": "calc.report",
    "CONVENTIONS": "calc.conventions",
    "Convention": "calc.conventions",
    "Dtype": "calc.cost",
    "CalcError": "calc.errors",
    "Network": "calc.network",
    "load_network": "calc.network",
    "network_from_text": "calc.network",
    "evaluate_network": "calc.network",
}

if TYPE_CHECKING:  # what the lazy names are, for type checkers (calc ships py.typed)
    from calc.conventions import CONVENTIONS, Convention
    from calc.cost import Dtype
    from calc.errors import CalcError
    from calc.network import Network, evaluate_network, load_network, network_from_text
    from calc.parse import parse_layer
    from calc.report import Report, evaluate_layer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'calc' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


__all__ = sorted(_LAZY)
