"""The roofline model (Williams, Waterman and Patterson, "Roofline: an insightful visual
performance model for multicore architectures", CACM 52(4), 2009, fig. 1 and eq. 1), written
once, each formula a function of plain numbers:

    intensity   I = FLOPs / bytes                                   (FLOP per byte)
    attainable  min(peak, bandwidth x I)                            (FLOP/s)
    ridge       peak / bandwidth: the intensity where the two roofs meet
    bound       compute when I >= ridge (FLOPs x bandwidth >= bytes x peak), else memory
    time        max(FLOPs / peak, bytes / bandwidth)                (s): the time bound

A bound is a bound: the time is the least a kernel could take, with the device's dense peak and
its full bandwidth.  `Device` also carries efficiency factors (achievable shares of peak and of
bandwidth, cited by the hardware profile); `efficient_time` divides each roof by its factor.

Counts (FLOPs, bytes) are exact ints; intensities and times are exact `Fraction`s (of FLOP per
byte, of seconds).  An operation that moves no byte and computes has an infinite intensity
(`INFINITE`, math.inf: always compute-bound, time FLOPs / peak); one that does neither has
intensity 0 and time 0 (bound 'none').  No formula here divides by a count, so none can divide
by zero; the device's peak and bandwidth are checked positive when a `Device` is made.
`roof_time` and `network_time` also take sympy expressions (a symbolic batch, calc.roofline.sweep).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from calc.errors import UsageError

INFINITE = math.inf
"""The intensity of an operation that computes and moves no byte."""

COMPUTE, MEMORY, NONE = "compute", "memory", "none"
BOUNDS = (COMPUTE, MEMORY, NONE)
"""What limits an operation: the compute roof, the memory roof, or nothing (no FLOP, no byte)."""


def _ratio(a: Any, b: Any) -> Any:
    """a / b, exact: a Fraction of ints or Fractions, a sympy quotient otherwise."""
    if isinstance(a, (int, Fraction)) and isinstance(b, (int, Fraction)):
        return Fraction(a) / b
    from calc import symbolic

    return symbolic.divide(a, b)


def _max(a: Any, b: Any) -> Any:
    if isinstance(a, (int, Fraction)) and isinstance(b, (int, Fraction)):
        return max(a, b)
    from calc import symbolic

    return symbolic.maximum(a, b)


def intensity(flops: int, nbytes: int) -> Fraction | float:
    """Arithmetic intensity, FLOPs per byte moved (Williams et al. 2009, sec. 2): an exact
    Fraction; `INFINITE` for FLOPs without bytes; 0 for an operation that does neither."""
    if nbytes == 0:
        return INFINITE if flops else Fraction(0)
    return Fraction(flops, nbytes)


def attainable(peak: int, bandwidth: int, flops_per_byte: Fraction | float) -> Fraction:
    """Attainable throughput, FLOP/s: min(peak, bandwidth x intensity) (Williams et al. 2009,
    eq. 1)."""
    if flops_per_byte == INFINITE:
        return Fraction(peak)
    return min(Fraction(peak), bandwidth * Fraction(flops_per_byte))


def bound(flops: int, nbytes: int, peak: int, bandwidth: int) -> str:
    """'compute' when the compute roof is at least the memory roof (FLOPs / peak >= bytes /
    bandwidth, i.e. intensity >= ridge; a tie counts as compute), 'memory' otherwise, 'none' for
    an operation with neither FLOPs nor bytes.  Compared in integers: FLOPs x bandwidth against
    bytes x peak."""
    if not flops and not nbytes:
        return NONE
    return COMPUTE if flops * bandwidth >= nbytes * peak else MEMORY


def roof_time(flops: Any, nbytes: Any, peak: Any, bandwidth: Any) -> Any:
    """The roofline time bound, seconds: max(FLOPs / peak, bytes / bandwidth)."""
    return _max(_ratio(flops, peak), _ratio(nbytes, bandwidth))


def efficient_time(flops: int, nbytes: int, peak: int, bandwidth: int,
                   compute_efficiency: Fraction, memory_efficiency: Fraction) -> Fraction:
    """The time bound with the achievable shares of the roofs:
    max(FLOPs / (peak x compute_efficiency), bytes / (bandwidth x memory_efficiency))."""
    return roof_time(flops, nbytes, peak * compute_efficiency, bandwidth * memory_efficiency)


def ridge(peak: int, bandwidth: int) -> Fraction:
    """The ridge point, FLOP per byte: peak / bandwidth."""
    return Fraction(peak, bandwidth)


@dataclass(frozen=True, slots=True)
class Device:
    """What the roofline needs of a hardware profile (calc.hardware.Profile) for one math mode:
    the dense peak of that mode (FLOP/s), the memory bandwidth (bytes/s), and the efficiency
    factors.  Made by `device(profile, math)`; checked here too, so that no time can divide by
    zero whoever made it."""

    name: str
    title: str
    math: str
    """The dtype whose peak is used ('bf16', or 'tf32' for fp32 storage with TF32 math)."""
    peak: int
    bandwidth: int
    compute_efficiency: Fraction = Fraction(1)
    memory_efficiency: Fraction = Fraction(1)
    source: str = ""
    """Where the profile was read from (for messages)."""

    def __post_init__(self) -> None:
        for field in ("peak", "bandwidth"):
            value = getattr(self, field)
            if type(value) is not int or value <= 0:
                raise UsageError(f"device {self.name}: {field} is {value!r}, not a positive int",
                                 expected=f"{field} > 0 ({'FLOP/s' if field == 'peak' else 'bytes/s'})")
        for field in ("compute_efficiency", "memory_efficiency"):
            value = getattr(self, field)
            if not isinstance(value, Fraction) or not 0 < value <= 1:
                raise UsageError(f"device {self.name}: {field} is {value!r}", expected="a Fraction in (0, 1]")

    @property
    def ridge(self) -> Fraction:
        return ridge(self.peak, self.bandwidth)


def efficiency(value: Any, what: str) -> Fraction:
    """An efficiency factor given as a number or text ('0.7', '7/10', 0.7, Fraction(7, 10)):
    an exact Fraction in (0, 1] (a float is read by its decimal text, 0.7 -> 7/10)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float):
            value = repr(value)
        if isinstance(value, str):
            value = value.strip()
        f = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise UsageError(f"{what} {value!r} is not a number", expected="a share of the peak in (0, 1], e.g. 0.7") from None
    if not 0 < f <= 1:
        raise UsageError(f"{what} {value!r} is not in (0, 1]", expected="a share of the peak in (0, 1], e.g. 0.7")
    return f


def device(profile: Any, math: str | None = None, *, dtype: str | None = None,
           compute_efficiency: Any = None, memory_efficiency: Any = None) -> Device:
    """The `Device` of a calc.hardware.Profile for the math mode `math` (default: `dtype`, the
    storage type; 'tf32' is fp32 storage with TF32 math): its dense peak for that mode
    (`Profile.peak_for`, a one-line error naming the profile's dtypes if it has none), its
    bandwidth, and its efficiency factors unless given here."""
    for attribute in ("peak_for", "bandwidth", "name", "compute_efficiency", "memory_efficiency"):
        if not hasattr(profile, attribute):
            raise UsageError(f"the roofline takes a hardware profile, got {type(profile).__name__}",
                             expected="calc.hardware.load_profile('a100-sxm-80gb') or a profile file")
    mode = math or dtype
    if not isinstance(mode, str):
        raise UsageError("the roofline needs a math mode or a dtype", expected="e.g. math='bf16'")
    ce = profile.compute_efficiency if compute_efficiency is None else efficiency(compute_efficiency, "compute efficiency")
    me = profile.memory_efficiency if memory_efficiency is None else efficiency(memory_efficiency, "memory efficiency")
    return Device(profile.name, getattr(profile, "title", profile.name), mode, profile.peak_for(mode),
                  profile.bandwidth, Fraction(ce), Fraction(me), str(getattr(profile, "file", "")))
