"""``python -m torsion.trial``: the torsion-trial test runner."""

import sys


def main() -> int:
    """Run the torsion-trial command line."""
    from torsion.trial.runner import main as _main

    return _main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
