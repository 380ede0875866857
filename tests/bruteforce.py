"""Independent brute-force counters: walk each loop nest on small sizes and count every
multiply, add and output position.  They share no code with `calc`'s closed forms."""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass
class Count:
    out_shape: tuple
    params: int = 0
    mults: int = 0
    adds: int = 0
    window: int = 0


def windows_that_fit(size: int, span: int, stride: int, lo: int, hi: int) -> int:
    """Count window start positions o*stride whose whole span lies in the padded input."""
    o = 0
    while o * stride + span <= size + lo + hi:
        o += 1
    return o


def conv(n, cin, spatial, cout, kernel, stride, pads, dilation, groups, bias) -> Count:
    dims = len(spatial)
    out = tuple(
        windows_that_fit(spatial[a], dilation[a] * (kernel[a] - 1) + 1, stride[a], *pads[a])
        for a in range(dims)
    )
    params = sum(1 for _ in itertools.product(range(cout), range(cin // groups), *map(range, kernel)))
    params += cout if bias else 0
    c = Count((n, cout, *out), params=params)
    per_group_in = cin // groups
    per_group_out = cout // groups
    for _b, co in itertools.product(range(n), range(cout)):
        g = co // per_group_out
        for _pos in itertools.product(*map(range, out)):
            terms = 0
            for _ci in range(g * per_group_in, (g + 1) * per_group_in):
                for _k in itertools.product(*map(range, kernel)):
                    c.mults += 1
                    terms += 1
            c.adds += terms - 1
            if bias:
                c.adds += 1
    return c


def deconv(n, cin, spatial, cout, kernel, stride, padding, out_pad, dilation, groups, bias) -> Count:
    dims = len(spatial)
    full = [max(i * stride[a] + k * dilation[a] for i in range(spatial[a]) for k in range(kernel[a])) + 1
            for a in range(dims)]
    out = tuple(full[a] - 2 * padding[a] + out_pad[a] for a in range(dims))
    params = cin * (cout // groups) * prod(kernel) + (cout if bias else 0)
    c = Count((n, cout, *out), params=params)
    hits: dict[tuple, int] = {}
    per_group_in, per_group_out = cin // groups, cout // groups
    for b, ci in itertools.product(range(n), range(cin)):
        g = ci // per_group_in
        for co in range(g * per_group_out, (g + 1) * per_group_out):
            for pos in itertools.product(*map(range, spatial)):
                for k in itertools.product(*map(range, kernel)):
                    t = tuple(pos[a] * stride[a] + k[a] * dilation[a] - padding[a] for a in range(dims))
                    if all(0 <= t[a] < out[a] for a in range(dims)):
                        c.mults += 1
                        hits[(b, co, *t)] = hits.get((b, co, *t), 0) + 1
    c.adds = sum(h - 1 for h in hits.values())
    if bias:
        c.adds += n * cout * prod(out)
    return c


def linear(rows, cin, cout, bias) -> Count:
    c = Count((rows, cout), params=cin * cout + (cout if bias else 0))
    for _r, _o in itertools.product(range(rows), range(cout)):
        terms = 0
        for _i in range(cin):
            c.mults += 1
            terms += 1
        c.adds += terms - 1 + (1 if bias else 0)
    return c


def pool_positions(size, k, s, p, d, ceil_mode) -> int:
    """Full windows inside the padded input; with ceil_mode one more, partial, window when
    padded elements are left uncovered, unless it would start in the right padding."""
    span = d * (k - 1) + 1
    full = windows_that_fit(size, span, s, p, p)
    if ceil_mode and (full - 1) * s + span < size + 2 * p and full * s - p < size:
        return full + 1
    return full


def pool(n, c, spatial, kernel, stride, padding, dilation, ceil_mode) -> Count:
    out = tuple(pool_positions(*a, ceil_mode) for a in zip(spatial, kernel, stride, padding, dilation))
    result = Count((n, c, *out))
    for _ in itertools.product(range(n), range(c), *map(range, out)):
        for _k in itertools.product(*map(range, kernel)):
            result.window += 1
    return result


def adaptive_pool(n, c, spatial, out) -> Count:
    result = Count((n, c, *out))
    for _b, _c in itertools.product(range(n), range(c)):
        for pos in itertools.product(*map(range, out)):
            size = 1
            for a, i in enumerate(pos):
                start = (i * spatial[a]) // out[a]
                end = -((-(i + 1) * spatial[a]) // out[a])
                size *= end - start
            result.window += size
    return result


def prod(xs) -> int:
    r = 1
    for x in xs:
        r *= x
    return r
