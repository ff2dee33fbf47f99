"""`synthgp calibrate DIR`: each published calibration figure beside the practice's own."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from synthgp.cli import fail, formatter


def add_parser(sub) -> None:
    c = sub.add_parser("calibrate", formatter_class=formatter, help="compare an output with published figures",
                       description=textwrap.dedent("""\
            Print each published calibration figure beside the generated practice's own, marking
            which figures a parameter was fitted to (calibration) and which not (validation).
            A figure outside its tolerance by less than the run's sampling noise (a share
            over a small group in a small run) is marked `noise`, not `pass`. Exit status 1
            if any figure fails (outside its tolerance and its noise).

            example:
              synthgp calibrate practice"""))
    c.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate`")
    c.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    from synthgp.core.output import Output
    from synthgp.evaluate import calibration

    try:
        Output.open(a.dir)
    except ValueError as exc:
        return fail(str(exc))
    rows = calibration.for_output(a.dir)
    print(calibration.format_table(rows, calibration.list_size(a.dir)))
    return 0 if all(r.status != "FAIL" for r in rows) else 1
