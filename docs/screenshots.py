"""Screenshots of the record viewer for docs/: a child's, a working-age adult's and an older adult's record,
and the dashboard's vaccination coverage, taken with Playwright and Debian's headless Chromium over a real
`synthgp serve`.

    python docs/screenshots.py OUT                  # an output written by `synthgp generate`
    python docs/screenshots.py --generate 5000 --seed 7 OUT   # generate it first (DuckDB only)

Each record is the one of its age group (on the practice's last collection date: child under 16, adult 18-64,
older adult 75 and over, registered then) with the most coded entries at its consultations, so the journal
shows what the record holds. Writes docs/screenshots/{child,adult,older,dashboard}.png (whole page) and
*-journal.png (the latest consultations).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx

HERE = Path(__file__).parent
SHOTS = HERE / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GROUPS = {"child": (0, 15), "adult": (18, 64), "older": (75, 120)}


def pick(db: Path) -> dict[str, int]:
    """The patient of each age group with the most coded entries at consultations (ties: the lowest patid)."""
    con = duckdb.connect(str(db), read_only=True)
    out = {}
    for name, (lo, hi) in GROUPS.items():
        row = con.execute("""
            SELECT p.patid FROM patient p JOIN patient_identity i USING (patid) JOIN practice pr ON pr.pracid = p.pracid
            LEFT JOIN (SELECT patid, count(*) AS n FROM observation WHERE consid IS NOT NULL GROUP BY patid) o USING (patid)
            WHERE p.regenddate IS NULL AND p.emis_ddate IS NULL
              AND date_sub('year', i.date_of_birth, pr.lcd) BETWEEN ? AND ?
            ORDER BY coalesce(o.n, 0) DESC, p.patid LIMIT 1""", [lo, hi]).fetchone()
        if row:
            out[name] = row[0]
    con.close()
    return out


def serve(out: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "synthgp", "serve", str(out), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not start: {proc.stderr.read().decode()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--generate", type=int, metavar="N", help="generate N patients into OUT first")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--port", type=int, default=8799)
    a = ap.parse_args(argv)
    if a.generate:
        subprocess.run([sys.executable, "-m", "synthgp", "generate", "--patients", str(a.generate), "--seed", str(a.seed),
                        "--out", str(a.out), "--format", "duckdb", "--quiet"], check=True)
    who = pick(a.out / "synthgp.duckdb")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    proc = serve(a.out, a.port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            base = f"http://127.0.0.1:{a.port}"
            page.goto(base + "/")
            page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
            for name, patid in who.items():
                page.goto(f"{base}/patient/{patid}")
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
                if page.locator("#journal article").count():  # the latest consultations, from the heading down
                    page.evaluate("document.querySelector('#journal').parentElement.scrollIntoView({block: 'start'})")
                    page.screenshot(path=str(SHOTS / f"{name}-journal.png"), full_page=False)
                print(f"{name}: patient {patid} -> {SHOTS / (name + '.png')}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
