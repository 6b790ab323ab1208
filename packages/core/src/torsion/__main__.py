"""
``python -m torsion``: the ``torsion`` command.
"""

from torsion.scripts.twistd import run

if __name__ == "__main__":
    run()
