"""`synthgp evaluate DIR`: the offline HTML report (and JSON) on a generated practice."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from synthgp.cli import fail, formatter


def add_parser(sub) -> None:
    e = sub.add_parser("evaluate", formatter_class=formatter, help="report on a generated practice (HTML + JSON)",
                       description=textwrap.dedent("""\
            Write an offline HTML report and the same figures as JSON: a picture of the practice
            (plots), every calibration figure beside the generated one, the QOF indicators and NICE
            NG136 conformance audited from the record, the record invariants, and how the practice
            did against the ground truth. Exit status 1 if a record invariant is violated.

            examples:
              synthgp evaluate practice                  # writes practice/evaluation/report.html
              synthgp evaluate practice --out reports/practice"""))
    e.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate` (with duckdb)")
    e.add_argument("--out", type=Path, metavar="REPORT", help="report folder (default DIR/evaluation; replaced whole)")
    e.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    from synthgp.evaluate import practice as evaluate

    try:
        html, data = evaluate.write_report(a.dir, a.out)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    s = data["summary"]
    print(f"calibration: {s['calibration_passed']} of {s['calibration_figures']} figures within tolerance")
    print(f"integrity:   {s['integrity_violations']:,} violations" +
          (f" ({', '.join(s['integrity_failed_checks'])})" if s["integrity_failed_checks"] else ""))
    print("NG136:       " + ", ".join(f"{k.replace('_', ' ')} {v['share']:.1%}" for k, v in data["audit"]["ng136"].items()
                                        if v["share"] is not None))
    print(f"Wrote {html} and report.json beside it ({sum(data['timings_s'].values()):.1f} s)")
    return 1 if s["integrity_violations"] else 0
