"""
The pytest plugin of torsion-trial, registered through the ``pytest11`` entry
point so that trial test cases run under plain ``pytest``.
"""
