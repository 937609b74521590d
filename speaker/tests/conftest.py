"""Puts `speaker/tests` on sys.path so tests import the `harness` package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
