"""`synthgp export DIR --format LIST`: more formats from an output's DuckDB file, without simulating again."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from synthgp.cli import comma_list, fail, formatter
from synthgp.formats import describe


def add_parser(sub) -> None:
    x = sub.add_parser("export", formatter_class=formatter, help="write more formats from an existing output",
                       description=textwrap.dedent("""\
            Write further formats from an output's DuckDB file, without simulating again. Formats:
            {formats}

            examples:
              synthgp export practice --format cprd-cvd
              synthgp export practice --format aurum,cprd-cvd --overwrite""").format(formats=describe("  ")))
    x.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate`")
    x.add_argument("--format", type=comma_list, required=True, metavar="LIST", help="comma-separated formats")
    x.add_argument("--overwrite", action="store_true", help="replace a format's folder if it exists")
    x.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    from synthgp.simulate import run as engine

    try:
        written = engine.export(a.dir, a.format, a.overwrite, log=lambda s: print(s, file=sys.stderr))
    except (ValueError, FileExistsError) as exc:
        return fail(str(exc))
    for w in written:
        print(f"Wrote {w}/")
    return 0
