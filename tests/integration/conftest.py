"""Fixtures of the module integration tests (helpers in module_runner.py)."""

from __future__ import annotations

import pytest
from module_runner import Node


@pytest.fixture
def node(tmp_path):
    return Node(tmp_path)
