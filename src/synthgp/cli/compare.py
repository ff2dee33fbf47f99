"""`synthgp compare SYNTH REFERENCE`: fidelity and privacy of a practice against a reference Aurum extract."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from synthgp.cli import fail, formatter


def add_parser(sub) -> None:
    m = sub.add_parser("compare", formatter_class=formatter, help="fidelity and privacy against a reference extract",
                       description=textwrap.dedent("""\
            Compare a generated practice with a reference extract in CPRD Aurum format (a real one, or
            another synthetic one): per-variable distances (KS, chi-squared, total variation, KL against
            a real-vs-real band), associations between variables, longitudinal measures, and privacy
            (distance to closest record and exact copies, each beside a reference holdout's own figure).
            Either side may be a synthgp output folder or a folder of Aurum .txt files.

            examples:
              synthgp compare practice other-practice --out compare-report
              synthgp compare practice /secure/aurum-extract --out report"""))
    m.add_argument("synth", type=Path, metavar="SYNTH", help="the generated practice (output folder or Aurum folder)")
    m.add_argument("reference", type=Path, metavar="REFERENCE", help="the reference extract (Aurum folder)")
    m.add_argument("--out", type=Path, required=True, metavar="REPORT", help="report folder (replaced whole)")
    m.add_argument("--seed", type=int, default=0, metavar="S", help="seed for the random splits and samples (default 0)")
    m.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    from synthgp.evaluate import compare

    try:
        html, data = compare.write_report(a.synth, a.reference, a.out, a.seed)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    s = data["summary"]
    print(f"{s['columns_kl_within_band']} of {s['columns']} variables within the real-vs-real KL band; "
          f"mean TV {s['mean_tv']:.3f}; mean |association difference| {s['mean_abs_association_diff']:.3f}")
    print(f"exact copies: synthetic {data['privacy']['exact_copy_share_synthetic']:.2%}, "
          f"holdout {data['privacy']['exact_copy_share_holdout']:.2%}")
    print(f"Wrote {html} and report.json beside it")
    return 0
