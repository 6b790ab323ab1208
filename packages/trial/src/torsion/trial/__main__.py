"""``python -m torsion.trial``: the torsion-trial test runner."""

import sys


def main() -> int:
    """Run the torsion-trial command line."""
    from torsion.scripts._closedoutput import leaveOnBrokenPipe
    from torsion.trial.runner import main as _main

    try:
        try:
            status = _main(sys.argv[1:])
        finally:
            # Here (``--help`` exits from inside the parser), not at
            # interpreter exit, so that a reader gone away is noticed.
            sys.stdout.flush()
    except BrokenPipeError:
        leaveOnBrokenPipe()
    return status


if __name__ == "__main__":
    sys.exit(main())
