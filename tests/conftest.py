"""Hypothesis profiles.

The README's test command and CI run the same fixed examples every time (`derandomize`): a
new user's first run and a CI run cannot fail on an example nobody has seen before.  The
randomized search lives in the long run (`python3 bench/run.py --fuzz-long`, or
`HYPOTHESIS_PROFILE=random` / `long` by hand), where what it finds becomes a regression test.

    HYPOTHESIS_PROFILE=ci       default: derandomized, 60 examples a test, no example database
    HYPOTHESIS_PROFILE=random   randomized, 60 examples a test (quick local exploration)
    HYPOTHESIS_PROFILE=long     randomized, 2,000 examples a test

FLOPCALC_NO_CACHE=1 is set for the whole run: no test reads or writes ~/.cache/flopcalc.
"""

import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))
# The tests take the full report path and never read or write the user's spec cache
# (tests/test_cache.py turns it on, in a temporary folder).
os.environ.setdefault("FLOPCALC_NO_CACHE", "1")

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=60, derandomize=True, database=None, **_COMMON)
settings.register_profile("random", max_examples=60, **_COMMON)
settings.register_profile("long", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
