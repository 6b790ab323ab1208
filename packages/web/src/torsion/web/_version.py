"""The version of the torsion-web distribution (the single source hatch reads)."""

__version__ = "0.1.0"
