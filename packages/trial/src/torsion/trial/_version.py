"""The version of the torsion-trial distribution (the single source hatch reads)."""

__version__ = "0.1.0"
