"""Run a CLI's ``main(argv)`` in the test process (no interpreter start, no second model load) and keep what
it printed and returned, as ``subprocess.run`` would."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_main(main: Callable[[list[str]], int], *args: object) -> Ran:
    """``main(args)`` with stdout and stderr captured; argparse's exits become the return code. An exception
    the CLI lets through is raised here: a user would have seen a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    return Ran(code, out.getvalue(), err.getvalue())


def index_cli(*args: object) -> Ran:
    from index.__main__ import main

    return run_main(main, *args)


def eval_cli(*args: object) -> Ran:
    from eval.__main__ import main

    return run_main(main, *args)
