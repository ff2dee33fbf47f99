"""The `synthgp` command line: the top-level parser, main(), and what the commands share.

Each command is a module of its own here (generate, scenario, export, calibrate, serve, evaluate,
compare, learn) with `add_parser(sub)`, which adds its subparser and sets its handler, `run(args)`.
Handlers import what they need when they run, so `synthgp --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from synthgp._version import __version__

EXIT_BAD_INPUT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors also exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def comma_list(text: str) -> tuple[str, ...]:
    """`a, b,c` as ("a", "b", "c") (formats, column names)."""
    return tuple(f.strip() for f in text.split(",") if f.strip())


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def fail(message: str) -> int:
    """Say what is wrong on stderr; the exit status for bad input."""
    print(f"synthgp: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


COMMANDS = ("generate", "scenario", "export", "calibrate", "serve", "apps", "evaluate", "compare", "learn")  # as --help lists them


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or for `only` that one (its module alone is imported: `generate` and
    `export` import the formats, DuckDB and pyarrow, which `learn sample` need not wait for)."""
    import importlib

    p = Parser(
        prog="synthgp", formatter_class=formatter,
        description=textwrap.dedent("""\
            Build an artificial English GP practice: patients who never existed, registered with
            practices that never existed, with records in the shapes GP data comes in.

            examples:
              synthgp generate --patients 20000 --seed 1 --out practice
              synthgp scenario show
              synthgp scenario check my-scenario.toml
              synthgp calibrate practice
              synthgp evaluate practice
              synthgp compare practice other-practice --out compare-report
              synthgp export practice --format cprd-cvd"""))
    p.add_argument("--version", action="version", version=f"synthgp {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        if only in (None, name):
            importlib.import_module(f"synthgp.cli.{name}").add_parser(sub)
    return p


EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:  # what was being built is removed on the way out (core/output.py)
        print("\nsynthgp: interrupted; nothing half-written was left behind", file=sys.stderr)
        return EXIT_INTERRUPTED
