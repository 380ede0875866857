"""Hardware profiles: one YAML file per device, every figure written with its unit and its source.

A profile file (calc/hardware/profiles/*.yaml ships with calc; `--hw FILE` reads a user's own):

    name: h100-sxm                       # lower-case letters, digits, '-' (a shipped file: its stem)
    title: NVIDIA H100 SXM5 80 GB
    kind: gpu                            # gpu | cpu | soc
    sources:                             # every source the figures cite, by a short key
      whitepaper:
        title: NVIDIA H100 Tensor Core GPU Architecture (whitepaper)
        url: https://...
        where: Table 3, column 'H100 SXM5'
    peak:                                # dense peak per dtype (fp64 fp32 tf32 fp16 bf16 fp8 int8)
      bf16: {value: 989.4 TFLOPS, source: whitepaper, note: "dense; 1,979 is with sparsity"}
    bandwidth: {value: 3.35 TB/s, source: datasheet}
    memory: {value: 80 GB, source: datasheet}
    cache: {value: 50 MB, source: whitepaper}          # optional: on-chip last-level cache
    compute_efficiency: {value: 0.5, source: paper, note: "..."}   # in (0, 1]
    memory_efficiency: {value: 0.8, source: measured, note: "..."} # in (0, 1]

Every figure is a mapping `{value, source, note?, arithmetic?}`: `source` must name an entry of
`sources` (title, url, where), so a number without a source is refused.  `arithmetic`
("2048 cores x 2 FLOP/clk x 1.3 GHz") states how a figure not printed by the vendor was derived;
the product of its factors must equal `value` exactly.

Values are read exactly (Fraction, never float): "989.4 TFLOPS" is 989_400_000_000_000 FLOP/s,
"80 GB" is 80 * 10**9 bytes and "64 GiB" is 64 * 2**30 bytes.  Decimal prefixes k M G T P E and
binary prefixes Ki Mi Gi Ti Pi Ei; units FLOPS or FLOP/s (int8: OPS or OP/s) for a peak, B/s for
bandwidth, B for memory and cache.  "KB" is refused as ambiguous (write kB or KiB).  A figure
that is not a whole number of FLOP/s or bytes is refused.

Importing this module loads pydantic (the record) but no YAML until a profile is loaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from calc.errors import Location, SpecError, UsageError

PEAK_DTYPES: tuple[str, ...] = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8")
"""The dtypes a profile may state a dense peak for (int8 in OP/s, the others in FLOP/s).  tf32 is
a math mode of fp32 storage."""
KINDS: tuple[str, ...] = ("gpu", "cpu", "soc")
SUFFIX = ".yaml"

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_DECIMAL_PREFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_BINARY_PREFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
PREFIXES: dict[str, int] = {**_DECIMAL_PREFIX, **_BINARY_PREFIX}
"""Unit prefix -> multiplier: decimal (k = 10**3 ... E = 10**18) and binary (Ki = 2**10 ... Ei = 2**60)."""

UNITS: dict[str, tuple[str, ...]] = {
    "flops": ("FLOPS", "FLOP/s"),
    "ops": ("OPS", "OP/s"),
    "bandwidth": ("B/s",),
    "bytes": ("B",),
}
"""What each kind of figure is written in (after a prefix)."""
_UNIT_WORDS = {"flops": "FLOP/s, like '989.4 TFLOPS'", "ops": "OP/s, like '1,978.9 TOPS'",
               "bandwidth": "bytes per second, like '3.35 TB/s' or '100 GiB/s'",
               "bytes": "bytes, like '80 GB' or '64 GiB'"}
_NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_FIGURE = re.compile(rf"({_NUMBER})\s*([A-Za-z/]+)")
_FIGURE_KEYS = ("value", "source", "note", "arithmetic")
_SOURCE_KEYS = ("title", "url", "where")
_TOP_KEYS = ("name", "title", "kind", "sources", "peak", "bandwidth", "memory", "cache",
             "compute_efficiency", "memory_efficiency")
_REQUIRED = ("name", "title", "kind", "sources", "peak", "bandwidth", "memory", "compute_efficiency",
             "memory_efficiency")


# -- exact figures -----------------------------------------------------------------------------


def decimal_number(text: str) -> Fraction:
    """The exact value of a decimal numeral with optional thousands separators ('2,039', '989.4')."""
    return Fraction(text.replace(",", ""))


def split_unit(unit: str, kind: str) -> int:
    """The multiplier of `unit` ('TFLOPS' -> 10**12, 'GiB' -> 2**30) for a figure of `kind`
    (a key of UNITS); ValueError saying what was expected otherwise."""
    for base in UNITS[kind]:
        if unit.endswith(base):
            prefix = unit[: -len(base)]
            if prefix in PREFIXES:
                return PREFIXES[prefix]
            if prefix == "K":
                raise ValueError(f"'{unit}' is ambiguous (expected k{base} = 1000 {base} or Ki{base} = 1024 {base})")
    raise ValueError(f"'{unit}' is not a unit of {kind} (expected {_UNIT_WORDS[kind]})")


def parse_figure(text: Any, kind: str) -> int:
    """`text` ('989.4 TFLOPS', '3.35 TB/s', '80 GB', '64 GiB') as an exact int of the base unit
    (FLOP/s, OP/s, B/s or B): the numeral read as a Fraction times the prefix's multiplier, which
    must be a whole number > 0.  ValueError (one line, what was expected) otherwise."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"{text!r} is not a figure (expected {_UNIT_WORDS[kind]})")
    if not isinstance(text, str):
        raise ValueError(f"{text!r} has no unit (expected {_UNIT_WORDS[kind]})")
    match = _FIGURE.fullmatch(text.strip())
    if match is None:
        if re.fullmatch(rf"\s*-\s*{_NUMBER}.*", text):
            raise ValueError(f"'{text}' is negative (expected a figure > 0 in {_UNIT_WORDS[kind]})")
        raise ValueError(f"'{text}' is not a number with a unit (expected {_UNIT_WORDS[kind]})")
    number, unit = match.groups()
    try:
        exact = decimal_number(number) * split_unit(unit, kind)
    except ValueError as exc:
        raise ValueError(f"'{text}': {exc}") from None
    if exact <= 0:
        raise ValueError(f"'{text}' is zero (expected a figure > 0 in {_UNIT_WORDS[kind]})")
    if exact.denominator != 1:
        raise ValueError(f"'{text}' is {exact.numerator}/{exact.denominator} {UNITS[kind][0]}, not a whole number "
                         f"(expected a whole number of {UNITS[kind][0]})")
    return int(exact)


def parse_share(value: Any) -> Fraction:
    """An efficiency factor as an exact Fraction in (0, 1]: a number (0.8, read by its decimal
    text, never its binary float), or text: '0.8', '4/5' or '80%'."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a number (expected a share in (0, 1], like 0.8 or '80%')")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    percent = text.endswith("%")
    try:
        share = Fraction(text[:-1].strip() if percent else text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{value!r} is not a number (expected a share in (0, 1], like 0.8 or '80%')") from None
    if percent:
        share /= 100
    if not 0 < share <= 1:
        raise ValueError(f"{value!r} is not in (0, 1] (expected a share of the peak, like 0.8 or '80%')")
    return share


_FACTOR = re.compile(rf"\s*({_NUMBER})(?:\s*([A-Za-z][^\s]*))?.*")
_SCALED = ("Hz", "T/s", *UNITS["flops"], *UNITS["ops"], *UNITS["bandwidth"], *UNITS["bytes"])


def _scale(unit: str | None) -> int:
    """The prefix multiplier of a factor's unit: 'GHz' and 'GT/s' -> 10**9, 'TFLOPS' -> 10**12, 'GiB' -> 2**30;
    1 for a word that is not such a unit ('cores', 'FLOP/clk')."""
    for base in _SCALED:
        if unit is not None and unit.endswith(base) and unit[: -len(base)] in PREFIXES:
            return PREFIXES[unit[: -len(base)]]
    return 1


def arithmetic_product(text: str) -> Fraction:
    """The product of the factors of `text`, written 'A x B x C' (or with ×; '= result' after them
    is ignored): each factor's leading number times the prefix of its unit if it has one (Hz,
    FLOPS, OPS, B/s, B: 'GHz' is 10**9, 'GiB' 2**30); other words ('cores', 'FLOP/clk') count 1.
    '96 cores x 3.55 GHz x 32 FLOP/clk' -> 10_905_600_000_000."""
    product = Fraction(1)
    left = text.split("=", 1)[0]
    for factor in re.split(r"\s+[x×]\s+", left.strip()):
        match = _FACTOR.fullmatch(factor)
        if match is None:
            raise ValueError(f"factor '{factor.strip()}' does not start with a number "
                             "(expected factors like '96 cores x 3.55 GHz x 32 FLOP/clk')")
        number, unit = match.groups()
        product *= decimal_number(number) * _scale(unit)
    return product


# -- the record --------------------------------------------------------------------------------


class FrozenMap(dict):  # type: ignore[type-arg]
    """A dict that refuses changes (a profile's peaks, sources, figures), and that copies, deep
    copies and pickles as itself (MappingProxyType does not pickle)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a hardware profile is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (FrozenMap, (dict(self),))

    def __copy__(self) -> "FrozenMap":
        return self

    def __deepcopy__(self, memo: Any) -> "FrozenMap":
        return self

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))


class Profile(BaseModel):
    """A device: dense peak per dtype (FLOP/s; int8 OP/s), memory bandwidth (B/s), memory and
    cache (B), all exact ints; efficiency factors as exact Fractions in (0, 1].  `sources` maps
    each field ('peak.bf16', 'bandwidth', ...) to its source as written in the file, `figures`
    to the figure as written ('989.4 TFLOPS')."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True,
                              arbitrary_types_allowed=True)

    name: str
    title: str
    kind: Literal["gpu", "cpu", "soc"]
    file: str
    peak: Mapping[str, int]
    bandwidth: int
    memory: int
    cache: int | None = None
    compute_efficiency: Fraction
    memory_efficiency: Fraction
    sources: Mapping[str, str] = Field(default_factory=dict, validate_default=True)
    figures: Mapping[str, str] = Field(default_factory=dict, validate_default=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or None
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            raise SpecError(message, location=Location(str(data.get("file", "<Profile>"))),
                            field=field) from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"'{value}' is not a profile name (expected lower-case letters, digits and '-')")
        return value

    @field_validator("title", "file")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty (expected text)")
        return value

    @field_validator("peak", mode="after")
    @classmethod
    def _peak(cls, value: Mapping[str, int]) -> Mapping[str, int]:
        if not value:
            raise ValueError(f"no peak (expected at least one of {', '.join(PEAK_DTYPES)})")
        for dtype, flops in value.items():
            if dtype not in PEAK_DTYPES:
                raise ValueError(f"unknown dtype '{dtype}' (expected one of {', '.join(PEAK_DTYPES)})")
            if type(flops) is not int or flops <= 0:
                raise ValueError(f"{dtype}: {flops!r} is not an int > 0 (expected FLOP/s as an exact int)")
        ordered = {d: value[d] for d in PEAK_DTYPES if d in value}
        return FrozenMap(ordered)

    @field_validator("sources", "figures", mode="after")
    @classmethod
    def _frozen_text(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        return FrozenMap(value)

    @field_validator("bandwidth", "memory", "cache")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError(f"{value} is not > 0 (expected a positive exact int)")
        return value

    @field_validator("compute_efficiency", "memory_efficiency", mode="before")
    @classmethod
    def _share(cls, value: Any) -> Fraction:
        if not isinstance(value, Fraction):
            raise ValueError(f"{value!r} is not a Fraction (expected fractions.Fraction in (0, 1])")
        if not 0 < value <= 1:
            raise ValueError(f"{value} is not in (0, 1] (expected a share of the peak)")
        return value

    def peak_for(self, dtype: str) -> int:
        """The dense peak for `dtype` in FLOP/s (int8: OP/s); UsageError if the profile has none."""
        if not isinstance(dtype, str) or dtype not in PEAK_DTYPES:
            raise UsageError(f"unknown dtype {dtype!r}", expected=f"one of {', '.join(PEAK_DTYPES)}")
        if dtype not in self.peak:
            raise UsageError(f"profile {self.name} (file {self.file}) has no {dtype} peak",
                             expected=f"one of {', '.join(self.peak)}")
        return self.peak[dtype]

    def ridge(self, dtype: str) -> Fraction:
        """The ridge point: peak_for(dtype) / bandwidth, in FLOP (int8: OP) per byte, exact."""
        return Fraction(self.peak_for(dtype), self.bandwidth)


# -- loading -----------------------------------------------------------------------------------


def _folder() -> Any:
    """The shipped profiles: calc/hardware/profiles/ (package data of calc.hardware)."""
    return resources.files("calc.hardware").joinpath("profiles")


def _shipped() -> dict[str, Any]:
    folder = _folder()
    return {entry.name[: -len(SUFFIX)]: entry for entry in folder.iterdir()
            if entry.name.endswith(SUFFIX) and entry.is_file()}


def profile_names() -> tuple[str, ...]:
    """The shipped profiles' names, sorted ('a100-sxm-40gb', ...): the stems of the YAML files."""
    return tuple(sorted(_shipped()))


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """A shipped profile by name ('h100-sxm'), or the profile file at a path (str or os.PathLike).
    Unknown name: UsageError listing the names; bad file: SpecError located at file:line:col."""
    if isinstance(name_or_path, os.PathLike):
        return _load_path(os.fspath(name_or_path))
    if not isinstance(name_or_path, str):
        raise UsageError(f"a hardware profile must be a name or a path, not {type(name_or_path).__name__}",
                         expected=f"one of {', '.join(profile_names())}, or a YAML file")
    if name_or_path in _shipped():
        return _load_shipped(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or os.sep in name_or_path or "/" in name_or_path \
            or os.path.exists(name_or_path):
        return _load_path(name_or_path)
    raise UsageError(f"unknown hardware profile '{name_or_path}'",
                     expected=f"one of {', '.join(profile_names())}, or a path to a YAML profile")


@lru_cache(maxsize=None)
def _load_shipped(name: str) -> Profile:
    entry = _shipped()[name]
    shown = str(entry) if os.path.isfile(str(entry)) else f"calc/hardware/profiles/{name}{SUFFIX}"
    from calc import yamlload

    profile = from_located(yamlload.loads(entry.read_bytes(), shown))
    if profile.name != name:
        raise SpecError(f"name '{profile.name}' differs from the file's name", location=Location(shown),
                        field="name", expected=f"name: {name}")
    return profile


def _load_path(path: str) -> Profile:
    from calc import yamlload
    from calc.errors import YamlError

    try:
        return from_located(yamlload.load_file(path))
    except YamlError as exc:  # the reader's own wording names a spec: this file is a profile
        if exc.expected and exc.expected.startswith("a path to a YAML spec"):
            exc.expected = "a path to a YAML hardware profile, or a name from 'calc hardware'"
        raise


def from_located(doc: Any) -> Profile:
    """The Profile of a document read by calc.yamlload (`Located`), each error at its line."""
    return _Reader(doc).profile()


class _Reader:
    """Reads one profile document, raising SpecError at the line of the first bad value."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.file = doc.file

    def fail(self, container: Any, key: Any, field: str, message: str, expected: str | None = None) -> None:
        raise SpecError(message, location=self.doc.where(container, key) or Location(self.file),
                        field=field, expected=expected)

    def mapping(self, container: Any, key: Any, field: str, allowed: tuple[str, ...],
                required: tuple[str, ...]) -> dict[str, Any]:
        value = container[key] if key is not None else container
        if not isinstance(value, dict):
            self.fail(container, key, field, f"{_kind(value)} is not a mapping",
                      f"a mapping with {', '.join(required) or 'keys'}")
        for k in value:
            if k not in allowed:
                self.fail(value, k, f"{field}.{k}" if field else str(k), f"unknown key {k!r}",
                          f"one of {', '.join(allowed)}")
        for k in required:
            if k not in value:
                self.fail(container, key, field or k, f"missing {k!r}" if field else "missing",
                          f"{k} (every profile states it)" if not field else f"keys {', '.join(required)}")
        return value

    def text(self, container: Any, key: str, field: str) -> str:
        value = container[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(container, key, field, f"{_kind(value)} is not text", "non-empty text")
        return value

    def profile(self) -> Profile:
        top = self.mapping(self.doc.data, None, "", _TOP_KEYS, ())
        for k in _REQUIRED:
            if k not in top:
                raise SpecError("missing", location=self.doc.where(top) or Location(self.file), field=k,
                                expected=f"'{k}:' (every profile states {', '.join(_REQUIRED)})")
        name = self.text(top, "name", "name")
        if not _NAME.fullmatch(name):
            self.fail(top, "name", "name", f"'{name}' is not a profile name", "lower-case letters, digits and '-'")
        kind = self.text(top, "kind", "kind")
        if kind not in KINDS:
            self.fail(top, "kind", "kind", f"unknown kind '{kind}'", f"one of {', '.join(KINDS)}")
        self.sources = self.read_sources(top)
        cited: dict[str, str] = {}
        written: dict[str, str] = {}
        peaks = self.mapping(top, "peak", "peak", PEAK_DTYPES, ())
        if not peaks:
            self.fail(top, "peak", "peak", "no dtype", f"at least one of {', '.join(PEAK_DTYPES)}")
        peak = {}
        for dtype in peaks:
            unit = "ops" if dtype == "int8" else "flops"
            peak[dtype] = self.figure(peaks, dtype, f"peak.{dtype}", unit, cited, written)
        bandwidth = self.figure(top, "bandwidth", "bandwidth", "bandwidth", cited, written)
        memory = self.figure(top, "memory", "memory", "bytes", cited, written)
        cache = self.figure(top, "cache", "cache", "bytes", cited, written) if top.get("cache") is not None else None
        shares = {k: self.figure(top, k, k, "share", cited, written) for k in ("compute_efficiency", "memory_efficiency")}
        return Profile(name=name, title=self.text(top, "title", "title"), kind=kind, file=self.file, peak=peak,
                       bandwidth=bandwidth, memory=memory, cache=cache, sources=cited, figures=written, **shares)

    def read_sources(self, top: dict[str, Any]) -> dict[str, str]:
        entries = top["sources"]
        if not isinstance(entries, dict) or not entries:
            self.fail(top, "sources", "sources", f"{_kind(entries)} is not a mapping of sources",
                      "key: {title, url, where} for each source the figures cite")
        found = {}
        for key in entries:
            field = f"sources.{key}"
            entry = self.mapping(entries, key, field, _SOURCE_KEYS, _SOURCE_KEYS)
            for k in _SOURCE_KEYS:
                self.text(entry, k, f"{field}.{k}")
            if not re.fullmatch(r"https?://\S+", entry["url"]):
                self.fail(entry, "url", f"{field}.url", f"{entry['url']!r} is not a URL", "http(s)://...")
            found[key] = f"{entry['title']}, {entry['url']}, {entry['where']}"
        return found

    def figure(self, container: dict[str, Any], key: str, field: str, unit: str,
               cited: dict[str, str], written: dict[str, str]) -> Any:
        entry = self.mapping(container, key, field, _FIGURE_KEYS, ("value",))
        if "source" not in entry:
            self.fail(container, key, f"{field}.source", "a figure without a source",
                      f"source: one of {', '.join(self.sources)} (an entry of 'sources:')")
        source = entry["source"]
        if not isinstance(source, str) or source not in self.sources:
            self.fail(entry, "source", f"{field}.source", f"{source!r} names no entry of 'sources:'",
                      f"one of {', '.join(self.sources)}")
        for k in ("note", "arithmetic"):
            if k in entry:
                self.text(entry, k, f"{field}.{k}")
        raw = entry["value"]
        try:
            value: Any = parse_share(raw) if unit == "share" else parse_figure(raw, unit)
        except ValueError as exc:
            self.fail(entry, "value", f"{field}.value", str(exc))
        if "arithmetic" in entry:
            try:
                product = arithmetic_product(entry["arithmetic"])
            except ValueError as exc:
                self.fail(entry, "arithmetic", f"{field}.arithmetic", str(exc))
            if product != value:
                self.fail(entry, "arithmetic", f"{field}.arithmetic",
                          f"the factors multiply to {_plain(product)}, not to the value {_plain(value)}",
                          "factors whose product is the value")
        text = self.sources[source]
        if "arithmetic" in entry:
            text = f"{entry['arithmetic']}; {text}"
        if "note" in entry:
            text = f"{text}; {entry['note']}"
        cited[field] = text
        written[field] = str(raw)
        return value


def _plain(value: Fraction | int) -> str:
    value = Fraction(value)
    return f"{value.numerator:,}" if value.denominator == 1 else f"{value} (~{float(value):.6g})"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)
