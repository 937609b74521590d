"""Tests of bench/flows.py, the benches' connection accounting: a script, not a package, so put it on the path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
