"""
Building blocks for protocols (framing, policies) and the small standard
protocols shipped with torsion-core.
"""
