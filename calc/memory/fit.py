"""Does it fit on a device, and the largest batch (or context) that does.

Rule: total(x) is the estimate's total bytes at batch (or context) x; it is non-decreasing in x
(the weights are fixed, and every activation, saved tensor and cache term grows with the batch and
with the cached tokens).  `largest` finds the largest x >= lo with total(x) <= capacity by
calc.search.boundary: double x from lo while it fits (at most MAX_DOUBLINGS times), then bisect
between the last x that fits and the first that does not; None when even lo does not fit.  At
most 2 x MAX_DOUBLINGS evaluations; no division anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from calc.errors import CalcError
from calc.search import boundary

MAX_DOUBLINGS = 40
"""x is searched up to lo x 2^40 (a batch of 10^12 samples: far past every device)."""


@dataclass(frozen=True)
class Fit:
    device: str
    capacity: int
    needed: int

    @property
    def fits(self) -> bool:
        return self.needed <= self.capacity

    @property
    def margin(self) -> int:
        """Bytes left (>= 0), or missing (< 0)."""
        return self.capacity - self.needed


def largest(total: Callable[[int], int], capacity: int, lo: int = 1) -> tuple[int | None, bool]:
    """(the largest x >= lo with total(x) <= capacity, whether the search hit its bound: then
    x is the last of MAX_DOUBLINGS doublings and larger ones may fit too); (None, False) if lo
    does not fit (calc.search.boundary)."""
    limit = lo + max(lo, 1) * (2**MAX_DOUBLINGS - 1)
    good, bad = boundary(lambda x: total(x) <= capacity, lo, limit)
    return good, good is not None and bad is None


class FitError(CalcError):
    """The estimate does not fit on the device (exit 1)."""
