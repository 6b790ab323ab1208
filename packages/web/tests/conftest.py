"""
Fixtures for torsion-web's tests.

Tests run under torsion-trial's pytest plugin: ``async def`` tests and tests
returning Deferreds are driven on the global reactor (the ``reactor``
fixture), which each test must leave clean.  Shared helpers live in
``webhelpers`` (``from webhelpers import requireCommand, listen``).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
