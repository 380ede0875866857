"""docs/spec-format.md cannot go stale (issue 16, "the spec format is documented where people
look"):

- every ```yaml block preceded by a `<!-- spec -->` line is loaded as `example.yaml` and evaluated
  at its own input under the exact convention; the ```text block after it states what that gives,
  `params P, MACs M, FLOPs F`, or, for a spec meant to fail, its one-line error;
- the tables of layer fields between `<!-- fields: begin -->` / `<!-- kinds: begin -->` and their
  `end` markers are generated from the layer records (calc/layers) and must be current;
- the limits table states the values of the constants it names.

FLOPCALC_UPDATE_SPEC_DOC=1 rewrites the outputs and the tables from the tool."""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass

import pytest

from calc.errors import CalcError
from calc.layers import KINDS
from calc.layers.base import Layer, SpatialInput
from calc.network import network_from_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "spec-format.md")
MARKER = "<!-- spec -->"
UPDATE = bool(os.environ.get("FLOPCALC_UPDATE_SPEC_DOC"))
COMMON = SpatialInput.model_fields
"""Fields documented once, in "Fields every layer has" (a kind lists them again only when its
own field differs, as linear's Cin counts features and concat's lists each input's channels)."""


@dataclass
class Example:
    spec: str
    line: int
    """1-based line of the spec's first line in the doc."""
    expected: list[str]
    span: tuple[int, int]
    """0-based [start, end) of the expected lines in the doc."""


def read_doc() -> str:
    with open(DOC, encoding="utf-8") as fh:
        return fh.read()


def fence_end(lines: list[str], start: int) -> int:
    end = start
    while not lines[end].startswith("```"):
        end += 1
    return end


def examples(text: str) -> list[Example]:
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        assert lines[i + 1] == "```yaml", f"docs/spec-format.md:{i + 2}: {MARKER} must precede a ```yaml block"
        end = fence_end(lines, i + 2)
        out = next(j for j in range(end + 1, len(lines)) if lines[j].strip())
        assert lines[out] == "```text", f"docs/spec-format.md:{out + 1}: a spec example needs a ```text result"
        out_end = fence_end(lines, out + 1)
        found.append(Example("\n".join(lines[i + 2:end]) + "\n", i + 3, lines[out + 1:out_end], (out + 1, out_end)))
    return found


def outcome(spec: str) -> list[str]:
    """What the doc shows for a spec: its totals, or the one-line error it gets."""
    try:
        totals = network_from_text(spec, "example.yaml").evaluate().totals
    except CalcError as exc:
        return [exc.one_line()]
    return [f"params {totals.params:,}, MACs {totals.macs:,}, FLOPs {totals.flops:,}"]


# -- generated tables ----------------------------------------------------------------------------

def type_text(schema: dict) -> str:
    """A field's type in words, from its pydantic JSON schema."""
    if "anyOf" in schema:
        parts = [type_text(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(parts)
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "$ref" in schema:
        # pydantic names the definition by version: 'ActivationKind' (2.14),
        # 'calc__layers__activation__ActivationKind__2' (2.6)
        return "an activation kind" if "ActivationKind" in schema["$ref"] else schema["$ref"]
    kind = schema.get("type")
    if kind == "integer":
        if "exclusiveMinimum" in schema:
            return f"int ≥ {schema['exclusiveMinimum'] + 1}"
        return f"int ≥ {schema['minimum']}" if "minimum" in schema else "int"
    if kind == "array":
        return f"list of ({type_text(schema['items'])})"
    if kind == "number":
        bounds = [f"{schema['minimum']}" if "minimum" in schema else None,
                  f"{schema['maximum']}" if "maximum" in schema else None]
        return f"float in [{bounds[0]}, {bounds[1]}]" if all(bounds) else "float"
    return {"boolean": "bool", "string": "str"}.get(kind, str(kind))


def default_text(cls: type[Layer], name: str) -> str:
    info = cls.model_fields[name]
    if info.is_required():
        return "**required**"
    value = info.default
    if value is None:
        return "—"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def field_rows(cls: type[Layer], names: list[str]) -> list[str]:
    props = cls.model_json_schema()["properties"]
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name in names:
        info = cls.model_fields[name]
        description = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {type_text(props[name])} | {default_text(cls, name)} | {description} |")
    return rows


def fields_table() -> list[str]:
    return field_rows(SpatialInput, [n for n in COMMON if n != "type"]) + [
        "",
        "Every item may also have `when` ([above](#items-layers-and-composites)). Layers with "
        "`Cin` alone (linear: features on the last axis) take no `L`, `D`, `H`, `W`.",
    ]


def own_fields(cls: type[Layer]) -> list[str]:
    """The kind's fields (bn and act last, as they add rows of their own)."""
    names = [n for n, info in cls.model_fields.items()
             if n != "type" and (n not in COMMON or info.description != COMMON[n].description)]
    return sorted(names, key=lambda n: n in ("bn", "act"))


def kinds_tables() -> list[str]:
    out: list[str] = []
    for cls in KINDS:
        tags = ", ".join(f"`{t}`" for t in cls.TAGS)
        summary = " ".join((cls.__doc__ or "").split("\n\n")[0].split())
        out += [f"#### {tags}", "", summary, ""]
        names = own_fields(cls)
        out += field_rows(cls, names) if names else ["No fields of its own."]
        out.append("")
    return out[:-1]


def generated(text: str, marker: str, body: list[str]) -> tuple[str, bool]:
    begin, end = f"<!-- {marker}: begin -->", f"<!-- {marker}: end -->"
    head, rest = text.split(begin + "\n", 1)
    old, tail = rest.split(end, 1)
    new = "\n".join(body) + "\n"
    return head + begin + "\n" + new + end + tail, old == new


# -- tests -----------------------------------------------------------------------------------------

def test_every_spec_example_gives_what_the_doc_says():
    text = read_doc()
    found = examples(text)
    assert len(found) >= 10
    assert sum(e.expected[:1] and e.expected[0].startswith("example.yaml:") for e in found) >= 3
    lines = text.splitlines()
    problems = []
    for example in sorted(found, key=lambda e: e.span, reverse=True):
        got = outcome(example.spec)
        if got != example.expected:
            problems.append(f"docs/spec-format.md:{example.line}: the doc says {example.expected!r}, "
                            f"the tool gives {got!r}")
            lines[example.span[0]:example.span[1]] = got
    if UPDATE:
        with open(DOC, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        return
    assert not problems, "FLOPCALC_UPDATE_SPEC_DOC=1 rewrites them:\n" + "\n".join(problems)


def test_error_examples_are_errors_and_others_are_not():
    """An example's text block is an error exactly when the spec is meant to fail (so a fixed
    figure can never hide an error, nor an error message a figure)."""
    for example in examples(read_doc()):
        (line,) = example.expected
        assert line.startswith("params ") or line.startswith("example.yaml:"), line


def test_the_layer_tables_are_generated_from_the_records():
    text = read_doc()
    text, fields_current = generated(text, "fields", fields_table())
    text, kinds_current = generated(text, "kinds", kinds_tables())
    if UPDATE:
        with open(DOC, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    assert fields_current and kinds_current, "stale layer tables: FLOPCALC_UPDATE_SPEC_DOC=1 rewrites them"


def test_every_kind_and_field_is_in_the_doc():
    text = read_doc()
    for cls in KINDS:
        for tag in cls.TAGS:
            assert f"`{tag}`" in text, tag
        for name in cls.model_fields:
            assert f"`{name}`" in text, f"{cls.__name__}.{name}"
    for word in ("`when`", "`overrides`", "`defaults`", "`call`", "`shortcut_name`", "`active`",
                 "`split`", "`merge`", "`repeat`", "`with`", "`params`", "`batch`", "`input`"):
        assert word in text, word


LIMIT_ROW = re.compile(r"^\| `(calc(?:\.\w+)+)\.([A-Z_]+)` \| (\d+) \|", re.M)


def test_the_limits_table_states_the_constants():
    rows = LIMIT_ROW.findall(read_doc())
    assert len(rows) >= 10
    for module, name, value in rows:
        assert getattr(importlib.import_module(module), name) == int(value), f"{module}.{name}"


def test_a_stale_figure_is_caught():
    """The checker compares: a wrong figure in a copy of the first example is reported."""
    first = examples(read_doc())[0]
    assert outcome(first.spec) == first.expected
    assert outcome(first.spec.replace("Cout: 16", "Cout: 17")) != first.expected


@pytest.mark.parametrize("marker", ["fields", "kinds"])
def test_generated_sections_are_delimited(marker):
    text = read_doc()
    assert text.count(f"<!-- {marker}: begin -->") == 1 and text.count(f"<!-- {marker}: end -->") == 1
