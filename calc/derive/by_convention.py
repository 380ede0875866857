"""Operations under every counting convention, as a table checked cell by cell.

Each cell is the convention's row of coefficients (read from `calc.conventions`, i.e. data)
applied to stated counters; it is checked against the library's FLOPs of the layer
(`layer_costs(kind, fields, convention)`, i.e. the layer's formula functions and tally).
A convention that deliberately does not emulate an operation must refuse in both.
"""

from __future__ import annotations

from typing import Any

from calc.derive.core import Derivation, DerivationError
from calc.derive.library import convention_names, costs, refuses, rule_flops, rule_formula
from calc.derive.render import text_expr
from calc.errors import ConventionError


def cell(d: Derivation, op: str, kind: str, convention: str, fields: dict[str, Any],
         counters: dict[str, Any]) -> Any:
    """FLOPs of `op` by the convention's rule, checked against the library; None if refused."""
    if refuses(convention, op):
        try:
            costs(kind, convention, **fields)
        except ConventionError:
            return None
        raise DerivationError(
            f"derivation '{d.topic}': convention '{convention}' refuses '{op}' in its table "
            "but the library prices it"
        )
    ours = rule_flops(convention, op, **counters)
    d.check(ours, costs(kind, convention, **fields)["flops"],
            f"'{op}' under convention '{convention}' (table rule vs layer_costs('{kind}'))")
    return ours


def table(d: Derivation, ops: list[tuple[str, str]], fields: dict[str, Any],
          counters: dict[str, Any], counters_text: str) -> None:
    """Rows: conventions; for each (op, kind): the rule and the FLOPs it gives."""
    headers = ["convention"]
    for op, _ in ops:
        headers += [f"{op} rule", f"{op} FLOPs"]
    rows = []
    for name in convention_names():
        row = [name]
        for op, kind in ops:
            value = cell(d, op, kind, name, fields, counters)
            row += ["not emulated", "-"] if value is None else [rule_formula(name, op), text_expr(value)]
        rows.append(tuple(row))
    d.note(f"Counters: {counters_text}. Every FLOPs cell below equals the library's "
           "layer_costs(...)['flops'] under that convention (checked when this was built).")
    d.table(tuple(headers), rows)
