"""Tests of the router agent roles/router/files/bgplb_resilient.py: a script, not a package, so put it on the path."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "roles" / "router" / "files" / "bgplb_resilient.py"
sys.path.insert(0, str(AGENT.parent))
