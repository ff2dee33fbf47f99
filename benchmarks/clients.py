"""What the clients users already have make of a generated practice: the figures issue 21 asks for.

Generates N patients (default 2,000, seed 5, as tests/formats/conftest.py) in every client-facing format and
prints, per client:
  - rAURUM: each step of tests/formats/clients/raurum_steps.R run in R (skipped, saying so, without R/rAURUM);
  - UK Core: resources per claimed profile and how many fail the profile's constraints
    (tests/formats/clients/ukcore.py, checked from the UK Core StructureDefinitions);
  - a folder FHIR loader (fhir-load's rules): rows per resource type loaded from the bundle folders, and
    entries without a fullUrl or with a fullUrl longer than its 45-character key;
  - Synthea CSV readers: each file against Synthea's data dictionary (tests/formats/clients/synthea.py).

    PYTHONPATH=src:. python benchmarks/clients.py [--patients 2000] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthgp.core import codes, scenario  # noqa: E402
from synthgp.formats import aurum  # noqa: E402
from synthgp.formats import fhir_resources as fhir  # noqa: E402
from synthgp.simulate import run as engine  # noqa: E402

from tests.formats.clients import synthea, ukcore  # noqa: E402

FORMATS = ("duckdb", "aurum", "fhir", "fhir-bundles", "csv")


def raurum(folder: Path) -> list[str]:
    if not shutil.which("Rscript") or subprocess.run(["Rscript", "-e", "library(rAURUM)"], capture_output=True).returncode:
        return ["(R or the rAURUM package is not installed: steps not run)"]
    med = [str(codes.medcode(k)) for k in ("bmi", "body_weight", "body_height", "bp_systolic")]
    out = subprocess.run(["Rscript", str(ROOT / "tests/formats/clients/raurum_steps.R"), str(folder), *med],
                         capture_output=True, text=True, timeout=900)
    return re.findall(r"^STEP (.*)$", out.stdout, re.M) or [out.stderr[-500:]]


def uk_core(out: Path) -> tuple[Counter, Counter, Counter]:
    n, failed, errors = Counter(), Counter(), Counter()
    for kind in fhir.TYPES:
        for line in (out / "fhir" / f"{kind}.ndjson").open():
            r = json.loads(line)
            prof = r["meta"]["profile"][0].removeprefix(ukcore.PROFILE_BASE)
            n[prof] += 1
            errs = ukcore.check(r)
            failed[prof] += bool(errs)
            errors.update(errs)
    return n, failed, errors


def loader(out: Path) -> tuple[Counter, int]:
    """Rows a folder loader keyed by fullUrl (VARCHAR(45)) loads per type; entries it could not key."""
    rows, bad, keys = Counter(), 0, {}
    for folder in sorted((out / "fhir-bundles").iterdir()):
        for f in sorted(folder.iterdir()):
            for e in json.loads(f.read_text())["entry"]:
                url, r = e.get("fullUrl"), e["resource"]
                if not url or len(url) > 45:
                    bad += 1
                    continue
                if keys.setdefault(url, (r["resourceType"], r["id"])) == (r["resourceType"], r["id"]):
                    rows[r["resourceType"]] += 1
    # a practice's own resources come in each of its patients' bundles: a loader upserts them, one row each
    for kind in fhir.PRACTICE_TYPES:
        rows[kind] = len({v for v in keys.values() if v[0] == kind})
    return rows, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=2_000)
    ap.add_argument("--out", type=Path, help="reuse (or keep) the generated practice here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or Path(tmp) / "out"
        if not (out / "synthgp.duckdb").exists():
            engine.generate(scenario.load(), engine.RunOptions(n_patients=a.patients, seed=5, out=out, formats=FORMATS,
                                                                progress=False))
        print(f"{a.patients:,} patients, seed 5, formats {', '.join(FORMATS)}\n")
        print("rAURUM (R), each step on the Aurum folder:")
        found = {t: len(aurum.files(out / "aurum", t)) for t in ("observation", "drugissue", "consultation", "patient")}
        print("  files found by rAURUM's rule: " + ", ".join(f"{t} {n}" for t, n in found.items()))
        for s in raurum(out / "aurum"):
            print("  " + s)
        n, failed, errors = uk_core(out)
        print(f"\nUK Core profiles: {sum(n.values()):,} resources, {sum(failed.values()):,} failing")
        for prof in sorted(n):
            print(f"  {prof:<45} {n[prof]:>8,} {failed[prof]:>6,} failing")
        for e, k in errors.most_common(5):
            print(f"  ! {k:,} x {e}")
        rows, bad = loader(out)
        print(f"\nFolder FHIR loader (fullUrl keys): {sum(rows.values()):,} rows; entries it could not key: {bad}")
        for kind in fhir.TYPES:
            print(f"  {kind:<20} {rows[kind]:>9,}")
        print("\nSynthea CSV against Synthea's data dictionary (rows; rules broken):")
        for name, errs in synthea.check(out / "csv").items():
            nrows = len(synthea.read(out / "csv", name)[1]) if (out / "csv" / f"{name}.csv").is_file() else 0
            print(f"  {name + '.csv':<22} {nrows:>9,}  {'valid' if not errs else '; '.join(errs)}")


if __name__ == "__main__":
    main()
