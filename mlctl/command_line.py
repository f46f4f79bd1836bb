"""The end of an mlctl console command: the line that says what it wrote and exit status 0, or the one-line error of
bad input and exit status 2."""
from __future__ import annotations

import sys
from typing import Callable


def run_command(work: Callable[[], str], error_prefix: str = "error") -> int:
    """Runs `work`, which returns the line to print when it succeeds: 0 after printing it, or 2 after printing
    `ERROR_PREFIX: message` on stderr when it raises `ValueError` (`InputError` included: bad input, one line)."""
    try:
        line = work()
    except ValueError as error:
        print(f"{error_prefix}: {error}", file=sys.stderr)
        return 2
    print(line)
    return 0
