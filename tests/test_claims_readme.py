"""The README quotes the seed-claims verdict table; it must be the tool's current output."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_quotes_the_current_verdicts():
    out = subprocess.run(
        [sys.executable, "-m", "calc", "check", "--claims", "specs/claims/seeds.yaml", "--format", "md"],
        capture_output=True, text=True, cwd=ROOT,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("| s0")]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    assert rows, out
    missing = [r for r in rows if r not in readme]
    assert not missing, "README verdict table is stale; first stale row: " + missing[0]
