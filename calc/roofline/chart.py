"""What a roofline chart shows, taken from a `Roofline` (no plotting library here): the device's
roofs for the math mode (ideal, and at the efficiency factors), the ridge, and one point per
operation (or block) at (intensity, attainable throughput), sized and coloured by its share of
the time.  calc.plot draws it with matplotlib, calc.render.html with plotly; neither computes a
figure of its own.

Operations that repeat (the same kind, FLOPs and bytes: a ResNet stage's identical blocks, a
transformer's 32 layers) sit on the same spot: they are one point, 'path (x32)', their shares
summed.  A log-log chart cannot place an operation without FLOPs (intensity 0, attainable 0:
an element-wise operation under the default '2mac' convention, a pooling, a copy) or without
bytes (infinite intensity): those are listed as not drawn, with their share of the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from calc.roofline.analysis import Roofline
from calc.roofline.model import INFINITE, NONE

TOP = 6
"""Points labelled on a chart (the largest shares of the time)."""


@dataclass(frozen=True, slots=True)
class ChartPoint:
    label: str
    """The first operation's path, and '(xN)' when N identical operations share the point."""
    kind: str
    count: int
    intensity: float
    attainable: float
    share: float
    """Share of the network's time (all N operations)."""
    time: Fraction
    """Time of all N operations."""
    bound: str
    flops: int
    """Of one operation."""
    bytes: int


@dataclass(frozen=True)
class RooflineChart:
    name: str
    device: str
    math: str
    dtype: str
    peak: float
    bandwidth: float
    ridge: float
    compute_efficiency: float
    memory_efficiency: float
    points: tuple[ChartPoint, ...]
    """Drawn points, the largest share first."""
    not_drawn: tuple[tuple[str, int, float], ...]
    """(why, operations, their share of the time) for those a log-log chart cannot place."""
    total_time: Fraction
    fused: bool
    depth: int | None


def chart_data(r: Roofline) -> RooflineChart:
    """The chart of `r` (see the module docstring)."""
    total = r.totals.time
    groups: dict[tuple[str, int, int], list] = {}
    missing = {"without FLOPs (intensity 0)": [0, Fraction(0)], "without bytes (infinite intensity)": [0, Fraction(0)]}
    for row in r.rows:
        if row.bound == NONE:
            continue
        if row.intensity == INFINITE or row.intensity == 0:
            key = "without bytes (infinite intensity)" if row.intensity == INFINITE else "without FLOPs (intensity 0)"
            missing[key][0] += 1
            missing[key][1] += row.time
            continue
        g = groups.setdefault((row.kind, row.flops, row.bytes), [row, 0, Fraction(0)])
        g[1] += 1
        g[2] += row.time
    points = []
    for row, n, time in groups.values():
        points.append(ChartPoint(
            row.path + (f" (x{n})" if n > 1 else ""), row.kind, n, float(row.intensity), float(row.attainable),
            float(time / total) if total else 0.0, time, row.bound, row.flops, row.bytes))
    points.sort(key=lambda p: (-p.time, p.label))
    d = r.device
    not_drawn = tuple((why, n, float(t / total) if total else 0.0) for why, (n, t) in missing.items() if n)
    return RooflineChart(r.name, d.title, d.math, r.dtype.value, float(d.peak), float(d.bandwidth), float(d.ridge),
                         float(d.compute_efficiency), float(d.memory_efficiency), tuple(points), not_drawn, total,
                         r.fuse, r.depth)


def x_range(c: RooflineChart) -> tuple[float, float]:
    """The intensity axis: the points and the ridge, with room on both sides (a factor 4)."""
    xs = [p.intensity for p in c.points] + [c.ridge]
    return min(xs) / 4, max(xs) * 4


def y_range(c: RooflineChart) -> tuple[float, float]:
    ys = [p.attainable for p in c.points] + [c.peak * c.compute_efficiency, c.bandwidth * x_range(c)[0]]
    return min(ys) / 2, c.peak * 2


BADGE_OFFSETS = ((7, 6), (7, -14), (-16, 6), (-16, -14), (7, 18), (-16, 18), (7, -26), (-16, -26),
                 (19, -4), (-28, -4), (19, 14), (-28, 14))
"""Where a point's number may go, in points right and up from the point, tried in order."""
BADGE = (11, 11)
"""A number badge's size in points (width, height)."""


def badge_offsets(c: RooflineChart, size: tuple[float, float], top: int = TOP) -> list[tuple[int, int]]:
    """Offsets (points right, points up) for the numbers 1..top of the largest points, on a
    log-log plot area of `size` points over `x_range` and `y_range`: each at the first of
    BADGE_OFFSETS whose box overlaps no badge placed before it (the first offset when none is
    free).  The same placement for the static plot and the HTML chart."""
    import math

    (x0, x1), (y0, y1) = x_range(c), y_range(c)
    lx0, ly0 = math.log10(x0), math.log10(y0)
    sx, sy = size[0] / (math.log10(x1) - lx0), size[1] / (math.log10(y1) - ly0)
    placed: list[tuple[float, float]] = []
    out = []
    for p in c.points[:top]:
        px, py = (math.log10(p.intensity) - lx0) * sx, (math.log10(p.attainable) - ly0) * sy
        choice = BADGE_OFFSETS[0]
        for dx, dy in BADGE_OFFSETS:
            if all(abs(px + dx - qx) >= BADGE[0] or abs(py + dy - qy) >= BADGE[1] for qx, qy in placed):
                choice = (dx, dy)
                break
        placed.append((px + choice[0], py + choice[1]))
        out.append(choice)
    return out
