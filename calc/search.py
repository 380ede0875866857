"""The boundary of a monotone predicate over the integers, in O(log) calls.

`ok(x)` is true up to some x and false from there on (the estimate still fits; the network is
still memory-bound).  `boundary` tries lo, then lo + s, lo + 3s, lo + 7s, ... (s = max(lo, 1):
lo, 2lo, 4lo, ... from lo >= 1) while ok holds and x <= limit, then limit itself if it was not
on that path, then bisects between the last x that held and the first that did not.  Used by
`calc memory` (the largest batch or context that fits) and `calc roofline --sweep-batch` (the
smallest batch that is compute-bound).
"""

from __future__ import annotations

from collections.abc import Callable


def boundary(ok: Callable[[int], bool], lo: int, limit: int) -> tuple[int | None, int | None]:
    """(the largest x in [lo, limit] with ok(x), the smallest with not ok(x)); the first is None
    when ok(lo) is false, the second None when ok holds up to limit."""
    if not ok(lo):
        return None, lo
    good, bad, step = lo, None, max(lo, 1)
    while good + step <= limit:
        x = good + step
        if not ok(x):
            bad = x
            break
        good, step = x, step * 2
    if bad is None and good < limit:  # the limit itself, when the doublings step over it
        if ok(limit):
            good = limit
        else:
            bad = limit
    if bad is None:
        return good, None
    while bad - good > 1:
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good, bad
