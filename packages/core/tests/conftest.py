"""
Fixtures for torsion-core's own tests.

``reactor`` is a fresh reactor for each test, parametrised over every
reactor available here (``reactormixins.REACTOR_NAMES``); after the test it
is shut down and the test fails if it left descriptors open.  Tests import
helpers with ``from reactormixins import runUntil``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reactormixins import (
    REACTOR_NAMES,
    cleanUpReactor,
    describeDescriptors,
    makeReactor,
    openDescriptors,
)


@pytest.fixture(params=REACTOR_NAMES)
def reactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """
    A fresh reactor of each available kind; cleaned up after the test,
    which fails if it leaked descriptors.
    """
    before = openDescriptors()
    r = makeReactor(request.param)
    try:
        yield r
    finally:
        cleanUpReactor(r)
    leaked = openDescriptors() - before
    if leaked:
        pytest.fail(f"test left descriptors open: {describeDescriptors(leaked)}")
