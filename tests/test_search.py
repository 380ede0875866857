"""calc.search.boundary against a linear scan of a monotone predicate."""

from hypothesis import given
from hypothesis import strategies as st

from calc.search import boundary


@given(lo=st.integers(0, 50), span=st.integers(0, 300), cut=st.integers(0, 400))
def test_boundary_is_the_linear_scans(lo, span, cut):
    limit = lo + span
    calls = []

    def ok(x):
        calls.append(x)
        assert lo <= x <= limit  # never outside the range asked
        return x < cut

    good, bad = boundary(ok, lo, limit)
    trues = [x for x in range(lo, limit + 1) if x < cut]
    falses = [x for x in range(lo, limit + 1) if x >= cut]
    assert good == (max(trues) if trues else None)
    assert bad == (min(falses) if falses else None)
    assert len(calls) <= 2 * (span + 1).bit_length() + 3  # logarithmic, not a scan
