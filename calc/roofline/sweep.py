"""The batch at which a network (or a decode step) turns compute-bound, and its time as a
function of the batch.

When is a network compute-bound?  When the whole evaluation is: total FLOPs / peak >= total
bytes / bandwidth (its aggregate intensity reaches the ridge).  This is the kink of the network
roof max(F(N) / peak, B(N) / bandwidth), the one place where the piecewise time `symbolic_time`
changes roof; a per-operation criterion would have a batch per operation (a 1x1 conv turns
compute-bound long before a batch norm, which never does) and no single answer.  The sweep also
reports, at each batch it tried, the share of the per-operation time in memory-bound operations.

Search (`sweep_batch`): batches 1, 2, 4, ... up to `limit` until the network is compute-bound,
then bisection between the last memory-bound batch and the first compute-bound one: at most
2 log2(limit) + 1 evaluations.  Bisection assumes the network, once compute-bound, stays so at
larger batches: true when F(N) and B(N) are affine in N with F(0) = 0 (F = f N, B = W + a N: the
intensity f N / (W + a N) only grows), which holds for every network whose weights read do not
depend on the batch (a mixture of experts reaches more experts with more tokens: its B is not
affine).  The answer is checked: compute-bound at it, memory-bound one below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from calc.errors import UsageError
from calc.roofline.analysis import Roofline, analyse, step_input, works_of, kv_adjusted, fuse_epilogues, _network
from calc.roofline.model import COMPUTE, Device, intensity, roof_time
from calc.search import boundary

MAX_BATCH = 2**20
"""The largest batch `sweep_batch` tries by default."""


@dataclass(frozen=True, slots=True)
class SweepPoint:
    batch: int
    flops: int
    bytes: int
    intensity: Fraction | float
    network_time: Fraction
    """max(F / peak, B / bandwidth)."""
    compute_bound: bool
    """F / peak >= B / bandwidth."""
    time: Fraction
    """The sum of the operations' roofline times."""
    memory_share: Fraction
    """Share of `time` in memory-bound operations."""


@dataclass(frozen=True)
class Sweep:
    name: str
    device: Device
    points: tuple[SweepPoint, ...]
    """Every batch evaluated, in increasing order."""
    batch: int | None
    """The smallest compute-bound batch; None when none up to `limit` is."""
    limit: int
    slope_intensity: Fraction | float | None
    """(F(2M) - F(M)) / (B(2M) - B(M)) of the last two doublings: the intensity's limit as N
    grows when F and B are affine in N.  None when fewer than two batches were tried."""


def sweep_batch(network: Any, hw: Any, *, limit: int = MAX_BATCH, input_shape: Any = None,
                phase: str | None = None, context: int | None = None, **options: Any) -> Sweep:
    """The smallest batch at which `network` turns compute-bound on `hw` (see the module
    docstring), with every batch tried.  `options` as calc.roofline.roofline's (convention,
    dtype, math, kv_dtype, fuse, compute_efficiency, memory_efficiency)."""
    from calc.roofline.analysis import DEFAULT_CONVENTION

    _network(network)
    if type(limit) is not int or limit < 1:
        raise UsageError(f"the sweep's limit {limit!r} is not a positive int", expected="e.g. 1048576")
    shape, context = step_input(network, input_shape, phase, context)
    convention = options.pop("convention", DEFAULT_CONVENTION)
    dt = options.pop("dtype", "fp32")
    unknown = set(options) - {"math", "kv_dtype", "fuse", "compute_efficiency", "memory_efficiency"}
    if unknown:
        raise UsageError(f"sweep_batch has no option {sorted(unknown)[0]!r}",
                         expected="convention, dtype, math, kv_dtype, fuse, compute_efficiency, memory_efficiency")
    seen: dict[int, tuple[SweepPoint, Roofline]] = {}

    def at(n: int) -> SweepPoint:
        if n not in seen:
            report = network.evaluate(convention, dt, shape, batch=n, context=context)
            r = analyse(report, hw, network=network, phase=phase, **options)
            t = r.totals
            seen[n] = (SweepPoint(n, t.flops, t.bytes, t.intensity, t.network_time,
                                  t.network_bound == COMPUTE, t.time, t.memory_share), r)
        return seen[n][0]

    _, found = boundary(lambda n: not at(n).compute_bound, 1, limit)  # calc.search
    if found is not None:
        if found > 1 and at(found - 1).compute_bound:
            raise UsageError(f"{network.name} is compute-bound at batch {found - 1} but memory-bound at a larger batch",
                             expected="a network whose intensity grows with the batch")
    doubles = sorted(b for b in seen if b & (b - 1) == 0)
    slope = None
    if len(doubles) >= 2:
        m, m2 = doubles[-2], doubles[-1]
        p, q = seen[m][0], seen[m2][0]
        slope = intensity(q.flops - p.flops, q.bytes - p.bytes)
    device = next(iter(seen.values()))[1].device
    return Sweep(network.name, device, tuple(seen[b][0] for b in sorted(seen)), found, limit, slope)


@dataclass(frozen=True)
class SymbolicTime:
    """The network roof as a function of the batch N (a sympy symbol, positive integer)."""

    symbol: Any
    flops: Any
    """F(N), a polynomial in N."""
    bytes: Any
    """B(N)."""
    compute_time: Any
    """F(N) / peak, seconds."""
    memory_time: Any
    """B(N) / bandwidth, seconds."""
    time: Any
    """max(F(N) / peak, B(N) / bandwidth) (sympy Max)."""
    piecewise: Any
    """The same as a sympy Piecewise in N (memory roof below the crossover, compute roof from it
    on) when F and B have degree at most 1 in N; else Max rewritten as a Piecewise."""
    crossover: Any
    """The real N where the roofs meet (F(N) / peak = B(N) / bandwidth), a sympy Rational, when
    F and B are linear in N and the compute roof grows faster; else None (no crossover)."""
    roof: str | None = None
    """'memory' or 'compute' when one roof holds at every batch; None otherwise."""


def symbolic_time(network: Any, hw: Any, *, input_shape: Any = None, phase: str | None = None,
                  context: int | None = None, convention: Any = None, dtype: Any = "fp32",
                  math: str | None = None, kv_dtype: Any = None, fuse: bool = False) -> SymbolicTime:
    """The network roof max(F(N)/peak, B(N)/bandwidth) with the batch N a symbol: the network
    evaluated at a symbolic batch (Network.evaluate takes sympy sizes), with the same works as
    the numeric roofline (the KV dtype, fused epilogues), summed."""
    from calc.cost import BYTES, dtype as to_dtype
    from calc.roofline.analysis import DEFAULT_CONVENTION, _device
    from calc.symbolic import symbols, sympy

    _network(network)
    dt = to_dtype(dtype)
    kv = dt if kv_dtype is None else to_dtype(kv_dtype)
    d = _device(hw, math, dt, None, None)
    shape, context = step_input(network, input_shape, phase, context)
    n = symbols("N")
    full = tuple(network.input_shape) if shape is None else tuple(shape)
    report = network.evaluate(convention or DEFAULT_CONVENTION, dt, (n, *full[1:]), context=context)
    works = works_of(report)
    if network.uses_context():
        works = kv_adjusted(works, network.kv_cache((n, *full[1:]), context=context), BYTES[dt], BYTES[kv])
    if fuse:
        works = fuse_epilogues(works, network.ops, BYTES[dt])
    flops = sympy.expand(sum((w.flops for w in works), sympy.Integer(0)))
    nbytes = sympy.expand(sum((w.nbytes for w in works), sympy.Integer(0)))
    compute = flops / sympy.Integer(d.peak)
    memory = nbytes / sympy.Integer(d.bandwidth)
    time = roof_time(flops, nbytes, d.peak, d.bandwidth)
    crossover = None
    piecewise = None
    roof = None
    if sympy.Poly(flops, n).degree() <= 1 and sympy.Poly(nbytes, n).degree() <= 1:
        diff = sympy.expand(compute - memory)  # c1 N + c0: compute-bound where >= 0
        c1, c0 = diff.coeff(n, 1), diff.coeff(n, 0)
        if c1 > 0 and c0 < 0:
            crossover = -c0 / c1
            piecewise = sympy.Piecewise((memory, n < crossover), (compute, True))
        elif c1 >= 0 and c0 >= 0:
            piecewise, roof = sympy.Piecewise((compute, True)), "compute"
        elif c1 <= 0 and c0 < 0:
            piecewise, roof = sympy.Piecewise((memory, True)), "memory"
    if piecewise is None:
        piecewise = time.rewrite(sympy.Piecewise)
    return SymbolicTime(n, flops, nbytes, compute, memory, time, piecewise, crossover, roof)

