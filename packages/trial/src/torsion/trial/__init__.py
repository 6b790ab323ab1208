"""
torsion-trial: a unit-test framework for asynchronous code, its runner and a
pytest plugin.
"""

from torsion.trial._version import __version__

__all__ = ["__version__"]
