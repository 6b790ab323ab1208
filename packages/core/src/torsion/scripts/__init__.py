"""
Entry points of torsion's commands (``torsion.scripts.twistd.run`` is the
``torsion`` command).
"""
