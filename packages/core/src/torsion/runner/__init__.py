"""
Running and supervising other processes (``torsion.runner.procmon``).
"""
