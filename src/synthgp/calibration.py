"""Each calibration figure (data/calibration.toml) beside the generated practice's own.

Reads only the output's DuckDB file, never the simulation engine.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from synthgp import reference

AGE_BANDS = ("0-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")
BROAD = ("Asian", "Black", "Mixed", "Other", "White")


@dataclass(frozen=True)
class Row:
    id: str
    what: str
    part: str  # band or level, "" for a single figure
    target: float | tuple[float, float]
    generated: float
    tolerance: float | None
    role: str
    source: str

    @property
    def passed(self) -> bool:
        if isinstance(self.target, tuple):
            return self.target[0] <= self.generated <= self.target[1]
        return abs(self.generated - self.target) <= (self.tolerance or 0)


def _resolve(input_ref: str) -> Any:
    file, key = input_ref.split(":")
    node: Any = reference.toml(file)
    for part in key.split("."):
        node = node[part]
    return node


def _current(end: dt.date) -> str:
    """Patients on the list at the end date (regular, not deregistered, alive)."""
    return ("FROM patient p JOIN person_truth t USING (patid) "
            "WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3")


def measure(con: duckdb.DuckDBPyConnection, end: dt.date, years: float) -> dict[str, Any]:
    """The generated figures, keyed like calibration.toml ids."""
    q = lambda sql, *a: con.execute(sql, list(a)).fetchall()  # noqa: E731
    cur = _current(end)
    age = "(date_diff('year', t.date_of_birth, ?::DATE) - (strftime(t.date_of_birth, '%m%d') > strftime(?::DATE, '%m%d'))::INT)"
    band_sql = ("CASE WHEN a < 20 THEN 0 WHEN a < 30 THEN 1 WHEN a < 40 THEN 2 WHEN a < 50 THEN 3 "
                "WHEN a < 60 THEN 4 WHEN a < 70 THEN 5 WHEN a < 80 THEN 6 ELSE 7 END")
    rows = q(f"SELECT {band_sql} b, count(*) FROM (SELECT {age} a {cur}) GROUP BY 1", end, end)
    n = sum(c for _, c in rows)
    bands = [0.0] * len(AGE_BANDS)
    for b, c in rows:
        bands[b] = c / n
    out: dict[str, Any] = {"age_band_share": bands, "list_total": n}
    out["aged_65_plus_share"] = q(f"SELECT avg(({age} >= 65)::INT) {cur}", end, end)[0][0]
    out["adult_male_share"] = q(f"SELECT avg((p.gender = 1)::INT) {cur} AND {age} >= 18", end, end)[0][0]
    imd = dict(q(f"SELECT d.e2019_imd_5, count(*) {cur.replace('WHERE', 'JOIN patient_deprivation d USING (patid) WHERE')} GROUP BY 1"))
    out["imd_quintile_share"] = [imd.get(k, 0) / n for k in range(1, 6)]
    eth = dict(q(f"SELECT t.ethnicity_broad, count(*) {cur} GROUP BY 1"))
    out["ethnicity_broad_share"] = {k: eth.get(k, 0) / n for k in BROAD}
    out["white_share"] = out["ethnicity_broad_share"]["White"]
    out["ethnicity_unrecorded"] = q(
        "SELECT 1 - (SELECT count(DISTINCT o.patid) FROM observation o JOIN medical_dictionary m USING (medcodeid) "
        "WHERE m.term LIKE '%ethnic category%') / count(*) FROM patient")[0][0]
    deaths = q("SELECT count(*) FROM patient WHERE cprd_ddate IS NOT NULL")[0][0]
    out["crude_death_rate"] = 1000 * deaths / years / n
    return out


def compare(db_path: Path, region: str, end: dt.date, years: float) -> list[Row]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        got = measure(con, end, years)
    finally:
        con.close()
    rows: list[Row] = []
    for f in reference.toml("calibration.toml")["figure"]:
        if f.get("region") not in (None, region):
            continue
        target = _resolve(f["input"]) if "input" in f else f["value"]
        g = got[f["id"]]
        common = dict(id=f["id"], what=f["what"], tolerance=f.get("tolerance"), role=f["role"], source=f["source"])
        if isinstance(target, list) and len(target) == 2 and not isinstance(g, list):
            rows.append(Row(part="", target=(target[0], target[1]), generated=g, **common))
        elif isinstance(target, list):
            parts = AGE_BANDS if f["id"] == "age_band_share" else [str(i) for i in range(1, len(target) + 1)]
            rows += [Row(part=p, target=t, generated=v, **common) for p, t, v in zip(parts, target, g)]
        elif isinstance(target, dict):
            rows += [Row(part=k, target=t, generated=g[k], **common) for k, t in target.items()]
        else:
            rows.append(Row(part="", target=target, generated=g, **common))
    return rows


def for_output(out: Path) -> list[Row]:
    m = json.loads((Path(out) / "manifest.json").read_text())
    start, end = (dt.date.fromisoformat(m["period"][k]) for k in ("start", "end"))
    return compare(Path(out) / "synthgp.duckdb", m["scenario"]["population"]["region"], end,
                   ((end - start).days + 1) / 365.25)


def format_table(rows: list[Row]) -> str:
    def fmt(x: float | tuple[float, float]) -> str:
        if isinstance(x, tuple):
            return f"{_num(x[0])}-{_num(x[1])}"
        return _num(x)

    head = f"{'figure':<24} {'part':<7} {'target':>11} {'generated':>10} {'tol':>6}  {'role':<11} {'ok':<4}"
    lines = [head, "-" * len(head)]
    for r in rows:
        tol = "" if r.tolerance is None else _num(r.tolerance)
        lines.append(f"{r.id:<24} {r.part:<7} {fmt(r.target):>11} {_num(r.generated):>10} {tol:>6}  {r.role:<11} "
                     f"{'pass' if r.passed else 'FAIL'}")
    n_fail = sum(not r.passed for r in rows)
    lines.append(f"\n{len(rows) - n_fail} of {len(rows)} within tolerance. calibration = a parameter was fitted to "
                 "the figure; validation = not fitted, so agreement is evidence.")
    return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 10 else f"{x:,.1f}"
