"""What every `python -m dactyl_quant...` command line does with its parsed arguments."""

import sys
from argparse import Namespace


def run_command(args: Namespace, errors: tuple[type[BaseException], ...] = (ValueError, OSError)) -> int:
    """Runs the chosen sub-command (`args.run`). An expected failure (one of `errors`: bad input,
    a missing file) is one line on standard error and exit status 1, as with `dactyl`."""
    try:
        return args.run(args) or 0
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
