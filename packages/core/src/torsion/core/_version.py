"""The version of the torsion-core distribution (the single source hatch reads)."""

__version__ = "0.1.0"
