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


# -- normalisations --------------------------------------------------------------------------------
@dataclass
class NormCount:
    """Operations of a normalisation walked element by element, by kind of operation."""

    out_shape: tuple
    params: int = 0
    buffers: int = 0
    adds: int = 0
    mults: int = 0
    divs: int = 0
    roots: int = 0

    @property
    def total(self) -> int:
        return self.adds + self.mults + self.divs + self.roots


def _rows(shape, key) -> dict:
    """Group every element index of `shape` into the vectors normalised together."""
    rows: dict = {}
    for idx in itertools.product(*map(range, shape)):
        rows.setdefault(key(idx), []).append(idx)
    return rows


def _walk_stats(c: NormCount, rows: dict, centred: bool) -> None:
    """For each vector x of n elements: mean (sum, divide) and x - mean when centred; the mean of
    the squares (multiply each, sum, divide); + eps and a square root; divide each element."""
    for members in rows.values():
        if centred:
            for i, _ in enumerate(members):
                if i:
                    c.adds += 1  # running sum
            c.divs += 1  # mean
            c.adds += len(members)  # x - mean (a subtract)
        for i, _ in enumerate(members):
            c.mults += 1  # square
            if i:
                c.adds += 1
        c.divs += 1  # mean of squares
        c.adds += 1  # + eps
        c.roots += 1
        c.divs += len(members)  # normalise


def _walk_affine(c: NormCount, shape, weight_shape, scale: bool, shift: bool) -> None:
    weights = sum(1 for _ in itertools.product(*map(range, weight_shape)))
    c.params += weights * (int(scale) + int(shift))
    for _ in itertools.product(*map(range, shape)):
        c.mults += int(scale)
        c.adds += int(shift)


def layernorm(shape, axes, affine, bias) -> NormCount:
    """nn.LayerNorm over the last `axes` axes."""
    c = NormCount(tuple(shape))
    _walk_stats(c, _rows(shape, lambda idx: idx[:len(shape) - axes]), centred=True)
    _walk_affine(c, shape, shape[len(shape) - axes:], affine, affine and bias)
    return c


def layernorm2d(shape, affine, bias) -> NormCount:
    """Channel-first layer norm: each (sample, position) vector over the channels."""
    c = NormCount(tuple(shape))
    _walk_stats(c, _rows(shape, lambda idx: (idx[0], *idx[2:])), centred=True)
    _walk_affine(c, shape, shape[1:2], affine, affine and bias)
    return c


def rmsnorm(shape, axes, affine) -> NormCount:
    c = NormCount(tuple(shape))
    _walk_stats(c, _rows(shape, lambda idx: idx[:len(shape) - axes]), centred=False)
    _walk_affine(c, shape, shape[len(shape) - axes:], affine, False)
    return c


def groupnorm(shape, groups, affine) -> NormCount:
    per_group = shape[1] // groups
    c = NormCount(tuple(shape))
    _walk_stats(c, _rows(shape, lambda idx: (idx[0], idx[1] // per_group)), centred=True)
    _walk_affine(c, shape, shape[1:2], affine, affine)
    return c


def instancenorm(shape, affine, track) -> NormCount:
    """Eval mode: own statistics per (sample, channel), or the running ones when tracked, which
    leave (x - running_mean) / std per element (std stored per channel)."""
    c = NormCount(tuple(shape))
    if track:
        c.buffers = 2 * shape[1]
        for _ in itertools.product(*map(range, shape)):
            c.adds += 1
            c.divs += 1
    else:
        _walk_stats(c, _rows(shape, lambda idx: idx[:2]), centred=True)
    _walk_affine(c, shape, shape[1:2], affine, affine)
    return c


# -- tensor operations (calc.layers.tensor, calc.layers.reshape) -------------------------------
def matmul(a: tuple, b: tuple) -> Count:
    """torch.matmul walked: a (..., n, k), b (..., k, m) or (k,); batch axes broadcast from the
    right; every output position sums k products (k multiplies, k - 1 adds)."""
    vector = len(b) == 1
    if vector:
        b = (b[0], 1)
    rank = max(len(a), len(b)) - 2
    ab = (1,) * (rank - (len(a) - 2)) + tuple(a[:-2])
    bb = (1,) * (rank - (len(b) - 2)) + tuple(b[:-2])
    batch = []
    for p, q in zip(ab, bb):
        assert p == q or 1 in (p, q)
        batch.append(max(p, q))
    n, k, m = a[-2], a[-1], b[-1]
    c = Count((*batch, n) if vector else (*batch, n, m))
    for _pos in itertools.product(*map(range, batch), range(n), range(m)):
        acc = None
        for _i in range(k):
            c.mults += 1
            if acc is None:
                acc = 1
            else:
                c.adds += 1
    return c


def einsum(terms: list[str], out: str, shapes: list[tuple]) -> Count:
    """Enumerate the whole index space: each point multiplies its operands (operands - 1
    multiplies) and is added into its output cell (the first term of a cell is no add)."""
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for ch, s in zip(term, shape):
            assert sizes.setdefault(ch, s) == s
    letters = sorted(sizes)
    cells: dict[tuple, int] = {}
    c = Count(tuple(sizes[ch] for ch in out))
    for point in itertools.product(*(range(sizes[ch]) for ch in letters)):
        where = dict(zip(letters, point))
        c.mults += len(terms) - 1
        cell = tuple(where[ch] for ch in out)
        if cell in cells:
            c.adds += 1
        cells[cell] = cells.get(cell, 0) + 1
    return c


def layer_scale(shape: tuple, dim: int) -> Count:
    """x * gamma: one multiply per element, gamma one value per entry of axis `dim`."""
    c = Count(tuple(shape), params=len(range(shape[dim])))
    for _pos in itertools.product(*map(range, shape)):
        c.mults += 1
    return c


def permuted(shape: tuple, dims: list[int]) -> tuple:
    """Move each element (an index tuple) to its permuted position; the output's extent per axis."""
    top = [0] * len(shape)
    for pos in itertools.product(*map(range, shape)):
        new = [pos[d] for d in dims]
        top = [max(t, v + 1) for t, v in zip(top, new)]
    return tuple(top)


def pieces(length: int, *, sizes: list[int] | None = None, size: int | None = None,
           chunks: int | None = None) -> list[int]:
    """Deal the positions of an axis into pieces, one position at a time, as torch.split
    (explicit sizes or one size) and torch.chunk (ceil(length / chunks) per piece) do."""
    if chunks is not None:
        size = -(-length // chunks)
    caps = list(sizes) if sizes is not None else []
    out: list[int] = []
    for _pos in range(length):
        if not out or out[-1] == (caps[len(out) - 1] if sizes is not None else size):
            out.append(0)
        out[-1] += 1
    return out


# -- embedding (calc.layers.embedding) -----------------------------------------------------------
def embedding(ids_shape: tuple, num: int, dim: int) -> Count:
    """Look every id up in a num x dim table, copying its row: no multiply, no add.  The table
    is the parameters (one per entry, counted by walking it); the output gets one row per id."""
    table = [[(r, j) for j in range(dim)] for r in range(num)]
    c = Count((), params=sum(len(row) for row in table))
    rows = []
    for pos in itertools.product(*map(range, ids_shape)):
        token = sum(pos) % num  # any valid id: a lookup costs the same whatever the id
        rows.append(list(table[token]))
    c.out_shape = (*ids_shape, len(rows[0]) if rows else dim)
    return c
