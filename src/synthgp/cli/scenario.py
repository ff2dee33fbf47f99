"""`synthgp scenario show|check`: the effective scenario with units and sources, or a file's validation."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from synthgp.cli import Parser, fail, formatter


def add_parser(sub) -> None:
    s = sub.add_parser("scenario", formatter_class=formatter, help="show or check a scenario",
                       description=textwrap.dedent("""\
            examples:
              synthgp scenario show                  # the default scenario, with units and sources
              synthgp scenario show --file my.toml   # the effective scenario for a file
              synthgp scenario check my.yaml         # validate; exit 2 with the reasons if invalid"""))
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=Parser)
    show = ssub.add_parser("show", help="print the effective scenario with units and sources")
    show.add_argument("--file", type=Path, metavar="FILE", help="scenario file to apply over the defaults")
    check = ssub.add_parser("check", help="validate a scenario file")
    check.add_argument("file", type=Path, metavar="FILE")
    s.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    from synthgp.core import scenario
    from synthgp.population import cohort

    path = a.file
    try:
        sc = scenario.load(path)
        cohort.check_scenario(sc)
    except scenario.ScenarioError as exc:
        return fail(str(exc))
    if a.action == "check":
        print(f"{path}: valid ({sc.name}; {sc.period.first_day} to {sc.period.end}; region {sc.population.region})")
        return 0
    print(f"# {sc.name}")
    print(f"# study period {sc.period.first_day} to {sc.period.end}")
    for name, value, unit, kind, source in scenario.describe(sc):
        print(f"{name} = {value}")
        print(f"    unit: {unit}; kind: {kind}")
        print(f"    source: {source}")
    return 0
